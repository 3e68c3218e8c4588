#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "engine/endpoint.hpp"
#include "engine/error.hpp"
#include "util/asio.hpp"

namespace imagegc::engine {

struct HttpResponse {
  int status = 0;
  std::string body;

  // The value of the first header of that name (which the answer may spell in any case), or ""
  // when there is none.
  [[nodiscard]] std::string header(std::string_view lower_case_name) const;
  void add_header(std::string_view name, std::string_view value);

private:
  // Each header as its name in lower case, a NUL, its value and a NUL (neither holds a NUL): a
  // cold start reads two answers per image, and a string per name and value cost more than the
  // rest of reading the header.
  std::string m_headers;
};

struct HttpLimits {
  // The largest answer is the image listing: under 1 KiB per image, so 256 MiB leaves room for
  // a few hundred thousand images while a broken engine cannot make imagegc hold gigabytes.
  std::size_t max_body_bytes = std::size_t{256} << 20;
  std::chrono::seconds timeout{120};
};

// One keep-alive HTTP/1.1 connection to the engine. Requests are sequential: await one (or one
// pipelined batch) before sending the next. When the engine has closed an idle connection, the
// request is sent again on a fresh one. Not thread-safe: use it from the executor it was made with.
class HttpConnection {
public:
  HttpConnection(boost::asio::any_io_executor executor, Endpoint endpoint, HttpLimits limits = {});
  ~HttpConnection();
  HttpConnection(const HttpConnection&) = delete;
  HttpConnection& operator=(const HttpConnection&) = delete;

  boost::asio::awaitable<Result<HttpResponse>> request(std::string method, std::string target,
                                                       std::string body = {});
  // GETs every one of `targets`, sent together (HTTP/1.1 pipelining: the engine answers them in
  // order, one after the other), which saves a round trip and a few system calls per request.
  // The answers come in the order of `targets`. The first failure ends the list, so a list
  // shorter than `targets` ends with an error. When the engine closes the connection before it
  // has answered them all, the rest are sent again on a fresh one.
  boost::asio::awaitable<std::vector<Result<HttpResponse>>>
  get_pipelined(std::vector<std::string> targets);
  void close();
  [[nodiscard]] const Endpoint& endpoint() const;
  // Connections opened so far (1 when keep-alive held for the whole session).
  [[nodiscard]] std::size_t connections_opened() const;

private:
  struct Impl;
  std::unique_ptr<Impl> m_impl;
};

} // namespace imagegc::engine
