// The engine connection against a fake engine that announces more than it should.

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

} // namespace
} // namespace imagegc::test
