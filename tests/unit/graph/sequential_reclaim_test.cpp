#include <random>

#include <gtest/gtest.h>

#include "graph/image_graph.hpp"
#include "unit/graph/graph_builders.hpp"

namespace imagegc::graph {
namespace {

using test_support::extend;
using test_support::k_mb;
using test_support::layer;
using test_support::make_image;

// busybox ← i1 ← i2 ← app:1, and app:2 built on i1 (sharing the base and i1's layer).
ImageGraph chain() {
  ImageGraph graph;
  const auto base = std::vector<Layer>{layer("base", 2 * k_mb)};
  const auto l1 = extend(base, {layer("one", 100)});
  const auto l2 = extend(l1, {layer("two", 200)});
  graph.upsert_image(make_image("busybox", "", base, {"busybox:latest"}));
  graph.upsert_image(make_image("i1", "busybox", l1));
  graph.upsert_image(make_image("i2", "i1", l2));
  graph.upsert_image(make_image("app1", "i2", extend(l2, {layer("app1", 1000)}), {"app:1"}));
  graph.upsert_image(make_image("app2", "i1", extend(l1, {layer("app2", 3000)}), {"app:2"}));
  return graph;
}

TEST(SequentialReclaim, each_delete_counts_the_parents_it_orphans) {
  const auto graph = chain();
  const std::vector<std::string> order = {"app1", "app2", "busybox"};
  // app1 takes i2 (orphaned, no references) with it; app2 then takes i1; busybox goes last.
  EXPECT_EQ(graph.sequential_reclaim(order), (std::vector<std::int64_t>{1200, 3100, 2 * k_mb}));
}

TEST(SequentialReclaim, a_parent_before_its_children_frees_nothing) {
  const auto graph = chain();
  const std::vector<std::string> order = {"busybox", "app1"};
  EXPECT_EQ(graph.sequential_reclaim(order), (std::vector<std::int64_t>{0, 1200}));
}

TEST(SequentialReclaim, containers_keep_an_image_unless_told_otherwise) {
  auto graph = chain();
  graph.upsert_container({"c1", "app1", false});
  const std::vector<std::string> order = {"app1", "app2"};
  EXPECT_EQ(graph.sequential_reclaim(order), (std::vector<std::int64_t>{0, 3000}));
  EXPECT_EQ(graph.sequential_reclaim(order, {.respect_containers = false}),
            (std::vector<std::int64_t>{1200, 3100}));
}

TEST(SequentialReclaim, steps_add_up_to_the_reclaim_of_the_whole_set) {
  std::mt19937 random(7);
  for (int round = 0; round < 50; ++round) {
    ImageGraph graph;
    std::vector<std::string> ids;
    for (int i = 0; i < 40; ++i) {
      const std::string id = "img" + std::to_string(i);
      std::string parent;
      std::vector<Layer> layers = {layer("base" + std::to_string(random() % 3), 1000)};
      if (!ids.empty() && random() % 2 == 0) {
        parent = ids[random() % ids.size()];
        layers = graph.layers(*graph.find_image(parent));
      }
      layers.push_back(layer(id, 10 + static_cast<std::int64_t>(random() % 500)));
      std::vector<std::string> tags;
      if (random() % 3 == 0) {
        tags.push_back("repo/" + id + ":latest");
      }
      graph.upsert_image(make_image(id, parent, layers, tags));
      if (random() % 10 == 0) {
        graph.upsert_container({"c" + id, id, false});
      }
      ids.push_back(id);
    }
    // Children were added after their parents: deleting newest first is children first.
    const std::vector<std::string> newest_first(ids.rbegin(), ids.rend());
    std::vector<std::string> order;
    for (const std::string& id : newest_first) {
      if (random() % 2 == 0) {
        order.push_back(id);
      }
    }
    std::int64_t total = 0;
    for (const auto bytes : graph.sequential_reclaim(order)) {
      total += bytes;
    }
    EXPECT_EQ(total, graph.reclaimable_bytes(order)) << "round " << round;
  }
}

} // namespace
} // namespace imagegc::graph
