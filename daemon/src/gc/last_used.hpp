#pragma once
// Docker does not record when an image was last used; imagegc does, from events.

#include <cstdint>
#include <optional>
#include <string>

#include "engine/records.hpp"
#include "graph/image_graph.hpp"

namespace imagegc::gc {

struct ImageUse {
  std::string image_id;
  std::int64_t time = 0; // unix seconds
};

// The image an event shows being used, read from the graph after the event was applied:
// container create/start/die use the container's image; image pull/tag/load/import use the image.
// exec, health and other events do not count.
std::optional<ImageUse> image_use(const engine::Event& event, const graph::ImageGraph& graph);

} // namespace imagegc::gc
