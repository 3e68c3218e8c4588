#include "graph/layer_trie.hpp"

#include <array>
#include <cstring>
#include <functional>

namespace imagegc::graph {

namespace {

constexpr std::string_view k_sha256_prefix = "sha256:";

// Each character's value as a lower-case hex digit, -1 for any other character: a table, since
// every layer of every image added to the graph goes through here 64 characters at a time.
constexpr std::array<int, 256> k_hex_values = [] {
  std::array<int, 256> values{};
  values.fill(-1);
  constexpr std::string_view k_digits = "0123456789abcdef";
  for (std::size_t digit = 0; digit < k_digits.size(); ++digit) {
    values[static_cast<unsigned char>(k_digits[digit])] = static_cast<int>(digit);
  }
  return values;
}();

} // namespace

LayerTrie::ChainKey LayerTrie::make_key(NodeId parent, std::string_view diff_id) {
  ChainKey key;
  key.parent = parent;
  if (diff_id.size() == k_sha256_prefix.size() + 2 * key.digest.size() &&
      diff_id.starts_with(k_sha256_prefix)) {
    const std::string_view hex = diff_id.substr(k_sha256_prefix.size());
    // Any character that is not a digit makes `invalid` negative; checked once at the end.
    int invalid = 0;
    for (std::size_t i = 0; i < key.digest.size(); ++i) {
      const int high = k_hex_values[static_cast<unsigned char>(hex[2 * i])];
      const int low = k_hex_values[static_cast<unsigned char>(hex[2 * i + 1])];
      invalid |= high | low;
      key.digest[i] = static_cast<std::uint8_t>(((high & 0xf) << 4) | (low & 0xf));
    }
    if (invalid >= 0) {
      return key;
    }
    key.digest = {};
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
