#include <algorithm>
#include <chrono>
#include <future>
#include <thread>
#include <vector>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/asio/write.hpp>
#include <gtest/gtest.h>

#include "engine/http_connection.hpp"
#include "http/http_server.hpp"

namespace imagegc::http {
namespace {

namespace asio = boost::asio;

template <class Condition> bool eventually(Condition condition) {
  for (int i = 0; i < 500; ++i) {
    if (condition()) {
      return true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return condition();
}

// A server on an ephemeral loopback port, run on its own thread.
class RunningServer {
public:
  explicit RunningServer(ServerOptions options = {}) {
    options.listen = "127.0.0.1:0";
    m_server = std::make_unique<Server>(m_io.get_executor(), options);
    m_server->route("/metrics", [] { return Reply{200, "text/plain; version=0.0.4", "up 1\n"}; });
    m_server->route("/readyz", [] { return Reply{503, "text/plain", "not ready\n"}; });
    const auto started = m_server->start();
    EXPECT_TRUE(started.has_value()) << started.error();
    m_address = m_server->local_address();
    m_port = static_cast<unsigned short>(std::stoi(m_address.substr(m_address.rfind(':') + 1)));
    m_work.emplace(m_io.get_executor());
    m_thread = std::thread([this] { m_io.run(); });
  }
  ~RunningServer() {
    asio::post(m_io, [this] {
      m_server->stop();
      m_work.reset();
    });
    m_thread.join();
  }

  // Sends raw bytes and returns everything the server answers before it closes or goes quiet.
  std::string exchange(const std::string& request) const {
    asio::io_context io;
    asio::ip::tcp::socket socket(io);
    socket.connect({asio::ip::make_address("127.0.0.1"), m_port});
    // A refused request may be answered and the connection closed before all of it is sent:
    // the write and the shutdown may fail, and the answer is still there to read.
    boost::system::error_code ec;
    asio::write(socket, asio::buffer(request), ec);
    socket.shutdown(asio::socket_base::shutdown_send, ec);
    std::string answer;
    asio::read(socket, asio::dynamic_buffer(answer), ec);
    return answer;
  }

  engine::Result<engine::HttpResponse> request(const std::string& method,
                                               const std::string& target) const {
    asio::io_context io;
    engine::Endpoint endpoint;
    endpoint.kind = engine::Endpoint::Kind::tcp;
    endpoint.host = "127.0.0.1";
    endpoint.port = m_port;
    engine::HttpConnection connection(io.get_executor(), endpoint);
    auto future = asio::co_spawn(io, connection.request(method, target), asio::use_future);
    io.run();
    return future.get();
  }

  [[nodiscard]] unsigned short port() const { return m_port; }
  [[nodiscard]] std::size_t open_connections() {
    std::promise<std::size_t> count;
    asio::post(m_io, [&] { count.set_value(m_server->open_connections()); });
    return count.get_future().get();
  }

private:
  asio::io_context m_io;
  std::unique_ptr<Server> m_server;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> m_work;
  std::thread m_thread;
  std::string m_address;
  unsigned short m_port = 0;
};

TEST(HttpServer, serves_a_known_path_with_its_status_and_type) {
  RunningServer server;
  const auto metrics = server.request("GET", "/metrics");
  ASSERT_TRUE(metrics.has_value()) << metrics.error().message;
  EXPECT_EQ(metrics->status, 200);
  EXPECT_EQ(metrics->body, "up 1\n");
  EXPECT_EQ(metrics->header("content-type"), "text/plain; version=0.0.4");
  EXPECT_EQ(server.request("GET", "/readyz")->status, 503);
  EXPECT_EQ(server.request("GET", "/metrics?x=1")->status, 200) << "the query is not the path";
}

TEST(HttpServer, unknown_paths_and_methods_get_a_4xx) {
  RunningServer server;
  EXPECT_EQ(server.request("GET", "/nope")->status, 404);
  const auto post = server.request("POST", "/metrics");
  EXPECT_EQ(post->status, 405);
  EXPECT_EQ(post->header("allow"), "GET, HEAD");
  EXPECT_EQ(server.request("DELETE", "/metrics")->status, 405);
}

TEST(HttpServer, head_sends_the_length_without_the_body) {
  RunningServer server;
  const auto answer =
      server.exchange("HEAD /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  EXPECT_NE(answer.find("HTTP/1.1 200"), std::string::npos) << answer;
  EXPECT_NE(answer.find("Content-Length: 5"), std::string::npos) << answer;
  EXPECT_EQ(answer.find("up 1"), std::string::npos) << answer;
}

TEST(HttpServer, oversized_headers_and_request_bodies_are_refused) {
  RunningServer server;
  const auto huge = server.exchange(
      "GET /metrics HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(20'000, 'a') + "\r\n\r\n");
  EXPECT_NE(huge.find("431"), std::string::npos) << huge.substr(0, 200);
  const auto body =
      server.exchange("GET /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello");
  EXPECT_NE(body.find("413"), std::string::npos) << body;
  const auto garbage = server.exchange("\x01\x02 not http\r\n\r\n");
  EXPECT_NE(garbage.find("400"), std::string::npos) << garbage;
}

TEST(HttpServer, keeps_a_connection_alive_for_pipelined_requests) {
  RunningServer server;
  const auto answer = server.exchange("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\nGET /readyz "
                                      "HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  EXPECT_NE(answer.find("HTTP/1.1 200"), std::string::npos) << answer;
  EXPECT_NE(answer.find("HTTP/1.1 503"), std::string::npos) << answer;
}

TEST(HttpServer, connections_over_the_cap_are_closed_and_others_still_served) {
  ServerOptions options;
  options.max_connections = 4;
  RunningServer server(options);
  asio::io_context io;
  std::vector<asio::ip::tcp::socket> idle;
  for (int i = 0; i < 8; ++i) {
    idle.emplace_back(io).connect({asio::ip::make_address("127.0.0.1"), server.port()});
  }
  // The server holds at most 4; the others were closed on accept.
  for (int i = 0; i < 50 && server.open_connections() < 4; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_EQ(server.open_connections(), 4u);
  idle.clear();
  for (int i = 0; i < 100 && server.open_connections() > 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_EQ(server.request("GET", "/metrics")->status, 200);
}

// Holds connections at the cap that send a header line every 200 ms and never finish: the
// read timeout ends them although they are not idle, and the server serves others again.
TEST(HttpServer, slowloris_connections_are_cut_at_the_read_timeout) {
  ServerOptions options;
  options.max_connections = 4;
  options.read_timeout = std::chrono::seconds(1);
  RunningServer server(options);
  asio::io_context io;
  std::vector<asio::ip::tcp::socket> slow;
  for (int i = 0; i < 4; ++i) {
    slow.emplace_back(io).connect({asio::ip::make_address("127.0.0.1"), server.port()});
    asio::write(slow.back(), asio::buffer(std::string("GET /metrics HTTP/1.1\r\n")));
  }
  ASSERT_TRUE(eventually([&] { return server.open_connections() == 4; }));
  std::vector<bool> cut(slow.size(), false);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (std::count(cut.begin(), cut.end(), false) > 0 &&
         std::chrono::steady_clock::now() < deadline) {
    for (std::size_t i = 0; i < slow.size(); ++i) {
      boost::system::error_code ec;
      asio::write(slow[i], asio::buffer(std::string("X-Slow: a\r\n")), ec);
      cut[i] = cut[i] || ec.failed();
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  EXPECT_EQ(std::count(cut.begin(), cut.end(), true), 4) << "a trickling request outlived the "
                                                            "read timeout";
  EXPECT_TRUE(eventually([&] { return server.open_connections() == 0; }));
  EXPECT_EQ(server.request("GET", "/metrics")->status, 200);
}

// Thousands of requests in one write, answered in order on one connection, while another
// client is served beside it: the server reads one request at a time, however many are queued.
TEST(HttpServer, a_pipelined_flood_is_answered_in_order_and_others_still_served) {
  RunningServer server;
  constexpr int k_requests = 5000;
  std::string flood;
  for (int i = 0; i < k_requests; ++i) {
    flood += "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n";
  }
  flood += "GET /readyz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
  asio::io_context io;
  asio::ip::tcp::socket socket(io);
  socket.connect({asio::ip::make_address("127.0.0.1"), server.port()});
  std::thread writer([&] {
    boost::system::error_code ec;
    asio::write(socket, asio::buffer(flood), ec);
  });
  EXPECT_EQ(server.request("GET", "/metrics")->status, 200);
  std::string answer;
  boost::system::error_code ec;
  asio::read(socket, asio::dynamic_buffer(answer), ec);
  writer.join();
  std::size_t answered = 0;
  for (auto at = answer.find("HTTP/1.1 200"); at != std::string::npos;
       at = answer.find("HTTP/1.1 200", at + 1)) {
    ++answered;
  }
  EXPECT_EQ(answered, static_cast<std::size_t>(k_requests));
  EXPECT_NE(answer.rfind("HTTP/1.1 503"), std::string::npos) << "the last one, after the rest";
  EXPECT_GT(answer.rfind("HTTP/1.1 503"), answer.rfind("HTTP/1.1 200"));
}

TEST(HttpServer, a_unix_socket_listener_serves_too) {
  asio::io_context io;
  ServerOptions options;
  const std::string path = "/tmp/imagegc-http-test-" + std::to_string(::getpid()) + ".sock";
  options.listen = "unix://" + path;
  Server server(io.get_executor(), options);
  server.route("/healthz", [] { return Reply{200, "text/plain", "ok\n"}; });
  ASSERT_TRUE(server.start().has_value());
  EXPECT_EQ(server.local_address(), "unix://" + path);
  engine::Endpoint endpoint;
  endpoint.socket_path = path;
  engine::HttpConnection connection(io.get_executor(), endpoint);
  auto future = asio::co_spawn(io, connection.request("GET", "/healthz"), asio::use_future);
  while (future.wait_for(std::chrono::seconds(0)) != std::future_status::ready) {
    io.run_one_for(std::chrono::seconds(5));
  }
  const auto response = future.get();
  ASSERT_TRUE(response.has_value()) << response.error().message;
  EXPECT_EQ(response->body, "ok\n");
  server.stop();
}

TEST(HttpServer, a_bad_listen_address_is_an_error_that_says_so) {
  asio::io_context io;
  ServerOptions options;
  options.listen = "not an address";
  Server server(io.get_executor(), options);
  const auto started = server.start();
  ASSERT_FALSE(started.has_value());
  EXPECT_NE(started.error().find("not an address"), std::string::npos) << started.error();
}

} // namespace
} // namespace imagegc::http
