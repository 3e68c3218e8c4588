#include "graph/layer_trie.hpp"

#include <array>
#include <cstring>
#include <functional>

#include "util/sha256_digest.hpp"

namespace imagegc::graph {

LayerTrie::LayerTrie(const LayerTrie& other)
    : m_nodes(other.m_nodes), m_free(other.m_free), m_index(other.m_index), m_texts(other.m_texts),
      m_text_numbers(other.m_text_numbers), m_bytes(other.m_bytes), m_freed(other.m_freed) {
  // The copied nodes still point into `other`'s index.
  for (const auto& entry : m_index) {
    m_nodes[entry.second].entry = &entry;
  }
}

LayerTrie& LayerTrie::operator=(const LayerTrie& other) {
  if (this != &other) {
    *this = LayerTrie(other);
  }
  return *this;
}

LayerTrie::ChainKey LayerTrie::make_key(NodeId parent, const DiffId& diff_id) {
  ChainKey key;
  key.parent = parent;
  if (const util::Sha256Bytes* digest = diff_id.digest()) {
    key.digest = *digest;
    return key;
  }
  const std::string_view text = diff_id.other_text();
  const auto [it, inserted] =
      m_text_numbers.try_emplace(std::string(text), static_cast<std::uint32_t>(m_texts.size()));
  if (inserted) {
    m_texts.emplace_back(text);
  }
  key.text = it->second;
  return key;
}

std::optional<LayerTrie::ChainKey> LayerTrie::find_key(NodeId parent, const DiffId& diff_id) const {
  ChainKey key;
  key.parent = parent;
  if (const util::Sha256Bytes* digest = diff_id.digest()) {
    key.digest = *digest;
    return key;
  }
  const auto it = m_text_numbers.find(diff_id.other_text());
  if (it == m_text_numbers.end()) {
    return std::nullopt;
  }
  key.text = it->second;
  return key;
}

std::size_t LayerTrie::ChainHash::operator()(const ChainKey& key) const noexcept {
  constexpr std::size_t k_mix = 0x9E3779B97F4A7C15ULL;
  // A digest's bytes are as good as any hash of them; a text's number is unique to it.
  std::size_t hash = key.text;
  if (key.text == k_digest) {
    std::memcpy(&hash, key.digest.data(), sizeof hash);
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

void LayerTrie::release(std::span<const NodeId> path, const ViewFlags& removed) {
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
      m_index.erase(node.entry->first);
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

std::vector<Layer> LayerTrie::layers(std::span<const NodeId> path) const {
  std::vector<Layer> layers(path.size());
  for (std::size_t index = 0; index < path.size(); ++index) {
    const Node& node = m_nodes[path[index]];
    const ChainKey& key = node.entry->first;
    layers[index].diff_id = key.text == k_digest ? DiffId(key.digest) : DiffId(m_texts[key.text]);
    layers[index].size = node.size;
  }
  return layers;
}

bool LayerTrie::holds(std::span<const NodeId> path, std::span<const Layer> layers) const {
  if (path.size() != layers.size()) {
    return false;
  }
  NodeId parent = k_root;
  for (std::size_t index = 0; index < path.size(); ++index) {
    const Node& node = m_nodes[path[index]];
    const auto key = find_key(parent, layers[index].diff_id);
    if (!key || *key != node.entry->first || node.size != layers[index].size) {
      return false;
    }
    parent = path[index];
  }
  return true;
}

void LayerTrie::clear() {
  *this = LayerTrie{};
}

LayerTrie::NodeId LayerTrie::find_or_create(NodeId parent, const DiffId& diff_id) {
  const ChainKey key = make_key(parent, diff_id);
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
  m_nodes[id].entry = &*m_index.emplace(key, id).first;
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
