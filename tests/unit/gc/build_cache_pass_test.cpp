// A pass whose policy prunes the build cache, on an engine without POST /build/prune. Podman 4.3
// has none (it answers 404 "Not Found", recorded in tests/data/podman-4.3/build_prune_404.txt):
// there it is never attempted, and the plan, the pass and its warning say so plainly, in dry-run
// mode too. Another engine's 404 means the same.

#include <algorithm>
#include <string>
#include <vector>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <gtest/gtest.h>

#include "app/plan_report.hpp"
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

// The headers of an engine that is not Podman.
std::vector<std::pair<std::string, std::string>> docker_ping_headers() {
  return {{"Api-Version", "1.41"}};
}

bool asked_to_prune(const test::RecordedEngine& engine) {
  return std::any_of(engine.requests().begin(), engine.requests().end(), [](const auto& request) {
    return request.find("/build/prune") != std::string::npos;
  });
}

constexpr std::string_view k_unavailable = "build-cache pruning is not available on this engine";

TEST(BuildCachePass, podman_is_never_asked_and_the_pass_says_so_plainly) {
  for (const auto mode : {policy::Mode::enforce, policy::Mode::dry_run}) {
    asio::io_context io;
    test::RecordedEngine podman(
        io, {{"/build/prune", 404, test::recorded_body("podman-4.3/build_prune_404.txt")}},
        test::podman_ping_headers());
    policy::Policy policy;
    policy.mode = mode;
    policy.build_cache.enabled = true;
    policy.build_cache.all = true;

    const PassReport report = run_on(podman, io, policy);
    EXPECT_FALSE(asked_to_prune(podman));
    EXPECT_FALSE(report.build_cache.has_value());
    EXPECT_EQ(report.build_cache_outcome, BuildCacheOutcome::unavailable);
    EXPECT_EQ(to_string(report.build_cache_outcome), "unavailable");
    EXPECT_FALSE(report.execution.stopped_early);
    ASSERT_EQ(report.warnings.size(), 1u);
    EXPECT_EQ(report.warnings.front().rfind(k_unavailable, 0), 0u) << report.warnings.front();

    // The plan it ran says it too, in both formats, and never "would prune".
    EXPECT_TRUE(report.plan.build_cache.requested);
    EXPECT_FALSE(report.plan.build_cache.available);
    const std::string table = app::render_plan_table(report.plan);
    EXPECT_NE(table.find(std::string("build cache: ") + std::string(k_unavailable)),
              std::string::npos)
        << table;
    EXPECT_EQ(table.find("would prune"), std::string::npos) << table;
    const std::string json = app::render_plan_json(report.plan);
    EXPECT_NE(json.find(R"("available": false)"), std::string::npos) << json;
    EXPECT_NE(json.find(k_unavailable), std::string::npos) << json;
  }
}

TEST(BuildCachePass, a_plan_made_for_podman_says_so_before_any_pass) {
  const graph::ImageGraph graph;
  policy::Policy policy;
  policy.build_cache.enabled = true;
  const PassInput input{policy, graph, {}, "", false};
  const auto plan = plan_now(input, std::nullopt);
  EXPECT_FALSE(plan.build_cache.available);
  EXPECT_EQ(plan.build_cache.note.rfind(k_unavailable, 0), 0u) << plan.build_cache.note;

  const PassInput docker{policy, graph, {}, "", true};
  EXPECT_EQ(plan_now(docker, std::nullopt).build_cache.note,
            "dry-run: would prune the build cache");
  policy.build_cache.enabled = false;
  EXPECT_EQ(app::render_plan_table(plan_now(docker, std::nullopt)).find("build cache"),
            std::string::npos);
}

TEST(BuildCachePass, another_engine_answering_404_is_said_plainly_and_the_pass_goes_on) {
  asio::io_context io;
  test::RecordedEngine engine(io, {}, docker_ping_headers());
  policy::Policy policy;
  policy.mode = policy::Mode::enforce;
  policy.build_cache.enabled = true;
  policy.build_cache.all = true;

  const PassReport report = run_on(engine, io, policy);
  EXPECT_EQ(engine.requests().back(), "POST /v1.41/build/prune?all=1");
  EXPECT_EQ(report.build_cache_outcome, BuildCacheOutcome::unavailable);
  ASSERT_EQ(report.warnings.size(), 1u);
  EXPECT_EQ(report.warnings.front().rfind(k_unavailable, 0), 0u) << report.warnings.front();
}

TEST(BuildCachePass, other_failures_are_still_reported_as_failures) {
  asio::io_context io;
  test::RecordedEngine broken(io, {{"/build/prune", 500, R"({"message":"disk on fire"})"}},
                              docker_ping_headers());
  policy::Policy policy;
  policy.mode = policy::Mode::enforce;
  policy.build_cache.enabled = true;

  const PassReport report = run_on(broken, io, policy);
  EXPECT_EQ(report.build_cache_outcome, BuildCacheOutcome::failed);
  ASSERT_EQ(report.warnings.size(), 1u);
  EXPECT_NE(report.warnings.front().find("build cache prune failed"), std::string::npos);
  EXPECT_NE(report.warnings.front().find("disk on fire"), std::string::npos);
}

} // namespace
} // namespace imagegc::gc
