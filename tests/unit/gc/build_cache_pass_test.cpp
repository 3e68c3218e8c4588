// A pass whose policy prunes the build cache, on an engine without POST /build/prune: Podman 4.3
// answers 404 "Not Found" (recorded in tests/data/podman-4.3/build_prune_404.txt).

#include <algorithm>
#include <string>
#include <vector>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <gtest/gtest.h>

#include "gc/gc_pass.hpp"
#include "support/recorded_engine.hpp"

namespace imagegc::gc {
namespace {

namespace asio = boost::asio;

PassReport run_on(test::RecordedEngine& engine, asio::io_context& io,
                  const policy::Policy& policy) {
  const graph::ImageGraph graph;
  const PassInput input{policy, graph, [](std::string_view) { return std::nullopt; }, ""};
  auto done = asio::co_spawn(
      io,
      [&]() -> asio::awaitable<PassReport> {
        engine::EngineClient client(io.get_executor(), engine.endpoint());
        EXPECT_TRUE((co_await client.negotiate()).has_value());
        auto report = co_await run_pass(client, input);
        engine.close();
        co_return report;
      },
      asio::use_future);
  io.run();
  return done.get();
}

TEST(BuildCachePass, an_engine_without_build_prune_is_said_plainly_and_the_pass_goes_on) {
  asio::io_context io;
  test::RecordedEngine podman(
      io, {{"/build/prune", 404, test::recorded_body("podman-4.3/build_prune_404.txt")}},
      test::podman_ping_headers());
  policy::Policy policy;
  policy.mode = policy::Mode::enforce;
  policy.build_cache.enabled = true;
  policy.build_cache.all = true;

  const PassReport report = run_on(podman, io, policy);
  EXPECT_FALSE(report.build_cache.has_value());
  EXPECT_FALSE(report.execution.stopped_early);
  ASSERT_EQ(report.warnings.size(), 1u);
  EXPECT_EQ(report.warnings.front().rfind("build-cache pruning is not available on this engine", 0),
            0u)
      << report.warnings.front();
  EXPECT_EQ(podman.requests().back(), "POST /v1.41/build/prune?all=1");
}

TEST(BuildCachePass, other_failures_are_still_reported_as_failures) {
  asio::io_context io;
  test::RecordedEngine broken(io, {{"/build/prune", 500, R"({"message":"disk on fire"})"}},
                              test::podman_ping_headers());
  policy::Policy policy;
  policy.mode = policy::Mode::enforce;
  policy.build_cache.enabled = true;

  const PassReport report = run_on(broken, io, policy);
  ASSERT_EQ(report.warnings.size(), 1u);
  EXPECT_NE(report.warnings.front().find("build cache prune failed"), std::string::npos);
  EXPECT_NE(report.warnings.front().find("disk on fire"), std::string::npos);
}

} // namespace
} // namespace imagegc::gc
