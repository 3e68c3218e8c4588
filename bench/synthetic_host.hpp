#pragma once
// The synthetic host of tests/support/fake_engine (add_synthetic_images) as graph records, for
// the in-process benchmarks: the same images and containers the fake engine serves.

#include <cstddef>
#include <vector>

#include "graph/image_graph.hpp"

namespace imagegc::bench {

struct SyntheticHost {
  std::vector<graph::ImageWithLayers> images; // parents before children
  std::vector<graph::ContainerRef> containers;
};

// `count` images from seed 7 (what bench/fake_engine_server serves by default); made once per
// count and kept.
const SyntheticHost& synthetic_host(std::size_t count);

graph::ImageGraph build_graph(const SyntheticHost& host);

} // namespace imagegc::bench
