#include "graph/layer_trie.hpp"

#include <array>
#include <cstring>
#include <functional>

#include "util/sha256_digest.hpp"

namespace imagegc::graph {

LayerTrie::ChainKey LayerTrie::make_key(NodeId parent, std::string_view diff_id) {
  ChainKey key;
  key.parent = parent;
  if (const auto digest = util::parse_sha256_digest(diff_id)) {
    key.digest = *digest;
    return key;
  }
  key.other = diff_id;
  return key;
}

std::size_t LayerTrie::ChainHash::operator()(const ChainKey& key) const noexcept {
  constexpr std::size_t k_mix = 0x9E3779B97F4A7C15ULL;
  std::size_t hash = 0;
  if (key.other.empty()) {
    // A digest's bytes are as good as any hash of them.
    std::memcpy(&hash, key.digest.data(), sizeof hash);
  } else {
    hash = std::hash<std::string>{}(key.other);
  }
  return hash ^ (static_cast<std::size_t>(key.parent) * k_mix);
}

LayerTrie::Path LayerTrie::acquire(std::span<const Layer> layers, const ViewFlags& removed) {
  Path path;
  path.reserve(layers.size());
  NodeId parent = k_root;
  for (const Layer& layer : layers) {
    const NodeId id = find_or_create(parent, layer.diff_id);
    Node& node = m_nodes[id];
    account(node, -1);
    node.size = layer.size;
    ++node.users;
    for (std::size_t view = 0; view < k_view_count; ++view) {
      if (!removed[view]) {
        ++node.kept[view];
      }
    }
    account(node, 1);
    path.push_back(id);
    parent = id;
  }
  return path;
}

void LayerTrie::release(std::span<const Layer> layers, std::span<const NodeId> path,
                        const ViewFlags& removed) {
  // Leaf first, so a freed node's key never names a parent slot that was already reused.
  for (std::size_t index = path.size(); index-- > 0;) {
    const NodeId id = path[index];
    Node& node = m_nodes[id];
    account(node, -1);
    --node.users;
    for (std::size_t view = 0; view < k_view_count; ++view) {
      if (!removed[view]) {
        --node.kept[view];
      }
    }
    account(node, 1);
    if (node.users == 0) {
      const NodeId parent = index == 0 ? k_root : path[index - 1];
      if (auto it = m_index.find(make_key(parent, layers[index].diff_id)); it != m_index.end()) {
        m_index.erase(it);
      }
      node = Node{};
      m_free.push_back(id);
    }
  }
}

void LayerTrie::set_removed(std::span<const NodeId> path, std::size_t view, bool removed) {
  for (const NodeId id : path) {
    Node& node = m_nodes[id];
    if (removed) {
      if (--node.kept[view] == 0) {
        m_freed[view] += node.size;
      }
    } else {
      if (node.kept[view]++ == 0) {
        m_freed[view] -= node.size;
      }
    }
  }
}

LayerTrie::Path LayerTrie::find_prefix(std::span<const Layer> layers) const {
  Path path;
  NodeId parent = k_root;
  for (const Layer& layer : layers) {
    const auto it = m_index.find(make_key(parent, layer.diff_id));
    if (it == m_index.end()) {
      break;
    }
    path.push_back(it->second);
    parent = it->second;
  }
  return path;
}

void LayerTrie::clear() {
  *this = LayerTrie{};
}

LayerTrie::NodeId LayerTrie::find_or_create(NodeId parent, std::string_view diff_id) {
  ChainKey key = make_key(parent, diff_id);
  if (auto it = m_index.find(key); it != m_index.end()) {
    return it->second;
  }
  NodeId id = 0;
  if (!m_free.empty()) {
    id = m_free.back();
    m_free.pop_back();
  } else {
    id = static_cast<NodeId>(m_nodes.size());
    m_nodes.emplace_back();
  }
  m_index.emplace(std::move(key), id);
  return id;
}

void LayerTrie::account(const Node& node, std::int64_t sign) {
  if (node.users == 0) {
    return;
  }
  m_bytes += sign * node.size;
  for (std::size_t view = 0; view < k_view_count; ++view) {
    if (node.kept[view] == 0) {
      m_freed[view] += sign * node.size;
    }
  }
}

} // namespace imagegc::graph
