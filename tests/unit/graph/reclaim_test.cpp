// What deleting images frees: the removal closure (moby's delete without force, with parent
// pruning) and the layer chains only removed images use.

#include <algorithm>
#include <cstdint>
#include <map>
#include <random>
#include <set>
#include <sstream>
#include <string>
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

using Ids = std::vector<std::string>;

const Layer k_l0 = layer("l0", 2 * k_mb);
const std::vector<Layer> k_busybox = {k_l0};

// A legacy (DOCKER_BUILDKIT=0) build of five RUN steps on busybox: every step is an untagged
// image whose parent is the step before.
class LegacyBuild : public ::testing::Test {
protected:
  void SetUp() override {
    graph.upsert_image(make_image("sha256:b", "", k_busybox, {"busybox:latest"}));
    std::vector<Layer> layers = k_busybox;
    std::string parent = "sha256:b";
    for (int step = 1; step <= 4; ++step) {
      layers.push_back(layer("l" + std::to_string(step), step * k_mb));
      const std::string id = "sha256:i" + std::to_string(step);
      graph.upsert_image(make_image(id, parent, layers));
      parent = id;
    }
    layers.push_back(layer("l5", 5 * k_mb));
    graph.upsert_image(make_image("sha256:t", parent, layers, {"five:latest"}));
  }

  // The Dockerfile changed at step 3: steps 1-2 come from cache, 3 onwards are new images on a
  // new branch, and the tag moves to the new top. Steps 4 and 5 make the same diffs as before,
  // but on another chain.
  void rebuild() {
    std::vector<Layer> layers = graph.layers(*graph.find_image("sha256:i2"));
    layers.push_back(layer("l3b", 7 * k_mb));
    graph.upsert_image(make_image("sha256:i3b", "sha256:i2", layers));
    layers.push_back(layer("l4", 4 * k_mb));
    graph.upsert_image(make_image("sha256:i4b", "sha256:i3b", layers));
    layers.push_back(layer("l5", 5 * k_mb));
    graph.upsert_image(make_image("sha256:t2", "sha256:i4b", layers, {"five:latest"}));
  }

public:
  ImageGraph graph;
};

TEST_F(LegacyBuild, steps_are_intermediate_and_nothing_dangles) {
  EXPECT_EQ(graph.state("sha256:b"), ImageState::tagged);
  for (const char* id : {"sha256:i1", "sha256:i2", "sha256:i3", "sha256:i4"}) {
    EXPECT_EQ(graph.state(id), ImageState::intermediate) << id;
  }
  EXPECT_EQ(graph.state("sha256:t"), ImageState::tagged);
  EXPECT_THAT(graph.dangling_images(), IsEmpty());
  EXPECT_THAT(graph.unused_images(), ElementsAre("sha256:b", "sha256:t"));
  EXPECT_EQ(graph.layers_bytes(), 17 * k_mb);
  EXPECT_EQ(graph.dangling_reclaimable_bytes(), 0);
}

TEST_F(LegacyBuild, deleting_the_top_takes_its_untagged_steps) {
  const Ids requested = {"sha256:t"};
  EXPECT_THAT(graph.removal_closure(requested),
              ElementsAre("sha256:i1", "sha256:i2", "sha256:i3", "sha256:i4", "sha256:t"));
  EXPECT_EQ(graph.reclaimable_bytes(requested), 15 * k_mb);
  EXPECT_EQ(graph.unique_bytes("sha256:t"), 15 * k_mb);
}

TEST_F(LegacyBuild, prune_all_frees_everything) {
  EXPECT_EQ(graph.unused_reclaimable_bytes(), 17 * k_mb);
  EXPECT_EQ(graph.reclaimable_bytes(graph.unused_images()), 17 * k_mb);
}

TEST_F(LegacyBuild, an_intermediate_step_cannot_go_while_its_child_stays) {
  const Ids requested = {"sha256:i2"};
  EXPECT_THAT(graph.removal_closure(requested), IsEmpty());
  EXPECT_EQ(graph.reclaimable_bytes(requested), 0);
}

