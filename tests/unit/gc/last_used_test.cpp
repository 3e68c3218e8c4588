#include <gtest/gtest.h>

#include "gc/last_used.hpp"

namespace imagegc::gc {
namespace {

const std::string k_image = "sha256:" + std::string(64, 'a');

engine::Event event(std::string type, std::string action, std::string actor) {
  engine::Event result;
  result.type = std::move(type);
  result.action = std::move(action);
  result.actor_id = std::move(actor);
  result.time_nano = 1'700'000'000'123'456'789;
  return result;
}

graph::ImageGraph graph_with_container() {
  graph::ImageGraph graph;
  graph::ImageWithLayers image;
  image.id = k_image;
  image.tags = {"app:1"};
  graph.upsert_image(image);
  graph.upsert_container({"c1", k_image, true});
  return graph;
}

TEST(LastUsed, container_lifecycle_uses_the_containers_image) {
  const auto graph = graph_with_container();
  for (const char* action : {"create", "start", "die"}) {
    const auto use = image_use(event("container", action, "c1"), graph);
    ASSERT_TRUE(use.has_value()) << action;
    EXPECT_EQ(use->image_id, k_image);
    EXPECT_EQ(use->time, 1'700'000'000);
  }
}

TEST(LastUsed, pulls_tags_loads_and_imports_use_the_image) {
  const auto graph = graph_with_container();
  EXPECT_EQ(image_use(event("image", "tag", k_image), graph)->image_id, k_image);
  EXPECT_EQ(image_use(event("image", "pull", "app:1"), graph)->image_id, k_image)
      << "pull names a reference";
  EXPECT_EQ(image_use(event("image", "import", std::string(64, 'a')), graph)->image_id, k_image)
      << "bare hex from Podman";
}

TEST(LastUsed, exec_health_and_unknown_objects_do_not_count) {
  const auto graph = graph_with_container();
  EXPECT_FALSE(image_use(event("container", "exec_start: sh", "c1"), graph).has_value());
  EXPECT_FALSE(image_use(event("container", "health_status: healthy", "c1"), graph).has_value());
  EXPECT_FALSE(image_use(event("container", "destroy", "c1"), graph).has_value());
  EXPECT_FALSE(image_use(event("container", "start", "unknown"), graph).has_value());
  EXPECT_FALSE(image_use(event("image", "delete", k_image), graph).has_value());
}

} // namespace
} // namespace imagegc::gc
