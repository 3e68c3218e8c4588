// The Docker scenarios that Podman can reproduce, on a real Podman service (its Docker-compatible
// API, as scripts/private-podman.sh starts it): imports, builds (Buildah keeps a parent image per
// step, like Docker's legacy builder), tags, containers, classification against the engine's own
// dangling filter and the podman CLI, predictions against the layer store, the graph kept
// current from events, and a plan carried out by `imagegc once`.
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
#include "support/test_directory.hpp"
#include "sync/graph_tracker.hpp"

namespace imagegc::test {
namespace {

namespace asio = boost::asio;
namespace fs = std::filesystem;
using graph::ImageState;
using namespace std::chrono_literals;

// FROM busybox:latest with one RUN per payload size, each writing that many random bytes.
std::string dockerfile_with_layers(const std::vector<int>& sizes, const std::string& salt = "") {
  std::string text = "FROM busybox:latest\n";
  int step = 0;
  for (const int size : sizes) {
    ++step;
    text += "RUN head -c " + std::to_string(size) + " /dev/urandom > /layer" +
            std::to_string(step) + salt + "\n";
  }
  return text;
}

std::size_t count_in_state(const graph::ImageGraph& graph, ImageState state) {
  const auto ids = graph.image_ids();
  return static_cast<std::size_t>(std::count_if(
      ids.begin(), ids.end(), [&](const std::string& id) { return graph.state(id) == state; }));
}

CommandResult imagegc(const std::string& arguments) {
  return run_command(std::string(IMAGEGC_BINARY) + " " + arguments);
}

class PodmanScenarios : public PodmanTest {
protected:
  // The graph lists what `podman images -a` lists, its dangling set is the engine's own
  // dangling=true filter, and its layer bytes are what the layer store holds.
  graph::ImageGraph expect_graph_matches_engine() {
    auto graph = podman().load_graph();
    EXPECT_EQ(graph.image_ids(), podman().cli_image_ids());
    EXPECT_EQ(graph.image_ids(), podman().engine_image_ids());
    EXPECT_EQ(graph.dangling_images(), podman().engine_dangling_ids());
    EXPECT_EQ(graph.layers_bytes(), podman().podman_layer_store_bytes());
    return graph;
  }