TEST_F(LegacyBuild, rebuild_leaves_the_old_top_dangling) {
  rebuild();
  EXPECT_EQ(graph.find_by_reference("five:latest")->id, "sha256:t2");
  EXPECT_EQ(graph.state("sha256:t"), ImageState::dangling);
  EXPECT_EQ(graph.state("sha256:i4"), ImageState::intermediate);
  EXPECT_THAT(graph.dangling_images(), ElementsAre("sha256:t"));
  EXPECT_EQ(graph.layers_bytes(), (17 + 7 + 4 + 5) * k_mb);

  // i2 keeps its other child i3b; l4 and l5 of the old chain are freed although the new chain
  // has the same diffs, because there they sit on l3b.
  EXPECT_THAT(graph.removal_closure(graph.dangling_images()),
              ElementsAre("sha256:i3", "sha256:i4", "sha256:t"));
  EXPECT_EQ(graph.dangling_reclaimable_bytes(), (3 + 4 + 5) * k_mb);
  EXPECT_EQ(graph.reclaimable_bytes(graph.dangling_images()), (3 + 4 + 5) * k_mb);
  EXPECT_EQ(graph.unused_reclaimable_bytes(), graph.layers_bytes());

  // After that prune, nothing more dangles.
  for (const std::string& id : graph.removal_closure(graph.dangling_images())) {
    graph.remove_image(id);
  }
  EXPECT_THAT(graph.dangling_images(), IsEmpty());
  EXPECT_EQ(graph.dangling_reclaimable_bytes(), 0);
  EXPECT_EQ(graph.layers_bytes(), (17 - 12 + 7 + 4 + 5) * k_mb);
}

TEST_F(LegacyBuild, tagged_base_stays_when_not_requested) {
  const Ids requested = {"sha256:t"};
  const Ids closure = graph.removal_closure(requested);
  EXPECT_EQ(std::count(closure.begin(), closure.end(), "sha256:b"), 0);
}

TEST(Reclaim, stopped_container_holds_its_image_and_untagged_parents) {
  ImageGraph graph;
  graph.upsert_image(make_image("sha256:b", "", k_busybox, {"busybox:latest"}));
  const auto parent_layers = extend(k_busybox, {layer("p", 300)});
  graph.upsert_image(make_image("sha256:p", "sha256:b", parent_layers));
  graph.upsert_image(make_image("sha256:d", "sha256:p", extend(parent_layers, {layer("d", 40)})));
  graph.upsert_container({"c1", "sha256:d", false});

  EXPECT_THAT(graph.dangling_images(), ElementsAre("sha256:d"));
  EXPECT_THAT(graph.unused_images(), ElementsAre("sha256:b"));
  const Ids requested = {"sha256:d"};
  EXPECT_THAT(graph.removal_closure(requested), IsEmpty());
  EXPECT_EQ(graph.dangling_reclaimable_bytes(), 0);
  EXPECT_EQ(graph.unused_reclaimable_bytes(), 0);

  // What it would free if nothing used it.
  EXPECT_THAT(graph.removal_closure(requested, {.respect_containers = false}),
              ElementsAre("sha256:d", "sha256:p"));
  EXPECT_EQ(graph.unique_bytes("sha256:d"), 340);

  graph.remove_container("c1");
  EXPECT_EQ(graph.dangling_reclaimable_bytes(), 340);
  EXPECT_EQ(graph.unused_reclaimable_bytes(), 2 * k_mb + 340);
}

TEST(Reclaim, running_container_holds_its_image_too) {
  ImageGraph graph;
  graph.upsert_image(make_image("sha256:d", "", {layer("d", 9)}));
  graph.upsert_container({"c1", "sha256:d", true});
  EXPECT_EQ(graph.dangling_reclaimable_bytes(), 0);
  graph.set_container_running("c1", false);
  EXPECT_EQ(graph.dangling_reclaimable_bytes(), 0);
  graph.upsert_container({"c1", "sha256:other", false});
  EXPECT_EQ(graph.dangling_reclaimable_bytes(), 9);
}

TEST(Reclaim, dangling_image_sharing_all_layers_with_a_tagged_image_frees_nothing) {
  ImageGraph graph;
  graph.upsert_image(
      make_image("sha256:x", "", extend(k_busybox, {layer("a", 5), layer("b", 6)}), {"x:1"}));
  graph.upsert_image(make_image("sha256:d", "", extend(k_busybox, {layer("a", 5)})));
  EXPECT_THAT(graph.dangling_images(), ElementsAre("sha256:d"));
  EXPECT_THAT(graph.removal_closure(graph.dangling_images()), ElementsAre("sha256:d"));
  EXPECT_EQ(graph.dangling_reclaimable_bytes(), 0);
  EXPECT_EQ(graph.unique_bytes("sha256:d"), 0);
}

