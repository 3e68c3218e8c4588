#pragma once
// imagegc's own small HTTP/1.1 server for /metrics, /healthz, /readyz and /plan, on TCP or a
// Unix socket. Bounded: header size, no request bodies, read timeouts, a cap on connections.
// Runs on the executor it is given; handlers run there too.

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "util/asio.hpp"
#include "util/expected.hpp"

namespace imagegc::http {

// The default listen address. The Prometheus exporter range 9100-9999 is fully allocated in the
// default port allocations list; this port lies past it.
inline constexpr std::string_view k_default_listen = "127.0.0.1:10163";

struct Reply {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
};

// Answers GET (and HEAD) on a known path; nullptr-like empty optional means "no such path".
using Route = std::function<Reply()>;

struct ServerOptions {
  std::string listen{k_default_listen}; // "host:port", "[::1]:port" or "unix:///path"
  std::size_t max_connections = 64;
  std::chrono::seconds read_timeout{10};
  std::size_t header_limit = std::size_t{8} * 1024;
};

class Server {
public:
  Server(boost::asio::any_io_executor executor, ServerOptions options);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Registers `path` (exact match). Register before start().
  void route(std::string path, Route handler);
  // Binds and starts accepting; an error says what could not be bound and why.
  util::Expected<void, std::string> start();
  // Stops accepting and closes idle connections; requests in flight finish.
  void stop();
  // Where it listens, as bound ("127.0.0.1:10163", with the real port when 0 was asked).
  [[nodiscard]] std::string local_address() const;
  [[nodiscard]] std::size_t open_connections() const;

private:
  struct Impl;
  std::shared_ptr<Impl> m_impl;
};

} // namespace imagegc::http
