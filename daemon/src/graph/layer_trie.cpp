#include "graph/layer_trie.hpp"

#include <algorithm>
#include <array>
#include <bit>
#include <cstring>
#include <utility>

#include "util/sha256_digest.hpp"

namespace imagegc::graph {

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

LayerTrie::Path LayerTrie::acquire(std::span<const Layer> layers, const ViewFlags& removed,
                                   std::span<const NodeId> likely_prefix) {
  Path path;
  path.reserve(layers.size());
  NodeId parent = k_root;
  // Below a node made just now there is none: the rest of the chain needs no lookups.
  bool created = false;
  // Where the chain parts from `likely_prefix`, the rest of that cannot hold it either.
  bool following = true;
  for (std::size_t index = 0; index < layers.size(); ++index) {
    const ChainKey key = make_key(parent, layers[index].diff_id);
    following = following && index < likely_prefix.size() &&
                m_nodes[likely_prefix[index]].users > 0 && m_nodes[likely_prefix[index]].key == key;
    NodeId id = 0;
    if (created) {
      id = create(key);
    } else if (following) {
      id = likely_prefix[index];
    } else {
      id = find_or_create(key, created);
    }
    Node& node = m_nodes[id];
    account(node, -1);
    node.size = layers[index].size;
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
      index_erase(slot_of(node.key));
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
    const ChainKey& key = node.key;
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
    if (!key || *key != node.key || node.size != layers[index].size) {
      return false;
    }
    parent = path[index];
  }
  return true;
}

LayerTrie::Path LayerTrie::find_prefix(std::span<const Layer> layers) const {
  Path path;
  NodeId parent = k_root;
  for (const Layer& layer : layers) {
    const auto key = find_key(parent, layer.diff_id);
    const NodeId node = !key || m_slots.empty() ? k_empty_slot : m_slots[slot_of(*key)];
    if (node == k_empty_slot) {
      break;
    }
    path.push_back(node);
    parent = node;
  }
  return path;
}

void LayerTrie::clear() {
  *this = LayerTrie{};
}

LayerTrie::NodeId LayerTrie::find_or_create(const ChainKey& key, bool& created) {
  created = false;
  if (m_slots.empty()) {
    created = true;
    return create(key);
  }
  const std::size_t slot = slot_of(key);
  if (const NodeId found = m_slots[slot]; found != k_empty_slot) {
    return found;
  }
  created = true;
  if ((m_indexed + 1) * 2 > m_slots.size()) {
    return create(key); // the index grows, and the slot moves
  }
  return create_in(slot, key);
}

LayerTrie::NodeId LayerTrie::create(const ChainKey& key) {
  if ((m_indexed + 1) * 2 > m_slots.size()) {
    index_grow();
  }
  return create_in(free_slot_for(key), key);
}

LayerTrie::NodeId LayerTrie::create_in(std::size_t slot, const ChainKey& key) {
  NodeId id = 0;
  if (!m_free.empty()) {
    id = m_free.back();
    m_free.pop_back();
  } else {
    id = static_cast<NodeId>(m_nodes.size());
    m_nodes.emplace_back();
  }
  m_nodes[id].key = key;
  m_slots[slot] = id;
  ++m_indexed;
  return id;
}

std::size_t LayerTrie::hash(const ChainKey& key) {
  constexpr std::uint64_t k_mix = 0x9E3779B97F4A7C15ULL;
  // A digest's bytes are as good as any hash of them; a text's number is unique to it.
  std::uint64_t bits = key.text;
  if (key.text == k_digest) {
    std::memcpy(&bits, key.digest.data(), sizeof bits);
  }
  // Multiplied, so that the slot (the top bits) depends on every bit of parent and diff ID.
  return static_cast<std::size_t>((bits ^ (static_cast<std::uint64_t>(key.parent) * k_mix)) *
                                  k_mix);
}

std::size_t LayerTrie::slot_of(const ChainKey& key) const {
  const std::size_t mask = m_slots.size() - 1;
  const int shift = std::countl_zero(mask);
  for (std::size_t slot = (hash(key) >> shift) & mask;; slot = (slot + 1) & mask) {
    const NodeId id = m_slots[slot];
    if (id == k_empty_slot || m_nodes[id].key == key) {
      return slot;
    }
  }
}

std::size_t LayerTrie::free_slot_for(const ChainKey& key) const {
  const std::size_t mask = m_slots.size() - 1;
  const int shift = std::countl_zero(mask);
  std::size_t slot = (hash(key) >> shift) & mask;
  while (m_slots[slot] != k_empty_slot) {
    slot = (slot + 1) & mask;
  }
  return slot;
}

void LayerTrie::index_erase(std::size_t slot) {
  // Backward shift: each later entry of the run moves into the hole unless its own home slot
  // lies between the hole and it, so that no lookup meets an empty slot before its entry.
  const std::size_t mask = m_slots.size() - 1;
  const int shift = std::countl_zero(mask);
  std::size_t hole = slot;
  for (std::size_t next = (hole + 1) & mask; m_slots[next] != k_empty_slot;
       next = (next + 1) & mask) {
    const std::size_t home = (hash(m_nodes[m_slots[next]].key) >> shift) & mask;
    if (((next - home) & mask) >= ((next - hole) & mask)) {
      m_slots[hole] = m_slots[next];
      hole = next;
    }
  }
  m_slots[hole] = k_empty_slot;
  --m_indexed;
}

void LayerTrie::reserve(std::size_t nodes) {
  if (nodes * 2 > m_slots.size()) {
    index_rebuild(std::bit_ceil(nodes * 2));
  }
}

void LayerTrie::index_grow() {
  index_rebuild(std::max<std::size_t>(16, m_slots.size() * 2));
}

void LayerTrie::index_rebuild(std::size_t slots) {
  const std::vector<NodeId> old = std::exchange(m_slots, std::vector<NodeId>(slots, k_empty_slot));
  for (const NodeId id : old) {
    if (id != k_empty_slot) {
      m_slots[free_slot_for(m_nodes[id].key)] = id;
    }
  }
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
