// The engine connection against a fake engine that announces more than it should.

#include <cstdio>
#include <string>
#include <vector>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/asio/write.hpp>
#include <gtest/gtest.h>

#include "engine/http_connection.hpp"
#include "support/fake_engine.hpp"

namespace imagegc::test {
namespace {

namespace asio = boost::asio;

// Beast 1.74 reads a Content-Length body whatever body_limit says: the connection must refuse
// it from the header, before reading (and holding) what the engine announced.
TEST(EngineConnectionLimits, an_announced_body_over_the_limit_is_refused_unread) {
  FakeEngine fake;
  FaultPlan plan;
  RequestFault oversized;
  oversized.path_contains = "/images/json";
  oversized.oversized_body_bytes = std::uint64_t{64} << 20;
  plan.requests.push_back(oversized);
  fake.set_faults(plan);
  asio::io_context io;
  auto future = asio::co_spawn(
      io,
      [&]() -> asio::awaitable<engine::Result<engine::HttpResponse>> {
        engine::HttpLimits limits;
        limits.max_body_bytes = 4096;
        engine::HttpConnection connection(io.get_executor(), fake.endpoint(), limits);
        co_return co_await connection.request("GET", "/v1.41/images/json?all=1");
      },
      asio::use_future);
  io.run();
  const auto response = future.get();
  ASSERT_FALSE(response) << "read a body of " << response->body.size() << " bytes";
  EXPECT_EQ(response.error().kind, engine::ErrorKind::malformed);
  EXPECT_NE(response.error().message.find("exceeds 4096 bytes"), std::string::npos)
      << response.error().message;
}

// The same connection still reads bodies within the limit, chunked or not.
TEST(EngineConnectionLimits, bodies_within_the_limit_are_read) {
  FakeEngine fake;
  fake.add_synthetic_images(20, 5);
  asio::io_context io;
  auto future = asio::co_spawn(
      io,
      [&]() -> asio::awaitable<engine::Result<engine::HttpResponse>> {
        engine::HttpConnection connection(io.get_executor(), fake.endpoint());
        co_return co_await connection.request("GET", "/v1.41/images/json?all=1");
      },
      asio::use_future);
  io.run();
  const auto response = future.get();
  ASSERT_TRUE(response) << response.error().message;
  EXPECT_EQ(response->status, 200);
  EXPECT_GT(response->body.size(), 1000u);
}

// A target is sent as it is: one with a space or a line break would split the request line or
// add a header, so it is refused before anything is sent (or a connection opened).
TEST(EngineConnectionLimits, a_target_with_a_space_or_control_character_is_refused_unsent) {
  FakeEngine fake;
  asio::io_context io;
  auto future = asio::co_spawn(
      io,
      [&]() -> asio::awaitable<std::vector<engine::Result<engine::HttpResponse>>> {
        engine::HttpConnection connection(io.get_executor(), fake.endpoint());
        std::vector<engine::Result<engine::HttpResponse>> results;
        for (const char* target : {"/v1.41/images/a b/json", "/v1.41/_ping\r\nX-Injected: 1", ""}) {
          results.push_back(co_await connection.request("GET", target));
        }
        results.push_back(co_await connection.request("GET", "/_ping"));
        EXPECT_EQ(connection.connections_opened(), 1u) << "only for the valid request";
        co_return results;
      },
      asio::use_future);
  io.run();
  const auto results = future.get();
  for (std::size_t i = 0; i < 3; ++i) {
    ASSERT_FALSE(results[i]) << i;
    EXPECT_EQ(results[i].error().kind, engine::ErrorKind::malformed) << i;
  }
  ASSERT_TRUE(results[3]) << results[3].error().message;
  EXPECT_EQ(results[3]->status, 200);
  EXPECT_EQ(fake.stats().requests, 1u) << "the refused ones never reached the engine";
}

// Answers the first request on a Unix socket at `path` with `raw`, as it is, and hangs up.
asio::awaitable<void> answer_once(asio::local::stream_protocol::acceptor& acceptor,
                                  std::string raw) {
  auto socket = co_await acceptor.async_accept(asio::use_awaitable);
  std::string request;
  while (request.find("\r\n\r\n") == std::string::npos) {
    char chunk[512];
    const std::size_t read =
        co_await socket.async_read_some(asio::buffer(chunk), asio::use_awaitable);
    request.append(chunk, read);
  }
  co_await asio::async_write(socket, asio::buffer(raw), asio::use_awaitable);
  socket.shutdown(asio::socket_base::shutdown_both);
}

engine::Result<engine::HttpResponse> request_answered_with(std::string raw) {
  const std::string path = ::testing::TempDir() + "imagegc-raw-answer.sock";
  std::remove(path.c_str());
  asio::io_context io;
  asio::local::stream_protocol::acceptor acceptor(io, asio::local::stream_protocol::endpoint(path));
  asio::co_spawn(io, answer_once(acceptor, std::move(raw)), asio::detached);
  engine::Endpoint endpoint;
  endpoint.socket_path = path;
  auto future = asio::co_spawn(
      io,
      [&]() -> asio::awaitable<engine::Result<engine::HttpResponse>> {
        engine::HttpConnection connection(io.get_executor(), endpoint);
        co_return co_await connection.request("GET", "/_ping");
      },
      asio::use_future);
  io.run();
  std::remove(path.c_str());
  return future.get();
}

// Header names are matched whatever case the engine spells them in, the first of a repeated one
// counts, and an empty value reads as empty.
TEST(EngineConnectionAnswers, headers_are_found_by_name_in_any_case) {
  const auto response = request_answered_with("HTTP/1.1 200 OK\r\n"
                                              "API-Version: 1.47\r\n"
                                              "Libpod-Api-Version: \r\n"
                                              "x-twice: first\r\n"
                                              "X-Twice: second\r\n"
                                              "Content-Length: 2\r\n"
                                              "Connection: close\r\n"
                                              "\r\n"
                                              "OK");
  ASSERT_TRUE(response) << response.error().message;
  EXPECT_EQ(response->status, 200);
  EXPECT_EQ(response->header("api-version"), "1.47");
  EXPECT_EQ(response->header("x-twice"), "first");
  EXPECT_EQ(response->header("libpod-api-version"), "");
  EXPECT_EQ(response->header("content-length"), "2");
  EXPECT_EQ(response->header("server"), "");
  EXPECT_EQ(response->body, "OK");
}

// A chunked body is put together from its chunks; the status is the answer's own.
TEST(EngineConnectionAnswers, a_chunked_body_is_read_whole) {
  const auto response = request_answered_with("HTTP/1.1 404 Not Found\r\n"
                                              "Transfer-Encoding: chunked\r\n"
                                              "Content-Type: application/json\r\n"
                                              "\r\n"
                                              "5\r\n{\"mes\r\n"
                                              "14\r\nsage\":\"no such image\r\n"
                                              "2\r\n\"}\r\n"
                                              "0\r\n\r\n");
  ASSERT_TRUE(response) << response.error().message;
  EXPECT_EQ(response->status, 404);
  EXPECT_EQ(response->header("content-type"), "application/json");
  EXPECT_EQ(response->body, R"({"message":"no such image"})");
}

// What a header holds stays readable whatever it is given: a NUL ends a name or a value there.
TEST(EngineConnectionAnswers, a_header_given_with_a_nul_is_cut_there) {
  engine::HttpResponse response;
  using namespace std::string_literals;
  response.add_header("X-A\0b"s, "one\0two"s);
  response.add_header("X-Next", "three");
  EXPECT_EQ(response.header("x-a"), "one");
  EXPECT_EQ(response.header("x-next"), "three");
  EXPECT_EQ(response.header("b"), "");
}

std::vector<std::string> inspect_targets(const FakeEngine& fake, std::size_t count) {
  std::vector<std::string> targets;
  for (const auto& image : fake.images()) {
    if (targets.size() == count) {
      break;
    }
    targets.push_back("/v1.41/images/" + image.id + "/json");
  }
  return targets;
}

using Answers = std::vector<engine::Result<engine::HttpResponse>>;

// Makes the fake close the connection, unanswered, on a request for `target` (`times`; -1: all).
void hang_up_on(FakeEngine& fake, const std::string& target, int times) {
  FaultPlan plan;
  RequestFault hang_up;
  hang_up.path_contains = target.substr(std::string("/v1.41").size());
  hang_up.close_without_answer = true;
  hang_up.times = times;
  plan.requests.push_back(hang_up);
  fake.set_faults(plan);
}

Answers get_pipelined(FakeEngine& fake, std::vector<std::string> targets,
                      std::size_t* connections_opened = nullptr) {
  asio::io_context io;
  auto future = asio::co_spawn(
      io,
      [&]() -> asio::awaitable<Answers> {
        engine::HttpConnection connection(io.get_executor(), fake.endpoint());
        auto answers = co_await connection.get_pipelined(targets);
        if (connections_opened) {
          *connections_opened = connection.connections_opened();
        }
        co_return answers;
      },
      asio::use_future);
  io.run();
  return future.get();
}

// Pipelined requests go out together on one connection, and each answer is matched to its own
// request: in order, whatever each answer's size.
TEST(EnginePipelining, answers_come_back_in_the_order_of_the_requests) {
  FakeEngine fake;
  fake.add_synthetic_images(40, 11);
  std::vector<std::string> targets = inspect_targets(fake, 40);
  targets.insert(targets.begin() + 7, "/v1.41/images/sha256:missing/json");
  std::size_t connections = 0;
  const Answers answers = get_pipelined(fake, targets, &connections);
  ASSERT_EQ(answers.size(), targets.size());
  EXPECT_EQ(connections, 1u);
  for (std::size_t i = 0; i < targets.size(); ++i) {
    ASSERT_TRUE(answers[i]) << i << ": " << answers[i].error().message;
    if (i == 7) {
      EXPECT_EQ(answers[i]->status, 404);
      continue;
    }
    EXPECT_EQ(answers[i]->status, 200) << i;
    // The target is /v1.41/images/<id>/json; the answer names the same ID.
    const std::string id = targets[i].substr(14, targets[i].size() - 14 - 5);
    EXPECT_NE(answers[i]->body.find("\"Id\":\"" + id + "\""), std::string::npos) << i;
  }
  EXPECT_EQ(fake.stats().requests, targets.size());
}

// An engine that closes the connection part way through a batch (a restart, a limit of requests
// per connection) has answered some: the rest are sent again on a new connection.
TEST(EnginePipelining, the_rest_of_a_batch_goes_again_when_the_engine_closes_part_way) {
  FakeEngine fake;
  fake.add_synthetic_images(10, 12);
  const std::vector<std::string> targets = inspect_targets(fake, 10);
  hang_up_on(fake, targets[4], 1);
  std::size_t connections = 0;
  const Answers answers = get_pipelined(fake, targets, &connections);
  ASSERT_EQ(answers.size(), targets.size());
  for (std::size_t i = 0; i < targets.size(); ++i) {
    ASSERT_TRUE(answers[i]) << i << ": " << answers[i].error().message;
    EXPECT_EQ(answers[i]->status, 200) << i;
  }
  EXPECT_EQ(connections, 2u);
}

// An engine that closes every new connection unanswered is not tried for ever: the list ends with
// the error, after the answers it got.
TEST(EnginePipelining, an_engine_that_never_answers_ends_the_batch_with_an_error) {
  FakeEngine fake;
  fake.add_synthetic_images(5, 13);
  const std::vector<std::string> targets = inspect_targets(fake, 5);
  hang_up_on(fake, targets[2], -1);
  const Answers answers = get_pipelined(fake, targets);
  ASSERT_EQ(answers.size(), 3u);
  EXPECT_TRUE(answers[0] && answers[1]);
  ASSERT_FALSE(answers[2]);
  EXPECT_EQ(answers[2].error().kind, engine::ErrorKind::transport);
}

// A target that would split the request line is not sent, nor anything after it.
TEST(EnginePipelining, a_bad_target_ends_the_batch_unsent) {
  FakeEngine fake;
  const Answers answers = get_pipelined(fake, {"/_ping", "/v1.41/images/a b/json", "/_ping"});
  ASSERT_EQ(answers.size(), 2u);
  ASSERT_TRUE(answers[0]) << answers[0].error().message;
  ASSERT_FALSE(answers[1]);
  EXPECT_EQ(answers[1].error().kind, engine::ErrorKind::malformed);
  EXPECT_EQ(fake.stats().requests, 1u);
}

} // namespace
} // namespace imagegc::test