  // Runs Podman's prune and compares the drop of the layer store with the prediction: exact,
  // since Podman's history gives each layer's stored size.
  void expect_prune_frees(std::int64_t predicted, bool all) {
    const auto before = podman().podman_layer_store_bytes();
    podman().cli(all ? "image prune -a -f" : "image prune -f");
    const auto after = podman().podman_layer_store_bytes();
    EXPECT_EQ(predicted, before - after)
        << (all ? "prune -a" : "prune") << ": predicted " << predicted << " bytes, the store fell "
        << before - after << " (" << before << " -> " << after << ")";
  }
};

TEST_F(PodmanScenarios, the_imported_base_is_tagged_under_its_familiar_name) {
  const auto version = podman().call<engine::VersionInfo>(
      [](engine::EngineClient& client) -> asio::awaitable<engine::VersionInfo> {
        EXPECT_TRUE(client.is_podman()) << "its /_ping sends Libpod-Api-Version";
        EXPECT_EQ(client.api_version(), (engine::ApiVersion{1, 41}));
        co_return *(co_await client.version());
      });
  EXPECT_TRUE(version.is_podman);

  const auto graph = expect_graph_matches_engine();
  ASSERT_EQ(graph.image_count(), 1u);
  const auto* base = graph.find_by_reference("busybox:latest");
  ASSERT_NE(base, nullptr) << "docker.io/library/busybox:latest, as Docker would show it";
  EXPECT_EQ(graph.state(base->id), ImageState::tagged);
  EXPECT_EQ(base->layers.size(), 1u);
  EXPECT_GT(graph.layers_bytes(), 1'000'000) << "busybox-static is over a megabyte";
}

TEST_F(PodmanScenarios, a_layered_build_keeps_intermediate_images_that_are_not_dangling) {
  const auto top = podman().build(
      dockerfile_with_layers({100'000, 110'000, 120'000, 130'000, 140'000}), "five:latest", false);

  const auto graph = expect_graph_matches_engine();
  EXPECT_EQ(graph.state(top), ImageState::tagged);
  EXPECT_EQ(graph.find_image(top)->tags, std::vector<std::string>{"localhost/five:latest"});
  EXPECT_EQ(count_in_state(graph, ImageState::intermediate), 4u) << "one per RUN below the top";
  EXPECT_TRUE(graph.dangling_images().empty());
  EXPECT_GE(graph.unique_bytes(top), 600'000);
  const auto* image = graph.find_image(top);
  ASSERT_NE(image, nullptr);
  EXPECT_EQ(graph.state(image->parent), ImageState::intermediate);
  EXPECT_EQ(graph.unique_bytes(image->parent), 0) << "a parent cannot go while its child stays";

  expect_prune_frees(graph.dangling_reclaimable_bytes(), false);
  EXPECT_EQ(graph.dangling_reclaimable_bytes(), 0);
}

TEST_F(PodmanScenarios, a_rebuild_that_moves_the_tag_orphans_the_old_chain) {
  const auto old_top = podman().build(
      dockerfile_with_layers({100'000, 110'000, 120'000, 130'000, 140'000}), "app:latest", false);
  auto changed = dockerfile_with_layers({100'000, 110'000, 120'000, 130'000, 140'000});
  changed.replace(changed.find("/layer3"), 7, "/layer3-v2");
  const auto rebuilt = podman().build(changed, "app:latest", false);
  ASSERT_NE(old_top, rebuilt);

  const auto graph = expect_graph_matches_engine();
  EXPECT_EQ(graph.state(old_top), ImageState::dangling);
  EXPECT_EQ(graph.state(rebuilt), ImageState::tagged);
  EXPECT_EQ(graph.dangling_images(), std::vector<std::string>{old_top});
  // Steps 3-5 of the first build (their payloads and a few tar headers each) go; steps 1-2 are
  // shared with the rebuild.
  EXPECT_GE(graph.dangling_reclaimable_bytes(), 390'000);
  EXPECT_LT(graph.dangling_reclaimable_bytes(), 430'000);

  expect_prune_frees(graph.dangling_reclaimable_bytes(), false);
  const auto after = expect_graph_matches_engine();
  EXPECT_EQ(after.find_image(old_top), nullptr);
  EXPECT_TRUE(after.dangling_images().empty());
}

TEST_F(PodmanScenarios, untagged_builds_are_dangling_at_once) {
  const auto first = podman().build(dockerfile_with_layers({50'000}, "one"), "", false);
  const auto second = podman().build(dockerfile_with_layers({60'000, 10'000}, "two"), "", false);

  const auto graph = expect_graph_matches_engine();
  EXPECT_EQ(graph.state(first), ImageState::dangling);
  EXPECT_EQ(graph.state(second), ImageState::dangling);
  EXPECT_EQ(count_in_state(graph, ImageState::intermediate), 1u) << "the second's first step";
  expect_prune_frees(graph.dangling_reclaimable_bytes(), false);
  EXPECT_EQ(podman().load_graph().image_count(), 1u) << "only busybox is left";
}

TEST_F(PodmanScenarios, two_tags_name_one_image_and_deleting_one_only_untags) {
  const auto id = podman().build(dockerfile_with_layers({70'000}), "twotags:one", false);
  podman().cli("tag twotags:one twotags:two");

  auto graph = expect_graph_matches_engine();
  ASSERT_NE(graph.find_image(id), nullptr);
  EXPECT_EQ(graph.find_image(id)->tags,
            (std::vector<std::string>{"localhost/twotags:one", "localhost/twotags:two"}));

  const auto outcome = podman().call<engine::Result<engine::DeleteOutcome>>(
      [](engine::EngineClient& client) { return client.delete_image("localhost/twotags:two"); });
  ASSERT_TRUE(outcome.has_value()) << outcome.error().message;
  EXPECT_EQ(outcome->kind, engine::DeleteOutcome::Kind::deleted);
  EXPECT_EQ(outcome->response.untagged, std::vector<std::string>{"localhost/twotags:two"});
  EXPECT_TRUE(outcome->response.deleted.empty());

  graph = expect_graph_matches_engine();
  EXPECT_EQ(graph.find_image(id)->tags, std::vector<std::string>{"localhost/twotags:one"});
}

TEST_F(PodmanScenarios, docker_hub_names_are_familiar_and_resolve_back_to_the_same_image) {
  const auto id = podman().build(dockerfile_with_layers({30'000}), "hub:src", false);
  podman().cli("tag localhost/hub:src docker.io/library/hub:1 docker.io/team/app:1 "
               "quay.example.com/team/app:1");

  const auto graph = expect_graph_matches_engine();
  EXPECT_EQ(graph.find_image(id)->tags,
            (std::vector<std::string>{"hub:1", "localhost/hub:src", "quay.example.com/team/app:1",
                                      "team/app:1"}));
  // What imagegc shows is what it deletes by: the engine resolves the familiar names back.
  for (const std::string name : {"hub:1", "team/app:1"}) {
    const auto outcome = podman().call<engine::Result<engine::DeleteOutcome>>(
        [&](engine::EngineClient& client) { return client.delete_image(name); });
    ASSERT_TRUE(outcome.has_value()) << outcome.error().message;
    EXPECT_EQ(outcome->kind, engine::DeleteOutcome::Kind::deleted) << name << outcome->message;
    EXPECT_EQ(outcome->response.untagged, std::vector<std::string>{name});
  }
  EXPECT_EQ(expect_graph_matches_engine().find_image(id)->tags,
            (std::vector<std::string>{"localhost/hub:src", "quay.example.com/team/app:1"}));
}

TEST_F(PodmanScenarios, a_created_container_keeps_its_image_and_the_engine_says_conflict) {
  const auto held = podman().build(dockerfile_with_layers({80'000, 90'000}), "held:latest", false);
  const auto free_image =
      podman().build(dockerfile_with_layers({85'000}, "free"), "free:latest", false);
  podman().cli("create --network none --name stopped-user held:latest true");

  auto graph = expect_graph_matches_engine();
  EXPECT_TRUE(graph.in_use(held));
  EXPECT_EQ(graph.containers_using(held), 1u);
  EXPECT_EQ(graph.running_containers_using(held), 0u);
  const auto unused = graph.unused_images();
  EXPECT_EQ(std::count(unused.begin(), unused.end(), held), 0);
  EXPECT_EQ(std::count(unused.begin(), unused.end(), free_image), 1);

  const auto outcome = podman().call<engine::Result<engine::DeleteOutcome>>(
      [&](engine::EngineClient& client) { return client.delete_image(held); });
  ASSERT_TRUE(outcome.has_value()) << outcome.error().message;
  EXPECT_EQ(outcome->kind, engine::DeleteOutcome::Kind::conflict) << outcome->message;

  expect_prune_frees(graph.unused_reclaimable_bytes(), true);
  graph = expect_graph_matches_engine();
  EXPECT_NE(graph.find_image(held), nullptr);
  EXPECT_EQ(graph.find_image(free_image), nullptr);
}

TEST_F(PodmanScenarios, a_running_container_keeps_its_image) {
  const auto id = podman().build(dockerfile_with_layers({95'000}), "serving:latest", false);
  podman().cli("run -d --network none --name running-user serving:latest sleep 600");

  const auto graph = expect_graph_matches_engine();
  EXPECT_TRUE(graph.in_use(id));
  EXPECT_EQ(graph.running_containers_using(id), 1u);
  expect_prune_frees(graph.unused_reclaimable_bytes(), true);
  EXPECT_NE(podman().load_graph().find_image(id), nullptr);
}

TEST_F(PodmanScenarios, prune_predictions_match_the_layer_store_on_a_mixed_host) {
  auto v1 = dockerfile_with_layers({120'000, 130'000, 140'000});
  podman().build(v1, "mixed/app:latest", false);
  auto v2 = v1;
  v2.replace(v2.find("/layer2"), 7, "/layer2-v2");
  podman().build(v2, "mixed/app:latest", false);
  podman().cli("tag mixed/app:latest mixed/app:stable");
  podman().build(dockerfile_with_layers({70'000}, "scratch"), "", false);
  podman().build(dockerfile_with_layers({150'000}, "tool"), "mixed/tool:1", false);
  podman().build(dockerfile_with_layers({160'000}, "job"), "mixed/job:1", false);
  podman().build(dockerfile_with_layers({170'000}, "svc"), "mixed/svc:1", false);
  podman().cli("create --network none mixed/tool:1 true");
  podman().cli("run -d --network none mixed/svc:1 sleep 600");

  auto graph = expect_graph_matches_engine();
  ASSERT_GT(graph.dangling_reclaimable_bytes(), 0);
  expect_prune_frees(graph.dangling_reclaimable_bytes(), false);

  graph = expect_graph_matches_engine();
  ASSERT_GT(graph.unused_reclaimable_bytes(), 0);
  expect_prune_frees(graph.unused_reclaimable_bytes(), true);
  expect_graph_matches_engine();
}

TEST_F(PodmanScenarios, what_podman_does_not_report_is_not_used) {
  podman().build(dockerfile_with_layers({40'000}), "df:1", false);
  const auto usage = podman().call<engine::DiskUsage>(
      [](engine::EngineClient& client) -> asio::awaitable<engine::DiskUsage> {
        co_return *(co_await client.disk_usage());
      });
  // Podman 4.3 leaves LayersSize 0 and has no build cache; imagegc's own figure is exact.
  EXPECT_EQ(usage.layers_size, 0);
  EXPECT_TRUE(usage.build_cache.empty());
  EXPECT_EQ(podman().load_graph().layers_bytes(), podman().podman_layer_store_bytes());

  // The coroutine keeps a reference to its options until it is awaited, after the lambda
  // returns: they must outlive the call, not be a temporary inside it.
  const engine::BuildPruneOptions options;
  std::vector<std::string> dropped;
  const auto pruned = podman().call<engine::Result<engine::BuildPruneResponse>>(
      [&](engine::EngineClient& client) { return client.prune_build_cache(options, dropped); });
  ASSERT_FALSE(pruned.has_value());
  EXPECT_EQ(pruned.error().http_status, 404) << pruned.error().message;
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
  // Docker, keeping events in memory, cannot; the re-list after the reconnect also sees them.
  EXPECT_GE(after.events_applied - before.events_applied, 3u)
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
