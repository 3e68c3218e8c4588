#include <memory>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "graph/layer_trie.hpp"

namespace imagegc::graph {
namespace {

const std::vector<Layer> k_ab = {{"sha256:a", 100}, {"sha256:b", 10}};
const std::vector<Layer> k_ac = {{"sha256:a", 100}, {"sha256:c", 1}};
constexpr ViewFlags k_kept = {false, false};

TEST(LayerTrie, shared_prefixes_are_counted_once) {
  LayerTrie trie;
  const LayerTrie::Path ab = trie.acquire(k_ab, k_kept);
  const LayerTrie::Path ac = trie.acquire(k_ac, k_kept);
  EXPECT_EQ(ab[0], ac[0]);
  EXPECT_NE(ab[1], ac[1]);
  EXPECT_EQ(trie.users(ab[0]), 2u);
  EXPECT_EQ(trie.node_count(), 3u);
  EXPECT_EQ(trie.bytes(), 111);

  trie.release(ab, k_kept);
  EXPECT_EQ(trie.bytes(), 101);
  EXPECT_EQ(trie.node_count(), 2u);
  trie.release(ac, k_kept);
  EXPECT_EQ(trie.bytes(), 0);
  EXPECT_EQ(trie.node_count(), 0u);
}

TEST(LayerTrie, freed_slots_are_reused_without_stale_chains) {
  LayerTrie trie;
  const LayerTrie::Path ab = trie.acquire(k_ab, k_kept);
  trie.release(ab, k_kept);
  const std::vector<Layer> cb = {{"sha256:c", 5}, {"sha256:b", 10}};
  const LayerTrie::Path path = trie.acquire(cb, k_kept);
  EXPECT_LT(path[0], trie.id_bound());
  EXPECT_LT(path[1], trie.id_bound());
  EXPECT_EQ(trie.bytes(), 15);
  // The old chain a/b must not be found again through a reused slot.
  const LayerTrie::Path again = trie.acquire(k_ab, k_kept);
  EXPECT_EQ(trie.bytes(), 125);
  EXPECT_EQ(trie.node_count(), 4u);
  EXPECT_NE(again[1], path[1]);
}

TEST(LayerTrie, a_view_frees_nodes_whose_every_user_it_removes) {
  LayerTrie trie;
  const LayerTrie::Path ab = trie.acquire(k_ab, {true, false});
  const LayerTrie::Path ac = trie.acquire(k_ac, {false, false});
  EXPECT_EQ(trie.freed_bytes(0), 10);
  EXPECT_EQ(trie.freed_bytes(1), 0);

  trie.set_removed(ac, 0, true);
  EXPECT_EQ(trie.freed_bytes(0), 111);
  trie.set_removed(ab, 1, true);
  EXPECT_EQ(trie.freed_bytes(1), 10);
  trie.set_removed(ac, 0, false);
  EXPECT_EQ(trie.freed_bytes(0), 10);

  trie.release(ab, {true, true});
  EXPECT_EQ(trie.freed_bytes(0), 0);
  EXPECT_EQ(trie.freed_bytes(1), 0);
  EXPECT_EQ(trie.bytes(), 101);
}

TEST(LayerTrie, diff_ids_that_are_not_lower_case_sha256_are_kept_apart) {
  LayerTrie trie;
  const std::string hex(64, 'a');
  const std::string upper(64, 'A');
  // A digest, the same digest spelled in upper case, and one character off the hex alphabet.
  const std::vector<std::vector<Layer>> chains = {
      {{"sha256:" + hex, 1}},
      {{"sha256:" + upper, 2}},
      {{"sha256:" + hex.substr(1) + "g", 4}},
      {{"sha256:" + hex.substr(1) + "0", 8}},
  };
  std::vector<LayerTrie::Path> paths;
  paths.reserve(chains.size());
  for (const auto& chain : chains) {
    paths.push_back(trie.acquire(chain, k_kept));
  }
  EXPECT_EQ(trie.node_count(), 4u);
  EXPECT_EQ(trie.bytes(), 15);
  // The same text finds the same node again.
  EXPECT_EQ(trie.acquire(chains[2], k_kept), paths[2]);
  EXPECT_EQ(trie.users(paths[2][0]), 2u);
}

TEST(LayerTrie, empty_chains_hold_nothing) {
  LayerTrie trie;
  const LayerTrie::Path path = trie.acquire({}, k_kept);
  EXPECT_TRUE(path.empty());
  EXPECT_EQ(trie.bytes(), 0);
  trie.release(path, k_kept);
  EXPECT_EQ(trie.node_count(), 0u);
}

TEST(LayerTrie, clear_forgets_everything) {
  LayerTrie trie;
  (void)trie.acquire(k_ab, {true, true});
  trie.clear();
  EXPECT_EQ(trie.bytes(), 0);
  EXPECT_EQ(trie.freed_bytes(0), 0);
  EXPECT_EQ(trie.node_count(), 0u);
  EXPECT_EQ(trie.id_bound(), 0u);
}

TEST(LayerTrie, a_path_gives_back_the_layers_it_was_acquired_for) {
  LayerTrie trie;
  const std::string digest = "sha256:" + std::string(63, '0') + "f";
  const std::vector<Layer> chain = {{digest, 7}, {"not-a-digest", 3}, {"sha256:ABC", 0}};
  const LayerTrie::Path path = trie.acquire(chain, k_kept);
  EXPECT_EQ(trie.layers(path), chain);
  EXPECT_TRUE(trie.holds(path, chain));
  EXPECT_FALSE(trie.holds(path, {chain.begin(), chain.end() - 1}));
  std::vector<Layer> resized = chain;
  resized[1].size = 4;
  EXPECT_FALSE(trie.holds(path, resized));
  std::vector<Layer> renamed = chain;
  renamed[2].diff_id = "never-seen";
  EXPECT_FALSE(trie.holds(path, renamed));
}

TEST(LayerTrie, a_copy_reads_its_own_chains) {
  auto trie = std::make_unique<LayerTrie>();
  const LayerTrie::Path ab = trie->acquire(k_ab, k_kept);
  const LayerTrie copy = *trie;
  trie.reset();
  EXPECT_EQ(copy.layers(ab), k_ab);
  EXPECT_TRUE(copy.holds(ab, k_ab));
}

TEST(LayerTrie, many_chains_added_and_taken_away_are_found_again) {
  LayerTrie trie;
  std::mt19937 random(7);
  const auto digest = [&] {
    std::string text = "sha256:";
    for (int i = 0; i < 64; ++i) {
      text += "0123456789abcdef"[random() % 16];
    }
    return text;
  };
  // Chains off a few shared bases, so that nodes have parents with many children.
  std::vector<std::vector<Layer>> bases(8);
  for (auto& base : bases) {
    base = {{digest(), 1}, {digest(), 2}};
  }
  std::vector<std::vector<Layer>> chains;
  std::vector<LayerTrie::Path> paths;
  for (int n = 0; n < 3000; ++n) {
    std::vector<Layer> chain = bases[random() % bases.size()];
    for (auto extra = random() % 3 + 1; extra > 0; --extra) {
      chain.push_back({random() % 5 == 0 ? DiffId("text-" + std::to_string(n)) : digest(), 3});
    }
    paths.push_back(trie.acquire(chain, k_kept));
    chains.push_back(std::move(chain));
  }
  for (std::size_t n = 0; n < chains.size(); n += 2) {
    trie.release(paths[n], k_kept);
  }
  std::size_t nodes = 16;
  for (std::size_t n = 1; n < chains.size(); n += 2) {
    ASSERT_EQ(trie.layers(paths[n]), chains[n]) << n;
    ASSERT_EQ(trie.acquire(chains[n], k_kept), paths[n]) << n;
    nodes += chains[n].size() - 2;
  }
  EXPECT_EQ(trie.node_count(), nodes);
}

TEST(LayerTrie, a_likely_prefix_is_taken_only_where_it_holds_the_chain) {
  LayerTrie trie;
  const LayerTrie::Path ab = trie.acquire(k_ab, k_kept);
  const std::vector<Layer> abd = {{"sha256:a", 100}, {"sha256:b", 10}, {"sha256:d", 5}};
  const LayerTrie::Path child = trie.acquire(abd, k_kept, ab);
  ASSERT_EQ(child.size(), 3u);
  EXPECT_EQ(child[0], ab[0]);
  EXPECT_EQ(child[1], ab[1]);
  EXPECT_EQ(trie.users(ab[1]), 2u);
  EXPECT_EQ(trie.layers(child), abd);

  // A prefix that parts from the chain is followed only as far as it holds it.
  const LayerTrie::Path ac = trie.acquire(k_ac, k_kept, ab);
  EXPECT_EQ(ac[0], ab[0]);
  EXPECT_NE(ac[1], ab[1]);
  EXPECT_EQ(trie.layers(ac), k_ac);
  EXPECT_EQ(trie.node_count(), 4u);

  // Nodes freed since are not taken, even where a freed node's key would match.
  trie.release(ac, k_kept);
  trie.release(child, k_kept);
  trie.release(ab, k_kept);
  EXPECT_EQ(trie.node_count(), 0u);
  const std::vector<Layer> zero = {{DiffId(util::Sha256Bytes{}), 1}};
  const LayerTrie::Path again = trie.acquire(zero, k_kept, ab);
  EXPECT_EQ(trie.layers(again), zero);
  EXPECT_EQ(trie.bytes(), 1);
  EXPECT_EQ(trie.node_count(), 1u);
}

TEST(LayerTrie, chains_below_a_new_node_are_made_whole_and_found_again) {
  LayerTrie trie;
  // Enough chains to grow the index while new nodes go in without lookups.
  std::vector<std::vector<Layer>> chains;
  std::vector<LayerTrie::Path> paths;
  for (int n = 0; n < 500; ++n) {
    std::vector<Layer> chain = {{"sha256:base", 1}};
    for (int depth = 0; depth < 6; ++depth) {
      chain.push_back({"layer-" + std::to_string(n) + "-" + std::to_string(depth), 2});
    }
    paths.push_back(trie.acquire(chain, k_kept));
    chains.push_back(std::move(chain));
  }
  EXPECT_EQ(trie.node_count(), 1u + 500u * 6u);
  for (std::size_t n = 0; n < chains.size(); ++n) {
    ASSERT_EQ(trie.find_prefix(chains[n]), paths[n]) << n;
  }
}

} // namespace
} // namespace imagegc::graph
