// The scenarios both engines reproduce, on the private Docker engine and the private Podman
// service alike: how each kind of image is classified, checked against the engine's own filters,
// and how many bytes each prune frees, checked against what the engine's own prune frees
// (Docker: the drop of /system/df LayersSize; Podman, which reports none: its layer store).
//
// Podman names what its CLI tags "localhost/NAME"; Buildah keeps a parent image per step, as
// Docker's legacy builder does, and ignores DOCKER_BUILDKIT.

#include <algorithm>
#include <cstdio>
#include <optional>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "engine/engine_client.hpp"
#include "support/engine_harness.hpp"
#include "support/scenario_builds.hpp"

namespace imagegc::test {
namespace {

namespace asio = boost::asio;
using graph::ImageState;

class SharedScenarios : public ::testing::TestWithParam<EngineKind> {
protected:
  void SetUp() override {
    const bool podman = GetParam() == EngineKind::podman;
    const auto host =
        podman ? EngineHarness::configured_podman_host() : EngineHarness::configured_host();
    if (!host) {
      if (EngineHarness::engine_required()) {
        FAIL() << "IMAGEGC_REQUIRE_ENGINE=1 but no " << (podman ? "Podman service" : "engine")
               << " was set up: run the tests through scripts/test.sh, which starts both";
      }
      GTEST_SKIP() << "no " << (podman ? "Podman service" : "engine")
                   << ": set IMAGEGC_TEST_DOCKER_HOST / IMAGEGC_TEST_PODMAN_HOST (scripts/test.sh "
                      "does)";
    }
    m_engine.emplace(*host, GetParam());
    m_engine->reset();
  }

  EngineHarness& engine() { return *m_engine; }
  [[nodiscard]] bool podman() const { return GetParam() == EngineKind::podman; }

  // How the engine lists a tag the CLI was given as `reference`.
  [[nodiscard]] std::string listed(const std::string& reference) const {
    return podman() ? "localhost/" + reference : reference;
  }

  // The bytes the engine's image layers take, as the engine's own prune changes them.
  std::int64_t stored_bytes() {
    return podman() ? engine().podman_layer_store_bytes() : engine().layers_size();
  }

  // The graph lists what the engine lists, its dangling set is the engine's own dangling=true
  // filter, and its layer bytes are what the engine stores.
  graph::ImageGraph expect_graph_matches_engine() {
    auto graph = engine().load_graph();
    EXPECT_EQ(graph.image_ids(), engine().engine_image_ids());
    if (podman()) {
      EXPECT_EQ(graph.image_ids(), engine().cli_image_ids());
    }
    EXPECT_EQ(graph.dangling_images(), engine().engine_dangling_ids());
    EXPECT_EQ(graph.layers_bytes(), stored_bytes());
    return graph;
  }

