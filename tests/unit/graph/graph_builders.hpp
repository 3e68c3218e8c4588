#pragma once
// Small builders for hand-made graphs in the graph tests. Sizes are bytes.

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "graph/image_graph.hpp"

namespace imagegc::graph::test_support {

inline constexpr std::int64_t k_mb = std::int64_t{1024} * 1024;

inline Layer layer(const std::string& name, std::int64_t size) {
  return Layer{"sha256:" + name, size};
}

// `base`'s layers plus `added`: what a build step on top of `base` produces.
inline std::vector<Layer> extend(std::vector<Layer> base, std::vector<Layer> added) {
  base.insert(base.end(), added.begin(), added.end());
  return base;
}

inline ImageWithLayers make_image(const std::string& id, const std::string& parent,
                                  std::vector<Layer> layers, std::vector<std::string> tags = {},
                                  std::vector<std::string> digests = {}) {
  ImageWithLayers image;
  image.id = id;
  image.parent = parent;
  image.layers = std::move(layers);
  image.tags = std::move(tags);
  image.digests = std::move(digests);
  return image;
}

} // namespace imagegc::graph::test_support
