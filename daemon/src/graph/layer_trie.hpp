#pragma once
// Layer accounting the way the engine's layer store counts: a layer is identified by its whole
// chain (the diff IDs from the base up to it), so two images share a layer only when their diff
// IDs agree up to and including it. Each chain prefix is a node that knows how many images use it.
//
// Besides the plain user count, every node counts, for a few "views" (hypothetical prunes the
// graph keeps current on every change), how many of its users that prune would keep. A node
// whose users would all go is freed by that prune; the trie keeps the freed total per view so
// reading it costs nothing.

#include <array>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "graph/image_graph.hpp"
#include "graph/string_map.hpp"
#include "util/sha256_digest.hpp"

namespace imagegc::graph {

inline constexpr std::size_t k_view_count = 2;
// Per view: true when that view's prune removes the image.
using ViewFlags = std::array<bool, k_view_count>;

class LayerTrie {
public:
  using NodeId = std::uint32_t;
  // The chain nodes of one image, base first.
  using Path = std::vector<NodeId>;

  // Adds one user to every chain prefix of `layers`. A node takes the size most recently
  // reported for it: all images report the same size for a chain, so a change is a correction.
  // `likely_prefix` may name nodes that hold the first layers (a parent image's path): each one
  // that does is taken without a lookup in the index, the others are looked up as usual.
  [[nodiscard]] Path acquire(std::span<const Layer> layers, const ViewFlags& removed,
                             std::span<const NodeId> likely_prefix = {});
  // Undoes acquire(); `path` and `removed` must be what that user holds now.
  void release(std::span<const NodeId> path, const ViewFlags& removed);
  // Records that the user holding `path` is now removed (or kept) by `view`.
  void set_removed(std::span<const NodeId> path, std::size_t view, bool removed);

  // The layers `path` stands for, base first.
  [[nodiscard]] std::vector<Layer> layers(std::span<const NodeId> path) const;
  // Whether `path` stands for exactly `layers` (diff IDs and sizes).
  [[nodiscard]] bool holds(std::span<const NodeId> path, std::span<const Layer> layers) const;

  // The nodes of the longest prefix of `layers` that some user holds, base first.
  [[nodiscard]] Path find_prefix(std::span<const Layer> layers) const;

  // Bytes of every node with at least one user.
  [[nodiscard]] std::int64_t bytes() const { return m_bytes; }
  // Bytes of the nodes whose every user `view` removes.
  [[nodiscard]] std::int64_t freed_bytes(std::size_t view) const { return m_freed[view]; }

  [[nodiscard]] std::int64_t size(NodeId node) const { return m_nodes[node].size; }
  [[nodiscard]] std::uint32_t users(NodeId node) const { return m_nodes[node].users; }
  [[nodiscard]] std::size_t node_count() const { return m_nodes.size() - m_free.size(); }
  // Every NodeId is below this, so callers can index flat arrays by node.
  [[nodiscard]] std::size_t id_bound() const { return m_nodes.size(); }

  void clear();
  // Makes room in the index for `nodes` chains, so that building a large trie does not grow it
  // step by step.
  void reserve(std::size_t nodes);

private:
  static constexpr NodeId k_root = UINT32_MAX;
  static constexpr std::uint32_t k_digest = UINT32_MAX;
  static constexpr NodeId k_empty_slot = UINT32_MAX;

  // A node's key: its parent and its diff ID. Diff IDs are "sha256:" and 64 hex digits, kept as
  // the 32 bytes they spell (a large host has hundreds of thousands of nodes); any other text is
  // kept once in m_texts and named by its index there.
  struct ChainKey {
    NodeId parent = k_root;
    std::uint32_t text = k_digest; // index in m_texts, or k_digest
    util::Sha256Bytes digest{};

    bool operator==(const ChainKey&) const = default;
  };

  struct Node {
    ChainKey key;
    std::int64_t size = 0;
    std::uint32_t users = 0;                        // none: the node is free
    std::array<std::uint32_t, k_view_count> kept{}; // users the view keeps
  };

  ChainKey make_key(NodeId parent, const DiffId& diff_id);
  // The key of `diff_id` under `parent` if the trie can hold it (a text it never saw cannot be).
  std::optional<ChainKey> find_key(NodeId parent, const DiffId& diff_id) const;
  // The node of `key`, made when there is none; `created` tells which.
  NodeId find_or_create(const ChainKey& key, bool& created);
  // A new node for `key`, which the caller knows no node has (its parent is new).
  NodeId create(const ChainKey& key);
  // Adds (sign 1) or takes away (sign -1) what `node` contributes to the running totals.
  void account(const Node& node, std::int64_t sign);

  // The index: node IDs in open addressing by key, linear probing, at most half full. Next to a
  // node of its own per chain (a std::unordered_map's), this costs a few bytes per node.
  static std::size_t hash(const ChainKey& key);
  // The slot that holds `key`, or the empty slot where it would go.
  [[nodiscard]] std::size_t slot_of(const ChainKey& key) const;
  // The empty slot where `key`, which no slot holds, goes: no node is read on the way.
  [[nodiscard]] std::size_t free_slot_for(const ChainKey& key) const;
  // Puts a new node for `key` in `slot` (an empty one, from slot_of or free_slot_for).
  NodeId create_in(std::size_t slot, const ChainKey& key);
  void index_erase(std::size_t slot);
  void index_grow();
  void index_rebuild(std::size_t slots); // a power of two

  // A deque, so that a large trie never holds a doubled vector's spare half.
  std::deque<Node> m_nodes;
  std::vector<NodeId> m_free;
  std::vector<NodeId> m_slots; // a power of two, or empty
  std::size_t m_indexed = 0;
  // Diff IDs that are not digests (test data, unusual engines): few, so kept for good.
  std::vector<std::string> m_texts;
  StringMap<std::uint32_t> m_text_numbers;
  std::int64_t m_bytes = 0;
  std::array<std::int64_t, k_view_count> m_freed{};
};

} // namespace imagegc::graph