TEST(Reclaim, buildkit_images_share_base_layers_by_chain_without_parents) {
  ImageGraph graph;
  graph.upsert_image(make_image("sha256:b", "", k_busybox, {"busybox:latest"}));
  graph.upsert_image(make_image("sha256:a", "", extend(k_busybox, {layer("a", 10)}), {"a:1"}));
  graph.upsert_image(make_image("sha256:c", "", extend(k_busybox, {layer("c", 20)}), {"c:1"}));
  EXPECT_EQ(graph.layers_bytes(), 2 * k_mb + 30);
  EXPECT_EQ(graph.unique_bytes("sha256:a"), 10);
  EXPECT_EQ(graph.unique_bytes("sha256:b"), 0);
  EXPECT_EQ(graph.unused_reclaimable_bytes(), 2 * k_mb + 30);

  const Ids both = {"sha256:a", "sha256:c"};
  EXPECT_EQ(graph.reclaimable_bytes(both), 30);
  const Ids all = {"sha256:a", "sha256:b", "sha256:c"};
  EXPECT_EQ(graph.reclaimable_bytes(all), 2 * k_mb + 30);

  graph.set_references("sha256:b", {}, {});
  EXPECT_THAT(graph.dangling_images(), ElementsAre("sha256:b"));
  EXPECT_EQ(graph.dangling_reclaimable_bytes(), 0);
}

TEST(Reclaim, tagged_parent_of_an_in_use_child_stays_under_prune_all) {
  ImageGraph graph;
  graph.upsert_image(make_image("sha256:p", "", k_busybox, {"base:1"}));
  graph.upsert_image(
      make_image("sha256:c", "sha256:p", extend(k_busybox, {layer("c", 3)}), {"app:1"}));
  graph.upsert_container({"web", "sha256:c", true});
  EXPECT_THAT(graph.unused_images(), ElementsAre("sha256:p"));
  EXPECT_THAT(graph.removal_closure(graph.unused_images()), IsEmpty());
  EXPECT_EQ(graph.unused_reclaimable_bytes(), 0);
  EXPECT_EQ(graph.reclaimable_bytes(graph.unused_images()), 0);
}

TEST(Reclaim, untagged_parent_goes_with_its_last_child_only) {
  ImageGraph graph;
  graph.upsert_image(make_image("sha256:p", "", {layer("p", 100)}));
  graph.upsert_image(make_image("sha256:c1", "sha256:p", {layer("p", 100), layer("c1", 1)}));
  graph.upsert_image(make_image("sha256:c2", "sha256:p", {layer("p", 100), layer("c2", 2)}));
  const Ids one = {"sha256:c1"};
  EXPECT_THAT(graph.removal_closure(one), ElementsAre("sha256:c1"));
  const Ids both = {"sha256:c1", "sha256:c2"};
  EXPECT_THAT(graph.removal_closure(both), ElementsAre("sha256:c1", "sha256:c2", "sha256:p"));
  EXPECT_EQ(graph.reclaimable_bytes(both), 103);
  EXPECT_EQ(graph.dangling_reclaimable_bytes(), 103);
}

TEST(Reclaim, digest_reference_keeps_a_parent_from_parent_pruning) {
  ImageGraph graph;
  graph.upsert_image(make_image("sha256:p", "", {layer("p", 100)}, {}, {"repo@sha256:1"}));
  graph.upsert_image(make_image("sha256:c", "sha256:p", {layer("p", 100), layer("c", 1)}));
  EXPECT_EQ(graph.state("sha256:p"), ImageState::intermediate);
  EXPECT_THAT(graph.removal_closure(graph.dangling_images()), ElementsAre("sha256:c"));
  EXPECT_EQ(graph.dangling_reclaimable_bytes(), 1);
  // prune -a asks to delete every image with a reference, so the engine deletes p once c is
  // gone (moby ImagesPrune: only images without references and with children are skipped).
  EXPECT_EQ(graph.unused_reclaimable_bytes(), 101);
  EXPECT_THAT(graph.unused_images(), ElementsAre("sha256:c"));
}

