// Retention passes on a real engine: the policy's decisions, carried out by `imagegc once`,
// against what the engine itself does and what the plan said.

#include <chrono>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <optional>
#include <set>
#include <thread>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "gc/executor.hpp"
#include "gc/state_store.hpp"
#include "policy/planner.hpp"
#include "policy/policy_loader.hpp"
#include "support/daemon_process.hpp"
#include "support/engine_test.hpp"
#include "support/plan_json.hpp"
#include "support/test_directory.hpp"
#include "sync/graph_loader.hpp"

namespace imagegc::test {
namespace {

namespace asio = boost::asio;
namespace fs = std::filesystem;
using namespace std::chrono_literals;

CommandResult imagegc(const std::string& arguments) {
  return run_command(std::string(IMAGEGC_BINARY) + " " + arguments);
}

// A Dockerfile whose layers have fixed sizes (zeros), so a scenario built twice frees the same.
std::string fixed_layers(const std::string& name, const std::vector<int>& sizes) {
  std::string text = "FROM busybox:latest\n";
  int step = 0;
  for (const int size : sizes) {
    text += "RUN head -c " + std::to_string(size) + " /dev/zero > /" + name +
            std::to_string(++step) + "\n";
  }
  return text;
}

class PolicyPasses : public EngineTest {
protected:
  void SetUp() override {
    EngineTest::SetUp();
    m_scratch.emplace("imagegc-policy");
    m_dir = m_scratch->path();
  }

  std::string write_policy(const std::string& yaml) {
    return m_scratch->write("policy.yaml", yaml);
  }

  CommandResult run_once(const std::string& policy) {
    return imagegc("--host " + engine().host() + " once --config " + policy + " --state-dir " +
                   (m_dir / "state").string());
  }

  CommandResult plan_json(const std::string& policy) {
    return imagegc("--host " + engine().host() + " plan --format json --config " + policy +
                   " --state-dir " + (m_dir / "state").string());
  }

  // Tags and per-state image counts: what "the same images remain" means across two builds of
  // one scenario (IDs differ: they include creation times).
  std::string shape() {
    const auto graph = engine().load_graph();
    std::multiset<std::string> tags;
    std::map<std::string, int> states;
    for (const auto& id : graph.image_ids()) {
      for (const auto& tag : graph.find_image(id)->tags) {
        tags.insert(tag);
      }
      ++states[std::string(graph::to_string(graph.state(id)))];
    }
    std::string text;
    for (const auto& tag : tags) {
      text += tag + " ";
    }
    for (const auto& [state, count] : states) {
      text += state + "=" + std::to_string(count) + " ";
    }
    return text + "layers=" + std::to_string(engine().layers_size());
  }

