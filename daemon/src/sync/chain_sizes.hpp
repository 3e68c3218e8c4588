#pragma once
// Layer sizes that an image's Size already implies, so that its history need not be read.
//
// On Docker's classic (graphdriver) store an image's Size is the sum of its layers' sizes, and a
// layer, identified by its whole chain of diff IDs, has one size whichever image holds it (moby
// layer/layer_store.go: a chain is one layer record). So once every layer of an image but its top
// one is known from other images, the top one is the rest of its Size. The legacy builder's
// steps, and images built or pulled onto a shared base, are mostly such images; a base image of
// one layer is another.
//
// Not on the containerd store, whose Size measures packed content, nor on Podman, whose Size adds
// the image's metadata: there the history is the only source.

#include <cstdint>
#include <span>
#include <vector>

#include "graph/image_graph.hpp"
#include "graph/layer_trie.hpp"

namespace imagegc::sync {

class ChainSizes {
public:
  // Records the sizes of `layers`, base first, all known.
  void add(std::span<const graph::Layer> layers);

  // Sets the sizes of `layers` (an image whose Size is `image_size`) when the known chains and
  // that Size settle them all, and records them. False, changing nothing, when two or more layers
  // are unknown or the figures do not fit (the top layer would be negative, or a known chain does
  // not add up to the Size).
  bool settle(std::vector<graph::Layer>& layers, std::int64_t image_size);

private:
  graph::LayerTrie m_chains;
};

} // namespace imagegc::sync
