// The engine connection against a fake engine that announces more than it should.

#include <vector>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
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

} // namespace
} // namespace imagegc::test
