// The seed experiments on a real engine: how each kind of image is classified, checked against
// the engine's own filters, and how many bytes each prune frees, checked against the drop of
// /system/df LayersSize when the engine's own prune runs.

#include <algorithm>
#include <iostream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "engine/engine_client.hpp"
#include "support/engine_test.hpp"

namespace imagegc::test {
namespace {

namespace asio = boost::asio;
using graph::ImageState;

// A Dockerfile on busybox:latest with one RUN per payload size; each writes that many random
// bytes, so every build makes layers of its own.
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

class EngineScenarios : public EngineTest {
protected:
  // The graph lists what `docker image ls -a` lists, and its dangling set is the engine's.
  graph::ImageGraph expect_graph_matches_engine() {
    auto graph = engine().load_graph();
    EXPECT_EQ(graph.image_ids(), engine().engine_image_ids());
    EXPECT_EQ(graph.dangling_images(), engine().engine_dangling_ids());
    EXPECT_EQ(graph.layers_bytes(), engine().layers_size());
    return graph;
  }

  // Runs the engine's prune and compares the LayersSize drop with the prediction (0.5 %).
  void expect_prune_frees(std::int64_t predicted, bool all) {
    const auto before = engine().layers_size();
    engine().docker(all ? "image prune -a -f" : "image prune -f");
    const auto after = engine().layers_size();
    const auto dropped = before - after;
    const double tolerance = 0.005 * static_cast<double>(std::max(dropped, predicted));
    EXPECT_NEAR(static_cast<double>(predicted), static_cast<double>(dropped), tolerance)
        << (all ? "prune -a" : "prune") << ": predicted " << predicted << " bytes, LayersSize fell "
        << dropped << " (" << before << " -> " << after << ")";
  }
};

TEST_F(EngineScenarios, legacy_build_leaves_intermediate_images_that_are_not_dangling) {
  const auto top = engine().build(
      dockerfile_with_layers({100'000, 110'000, 120'000, 130'000, 140'000}), "five:latest", false);

  const auto graph = expect_graph_matches_engine();
  EXPECT_EQ(graph.state(top), ImageState::tagged);
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

TEST_F(EngineScenarios, rebuild_that_moves_the_tag_orphans_the_old_chain) {
  const auto old_top = engine().build(
      dockerfile_with_layers({100'000, 110'000, 120'000, 130'000, 140'000}), "app:latest", false);
  // A different third step: steps one and two come from the cache, three to five are new.
  auto changed = dockerfile_with_layers({100'000, 110'000, 120'000, 130'000, 140'000});
  changed.replace(changed.find("/layer3"), 7, "/layer3-v2");
  auto cached = engine().build(changed, "app:latest", false);
  ASSERT_NE(old_top, cached);

  const auto graph = expect_graph_matches_engine();
  EXPECT_EQ(graph.state(old_top), ImageState::dangling);
  EXPECT_EQ(graph.state(cached), ImageState::tagged);
  EXPECT_EQ(graph.dangling_images(), std::vector<std::string>{old_top});
  // The old top's own layers and its two orphaned parents' layers (steps 3-5 of the first build)
  // are what prune frees; steps 1-2 stay with the new chain.
  EXPECT_GE(graph.dangling_reclaimable_bytes(), 390'000);
  EXPECT_LT(graph.dangling_reclaimable_bytes(), 400'000);

  expect_prune_frees(graph.dangling_reclaimable_bytes(), false);
  const auto after = expect_graph_matches_engine();
  EXPECT_EQ(after.find_image(old_top), nullptr);
  EXPECT_TRUE(after.dangling_images().empty());
}

TEST_F(EngineScenarios, untagged_builds_are_dangling_at_once) {
  const auto legacy = engine().build(dockerfile_with_layers({50'000}, "legacy"), "", false);
  const auto buildkit = engine().build(dockerfile_with_layers({60'000}, "buildkit"), "", true);

  const auto graph = expect_graph_matches_engine();
  EXPECT_EQ(graph.state(legacy), ImageState::dangling);
  EXPECT_EQ(graph.state(buildkit), ImageState::dangling);
  expect_prune_frees(graph.dangling_reclaimable_bytes(), false);
}

TEST_F(EngineScenarios, two_tags_name_one_image_and_deleting_one_only_untags) {
  const auto id = engine().build(dockerfile_with_layers({70'000}), "twotags:one", false);
  engine().docker("tag twotags:one twotags:two");

  auto graph = expect_graph_matches_engine();
  ASSERT_NE(graph.find_image(id), nullptr);
  EXPECT_EQ(graph.find_image(id)->tags, (std::vector<std::string>{"twotags:one", "twotags:two"}));

  const auto outcome = engine().call<engine::Result<engine::DeleteOutcome>>(
      [](engine::EngineClient& client) { return client.delete_image("twotags:two"); });
  ASSERT_TRUE(outcome.has_value()) << outcome.error().message;
  EXPECT_EQ(outcome->kind, engine::DeleteOutcome::Kind::deleted);
  EXPECT_EQ(outcome->response.untagged, std::vector<std::string>{"twotags:two"});
  EXPECT_TRUE(outcome->response.deleted.empty());

  graph = expect_graph_matches_engine();
  EXPECT_EQ(graph.find_image(id)->tags, std::vector<std::string>{"twotags:one"});
}

TEST_F(EngineScenarios, stopped_container_keeps_its_image_and_the_engine_says_conflict) {
  const auto held = engine().build(dockerfile_with_layers({80'000, 90'000}), "held:latest", false);
  const auto free_image =
      engine().build(dockerfile_with_layers({85'000}, "free"), "free:latest", false);
  engine().docker("create --network none --name stopped-user held:latest true");

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

TEST_F(EngineScenarios, running_container_keeps_its_image) {
  const auto id = engine().build(dockerfile_with_layers({95'000}), "serving:latest", false);
  engine().docker("run -d --network none --name running-user serving:latest sleep 600");

  const auto graph = expect_graph_matches_engine();
  EXPECT_TRUE(graph.in_use(id));
  EXPECT_EQ(graph.running_containers_using(id), 1u);
  expect_prune_frees(graph.unused_reclaimable_bytes(), true);
  EXPECT_NE(engine().load_graph().find_image(id), nullptr);
}

TEST_F(EngineScenarios, buildkit_build_makes_no_intermediate_images) {
  const auto before = engine().engine_image_ids().size();
  const auto id =
      engine().build(dockerfile_with_layers({40'000, 50'000, 60'000}), "bk:latest", true);

  const auto graph = expect_graph_matches_engine();
  EXPECT_EQ(graph.image_count(), before + 1);
  EXPECT_EQ(count_in_state(graph, ImageState::intermediate), 0u);
  EXPECT_TRUE(graph.find_image(id)->parent.empty());
  EXPECT_EQ(graph.find_image(id)->layers.size(), 4u) << "busybox's layer and one per RUN";
}

TEST_F(EngineScenarios, prune_predictions_match_layers_size_on_a_mixed_host) {
  // Everything at once: a legacy chain and its rebuild, an untagged build, BuildKit images that
  // share the base layer, a stopped and a running container, and a second tag.
  auto v1 = dockerfile_with_layers({120'000, 130'000, 140'000});
  engine().build(v1, "mixed/app:latest", false);
  auto v2 = v1;
  v2.replace(v2.find("/layer2"), 7, "/layer2-v2");
  engine().build(v2, "mixed/app:latest", false);
  engine().docker("tag mixed/app:latest mixed/app:stable");
  engine().build(dockerfile_with_layers({70'000}, "scratch"), "", false);
  engine().build(dockerfile_with_layers({150'000}, "tool"), "mixed/tool:1", true);
  engine().build(dockerfile_with_layers({160'000}, "job"), "mixed/job:1", true);
  engine().build(dockerfile_with_layers({170'000}, "svc"), "mixed/svc:1", false);
  engine().docker("create --network none mixed/tool:1 true");
  engine().docker("run -d --network none mixed/svc:1 sleep 600");

  auto graph = expect_graph_matches_engine();
  ASSERT_GT(graph.dangling_reclaimable_bytes(), 0);
  expect_prune_frees(graph.dangling_reclaimable_bytes(), false);

  graph = expect_graph_matches_engine();
  ASSERT_GT(graph.unused_reclaimable_bytes(), 0);
  // The docker CLI's own estimate (system df RECLAIMABLE): LayersSize less the unique size of
  // images containers use; it ignores layers those images share with the ones that go.
  const auto usage = engine().call<engine::DiskUsage>(
      [](engine::EngineClient& client) -> asio::awaitable<engine::DiskUsage> {
        co_return *(co_await client.disk_usage());
      });
  std::int64_t engine_estimate = usage.layers_size;
  for (const auto& image : usage.images) {
    if (image.containers > 0) {
      engine_estimate -= image.size - image.shared_size;
    }
  }
  const auto before = engine().layers_size();
  expect_prune_frees(graph.unused_reclaimable_bytes(), true);
  const auto freed = before - engine().layers_size();
  std::cout << "prune -a freed " << freed << " bytes; imagegc predicted "
            << graph.unused_reclaimable_bytes() << ", docker system df said " << engine_estimate
            << " ("
            << 100.0 * static_cast<double>(engine_estimate - freed) / static_cast<double>(freed)
            << " % off)\n";
  expect_graph_matches_engine();
}

} // namespace
} // namespace imagegc::test
