#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "app/graph_report.hpp"

namespace imagegc::app {
namespace {

std::string id(char c) {
  return "sha256:" + std::string(64, c);
}

graph::ImageWithLayers image(char c, std::string parent, std::vector<std::string> tags,
                             std::vector<graph::Layer> layers) {
  graph::ImageWithLayers result;
  result.id = id(c);
  result.parent = std::move(parent);
  result.tags = std::move(tags);
  result.layers = std::move(layers);
  result.created = 1'714'558'272;
  return result;
}

// busybox ← intermediate ← app:1 (held by a stopped container), and a dangling image on busybox.
graph::ImageGraph legacy_build() {
  graph::ImageGraph graph;
  graph.upsert_image(image('a', "", {"busybox:latest"}, {{"L0", 2'000'000}}));
  graph.upsert_image(image('b', id('a'), {}, {{"L0", 2'000'000}, {"L1", 100'000}}));
  graph.upsert_image(
      image('c', id('b'), {"app:1"}, {{"L0", 2'000'000}, {"L1", 100'000}, {"L2", 50'000}}));
  graph.upsert_image(image('d', id('a'), {}, {{"L0", 2'000'000}, {"L3", 30'000}}));
  graph.upsert_container({"c1", id('c'), false});
  return graph;
}

TEST(GraphReport, json_has_engine_images_and_totals) {
  const auto document = nlohmann::json::parse(render_json(legacy_build(), {{1, 41}, "overlay2"}));
  EXPECT_EQ(document["engine"]["api_version"], "1.41");
  EXPECT_EQ(document["engine"]["storage_driver"], "overlay2");
  ASSERT_EQ(document["images"].size(), 4u);
  const auto& intermediate = document["images"][1];
  EXPECT_EQ(intermediate["id"], id('b'));
  EXPECT_EQ(intermediate["parent"], id('a'));
  EXPECT_EQ(intermediate["state"], "intermediate");
  EXPECT_EQ(intermediate["unique_bytes"], 0);
  EXPECT_EQ(document["images"][2]["containers"], 1);
  EXPECT_EQ(document["images"][3]["state"], "dangling");
  EXPECT_EQ(document["totals"]["images"], 4);
  EXPECT_EQ(document["totals"]["layers_bytes"], 2'180'000);
  EXPECT_EQ(document["totals"]["reclaimable_bytes"]["dangling"], 30'000);
  // app:1 is held by its container; busybox is the parent of kept images.
  EXPECT_EQ(document["totals"]["reclaimable_bytes"]["unused"], 30'000);
}

TEST(GraphReport, tree_nests_children_under_their_parent) {
  const auto tree = render_tree(legacy_build());
  const auto expected_order = {"aaaaaaaaaaaa  tagged", "├── bbbbbbbbbbbb  intermediate",
                               "│   └── cccccccccccc  tagged", "└── dddddddddddd  dangling"};
  std::size_t position = 0;
  for (const char* line : expected_order) {
    const auto found = tree.find(line, position);
    ASSERT_NE(found, std::string::npos) << "missing or out of order: " << line << "\n" << tree;
    position = found;
  }
  EXPECT_NE(tree.find("+50kB"), std::string::npos) << "what app:1 adds on top of its parent\n"
                                                   << tree;
  EXPECT_NE(tree.find("[1 container]"), std::string::npos) << tree;
}

TEST(GraphReport, table_lists_every_image_and_the_totals) {
  const auto table = render_table(legacy_build());
  for (char c : {'a', 'b', 'c', 'd'}) {
    EXPECT_NE(table.find(std::string(12, c)), std::string::npos) << table;
  }
  EXPECT_NE(table.find("4 images"), std::string::npos) << table;
  EXPECT_NE(table.find("app:1"), std::string::npos) << table;
}

} // namespace
} // namespace imagegc::app
