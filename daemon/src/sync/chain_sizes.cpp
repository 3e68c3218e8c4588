#include "sync/chain_sizes.hpp"

namespace imagegc::sync {

void ChainSizes::add(std::span<const graph::Layer> layers) {
  // The paths are not kept: this trie only grows, and only its node sizes are read.
  static_cast<void>(m_chains.acquire(layers, graph::ViewFlags{}));
}

bool ChainSizes::settle(std::vector<graph::Layer>& layers, std::int64_t image_size) {
  const graph::LayerTrie::Path known = m_chains.find_prefix(layers);
  if (known.size() + 1 < layers.size()) {
    return false;
  }
  std::int64_t known_bytes = 0;
  for (const graph::LayerTrie::NodeId node : known) {
    known_bytes += m_chains.size(node);
  }
  const std::int64_t top = image_size - known_bytes;
  if (known.size() == layers.size() ? top != 0 : top < 0) {
    return false;
  }
  for (std::size_t i = 0; i < known.size(); ++i) {
    layers[i].size = m_chains.size(known[i]);
  }
  if (known.size() < layers.size()) {
    layers.back().size = top;
  }
  add(layers);
  return true;
}

} // namespace imagegc::sync