  // Runs the engine's prune and compares what it freed with the prediction: exact on Podman,
  // whose history gives each layer's stored size; within 0.5 % of LayersSize on Docker.
  void expect_prune_frees(std::int64_t predicted, bool all) {
    const auto before = stored_bytes();
    engine().cli(all ? "image prune -a -f" : "image prune -f");
    const auto after = stored_bytes();
    const auto dropped = before - after;
    const double tolerance =
        podman() ? 0.0 : 0.005 * static_cast<double>(std::max(dropped, predicted));
    EXPECT_NEAR(static_cast<double>(predicted), static_cast<double>(dropped), tolerance)
        << (all ? "prune -a" : "prune") << ": predicted " << predicted << " bytes, the store fell "
        << dropped << " (" << before << " -> " << after << ")";
  }

private:
  std::optional<EngineHarness> m_engine;
};

TEST_P(SharedScenarios, a_layered_build_keeps_intermediate_images_that_are_not_dangling) {
  const auto top = engine().build(
      dockerfile_with_layers({100'000, 110'000, 120'000, 130'000, 140'000}), "five:latest", false);

  const auto graph = expect_graph_matches_engine();
  EXPECT_EQ(graph.state(top), ImageState::tagged);
  EXPECT_EQ(graph.find_image(top)->tags, std::vector<std::string>{listed("five:latest")});
  EXPECT_EQ(count_in_state(graph, ImageState::intermediate), 4u) << "one per RUN below the top";
  EXPECT_TRUE(graph.dangling_images().empty());
  // Each intermediate's layers are its child's: deleting the tagged top frees the whole chain.
  EXPECT_GE(graph.unique_bytes(top), 600'000);
  const auto* image = graph.find_image(top);
  ASSERT_NE(image, nullptr);
  EXPECT_EQ(graph.state(image->parent), ImageState::intermediate);
  EXPECT_EQ(graph.unique_bytes(image->parent), 0) << "a parent cannot go while its child stays";

  expect_prune_frees(graph.dangling_reclaimable_bytes(), false);
  EXPECT_EQ(graph.dangling_reclaimable_bytes(), 0);
}

TEST_P(SharedScenarios, a_rebuild_that_moves_the_tag_orphans_the_old_chain) {
  const auto old_top = engine().build(
      dockerfile_with_layers({100'000, 110'000, 120'000, 130'000, 140'000}), "app:latest", false);
  // A different third step: steps one and two come from the cache, three to five are new.
  auto changed = dockerfile_with_layers({100'000, 110'000, 120'000, 130'000, 140'000});
  changed.replace(changed.find("/layer3"), 7, "/layer3-v2");
  const auto rebuilt = engine().build(changed, "app:latest", false);
  ASSERT_NE(old_top, rebuilt);

  const auto graph = expect_graph_matches_engine();
  EXPECT_EQ(graph.state(old_top), ImageState::dangling);
  EXPECT_EQ(graph.state(rebuilt), ImageState::tagged);
  EXPECT_EQ(graph.dangling_images(), std::vector<std::string>{old_top});
  // Steps 3-5 of the first build (their payloads, and tar headers: a few kB on Podman) go;
  // steps 1-2 stay with the rebuild.
  EXPECT_GE(graph.dangling_reclaimable_bytes(), 390'000);
  EXPECT_LT(graph.dangling_reclaimable_bytes(), podman() ? 430'000 : 400'000);

  expect_prune_frees(graph.dangling_reclaimable_bytes(), false);
  const auto after = expect_graph_matches_engine();
  EXPECT_EQ(after.find_image(old_top), nullptr);
  EXPECT_TRUE(after.dangling_images().empty());
}

TEST_P(SharedScenarios, two_tags_name_one_image_and_deleting_one_only_untags) {
  const auto id = engine().build(dockerfile_with_layers({70'000}), "twotags:one", false);
  engine().cli("tag twotags:one twotags:two");

  auto graph = expect_graph_matches_engine();
  ASSERT_NE(graph.find_image(id), nullptr);
  EXPECT_EQ(graph.find_image(id)->tags,
            (std::vector<std::string>{listed("twotags:one"), listed("twotags:two")}));

  // The coroutine reads the name when awaited, after the lambda returns: it must outlive it.
  const auto second = listed("twotags:two");
  const auto outcome = engine().call<engine::Result<engine::DeleteOutcome>>(
      [&](engine::EngineClient& client) { return client.delete_image(second); });
  ASSERT_TRUE(outcome.has_value()) << outcome.error().message;
  EXPECT_EQ(outcome->kind, engine::DeleteOutcome::Kind::deleted);
  EXPECT_EQ(outcome->response.untagged, std::vector<std::string>{listed("twotags:two")});
  EXPECT_TRUE(outcome->response.deleted.empty());

  graph = expect_graph_matches_engine();
  EXPECT_EQ(graph.find_image(id)->tags, std::vector<std::string>{listed("twotags:one")});
}

TEST_P(SharedScenarios, a_stopped_container_keeps_its_image_and_the_engine_says_conflict) {
  const auto held = engine().build(dockerfile_with_layers({80'000, 90'000}), "held:latest", false);
  const auto free_image =
      engine().build(dockerfile_with_layers({85'000}, "free"), "free:latest", false);
  engine().cli("create --network none --name stopped-user held:latest true");

  auto graph = expect_graph_matches_engine();
  EXPECT_TRUE(graph.in_use(held));
  EXPECT_EQ(graph.containers_using(held), 1u);
  EXPECT_EQ(graph.running_containers_using(held), 0u);
  const auto unused = graph.unused_images();
  EXPECT_EQ(std::count(unused.begin(), unused.end(), held), 0);
  EXPECT_EQ(std::count(unused.begin(), unused.end(), free_image), 1);

  const auto outcome = engine().call<engine::Result<engine::DeleteOutcome>>(
      [&](engine::EngineClient& client) { return client.delete_image(held); });
  ASSERT_TRUE(outcome.has_value()) << outcome.error().message;
  EXPECT_EQ(outcome->kind, engine::DeleteOutcome::Kind::conflict) << outcome->message;

  expect_prune_frees(graph.unused_reclaimable_bytes(), true);
  graph = expect_graph_matches_engine();
  EXPECT_NE(graph.find_image(held), nullptr);
  EXPECT_EQ(graph.find_image(free_image), nullptr);
}

TEST_P(SharedScenarios, a_running_container_keeps_its_image) {
  const auto id = engine().build(dockerfile_with_layers({95'000}), "serving:latest", false);
  engine().cli("run -d --network none --name running-user serving:latest sleep 600");

  const auto graph = expect_graph_matches_engine();
  EXPECT_TRUE(graph.in_use(id));
  EXPECT_EQ(graph.running_containers_using(id), 1u);
  expect_prune_frees(graph.unused_reclaimable_bytes(), true);
  EXPECT_NE(engine().load_graph().find_image(id), nullptr);
}

TEST_P(SharedScenarios, prune_predictions_match_the_engine_on_a_mixed_host) {
  // Everything at once: a layered chain and its rebuild, an untagged build, images that share
  // the base layer (BuildKit's on Docker), a stopped and a running container, and a second tag.
  auto v1 = dockerfile_with_layers({120'000, 130'000, 140'000});
  engine().build(v1, "mixed/app:latest", false);
  auto v2 = v1;
  v2.replace(v2.find("/layer2"), 7, "/layer2-v2");
  engine().build(v2, "mixed/app:latest", false);
  engine().cli("tag mixed/app:latest mixed/app:stable");
  engine().build(dockerfile_with_layers({70'000}, "scratch"), "", false);
  engine().build(dockerfile_with_layers({150'000}, "tool"), "mixed/tool:1", true);
  engine().build(dockerfile_with_layers({160'000}, "job"), "mixed/job:1", true);
  engine().build(dockerfile_with_layers({170'000}, "svc"), "mixed/svc:1", false);
  engine().cli("create --network none mixed/tool:1 true");
  engine().cli("run -d --network none mixed/svc:1 sleep 600");

  auto graph = expect_graph_matches_engine();
  ASSERT_GT(graph.dangling_reclaimable_bytes(), 0);
  expect_prune_frees(graph.dangling_reclaimable_bytes(), false);

  graph = expect_graph_matches_engine();
  ASSERT_GT(graph.unused_reclaimable_bytes(), 0);
  std::optional<std::int64_t> engine_estimate;
  if (!podman()) {
    // The docker CLI's own estimate (system df RECLAIMABLE): LayersSize less the unique size of
    // images containers use; it ignores layers those images share with the ones that go.
    const auto usage = engine().call<engine::DiskUsage>(
        [](engine::EngineClient& client) -> asio::awaitable<engine::DiskUsage> {
          co_return *(co_await client.disk_usage());
        });
    engine_estimate = usage.layers_size;
    for (const auto& image : usage.images) {
      if (image.containers > 0) {
        *engine_estimate -= image.size - image.shared_size;
      }
    }
  }
  const auto before = stored_bytes();
  expect_prune_frees(graph.unused_reclaimable_bytes(), true);
  const auto freed = before - stored_bytes();
  std::printf("prune -a freed %lld bytes; imagegc predicted %lld", static_cast<long long>(freed),
              static_cast<long long>(graph.unused_reclaimable_bytes()));
  if (engine_estimate) {
    std::printf(", docker system df said %lld (%.0f %% off)",
                static_cast<long long>(*engine_estimate),
                100.0 * static_cast<double>(*engine_estimate - freed) / static_cast<double>(freed));
  }
  std::printf("\n");
  expect_graph_matches_engine();
}

// What only Docker does: BuildKit, which keeps no intermediate images.
class DockerScenarios : public SharedScenarios {};

TEST_P(DockerScenarios, untagged_builds_are_dangling_at_once) {
  const auto legacy = engine().build(dockerfile_with_layers({50'000}, "legacy"), "", false);
  const auto buildkit = engine().build(dockerfile_with_layers({60'000}, "buildkit"), "", true);

  const auto graph = expect_graph_matches_engine();
  EXPECT_EQ(graph.state(legacy), ImageState::dangling);
  EXPECT_EQ(graph.state(buildkit), ImageState::dangling);
  expect_prune_frees(graph.dangling_reclaimable_bytes(), false);
}

TEST_P(DockerScenarios, buildkit_build_makes_no_intermediate_images) {
  const auto before = engine().engine_image_ids().size();
  const auto id =
      engine().build(dockerfile_with_layers({40'000, 50'000, 60'000}), "bk:latest", true);

  const auto graph = expect_graph_matches_engine();
  EXPECT_EQ(graph.image_count(), before + 1);
  EXPECT_EQ(count_in_state(graph, ImageState::intermediate), 0u);
  EXPECT_TRUE(graph.find_image(id)->parent.empty());
  EXPECT_EQ(graph.layers(*graph.find_image(id)).size(), 4u) << "busybox's layer and one per RUN";
}

// What only Podman does: the base imported under its Docker Hub name, Docker Hub names shown
// in their familiar form, no LayersSize and no build cache.
class PodmanScenarios : public SharedScenarios {};

TEST_P(PodmanScenarios, the_imported_base_is_tagged_under_its_familiar_name) {
  const auto version = engine().call<engine::VersionInfo>(
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
  EXPECT_EQ(graph.layers(*base).size(), 1u);
  EXPECT_GT(graph.layers_bytes(), 1'000'000) << "busybox-static is over a megabyte";
}

TEST_P(PodmanScenarios, untagged_builds_are_dangling_at_once) {
  const auto first = engine().build(dockerfile_with_layers({50'000}, "one"), "", false);
  const auto second = engine().build(dockerfile_with_layers({60'000, 10'000}, "two"), "", false);

  const auto graph = expect_graph_matches_engine();
  EXPECT_EQ(graph.state(first), ImageState::dangling);
  EXPECT_EQ(graph.state(second), ImageState::dangling);
  EXPECT_EQ(count_in_state(graph, ImageState::intermediate), 1u) << "the second's first step";
  expect_prune_frees(graph.dangling_reclaimable_bytes(), false);
  EXPECT_EQ(engine().load_graph().image_count(), 1u) << "only busybox is left";
}

TEST_P(PodmanScenarios, docker_hub_names_are_familiar_and_resolve_back_to_the_same_image) {
  const auto id = engine().build(dockerfile_with_layers({30'000}), "hub:src", false);
  engine().cli("tag localhost/hub:src docker.io/library/hub:1 docker.io/team/app:1 "
               "quay.example.com/team/app:1");

  const auto graph = expect_graph_matches_engine();
  EXPECT_EQ(graph.find_image(id)->tags,
            (std::vector<std::string>{"hub:1", "localhost/hub:src", "quay.example.com/team/app:1",
                                      "team/app:1"}));
  // What imagegc shows is what it deletes by: the engine resolves the familiar names back.
  for (const std::string name : {"hub:1", "team/app:1"}) {
    const auto outcome = engine().call<engine::Result<engine::DeleteOutcome>>(
        [&](engine::EngineClient& client) { return client.delete_image(name); });
    ASSERT_TRUE(outcome.has_value()) << outcome.error().message;
    EXPECT_EQ(outcome->kind, engine::DeleteOutcome::Kind::deleted) << name << outcome->message;
    EXPECT_EQ(outcome->response.untagged, std::vector<std::string>{name});
  }
  EXPECT_EQ(expect_graph_matches_engine().find_image(id)->tags,
            (std::vector<std::string>{"localhost/hub:src", "quay.example.com/team/app:1"}));
}

TEST_P(PodmanScenarios, what_podman_does_not_report_is_not_used) {
  engine().build(dockerfile_with_layers({40'000}), "df:1", false);
  const auto usage = engine().call<engine::DiskUsage>(
      [](engine::EngineClient& client) -> asio::awaitable<engine::DiskUsage> {
        co_return *(co_await client.disk_usage());
      });
  // Podman 4.3 leaves LayersSize 0 and has no build cache; imagegc's own figure is exact.
  EXPECT_EQ(usage.layers_size, 0);
  EXPECT_TRUE(usage.build_cache.empty());
  EXPECT_EQ(engine().load_graph().layers_bytes(), engine().podman_layer_store_bytes());

  // The coroutine keeps a reference to its options until it is awaited, after the lambda
  // returns: they must outlive the call, not be a temporary inside it.
  const engine::BuildPruneOptions options;
  std::vector<std::string> dropped;
  const auto pruned = engine().call<engine::Result<engine::BuildPruneResponse>>(
      [&](engine::EngineClient& client) { return client.prune_build_cache(options, dropped); });
  ASSERT_FALSE(pruned.has_value());
  EXPECT_EQ(pruned.error().http_status, 404) << pruned.error().message;
}

INSTANTIATE_TEST_SUITE_P(Engines, SharedScenarios,
                         ::testing::Values(EngineKind::docker, EngineKind::podman),
                         [](const ::testing::TestParamInfo<EngineKind>& param) {
                           return param.param == EngineKind::podman ? "podman" : "docker";
                         });

INSTANTIATE_TEST_SUITE_P(Docker, DockerScenarios, ::testing::Values(EngineKind::docker),
                         [](const auto&) { return "docker"; });
INSTANTIATE_TEST_SUITE_P(Podman, PodmanScenarios, ::testing::Values(EngineKind::podman),
                         [](const auto&) { return "podman"; });

} // namespace
} // namespace imagegc::test