TEST(Reclaim, digest_only_image_without_children_is_pruned_as_dangling) {
  ImageGraph graph;
  graph.upsert_image(make_image("sha256:d", "", {layer("d", 7)}, {}, {"repo@sha256:1"}));
  EXPECT_EQ(graph.dangling_reclaimable_bytes(), 7);
}

TEST(Reclaim, requested_ids_not_in_the_graph_are_ignored) {
  ImageGraph graph;
  graph.upsert_image(make_image("sha256:a", "", {layer("a", 5)}, {"a:1"}));
  const Ids requested = {"sha256:nope", "sha256:a", "sha256:a"};
  EXPECT_THAT(graph.removal_closure(requested), ElementsAre("sha256:a"));
  EXPECT_EQ(graph.reclaimable_bytes(requested), 5);
  EXPECT_EQ(graph.unique_bytes("sha256:nope"), 0);
}

TEST(Reclaim, parent_cycles_in_bad_data_terminate) {
  ImageGraph graph;
  graph.upsert_image(make_image("sha256:a", "sha256:b", {layer("a", 1)}));
  graph.upsert_image(make_image("sha256:b", "sha256:a", {layer("a", 1), layer("b", 2)}));
  graph.upsert_image(make_image("sha256:s", "sha256:s", {layer("s", 4)}));
  graph.upsert_container({"c", "sha256:b", false});
  graph.remove_container("c");
  const Ids requested = {"sha256:a", "sha256:b", "sha256:s"};
  // Each image in a cycle has a child that never goes first.
  EXPECT_THAT(graph.removal_closure(requested), IsEmpty());
  EXPECT_EQ(graph.reclaimable_bytes(requested, {.respect_containers = false}), 0);
  (void)graph.dangling_reclaimable_bytes();
  (void)graph.unused_reclaimable_bytes();
  graph.upsert_image(make_image("sha256:a", "", {layer("a", 1)}));
  EXPECT_THAT(graph.removal_closure(requested), ElementsAre("sha256:a", "sha256:b"));
  for (const char* id : {"sha256:a", "sha256:b", "sha256:s"}) {
    EXPECT_TRUE(graph.remove_image(id));
  }
  EXPECT_EQ(graph.layers_bytes(), 0);
  EXPECT_EQ(graph.dangling_reclaimable_bytes(), 0);
  EXPECT_EQ(graph.unused_reclaimable_bytes(), 0);
}

TEST(Reclaim, deep_chains_need_no_recursion) {
  ImageGraph graph;
  constexpr int k_depth = 20000;
  std::string parent;
  for (int level = 0; level < k_depth; ++level) {
    const std::string id = "sha256:" + std::to_string(level);
    graph.upsert_image(make_image(id, parent, {layer("only", 8)}));
    parent = id;
  }
  graph.set_references(parent, {"deep:1"}, {});
  EXPECT_EQ(graph.unused_reclaimable_bytes(), 8);
  const Ids requested = {parent};
  EXPECT_EQ(graph.removal_closure(requested).size(), static_cast<std::size_t>(k_depth));
  graph.upsert_container({"c", parent, true});
  EXPECT_EQ(graph.unused_reclaimable_bytes(), 0);
  graph.remove_container("c");
  EXPECT_EQ(graph.unused_reclaimable_bytes(), 8);
}

// --- randomized comparison with a reference computed from scratch ------------------------------

// Recomputes everything from the graph's public contents, the slow and obvious way.
class Reference {
public:
  explicit Reference(const ImageGraph& graph) {
    for (const std::string& id : graph.image_ids()) {
      m_images.emplace(id, graph.with_layers(*graph.find_image(id)));
    }
    for (const auto& [id, image] : m_images) {
      if (m_images.contains(image.parent)) {
        m_children[image.parent].insert(id);
      }
    }
    for (const ContainerRef& container : graph.containers()) {
      m_in_use.insert(container.image_id);
    }
  }

