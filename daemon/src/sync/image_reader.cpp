#include "sync/image_reader.hpp"

#include <algorithm>

#include <spdlog/spdlog.h>

#include "engine/json_ingest.hpp"
#include "engine/layer_sizes.hpp"

namespace imagegc::sync {

namespace asio = boost::asio;

namespace {

std::vector<std::string> sorted_unique(std::vector<std::string> values) {
  std::sort(values.begin(), values.end());
  values.erase(std::unique(values.begin(), values.end()), values.end());
  return values;
}

} // namespace

graph::Image to_graph_image(const engine::ImageDetails& details, std::vector<graph::Layer> layers) {
  graph::Image image;
  image.id = details.id;
  image.parent = details.parent;
  image.tags = sorted_unique(details.repo_tags);
  image.digests = sorted_unique(details.repo_digests);
  image.created = details.created;
  image.last_tag_time = details.last_tag_time;
  image.labels = details.labels;
  image.layers = std::move(layers);
  return image;
}

asio::awaitable<engine::Result<std::optional<graph::Image>>>
read_image(engine::EngineClient& client, std::string_view name, const graph::ImageGraph& known) {
  auto details = co_await client.inspect_image(name);
  if (!details) {
    co_return util::unexpected(std::move(details).error());
  }
  if (!details->has_value()) {
    co_return std::optional<graph::Image>{};
  }
  const engine::ImageDetails& image = **details;

  if (const graph::Image* previous = known.find_image(image.id)) {
    co_return std::optional<graph::Image>{to_graph_image(image, previous->layers)};
  }

  auto history = co_await client.image_history(image.id);
  if (!history) {
    co_return util::unexpected(std::move(history).error());
  }
  if (!history->has_value()) {
    co_return std::optional<graph::Image>{}; // deleted between the two calls
  }
  const auto sizes = engine::layer_sizes_from_history(
      image.diff_ids, **history, image.size,
      client.is_podman() ? engine::ImageSizeMeaning::layers_and_metadata
                         : engine::ImageSizeMeaning::layers);
  if (!sizes.consistent) {
    spdlog::warn("image {}: layer sizes from its history do not add up to its size {}; "
                 "reclaimable figures for it may be off",
                 image.id, image.size);
  }
  std::vector<graph::Layer> layers;
  layers.reserve(image.diff_ids.size());
  for (std::size_t i = 0; i < image.diff_ids.size(); ++i) {
    layers.push_back({image.diff_ids[i], i < sizes.sizes.size() ? sizes.sizes[i] : 0});
  }
  co_return std::optional<graph::Image>{to_graph_image(image, std::move(layers))};
}

} // namespace imagegc::sync