  // Two legacy builds of one app (the second moves the tag), an untagged build, an image with a
  // stopped container, and a BuildKit image.
  void build_scenario() {
    engine().build(fixed_layers("app", {100'000, 110'000, 120'000}), "scenario/app:1", false);
    auto second = fixed_layers("app", {100'000, 110'000, 130'000});
    engine().build(second, "scenario/app:1", false);
    engine().build(fixed_layers("scratch", {70'000}), "", false);
    engine().build(fixed_layers("held", {80'000}), "scenario/held:1", false);
    engine().docker("create --network none scenario/held:1 true");
    engine().build(fixed_layers("bk", {90'000}), "scenario/bk:1", true);
  }

  std::optional<TestDirectory> m_scratch;
  fs::path m_dir;
};

constexpr const char* k_dangling_policy = R"(
mode: enforce
rules:
  - name: dangling
    select:
      state: dangling
)";

TEST_F(PolicyPasses, a_dangling_rule_leaves_what_docker_image_prune_leaves) {
  build_scenario();
  const auto result = run_once(write_policy(k_dangling_policy));
  ASSERT_EQ(result.exit_code, 0) << result.output;
  const auto after_imagegc = shape();

  engine().reset();
  build_scenario();
  engine().docker("image prune -f");
  const auto after_prune = shape();

  EXPECT_EQ(after_imagegc, after_prune);
  EXPECT_EQ(engine().engine_dangling_ids(), std::vector<std::string>{});
}

TEST_F(PolicyPasses, keep_newest_keeps_exactly_that_many_per_repository) {
  std::vector<std::string> ids;
  for (int version = 1; version <= 5; ++version) {
    ids.push_back(engine().build(fixed_layers("v" + std::to_string(version), {1000 * version}),
                                 "keepn/app:" + std::to_string(version), true));
    engine().build(fixed_layers("o" + std::to_string(version), {500 * version}),
                   "keepn/other:" + std::to_string(version), true);
    std::this_thread::sleep_for(1100ms); // distinct creation seconds: "newest" is well defined
  }
  const auto policy = write_policy(R"(
mode: enforce
rules:
  - name: releases
    select:
      repository: "keepn/*"
    keep_newest: 2
)");
  const auto result = run_once(policy);
  ASSERT_EQ(result.exit_code, 0) << result.output;

  const auto graph = engine().load_graph();
  std::map<std::string, std::set<std::string>> remaining;
  for (const auto& id : graph.image_ids()) {
    for (const auto& tag : graph.find_image(id)->tags) {
      remaining[tag.substr(0, tag.find(':'))].insert(tag);
    }
  }
  EXPECT_EQ(remaining["keepn/app"], (std::set<std::string>{"keepn/app:4", "keepn/app:5"}));
  EXPECT_EQ(remaining["keepn/other"], (std::set<std::string>{"keepn/other:4", "keepn/other:5"}));
  EXPECT_EQ(remaining["busybox"], std::set<std::string>{"busybox:latest"}) << "no rule selects it";
}

TEST_F(PolicyPasses, dry_run_then_enforce_deletes_exactly_the_dry_runs_list) {
  build_scenario();
  const std::string rules = R"(
rules:
  - name: dangling
    select:
      state: dangling
  - name: unused
    select:
      state: unused
)";
  const auto dry = plan_json(write_policy("mode: dry-run\n" + rules));
  ASSERT_EQ(dry.exit_code, 0) << dry.output;
  const auto expected_gone = planned_removals(plan_document(dry.output));
  ASSERT_FALSE(expected_gone.empty());

  // A dry-run pass deletes nothing.
  const auto before = engine().engine_image_ids();
  ASSERT_EQ(run_once(write_policy("mode: dry-run\n" + rules)).exit_code, 0);
  EXPECT_EQ(engine().engine_image_ids(), before);

  const auto enforce = run_once(write_policy("mode: enforce\n" + rules));
  ASSERT_EQ(enforce.exit_code, 0) << enforce.output;
  const auto after = engine().engine_image_ids();
  std::set<std::string> gone;
  std::set_difference(before.begin(), before.end(), after.begin(), after.end(),
                      std::inserter(gone, gone.end()));
  EXPECT_EQ(gone, expected_gone);
}

TEST_F(PolicyPasses, an_image_that_gains_a_container_after_planning_survives) {
  const auto id = engine().build(fixed_layers("late", {60'000}), "late/user:1", false);
  auto graph = engine().load_graph();
  policy::Policy policy;
  policy.mode = policy::Mode::enforce;
  policy::Rule unused;
  unused.name = "unused";
  unused.select.states = {policy::StateFilter::unused};
  policy.rules = {unused};
  const auto plan = policy::make_plan({graph, policy, std::time(nullptr), std::nullopt, {}});
  ASSERT_TRUE(std::any_of(plan.deletions.begin(), plan.deletions.end(),
                          [&](const auto& deletion) { return deletion.image.id() == id; }));

  // A job starts from the image between planning and deleting; the live graph sees it.
  engine().docker("create --network none late/user:1 true");
  graph = engine().load_graph();
  const auto report = engine().call<gc::ExecutionReport>(
      [&](engine::EngineClient& client) -> asio::awaitable<gc::ExecutionReport> {
        co_return co_await gc::execute_plan(client, graph, plan, gc::ExecutionOptions::enforcing());
      });
  const auto outcome = std::find_if(report.outcomes.begin(), report.outcomes.end(),
                                    [&](const auto& each) { return each.image_id == id; });
  ASSERT_NE(outcome, report.outcomes.end());
  EXPECT_EQ(outcome->kind, gc::ExecutionReport::Outcome::Kind::skipped) << outcome->detail;
  EXPECT_NE(engine().load_graph().find_image(id), nullptr);

  // Even when the live graph has not caught up, the engine's own conflict keeps it.
  const auto stale = engine().call<gc::ExecutionReport>(
      [&](engine::EngineClient& client) -> asio::awaitable<gc::ExecutionReport> {
        graph::ImageGraph before_the_container = graph;
        before_the_container.remove_container(before_the_container.containers().front().id);
        co_return co_await gc::execute_plan(client, before_the_container, plan,
                                            gc::ExecutionOptions::enforcing());
      });
  const auto refused = std::find_if(stale.outcomes.begin(), stale.outcomes.end(),
                                    [&](const auto& each) { return each.image_id == id; });
  ASSERT_NE(refused, stale.outcomes.end());
  EXPECT_EQ(refused->kind, gc::ExecutionReport::Outcome::Kind::conflict);
  EXPECT_NE(engine().load_graph().find_image(id), nullptr);
}

TEST_F(PolicyPasses, last_used_times_survive_a_daemon_restart) {
  const auto used = engine().build(fixed_layers("used", {10'000}), "lastused/used:1", false);
  const auto policy = write_policy("mode: dry-run\nschedule:\n  interval: 24h\n");
  std::time_t use_time = 0;
  {
    DaemonProcess daemon({"--host", engine().host(), "run", "--config", policy, "--state-dir",
                          (m_dir / "state").string()});
    ASSERT_TRUE(daemon.wait_for_text("images (")) << daemon.log();
    std::this_thread::sleep_for(1100ms); // a use time later than the image's creation
    use_time = std::time(nullptr);
    engine().docker("run --rm --network none lastused/used:1 true");
    std::this_thread::sleep_for(1s);
  } // stopped with SIGTERM: the next open is a restart

  gc::StateStoreOpenReport report;
  const auto state = gc::StateStore::open((m_dir / "state").string(), report);
  ASSERT_TRUE(report.persistent);
  const auto last_used = state->last_used(used);
  ASSERT_TRUE(last_used.has_value());
  EXPECT_GE(*last_used, use_time);
  const auto created = engine().load_graph().find_image(used)->created;
  EXPECT_GT(*last_used, created);
}

} // namespace
} // namespace imagegc::test

namespace imagegc::test {
namespace {

TEST_F(PolicyPasses, a_broken_reload_keeps_the_old_policy_and_a_good_one_replaces_it) {
  const auto policy = write_policy("mode: dry-run\nschedule:\n  interval: 24h\n");
  DaemonProcess daemon({"--host", engine().host(), "run", "--config", policy, "--state-dir",
                        (m_dir / "state").string()});
  ASSERT_TRUE(daemon.wait_for_text("pass (schedule")) << daemon.log();

  std::ofstream(policy) << "mode: enforce\nrules:\n  - name: x\n    older_than: soon\n";
  daemon.signal(SIGHUP);
  ASSERT_TRUE(daemon.wait_for_text("the previous policy stays in force")) << daemon.log();
  EXPECT_NE(daemon.log().find(":4:"), std::string::npos) << "the error names its line\n"
                                                         << daemon.log();

  std::ofstream(policy)
      << "mode: dry-run\nrules:\n  - name: dangling\n    select: {state: dangling}\n";
  daemon.signal(SIGHUP);
  ASSERT_TRUE(daemon.wait_for_text("policy reloaded: mode dry-run, 1 rule(s)")) << daemon.log();
  daemon.signal(SIGUSR1);
  ASSERT_TRUE(daemon.wait_for_text("pass (signal, dry-run)")) << daemon.log();
}

TEST_F(PolicyPasses, build_cache_is_pruned_when_the_policy_asks) {
  engine().build(fixed_layers("cache", {50'000}), "cache/app:1", true);
  const auto cache_bytes = [&] {
    const auto usage = engine().call<engine::DiskUsage>(
        [](engine::EngineClient& client) -> asio::awaitable<engine::DiskUsage> {
          co_return *(co_await client.disk_usage());
        });
    std::int64_t total = 0;
    for (const auto& record : usage.build_cache) {
      total += record.size;
    }
    return total;
  };
  ASSERT_GT(cache_bytes(), 0);
  const auto result = run_once(write_policy("mode: enforce\nbuild_cache:\n  all: true\n"));
  ASSERT_EQ(result.exit_code, 0) << result.output;
  EXPECT_NE(result.output.find("build cache:"), std::string::npos) << result.output;
  EXPECT_EQ(cache_bytes(), 0);
}

} // namespace
} // namespace imagegc::test