  // Least fixed point of the delete rule, by repeated passes.
  std::set<std::string> closure(const std::set<std::string>& requested, bool respect) const {
    std::set<std::string> removed;
    for (bool changed = true; changed;) {
      changed = false;
      for (const auto& [id, image] : m_images) {
        if (removed.contains(id) || (respect && m_in_use.contains(id))) {
          continue;
        }
        const std::set<std::string> kids = children(id);
        const bool all_go = std::all_of(kids.begin(), kids.end(),
                                        [&](const auto& kid) { return removed.contains(kid); });
        const bool no_refs = image.tags.empty() && image.digests.empty();
        if (all_go && (requested.contains(id) || (no_refs && !kids.empty()))) {
          removed.insert(id);
          changed = true;
        }
      }
    }
    return removed;
  }

  // Bytes of the distinct chains of every image not in `excluded`.
  std::int64_t bytes(const std::set<std::string>& excluded = {}) const {
    std::map<std::vector<std::string>, std::int64_t> chains;
    for (const auto& [id, image] : m_images) {
      if (excluded.contains(id)) {
        continue;
      }
      std::vector<std::string> chain;
      for (const Layer& each : image.layers) {
        chain.push_back(each.diff_id.text());
        chains[chain] = each.size;
      }
    }
    std::int64_t total = 0;
    for (const auto& [chain, size] : chains) {
      total += size;
    }
    return total;
  }

  std::int64_t reclaim(const std::set<std::string>& requested, bool respect) const {
    return bytes() - bytes(closure(requested, respect));
  }

  std::set<std::string> dangling() const {
    std::set<std::string> ids;
    for (const auto& [id, image] : m_images) {
      if (image.tags.empty() && children(id).empty()) {
        ids.insert(id);
      }
    }
    return ids;
  }

  // What moby's ImagesPrune with dangling=false asks to delete.
  std::set<std::string> prune_all_requests() const {
    std::set<std::string> ids;
    for (const auto& [id, image] : m_images) {
      if (!image.tags.empty() || !image.digests.empty() || children(id).empty()) {
        ids.insert(id);
      }
    }
    return ids;
  }

  const std::map<std::string, ImageWithLayers>& images() const { return m_images; }

private:
  std::set<std::string> children(const std::string& id) const {
    const auto it = m_children.find(id);
    return it == m_children.end() ? std::set<std::string>{} : it->second;
  }

  std::map<std::string, ImageWithLayers> m_images;
  std::map<std::string, std::set<std::string>> m_children;
  std::set<std::string> m_in_use;
};

Ids to_ids(const std::set<std::string>& set) {
  return {set.begin(), set.end()};
}

// The first disagreement between the graph's incremental figures and the reference, or "".
std::string compare_views(const ImageGraph& graph, const Reference& reference) {
  std::ostringstream out;
  if (graph.layers_bytes() != reference.bytes()) {
    out << "layers_bytes " << graph.layers_bytes() << " != " << reference.bytes();
  } else if (graph.dangling_images() != to_ids(reference.dangling())) {
    out << "dangling images differ";
  } else if (const auto expected = reference.reclaim(reference.dangling(), true);
             graph.dangling_reclaimable_bytes() != expected) {
    out << "dangling reclaim " << graph.dangling_reclaimable_bytes() << " != " << expected;
  } else if (const auto expected_all = reference.reclaim(reference.prune_all_requests(), true);
             graph.unused_reclaimable_bytes() != expected_all) {
    out << "unused reclaim " << graph.unused_reclaimable_bytes() << " != " << expected_all;
  } else if (graph.reclaimable_bytes(graph.dangling_images()) !=
             graph.dangling_reclaimable_bytes()) {
    out << "reclaimable_bytes(dangling_images()) disagrees with the incremental figure";
  }
  return out.str();
}

// The queries that take images of the graph (what the planner asks) against their forms by ID.
std::string compare_image_queries(const ImageGraph& graph, const Ids& ids, ReclaimOptions options) {
  std::vector<const Image*> images;
  Ids known;
  for (const std::string& id : ids) {
    if (const Image* image = graph.find_image(id); image != nullptr) {
      images.push_back(image);
      known.push_back(id);
    }
  }
  const Ids closure = graph.removal_closure(ids, options);
  const std::vector<bool> removed = graph.removed_by_delete(images, options);
  for (std::size_t i = 0; i < images.size(); ++i) {
    if (removed[i] != std::binary_search(closure.begin(), closure.end(), images[i]->id)) {
      return "removed_by_delete differs for " + images[i]->id;
    }
  }
  if (graph.sequential_reclaim(images, options) != graph.sequential_reclaim(known, options)) {
    return "sequential_reclaim of images differs from that of their IDs";
  }
  return "";
}

