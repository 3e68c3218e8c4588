// ImageGraph::state_counts is kept as the graph changes; it must always equal a recount.

#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "graph/image_graph.hpp"
#include "unit/graph/graph_builders.hpp"

namespace imagegc::graph {
namespace {

using test_support::layer;
using test_support::make_image;

ImageGraph::StateCounts recount(const ImageGraph& graph) {
  ImageGraph::StateCounts counts;
  for (const std::string& id : graph.image_ids()) {
    ++counts.counts[static_cast<std::size_t>(graph.state(id))][graph.in_use(id) ? 1 : 0];
  }
  return counts;
}

TEST(StateCounts, stay_equal_to_a_recount_through_many_changes) {
  std::mt19937 random(11);
  ImageGraph graph;
  const auto id_of = [](unsigned n) { return "sha256:" + std::to_string(n); };
  for (int step = 0; step < 3000; ++step) {
    const auto roll = random() % 12;
    const std::string id = id_of(random() % 60);
    if (roll < 4) {
      const std::string parent = random() % 2 == 0 ? "" : id_of(random() % 60);
      std::vector<std::string> tags;
      for (auto n = random() % 3; n > 0; --n) {
        tags.push_back("repo" + std::to_string(random() % 5) + ":" + std::to_string(random() % 4));
      }
      ImageWithLayers image =
          make_image(id, parent, {layer("l" + std::to_string(random() % 3), 1)});
      image.tags = tags;
      graph.upsert_image(image);
    } else if (roll < 6) {
      graph.remove_image(id);
    } else if (roll < 8) {
      std::vector<std::string> tags;
      if (random() % 2 == 0) {
        tags.push_back("repo" + std::to_string(random() % 5) + ":x");
      }
      graph.set_references(id, tags, {});
    } else if (roll < 10) {
      graph.upsert_container({"c" + std::to_string(random() % 20), id, random() % 2 == 0});
    } else if (roll < 11) {
      graph.remove_container("c" + std::to_string(random() % 20));
    } else {
      graph.set_container_running("c" + std::to_string(random() % 20), random() % 2 == 0);
    }
    ASSERT_EQ(graph.state_counts().counts, recount(graph).counts) << "step " << step;
  }
  const ImageGraph copy = graph;
  EXPECT_EQ(copy.state_counts().counts, recount(graph).counts);
  graph.clear();
  EXPECT_EQ(graph.state_counts().counts, ImageGraph::StateCounts{}.counts);
}

} // namespace
} // namespace imagegc::graph
