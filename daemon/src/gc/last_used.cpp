#include "gc/last_used.hpp"

#include <algorithm>
#include <array>
#include <string_view>

#include "engine/json_ingest.hpp"

namespace imagegc::gc {

namespace {

bool is_one_of(std::string_view value, const std::array<std::string_view, 4>& options) {
  return std::find(options.begin(), options.end(), value) != options.end();
}

} // namespace

std::optional<ImageUse> image_use(const engine::Event& event, const graph::ImageGraph& graph) {
  const std::int64_t time = event.time_nano / 1'000'000'000;
  if (event.type == "container" && is_one_of(event.action, {"create", "start", "die", "restart"})) {
    if (const graph::ContainerRef* container = graph.find_container(event.actor_id)) {
      return ImageUse{container->image_id, time};
    }
    return std::nullopt;
  }
  if (event.type == "image" && is_one_of(event.action, {"pull", "tag", "load", "import"})) {
    const std::string name = engine::normalize_image_id(event.actor_id);
    if (const graph::Image* image = graph.find_image(name)) {
      return ImageUse{image->id, time};
    }
    if (const graph::Image* image = graph.find_by_reference(name)) {
      return ImageUse{image->id, time};
    }
  }
  return std::nullopt;
}

} // namespace imagegc::gc
