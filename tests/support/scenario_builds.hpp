#pragma once
// Building the scenarios of the engine tests: Dockerfiles whose layers have known sizes, and
// counting images by state.

#include <algorithm>
#include <cstddef>
#include <string>
#include <vector>

#include "graph/image_graph.hpp"

namespace imagegc::test {

// FROM busybox:latest with one RUN per payload size, each writing that many random bytes, so
// every build makes layers of its own; `salt` tells builds of the same sizes apart.
inline std::string dockerfile_with_layers(const std::vector<int>& sizes,
                                          const std::string& salt = "") {
  std::string text = "FROM busybox:latest\n";
  int step = 0;
  for (const int size : sizes) {
    ++step;
    text += "RUN head -c " + std::to_string(size) + " /dev/urandom > /layer" +
            std::to_string(step) + salt + "\n";
  }
  return text;
}

inline std::size_t count_in_state(const graph::ImageGraph& graph, graph::ImageState state) {
  const auto ids = graph.image_ids();
  return static_cast<std::size_t>(std::count_if(
      ids.begin(), ids.end(), [&](const std::string& id) { return graph.state(id) == state; }));
}

} // namespace imagegc::test