std::string compare_queries(const ImageGraph& graph, const Reference& reference,
                            std::mt19937& random) {
  std::ostringstream out;
  for (int round = 0; round < 6; ++round) {
    std::set<std::string> requested;
    for (const auto& [id, image] : reference.images()) {
      if (random() % 3 == 0) {
        requested.insert(id);
      }
    }
    requested.insert("sha256:not-there");
    const Ids ids = to_ids(requested);
    for (const bool respect : {true, false}) {
      const ReclaimOptions options{.respect_containers = respect};
      if (graph.removal_closure(ids, options) != to_ids(reference.closure(requested, respect))) {
        out << "closure differs (respect=" << respect << ")";
        return out.str();
      }
      if (graph.reclaimable_bytes(ids, options) != reference.reclaim(requested, respect)) {
        out << "reclaimable_bytes " << graph.reclaimable_bytes(ids, options)
            << " != " << reference.reclaim(requested, respect) << " (respect=" << respect << ")";
        return out.str();
      }
      if (const std::string error = compare_image_queries(graph, ids, options); !error.empty()) {
        out << error << " (respect=" << respect << ")";
        return out.str();
      }
    }
  }
  for (const auto& [id, image] : reference.images()) {
    if (graph.unique_bytes(id) != reference.reclaim({id}, false)) {
      out << "unique_bytes(" << id << ") " << graph.unique_bytes(id)
          << " != " << reference.reclaim({id}, false);
      return out.str();
    }
  }
  return out.str();
}

// Diff IDs come from a small pool so that the same diff turns up on different chains; a diff's
// size is fixed, so every chain has one size however it was reached.
Layer pool_layer(std::mt19937& random) {
  const auto index = static_cast<std::int64_t>(random() % 12);
  return layer("p" + std::to_string(index), 1000 * (index + 1) + 17 * index);
}

std::vector<std::string> random_tags(std::mt19937& random) {
  std::vector<std::string> tags;
  const auto roll = random() % 10;
  if (roll < 4) {
    tags.push_back("t" + std::to_string(random() % 6) + ":latest");
  }
  if (roll == 0) {
    tags.push_back("t" + std::to_string(random() % 6) + ":v1");
  }
  return tags;
}

std::vector<std::string> random_digests(std::mt19937& random) {
  if (random() % 10 == 0) {
    return {"r@sha256:" + std::to_string(random() % 3)};
  }
  return {};
}

std::string image_id(std::size_t index) {
  return "sha256:" + std::string(index < 10 ? "0" : "") + std::to_string(index);
}

// An image as legacy builds, BuildKit, imports and dangling leftovers make them. Parents always
// have a lower index, so the data has no cycles.
ImageWithLayers random_image(std::mt19937& random, std::size_t index,
                             const std::vector<ImageWithLayers>& earlier) {
  ImageWithLayers image =
      make_image(image_id(index), "", {}, random_tags(random), random_digests(random));
  const auto kind = earlier.empty() ? 0 : random() % 5;
  if (kind == 1 || kind == 2) {
    const ImageWithLayers& parent = earlier[random() % earlier.size()];
    image.parent = parent.id;
    image.layers = parent.layers;
    if (random() % 3 != 0) { // the other steps make no layer (ENV, LABEL, ...)
      image.layers.push_back(pool_layer(random));
    }
  } else if (kind == 3) {
    const ImageWithLayers& base = earlier[random() % earlier.size()];
    image.layers.assign(base.layers.begin(),
                        base.layers.begin() +
                            static_cast<std::ptrdiff_t>(random() % (base.layers.size() + 1)));
    for (auto extra = random() % 3; extra > 0; --extra) {
      image.layers.push_back(pool_layer(random));
    }
  } else {
    if (kind == 4) {
      image.parent = "sha256:gone";
    }
    for (auto depth = random() % 4; depth > 0; --depth) {
      image.layers.push_back(pool_layer(random));
    }
  }
  return image;
}

