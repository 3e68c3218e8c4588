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
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "graph/image_graph.hpp"
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
  [[nodiscard]] Path acquire(std::span<const Layer> layers, const ViewFlags& removed);
  // Undoes acquire(); `layers`, `path` and `removed` must be what that user holds now.
  void release(std::span<const Layer> layers, std::span<const NodeId> path,
               const ViewFlags& removed);
  // Records that the user holding `path` is now removed (or kept) by `view`.
  void set_removed(std::span<const NodeId> path, std::size_t view, bool removed);

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

private:
  static constexpr NodeId k_root = UINT32_MAX;

  struct Node {
    std::int64_t size = 0;
    std::uint32_t users = 0;
    std::array<std::uint32_t, k_view_count> kept{}; // users the view keeps
  };

  // A node's key: its parent and its diff ID. Diff IDs are "sha256:" and 64 hex digits, kept as
  // the 32 bytes they spell (a large host has hundreds of thousands of nodes); any other text is
  // kept as it is.
  struct ChainKey {
    NodeId parent = k_root;
    util::Sha256Bytes digest{};
    std::string other; // empty for a digest

    bool operator==(const ChainKey&) const = default;
  };
  struct ChainHash {
    std::size_t operator()(const ChainKey& key) const noexcept;
  };
  static ChainKey make_key(NodeId parent, std::string_view diff_id);

  NodeId find_or_create(NodeId parent, std::string_view diff_id);
  // Adds (sign 1) or takes away (sign -1) what `node` contributes to the running totals.
  void account(const Node& node, std::int64_t sign);

  std::vector<Node> m_nodes;
  std::vector<NodeId> m_free;
  // The diff ID lives only in the key: a node is found by (parent node, diff ID) and released
  // with the layers of the image that held it.
  std::unordered_map<ChainKey, NodeId, ChainHash> m_index;
  std::int64_t m_bytes = 0;
  std::array<std::int64_t, k_view_count> m_freed{};
};

} // namespace imagegc::graph
