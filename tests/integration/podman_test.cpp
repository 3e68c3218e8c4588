// imagegc on a real Podman service (its Docker-compatible API, as scripts/private-podman.sh
// starts it): the graph kept current from Podman's events, across a restart of the service, and
// a plan carried out by `imagegc once`. The scenarios Docker shares are in
// shared_scenarios_test.cpp.
//
// Podman names what its CLI tags "localhost/NAME"; names on Docker Hub are shown in Docker's
// familiar form ("busybox:latest" for docker.io/library/busybox:latest).

#include "support/podman_test.hpp"

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <future>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/post.hpp>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "engine/engine_client.hpp"
#include "support/plan_json.hpp"
#include "support/running_tracker.hpp"
#include "support/scenario_builds.hpp"
#include "support/test_directory.hpp"
#include "sync/graph_tracker.hpp"

namespace imagegc::test {
namespace {

namespace asio = boost::asio;
namespace fs = std::filesystem;
using namespace std::chrono_literals;

CommandResult imagegc(const std::string& arguments) {
  return run_command(std::string(IMAGEGC_BINARY) + " " + arguments);
}

std::string one_layer(int bytes, const std::string& name) {
  return "FROM busybox:latest\nRUN head -c " + std::to_string(bytes) + " /dev/urandom > /" + name +
         "\n";
}

class PodmanTracking : public PodmanTest {
protected:
  // Waits for a tag made with the CLI to reach the tracker through the events.
  static bool wait_for_marker(RunningTracker& tracker, const std::string& reference) {
    return tracker.wait_for([&](const sync::GraphTracker& t) {
      return t.graph().find_by_reference(reference) != nullptr;
    });
  }