TEST(ReclaimProperty, random_forests_match_a_reference_computed_from_scratch) {
  for (unsigned seed = 1; seed <= 150; ++seed) {
    std::mt19937 random(seed);
    const auto count = 1 + random() % 30;
    std::vector<ImageWithLayers> images;
    for (std::size_t index = 0; index < count; ++index) {
      images.push_back(random_image(random, index, images));
    }
    // Children before parents and in any order, as a re-list may deliver them.
    std::vector<ImageWithLayers> order = images;
    std::shuffle(order.begin(), order.end(), random);
    ImageGraph graph;
    for (const ImageWithLayers& image : order) {
      graph.upsert_image(image);
    }
    for (auto containers = random() % 4; containers > 0; --containers) {
      const std::string target =
          random() % 8 == 0 ? "sha256:unknown" : images[random() % images.size()].id;
      graph.upsert_container({"c" + std::to_string(containers), target, random() % 2 == 0});
    }

    const Reference reference(graph);
    ASSERT_EQ(compare_views(graph, reference), "") << "seed " << seed;
    ASSERT_EQ(compare_queries(graph, reference, random), "") << "seed " << seed;

    // Rebuilding from the same contents gives the same figures as building incrementally.
    ImageGraph rebuilt;
    for (const auto& [id, image] : reference.images()) {
      rebuilt.upsert_image(image);
    }
    for (const ContainerRef& container : graph.containers()) {
      rebuilt.upsert_container(container);
    }
    ASSERT_THAT(ImageGraph::differences(graph, rebuilt), IsEmpty()) << "seed " << seed;
    ASSERT_EQ(rebuilt.dangling_reclaimable_bytes(), graph.dangling_reclaimable_bytes());
    ASSERT_EQ(rebuilt.unused_reclaimable_bytes(), graph.unused_reclaimable_bytes());

    // A copy is independent: changing it leaves the original as it was.
    ImageGraph copy = graph;
    for (std::size_t index = 0; index < images.size(); index += 2) {
      copy.remove_image(images[index].id);
    }
    copy.upsert_container({"late", images.back().id, false});
    ASSERT_EQ(compare_views(copy, Reference(copy)), "") << "seed " << seed;
    ASSERT_EQ(compare_views(graph, reference), "") << "seed " << seed;
  }
}

TEST(ReclaimProperty, incremental_figures_match_the_reference_through_random_changes) {
  constexpr std::size_t k_ids = 30;
  for (unsigned seed = 1; seed <= 12; ++seed) {
    std::mt19937 random(seed);
    ImageGraph graph;
    for (int step = 0; step < 400; ++step) {
      const auto roll = random() % 20;
      const std::size_t index = random() % k_ids;
      const std::string id = image_id(index);
      if (roll < 8) {
        std::vector<ImageWithLayers> earlier;
        for (std::size_t lower = 0; lower < index; ++lower) {
          if (const Image* found = graph.find_image(image_id(lower)); found != nullptr) {
            earlier.push_back(graph.with_layers(*found));
          }
        }
        ImageWithLayers image = random_image(random, index, earlier);
        if (const Image* existing = graph.find_image(id);
            existing != nullptr && random() % 4 != 0) {
          image.layers = graph.layers(*existing); // an image ID's layers never change
        }
        graph.upsert_image(image);
      } else if (roll < 11) {
        graph.remove_image(id);
      } else if (roll < 14) {
        graph.set_references(id, random_tags(random), random_digests(random));
      } else if (roll < 17) {
        const std::string target = random() % 8 == 0 ? "sha256:unknown" : id;
        graph.upsert_container({"c" + std::to_string(random() % 5), target, random() % 2 == 0});
      } else if (roll < 19) {
        graph.remove_container("c" + std::to_string(random() % 5));
      } else {
        graph.set_container_running("c" + std::to_string(random() % 5), random() % 2 == 0);
      }
      ASSERT_EQ(compare_views(graph, Reference(graph)), "") << "seed " << seed << " step " << step;
    }
    const Reference reference(graph);
    ASSERT_EQ(compare_queries(graph, reference, random), "") << "seed " << seed;
  }
}

} // namespace
} // namespace imagegc::graph
