#include <algorithm>
#include <map>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "graph/image_graph.hpp"
#include "unit/graph/graph_builders.hpp"

namespace imagegc::graph {
namespace {

using test_support::extend;
using test_support::k_mb;
using test_support::layer;
using test_support::make_image;
using ::testing::ElementsAre;
using ::testing::IsEmpty;

const std::vector<Layer> k_busybox = {layer("l0", 2 * k_mb)};

// Sum over distinct chains, counted from scratch.
std::int64_t recount_layers(const ImageGraph& graph) {
  std::map<std::vector<std::string>, std::int64_t> chains;
  for (const std::string& id : graph.image_ids()) {
    std::vector<std::string> chain;
    for (const Layer& each : graph.layers(*graph.find_image(id))) {
      chain.push_back(each.diff_id.text());
      chains[chain] = each.size;
    }
  }
  std::int64_t bytes = 0;
  for (const auto& [chain, size] : chains) {
    bytes += size;
  }
  return bytes;
}

TEST(ImageGraph, empty_graph_has_nothing) {
  const ImageGraph graph;
  EXPECT_EQ(graph.image_count(), 0u);
  EXPECT_EQ(graph.container_count(), 0u);
  EXPECT_EQ(graph.layers_bytes(), 0);
  EXPECT_THAT(graph.dangling_images(), IsEmpty());
  EXPECT_THAT(graph.unused_images(), IsEmpty());
  EXPECT_EQ(graph.dangling_reclaimable_bytes(), 0);
  EXPECT_EQ(graph.unused_reclaimable_bytes(), 0);
  EXPECT_EQ(graph.find_image("sha256:none"), nullptr);
  EXPECT_EQ(graph.find_by_reference("busybox:latest"), nullptr);
}

TEST(ImageGraph, upsert_sorts_and_deduplicates_references) {
  ImageGraph graph;
  graph.upsert_image(
      make_image("sha256:a", "", k_busybox, {"b:2", "a:1", "b:2"}, {"r@sha256:2", "r@sha256:1"}));
  const Image* image = graph.find_image("sha256:a");
  ASSERT_NE(image, nullptr);
  EXPECT_THAT(image->tags, ElementsAre("a:1", "b:2"));
  EXPECT_THAT(image->digests, ElementsAre("r@sha256:1", "r@sha256:2"));
  EXPECT_EQ(graph.find_by_reference("b:2")->id, "sha256:a");
  EXPECT_EQ(graph.find_by_reference("r@sha256:1")->id, "sha256:a");
}

TEST(ImageGraph, upsert_replaces_an_image) {
  ImageGraph graph;
  ImageWithLayers image = make_image("sha256:a", "", k_busybox, {"a:1"});
  image.created = 10;
  graph.upsert_image(image);
  image.created = 20;
  image.labels["team"] = "x";
  image.tags = {"a:2"};
  graph.upsert_image(image);
  EXPECT_EQ(graph.image_count(), 1u);
  EXPECT_EQ(graph.find_image("sha256:a")->created, 20);
  EXPECT_EQ(graph.find_image("sha256:a")->labels.at("team"), "x");
  EXPECT_EQ(graph.find_by_reference("a:1"), nullptr);
  EXPECT_EQ(graph.find_by_reference("a:2")->id, "sha256:a");
  EXPECT_EQ(graph.layers_bytes(), 2 * k_mb);
}

TEST(ImageGraph, layers_are_given_back_from_the_chains_and_follow_a_replacement) {
  ImageGraph graph;
  const std::vector<Layer> two = extend(k_busybox, {layer("l1", 5)});
  graph.upsert_image(make_image("sha256:a", "", two, {"a:1"}));
  graph.upsert_image(make_image("sha256:b", "", k_busybox));
  EXPECT_EQ(graph.layers(*graph.find_image("sha256:a")), two);
  EXPECT_EQ(graph.with_layers(*graph.find_image("sha256:a")),
            make_image("sha256:a", "", two, {"a:1"}));
  graph.set_references("sha256:a", {"a:2"}, {});
  EXPECT_EQ(graph.layers(*graph.find_image("sha256:a")), two);
  const std::vector<Layer> other = {layer("l9", 9)};
  graph.upsert_image(make_image("sha256:a", "", other));
  EXPECT_EQ(graph.layers(*graph.find_image("sha256:a")), other);
  EXPECT_EQ(graph.layers(*graph.find_image("sha256:b")), k_busybox);
  EXPECT_EQ(graph.layers_bytes(), 2 * k_mb + 9);
}

TEST(ImageGraph, states_follow_tags_and_children) {
  ImageGraph graph;
  graph.upsert_image(make_image("sha256:b", "", k_busybox, {"busybox:latest"}));
  graph.upsert_image(make_image("sha256:i", "sha256:b", extend(k_busybox, {layer("l1", 1)})));
  graph.upsert_image(
      make_image("sha256:t", "sha256:i", extend(k_busybox, {layer("l1", 1), layer("l2", 1)})));
  graph.upsert_image(make_image("sha256:d", "", {layer("x", 1)}, {}, {"r@sha256:1"}));
  EXPECT_EQ(graph.state("sha256:b"), ImageState::tagged);
  EXPECT_EQ(graph.state("sha256:i"), ImageState::intermediate);
  EXPECT_EQ(graph.state("sha256:t"), ImageState::dangling);
  // Digest-only references still count as dangling, as in the engine's list filter.
  EXPECT_EQ(graph.state("sha256:d"), ImageState::dangling);
  EXPECT_THAT(graph.dangling_images(), ElementsAre("sha256:d", "sha256:t"));
  EXPECT_THAT(graph.unused_images(), ElementsAre("sha256:b", "sha256:d", "sha256:t"));
  EXPECT_EQ(to_string(ImageState::tagged), "tagged");
  EXPECT_EQ(to_string(ImageState::dangling), "dangling");
  EXPECT_EQ(to_string(ImageState::intermediate), "intermediate");
}

TEST(ImageGraph, children_come_from_parent_fields_in_any_order) {
  ImageGraph graph;
  // The child arrives first, as a re-list may deliver it: no edge until the parent exists.
  graph.upsert_image(make_image("sha256:c2", "sha256:p", extend(k_busybox, {layer("c2", 1)})));
  graph.upsert_image(make_image("sha256:c1", "sha256:p", extend(k_busybox, {layer("c1", 1)})));
  EXPECT_EQ(graph.find_image("sha256:p"), nullptr);
  graph.upsert_image(make_image("sha256:p", "", k_busybox));
  EXPECT_THAT(graph.children("sha256:p"), ElementsAre("sha256:c1", "sha256:c2"));
  EXPECT_EQ(graph.state("sha256:p"), ImageState::intermediate);
  EXPECT_THAT(graph.children("sha256:c1"), IsEmpty());
}

TEST(ImageGraph, reparenting_moves_the_child_edge) {
  ImageGraph graph;
  graph.upsert_image(make_image("sha256:p1", "", k_busybox));
  graph.upsert_image(make_image("sha256:p2", "", k_busybox));
  ImageWithLayers child = make_image("sha256:c", "sha256:p1", k_busybox);
  graph.upsert_image(child);
  child.parent = "sha256:p2";
  graph.upsert_image(child);
  EXPECT_THAT(graph.children("sha256:p1"), IsEmpty());
  EXPECT_THAT(graph.children("sha256:p2"), ElementsAre("sha256:c"));
  EXPECT_EQ(graph.state("sha256:p1"), ImageState::dangling);
  EXPECT_EQ(graph.state("sha256:p2"), ImageState::intermediate);
}

TEST(ImageGraph, remove_image_of_a_parent_leaves_children_as_they_are) {
  ImageGraph graph;
  graph.upsert_image(make_image("sha256:p", "", k_busybox, {"base:1"}));
  graph.upsert_image(make_image("sha256:c", "sha256:p", extend(k_busybox, {layer("c", 1)})));
  EXPECT_TRUE(graph.remove_image("sha256:p"));
  EXPECT_FALSE(graph.remove_image("sha256:p"));
  EXPECT_EQ(graph.find_image("sha256:p"), nullptr);
  EXPECT_EQ(graph.find_by_reference("base:1"), nullptr);
  EXPECT_EQ(graph.find_image("sha256:c")->parent, "sha256:p");
  EXPECT_EQ(graph.state("sha256:c"), ImageState::dangling);
  // The child still holds the base layer's chain.
  EXPECT_EQ(graph.layers_bytes(), 2 * k_mb + 1);

  graph.upsert_image(make_image("sha256:p", "", k_busybox));
  EXPECT_THAT(graph.children("sha256:p"), ElementsAre("sha256:c"));
  EXPECT_EQ(graph.state("sha256:p"), ImageState::intermediate);
}

TEST(ImageGraph, remove_image_accepts_a_view_into_the_removed_image) {
  ImageGraph graph;
  graph.upsert_image(make_image("sha256:a", "", k_busybox));
  EXPECT_TRUE(graph.remove_image(graph.find_image("sha256:a")->id));
  EXPECT_EQ(graph.image_count(), 0u);
  EXPECT_EQ(graph.layers_bytes(), 0);
}

TEST(ImageGraph, tag_moves_to_the_image_that_claims_it) {
  ImageGraph graph;
  graph.upsert_image(make_image("sha256:old", "", k_busybox, {"app:latest", "app:v1"}));
  graph.upsert_image(make_image("sha256:new", "", k_busybox, {"app:latest"}));
  EXPECT_EQ(graph.find_by_reference("app:latest")->id, "sha256:new");
  EXPECT_THAT(graph.find_image("sha256:old")->tags, ElementsAre("app:v1"));
  EXPECT_EQ(graph.state("sha256:old"), ImageState::tagged);

  graph.upsert_image(make_image("sha256:newer", "", k_busybox, {"app:latest", "app:v1"}));
  EXPECT_THAT(graph.find_image("sha256:old")->tags, IsEmpty());
  EXPECT_THAT(graph.find_image("sha256:new")->tags, IsEmpty());
  EXPECT_EQ(graph.state("sha256:old"), ImageState::dangling);
  EXPECT_THAT(graph.dangling_images(), ElementsAre("sha256:new", "sha256:old"));
}

TEST(ImageGraph, two_tags_on_one_image) {
  ImageGraph graph;
  graph.upsert_image(make_image("sha256:a", "", k_busybox, {"a:1", "a:latest"}));
  EXPECT_EQ(graph.find_by_reference("a:1")->id, "sha256:a");
  EXPECT_EQ(graph.find_by_reference("a:latest")->id, "sha256:a");
  EXPECT_EQ(graph.state("sha256:a"), ImageState::tagged);

  // Deleting one of two tags only untags.
  EXPECT_TRUE(graph.set_references("sha256:a", {"a:latest"}, {}));
  EXPECT_EQ(graph.find_by_reference("a:1"), nullptr);
  EXPECT_EQ(graph.state("sha256:a"), ImageState::tagged);
  EXPECT_EQ(graph.dangling_reclaimable_bytes(), 0);
}

TEST(ImageGraph, set_references_moves_references_and_rejects_unknown_images) {
  ImageGraph graph;
  graph.upsert_image(make_image("sha256:a", "", k_busybox, {"x:1"}, {"x@sha256:1"}));
  graph.upsert_image(make_image("sha256:b", "", k_busybox));
  EXPECT_FALSE(graph.set_references("sha256:nope", {"x:1"}, {}));
  EXPECT_EQ(graph.find_by_reference("x:1")->id, "sha256:a");

  EXPECT_TRUE(graph.set_references("sha256:b", {"x:1", "x:1"}, {"x@sha256:1"}));
  EXPECT_THAT(graph.find_image("sha256:b")->tags, ElementsAre("x:1"));
  EXPECT_THAT(graph.find_image("sha256:a")->tags, IsEmpty());
  EXPECT_THAT(graph.find_image("sha256:a")->digests, IsEmpty());
  EXPECT_EQ(graph.find_by_reference("x@sha256:1")->id, "sha256:b");
  EXPECT_EQ(graph.state("sha256:a"), ImageState::dangling);
}

TEST(ImageGraph, containers_count_per_image) {
  ImageGraph graph;
  graph.upsert_image(make_image("sha256:a", "", k_busybox, {"a:1"}));
  graph.upsert_container({"c1", "sha256:a", true});
  graph.upsert_container({"c2", "sha256:a", false});
  graph.upsert_container({"c3", "sha256:elsewhere", false});
  EXPECT_EQ(graph.container_count(), 3u);
  EXPECT_EQ(graph.containers_using("sha256:a"), 2u);
  EXPECT_EQ(graph.running_containers_using("sha256:a"), 1u);
  EXPECT_TRUE(graph.in_use("sha256:a"));
  EXPECT_TRUE(graph.in_use("sha256:elsewhere"));
  EXPECT_THAT(graph.unused_images(), IsEmpty());

  EXPECT_TRUE(graph.set_container_running("c2", true));
  EXPECT_EQ(graph.running_containers_using("sha256:a"), 2u);
  EXPECT_FALSE(graph.set_container_running("nope", true));

  // Upsert replaces: the container may now use another image.
  graph.upsert_container({"c1", "sha256:elsewhere", false});
  EXPECT_EQ(graph.containers_using("sha256:a"), 1u);
  EXPECT_EQ(graph.running_containers_using("sha256:a"), 1u);
  EXPECT_EQ(graph.containers_using("sha256:elsewhere"), 2u);

  EXPECT_TRUE(graph.remove_container("c2"));
  EXPECT_FALSE(graph.remove_container("c2"));
  EXPECT_FALSE(graph.in_use("sha256:a"));
  EXPECT_THAT(graph.unused_images(), ElementsAre("sha256:a"));
  EXPECT_EQ(graph.find_container("c1")->image_id, "sha256:elsewhere");
  EXPECT_EQ(graph.find_container("c2"), nullptr);
  const std::vector<ContainerRef> expected = {{"c1", "sha256:elsewhere", false},
                                              {"c3", "sha256:elsewhere", false}};
  EXPECT_EQ(graph.containers(), expected);
}

TEST(ImageGraph, image_ids_are_sorted) {
  ImageGraph graph;
  for (const char* id : {"sha256:c", "sha256:a", "sha256:b"}) {
    graph.upsert_image(make_image(id, "", {}));
  }
  EXPECT_THAT(graph.image_ids(), ElementsAre("sha256:a", "sha256:b", "sha256:c"));
}

TEST(ImageGraph, images_are_sorted_by_id) {
  ImageGraph graph;
  // IDs that share more than the usual prefix, differ only past the first 8 bytes after it, are
  // prefixes of each other, or have no common prefix at all.
  const std::vector<std::string> ids = {"sha256:abcdefgh2",
                                        "sha256:abcdefgh10",
                                        "sha256:abcdefgh",
                                        "sha256:abc",
                                        "sha256:b",
                                        "sha256:",
                                        "other",
                                        "sha256:abcdefgh1",
                                        "sha256:abcdefgi",
                                        "a"};
  for (const std::string& id : ids) {
    graph.upsert_image(make_image(id, "", {}));
  }
  std::vector<std::string> sorted;
  for (const Image* image : graph.images()) {
    sorted.push_back(image->id);
    EXPECT_EQ(image, graph.find_image(image->id));
  }
  EXPECT_EQ(sorted, graph.image_ids());

  ImageGraph shared_prefix;
  for (const char* id : {"sha256:aaaaaaaaaaaa2", "sha256:aaaaaaaaaaaa1", "sha256:aaaaaaaaaaaa"}) {
    shared_prefix.upsert_image(make_image(id, "", {}));
  }
  ASSERT_EQ(shared_prefix.images().size(), 3u);
  EXPECT_EQ(shared_prefix.images()[0]->id, "sha256:aaaaaaaaaaaa");
  EXPECT_EQ(shared_prefix.images()[2]->id, "sha256:aaaaaaaaaaaa2");
  EXPECT_TRUE(ImageGraph().images().empty());
}

TEST(ImageGraph, unsorted_images_hold_every_image_once_after_removals_and_copies) {
  ImageGraph graph;
  for (const char* id : {"sha256:a", "sha256:b", "sha256:c", "sha256:d"}) {
    graph.upsert_image(make_image(id, "", {}));
  }
  graph.remove_image("sha256:b");
  graph.upsert_image(make_image("sha256:e", "", {})); // takes the slot "sha256:b" freed
  graph.upsert_image(make_image("sha256:f", "", {}));
  const auto ids_of = [](const ImageGraph& of) {
    std::vector<std::string> ids;
    for (const Image* image : of.unsorted_images()) {
      EXPECT_EQ(image, of.find_image(image->id));
      ids.push_back(image->id);
    }
    std::sort(ids.begin(), ids.end());
    return ids;
  };
  EXPECT_EQ(ids_of(graph), graph.image_ids());
  const ImageGraph copy = graph;
  EXPECT_EQ(ids_of(copy), graph.image_ids());
  EXPECT_TRUE(ImageGraph().unsorted_images().empty());
}

TEST(ImageGraph, id_order_gives_the_positions_in_id_order) {
  const Image b = make_image("sha256:b", "", {});
  const Image a = make_image("sha256:a", "", {});
  const Image c = make_image("sha256:c", "", {});
  const std::vector<const Image*> images = {&b, &a, &c};
  EXPECT_THAT(id_order(images), ElementsAre(1u, 0u, 2u));
  EXPECT_THAT(id_order({}), IsEmpty());
}

TEST(ImageGraph, containers_using_an_image_counts_as_by_its_id) {
  ImageGraph graph;
  graph.upsert_image(make_image("sha256:a", "", {}));
  const Image& image = *graph.find_image("sha256:a");
  EXPECT_EQ(graph.containers_using(image), 0u);
  graph.upsert_container({"c1", "sha256:a", true});
  graph.upsert_container({"c2", "sha256:a", false});
  EXPECT_EQ(graph.containers_using(image), 2u);
  graph.remove_container("c1");
  EXPECT_EQ(graph.containers_using(image), graph.containers_using("sha256:a"));
}

TEST(ImageGraph, parent_of_follows_the_parent_while_it_is_in_the_graph) {
  ImageGraph graph;
  graph.upsert_image(make_image("sha256:child", "sha256:parent", {}));
  const Image* child = graph.find_image("sha256:child");
  EXPECT_EQ(graph.parent_of(*child), nullptr);
  graph.upsert_image(make_image("sha256:parent", "", {}));
  EXPECT_EQ(graph.parent_of(*child), graph.find_image("sha256:parent"));
  EXPECT_EQ(graph.parent_of(*graph.find_image("sha256:parent")), nullptr);
  graph.remove_image("sha256:parent");
  EXPECT_EQ(graph.parent_of(*child), nullptr);
}

TEST(ImageGraph, images_without_layers_are_allowed) {
  ImageGraph graph;
  graph.upsert_image(make_image("sha256:scratch", "", {}, {"scratch:1"}));
  EXPECT_EQ(graph.layers_bytes(), 0);
  EXPECT_EQ(graph.unique_bytes("sha256:scratch"), 0);
  EXPECT_THAT(graph.unused_images(), ElementsAre("sha256:scratch"));
}

TEST(ImageGraph, layers_are_shared_by_chain) {
  ImageGraph graph;
  graph.upsert_image(make_image("sha256:b", "", k_busybox, {"busybox:latest"}));
  graph.upsert_image(make_image("sha256:x", "", extend(k_busybox, {layer("x", 10)})));
  graph.upsert_image(make_image("sha256:y", "", extend(k_busybox, {layer("x", 10)})));
  EXPECT_EQ(graph.layers_bytes(), 2 * k_mb + 10);
}

TEST(ImageGraph, same_diff_id_at_another_chain_position_is_not_shared) {
  ImageGraph graph;
  graph.upsert_image(make_image("sha256:x", "", {layer("a", 100), layer("b", 10)}));
  graph.upsert_image(make_image("sha256:y", "", {layer("b", 10)}));
  graph.upsert_image(make_image("sha256:z", "", {layer("c", 1000), layer("b", 10)}));
  EXPECT_EQ(graph.layers_bytes(), 100 + 10 + 10 + 1000 + 10);
  EXPECT_EQ(graph.unique_bytes("sha256:y"), 10);
}

TEST(ImageGraph, layers_bytes_stay_equal_to_a_recount_through_many_changes) {
  std::mt19937 random(7);
  ImageGraph graph;
  std::vector<std::string> ids;
  for (int step = 0; step < 2000; ++step) {
    const auto roll = random() % 10;
    if (roll < 6 || ids.empty()) {
      std::vector<Layer> layers;
      const auto depth = random() % 5;
      for (unsigned level = 0; level < depth; ++level) {
        const auto name = random() % 4;
        layers.push_back(layer("d" + std::to_string(name), static_cast<std::int64_t>(name + 1)));
      }
      const std::string id = "sha256:" + std::to_string(random() % 300);
      graph.upsert_image(make_image(id, "", layers));
      ids.push_back(id);
    } else {
      const std::string id = ids[random() % ids.size()];
      graph.remove_image(id);
    }
    ASSERT_EQ(graph.layers_bytes(), recount_layers(graph)) << "step " << step;
  }
  for (const std::string& id : graph.image_ids()) {
    graph.remove_image(id);
  }
  EXPECT_EQ(graph.layers_bytes(), 0);
  EXPECT_EQ(graph.dangling_reclaimable_bytes(), 0);
  EXPECT_EQ(graph.unused_reclaimable_bytes(), 0);
}

TEST(ImageGraph, a_later_size_report_corrects_the_chain) {
  ImageGraph graph;
  graph.upsert_image(make_image("sha256:a", "", {layer("l", 0)}, {"a:1"}));
  graph.upsert_image(make_image("sha256:a", "", {layer("l", 50)}, {"a:1"}));
  EXPECT_EQ(graph.layers_bytes(), 50);
  EXPECT_EQ(graph.unused_reclaimable_bytes(), 50);
}

TEST(ImageGraph, clear_empties_everything) {
  ImageGraph graph;
  graph.upsert_image(make_image("sha256:a", "", k_busybox, {"a:1"}));
  graph.upsert_container({"c", "sha256:a", true});
  graph.clear();
  EXPECT_EQ(graph.image_count(), 0u);
  EXPECT_EQ(graph.container_count(), 0u);
  EXPECT_EQ(graph.layers_bytes(), 0);
  EXPECT_EQ(graph.find_by_reference("a:1"), nullptr);
  EXPECT_FALSE(graph.in_use("sha256:a"));
}

TEST(ImageGraph, copies_are_deep) {
  ImageGraph original;
  original.upsert_image(make_image("sha256:p", "", k_busybox));
  original.upsert_image(make_image("sha256:c", "sha256:p", extend(k_busybox, {layer("c", 5)})));
  ImageGraph copy = original;
  EXPECT_THAT(ImageGraph::differences(original, copy), IsEmpty());

  copy.remove_image("sha256:c");
  copy.upsert_container({"x", "sha256:p", true});
  EXPECT_EQ(original.image_count(), 2u);
  EXPECT_EQ(original.container_count(), 0u);
  EXPECT_EQ(original.layers_bytes(), 2 * k_mb + 5);
  EXPECT_EQ(original.dangling_reclaimable_bytes(), 2 * k_mb + 5);
  EXPECT_EQ(original.state("sha256:p"), ImageState::intermediate);
  EXPECT_THAT(original.children("sha256:p"), ElementsAre("sha256:c"));
  EXPECT_EQ(copy.state("sha256:p"), ImageState::dangling);
  EXPECT_EQ(copy.layers_bytes(), 2 * k_mb);
  EXPECT_EQ(copy.dangling_reclaimable_bytes(), 0);

  ImageGraph assigned;
  assigned.upsert_image(make_image("sha256:other", "", {}));
  assigned = original;
  EXPECT_THAT(ImageGraph::differences(original, assigned), IsEmpty());
  EXPECT_EQ(assigned.dangling_reclaimable_bytes(), original.dangling_reclaimable_bytes());
}

TEST(ImageGraph, moves_transfer_the_state_and_leave_a_usable_empty_graph) {
  ImageGraph original;
  original.upsert_image(make_image("sha256:a", "", k_busybox, {"a:1"}));
  ImageGraph moved = std::move(original);
  EXPECT_EQ(moved.image_count(), 1u);
  EXPECT_EQ(moved.find_by_reference("a:1")->id, "sha256:a");

  // NOLINTNEXTLINE(bugprone-use-after-move): a moved-from graph must still read as empty.
  EXPECT_EQ(original.image_count(), 0u);
  EXPECT_EQ(original.layers_bytes(), 0);
  EXPECT_THAT(original.dangling_images(), IsEmpty());
  original.upsert_image(make_image("sha256:b", "", {}));
  EXPECT_EQ(original.image_count(), 1u);

  ImageGraph target;
  target = std::move(moved);
  EXPECT_EQ(target.image_count(), 1u);
  ImageGraph copy_of_moved_from(moved); // NOLINT(bugprone-use-after-move)
  EXPECT_EQ(copy_of_moved_from.image_count(), 0u);
}

TEST(ImageGraph, differences_are_empty_for_equal_graphs) {
  ImageGraph a;
  ImageGraph b;
  EXPECT_THAT(ImageGraph::differences(a, b), IsEmpty());
  for (ImageGraph* graph : {&a, &b}) {
    graph->upsert_image(make_image("sha256:x", "", k_busybox, {"x:1"}));
    graph->upsert_container({"c", "sha256:x", true});
  }
  EXPECT_THAT(ImageGraph::differences(a, b), IsEmpty());
}

TEST(ImageGraph, differences_name_each_field_in_id_order) {
  ImageGraph expected;
  ImageGraph actual;
  ImageWithLayers image = make_image("sha256:b", "sha256:p", k_busybox, {"b:1"}, {"b@sha256:1"});
  image.created = 5;
  image.last_tag_time = 7;
  image.labels = {{"k", "v"}};
  expected.upsert_image(image);
  image.parent = "";
  image.tags = {"b:2"};
  image.digests = {};
  image.created = 6;
  image.last_tag_time.reset();
  image.labels = {{"k", "w"}, {"z", "1"}};
  image.layers = extend(k_busybox, {layer("more", 3)});
  actual.upsert_image(image);
  expected.upsert_image(make_image("sha256:a", "", {}));
  actual.upsert_image(make_image("sha256:c", "", {}));
  expected.upsert_container({"c1", "sha256:b", true});
  actual.upsert_container({"c1", "sha256:a", false});
  expected.upsert_container({"c2", "sha256:b", true});
  actual.upsert_container({"c3", "sha256:b", true});

  EXPECT_THAT(
      ImageGraph::differences(expected, actual),
      ElementsAre("image sha256:a missing", "image sha256:b parent: \"sha256:p\" != \"\"",
                  "image sha256:b tags: [b:1] != [b:2]",
                  "image sha256:b digests: [b@sha256:1] != []", "image sha256:b created: 5 != 6",
                  "image sha256:b last_tag_time: 7 != none",
                  "image sha256:b labels: {k=v} != {k=w, z=1}",
                  "image sha256:b layers: 1 != 2 layers, first difference at 1: none != "
                  "sha256:more (3 bytes)",
                  "image sha256:c unexpected", "container c1 image: \"sha256:b\" != \"sha256:a\"",
                  "container c1 running: true != false", "container c2 missing",
                  "container c3 unexpected"));
}

} // namespace
} // namespace imagegc::graph
