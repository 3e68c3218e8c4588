#pragma once
// A stand-in engine for unit tests that answers on a Unix socket with recorded bodies: each
// request whose target ends with a route's suffix gets that route's status and body, anything
// else a 404. /_ping answers with the given headers. Runs on the test's io_context; one
// keep-alive connection, as EngineClient uses.

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <unistd.h>

#include "engine/endpoint.hpp"
#include "util/asio.hpp"

namespace imagegc::test {

// The text of a file under tests/data, "" when it cannot be read.
inline std::string recorded_body(const std::string& relative_path) {
  std::ifstream file(std::filesystem::path(IMAGEGC_TEST_DATA_DIR) / relative_path);
  std::ostringstream text;
  text << file.rdbuf();
  return text.str();
}

struct RecordedRoute {
  std::string target_suffix;
  int status = 200;
  std::string body;
};

class RecordedEngine {
public:
  RecordedEngine(boost::asio::io_context& io, std::vector<RecordedRoute> routes,
                 std::vector<std::pair<std::string, std::string>> ping_headers)
      : m_path((std::filesystem::temp_directory_path() /
                ("imagegc-recorded-engine-" + std::to_string(::getpid()) + "-" +
                 std::to_string(reinterpret_cast<std::uintptr_t>(this)) + ".sock"))
                   .string()),
        m_acceptor(io), m_routes(std::move(routes)), m_ping_headers(std::move(ping_headers)) {
    std::filesystem::remove(m_path);
    m_acceptor.open();
    m_acceptor.bind(boost::asio::local::stream_protocol::endpoint(m_path));
    m_acceptor.listen();
    boost::asio::co_spawn(io, serve(), boost::asio::detached);
  }
  ~RecordedEngine() { std::filesystem::remove(m_path); }
  RecordedEngine(const RecordedEngine&) = delete;
  RecordedEngine& operator=(const RecordedEngine&) = delete;

  [[nodiscard]] engine::Endpoint endpoint() const {
    return *engine::parse_endpoint("unix://" + m_path);
  }
  // "METHOD target" of every request, in order.
  [[nodiscard]] const std::vector<std::string>& requests() const { return m_requests; }
  // Stops accepting; call once the client is done so that io_context::run() returns.
  void close() { m_acceptor.close(); }

private:
  boost::asio::awaitable<void> serve() {
    namespace asio = boost::asio;
    namespace http = boost::beast::http;
    boost::system::error_code error;
    auto socket =
        co_await m_acceptor.async_accept(asio::redirect_error(asio::use_awaitable, error));
    if (error) {
      co_return;
    }
    boost::beast::flat_buffer buffer;
    for (;;) {
      http::request<http::string_body> request;
      co_await http::async_read(socket, buffer, request,
                                asio::redirect_error(asio::use_awaitable, error));
      if (error) {
        co_return;
      }
      const std::string target(request.target());
      m_requests.push_back(std::string(request.method_string()) + " " + target);
      http::response<http::string_body> response{http::status::not_found, request.version()};
      response.set(http::field::content_type, "text/plain; charset=utf-8");
      response.body() = "Not Found";
      if (target == "/_ping") {
        response.result(http::status::ok);
        for (const auto& [name, value] : m_ping_headers) {
          response.set(name, value);
        }
        response.body() = "OK";
      }
      for (const RecordedRoute& route : m_routes) {
        if (target.ends_with(route.target_suffix)) {
          response.result(static_cast<http::status>(route.status));
          response.set(http::field::content_type, "application/json");
          response.body() = route.body;
        }
      }
      response.keep_alive(true);
      response.prepare_payload();
      co_await http::async_write(socket, response,
                                 asio::redirect_error(asio::use_awaitable, error));
      if (error) {
        co_return;
      }
    }
  }

  std::string m_path;
  boost::asio::local::stream_protocol::acceptor m_acceptor;
  std::vector<RecordedRoute> m_routes;
  std::vector<std::pair<std::string, std::string>> m_ping_headers;
  std::vector<std::string> m_requests;
};

// The headers Podman 4.3.1's /_ping sends that imagegc reads.
inline std::vector<std::pair<std::string, std::string>> podman_ping_headers() {
  return {{"Api-Version", "1.41"}, {"Libpod-Api-Version", "4.3.1"}};
}

} // namespace imagegc::test