  void expect_equal_to_a_fresh_sync(RunningTracker& tracker) {
    const auto fresh = podman().load_graph();
    const auto differences = tracker.read([&](const sync::GraphTracker& t) {
      return graph::ImageGraph::differences(fresh, t.graph());
    });
    EXPECT_TRUE(differences.empty())
        << differences.size()
        << " difference(s), first: " << (differences.empty() ? "" : differences.front());
  }
};

TEST_F(PodmanTracking, events_alone_keep_the_graph_equal_to_a_fresh_sync) {
  sync::TrackerOptions options;
  options.resync_interval = std::chrono::hours(24); // only the initial re-list may happen
  RunningTracker tracker(podman().endpoint(), options);
  ASSERT_TRUE(tracker.wait_for([](const sync::GraphTracker& t) { return t.ready(); }))
      << "the tracker never synced";

  // tag / untag / rmi / build / create / rm, as people and CI jobs do them. Podman's build
  // event names the image in Attributes.name, its container removal is `remove`, and the
  // delete of `rmi -f` on a used image is stamped before the container events it follows.
  podman().build(one_layer(30'000, "a") + "RUN head -c 20000 /dev/urandom > /a2\n", "seq/a:1",
                 false);
  podman().cli("tag seq/a:1 seq/a:2");
  podman().cli("tag seq/a:1 seq/other:latest");
  podman().cli("rmi seq/a:2");
  podman().build(one_layer(40'000, "b"), "seq/b:1", false);
  podman().build(one_layer(41'000, "b"), "seq/b:1", false); // moves the tag: no untag event
  podman().build(one_layer(50'000, "c") + "RUN echo c > /c2\n", "seq/c:1", false);
  podman().cli("create --network none --name seq-user seq/c:1 true");
  podman().cli("run -d --network none --name seq-runner seq/a:1 sleep 600");
  podman().cli("rm seq-user");
  podman().cli("untag seq/other:latest seq/other:latest");
  podman().build(one_layer(60'000, "d"), "seq/d:1", false);
  podman().cli("rmi seq/d:1");
  podman().build(one_layer(61'000, "e"), "seq/e:1", false);
  podman().cli("create --network none --name seq-holder seq/e:1 true");
  podman().cli("rmi -f seq/e:1");
  podman().cli("tag busybox:latest seq/marker:done");

  ASSERT_TRUE(wait_for_marker(tracker, "localhost/seq/marker:done"))
      << "the marker tag never arrived through the events";
  expect_equal_to_a_fresh_sync(tracker);
  const auto stats = tracker.read([](const sync::GraphTracker& t) { return t.stats(); });
  EXPECT_EQ(stats.resyncs, 1u) << "only the initial re-list: everything else came from events";
  EXPECT_GT(stats.events_applied, 10u);
  EXPECT_EQ(stats.events_malformed, 0u);
  EXPECT_EQ(stats.events_duplicate, 0u) << "events stamped out of order are not replays";
}

TEST_F(PodmanTracking, events_made_while_the_service_was_down_are_replayed) {
  // scripts/private-podman.sh keeps the service's files beside its socket.
  const auto socket = podman().host().substr(std::string("unix://").size());
  const auto dir = fs::path(socket).parent_path().string();
  const auto script = std::string(IMAGEGC_SOURCE_DIR) + "/scripts/private-podman.sh";

  sync::TrackerOptions options;
  options.resync_interval = std::chrono::hours(24);
  RunningTracker tracker(podman().endpoint(), options);
  ASSERT_TRUE(tracker.wait_for([](const sync::GraphTracker& t) { return t.ready(); }));
  podman().cli("tag busybox:latest down/marker:before");
  ASSERT_TRUE(wait_for_marker(tracker, "localhost/down/marker:before"));
  const auto before = tracker.read([](const sync::GraphTracker& t) { return t.stats(); });

  ASSERT_EQ(run_command(script + " stop " + dir).exit_code, 0);
  // The CLI works on the storage without the service and writes to the same events log.
  podman().build(one_layer(25'000, "down"), "down/built:1", false);
  podman().cli("tag down/built:1 down/built:2");
  const auto started = run_command(script + " start " + dir);
  ASSERT_EQ(started.exit_code, 0) << started.output;

  podman().cli("tag busybox:latest down/marker:after");
  ASSERT_TRUE(wait_for_marker(tracker, "localhost/down/marker:after"));
  expect_equal_to_a_fresh_sync(tracker);
  const auto after = tracker.read([](const sync::GraphTracker& t) { return t.stats(); });
  EXPECT_EQ(after.connections, before.connections + 1);
  // Podman replays from its events log what happened while it was down (build, tag), which
  // Docker, keeping events in memory, cannot. The re-list after the reconnect runs first and
  // already shows their effect, so some of them may find nothing left to re-read: they are
  // received, not necessarily applied.
  EXPECT_GE(after.events_received - before.events_received, 3u)
      << "the build, the tag and the marker";
}

class PodmanPasses : public PodmanTest {
protected:
  void SetUp() override {
    PodmanTest::SetUp();
    m_scratch.emplace("imagegc-podman");
    m_dir = m_scratch->path();
  }

  std::string write_policy(const std::string& yaml) {
    return m_scratch->write("policy.yaml", yaml);
  }

  CommandResult run(const std::string& command, const std::string& policy) {
    return imagegc("--host " + podman().host() + " " + command + " --config " + policy +
                   " --state-dir " + (m_dir / "state").string());
  }

  std::optional<TestDirectory> m_scratch;
  fs::path m_dir;
};

TEST_F(PodmanPasses, an_enforced_dangling_rule_deletes_what_the_plan_said) {
  podman().build(dockerfile_with_layers({100'000, 110'000, 120'000}, "app"), "pass/app:1", false);
  podman().build(dockerfile_with_layers({100'000, 110'000, 130'000}, "app"), "pass/app:1", false);
  podman().build(dockerfile_with_layers({70'000}, "scratch"), "", false);
  const auto held = podman().build(dockerfile_with_layers({80'000}, "held"), "pass/held:1", false);
  podman().cli("create --network none pass/held:1 true");
  podman().cli("untag " + held);

  const auto policy = write_policy(R"(
mode: enforce
rules:
  - name: dangling
    select:
      state: dangling
build_cache:
  all: true
)");
  const auto planned = run("plan --format json", policy);
  ASSERT_EQ(planned.exit_code, 0) << planned.output;
  const auto plan = plan_document(planned.output);
  const auto expected_gone = planned_removals(plan);
  const auto expected_bytes = plan["reclaim_bytes"].get<std::int64_t>();
  ASSERT_EQ(expected_gone.size(), 2u) << "the old app (its parents stay with the new one), the "
                                         "untagged build";
  EXPECT_EQ(expected_gone.count(held), 0u) << "an untagged image a container uses stays";

  const auto before_ids = podman().cli_image_ids();
  const auto before_bytes = podman().podman_layer_store_bytes();
  const auto result = run("once", policy);
  ASSERT_EQ(result.exit_code, 0) << result.output;
  EXPECT_NE(result.output.find("build-cache pruning is not available on this engine"),
            std::string::npos)
      << result.output;

  const auto after_ids = podman().cli_image_ids();
  std::set<std::string> gone;
  std::set_difference(before_ids.begin(), before_ids.end(), after_ids.begin(), after_ids.end(),
                      std::inserter(gone, gone.end()));
  EXPECT_EQ(gone, expected_gone);
  EXPECT_EQ(before_bytes - podman().podman_layer_store_bytes(), expected_bytes);
  EXPECT_TRUE(podman().engine_dangling_ids() == std::vector<std::string>{held})
      << "only the image the container holds is left dangling";
}

} // namespace
} // namespace imagegc::test

namespace imagegc::test {
namespace {

TEST_F(PodmanPasses, a_dry_run_says_plainly_that_the_build_cache_cannot_be_pruned) {
  const auto policy = write_policy(R"(
mode: dry-run
rules:
  - name: dangling
    select:
      state: dangling
build_cache:
  all: true
)");
  constexpr std::string_view k_unavailable = "build-cache pruning is not available on this engine";
  const auto planned = run("plan --format json", policy);
  ASSERT_EQ(planned.exit_code, 0) << planned.output;
  const auto plan = plan_document(planned.output);
  EXPECT_EQ(plan["build_cache"]["requested"], true);
  EXPECT_EQ(plan["build_cache"]["available"], false);
  EXPECT_EQ(plan["build_cache"]["note"].get<std::string>().rfind(k_unavailable, 0), 0u)
      << planned.output;
  const auto table = run("plan", policy);
  ASSERT_EQ(table.exit_code, 0) << table.output;
  EXPECT_NE(table.output.find("build cache: " + std::string(k_unavailable)), std::string::npos)
      << table.output;

  const auto result = run("once", policy);
  ASSERT_EQ(result.exit_code, 0) << result.output;
  EXPECT_NE(result.output.find(k_unavailable), std::string::npos) << result.output;
  EXPECT_EQ(result.output.find("would prune the build cache"), std::string::npos) << result.output;
}

} // namespace
} // namespace imagegc::test
