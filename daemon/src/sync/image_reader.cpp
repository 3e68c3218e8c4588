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

graph::ImageWithLayers to_graph_image(engine::ImageDetails details,
                                      std::vector<graph::Layer> layers, engine::ImageStore store) {
  graph::ImageWithLayers image;
  image.id = std::move(details.id);
  image.parent = std::move(details.parent);
  image.tags = sorted_unique(std::move(details.repo_tags));
  image.digests = sorted_unique(std::move(details.repo_digests));
  image.created = details.created;
  image.last_tag_time = details.last_tag_time;
  // On the containerd store, inspect's Metadata.LastTagTime is the latest UpdatedAt of the
  // image's records (moby daemon/containerd/image_inspect.go), and containerd sets a record's
  // UpdatedAt with its CreatedAt: for an untagged image, whose one record is its
  // moby-dangling@ record, that is the time it became dangling. Prune's `until` compares that
  // record time (daemon/containerd/image_list.go setupFilters: image.CreatedAt), not the
  // config's Created, which for a pulled image is when it was built, anywhere.
  if (store == engine::ImageStore::containerd) {
    image.stored_at = details.last_tag_time;
  }
  image.labels = std::move(details.labels);
  image.layers = std::move(layers);
  return image;
}

InspectedImage to_inspected(engine::ImageDetails details, const graph::ImageGraph& known,
                            engine::ImageStore store) {
  InspectedImage inspected;
  inspected.size = details.size;
  if (const graph::Image* previous = known.find_image(details.id)) {
    inspected.image = to_graph_image(std::move(details), known.layers(*previous), store);
    inspected.sized = true;
    return inspected;
  }
  std::vector<graph::Layer> layers;
  layers.reserve(details.diff_ids.size());
  for (graph::DiffId& diff_id : details.diff_ids) {
    layers.push_back({std::move(diff_id), 0});
  }
  inspected.image = to_graph_image(std::move(details), std::move(layers), store);
  return inspected;
}

void take_layer_sizes(const engine::EngineClient& client,
                      const std::vector<engine::HistoryEntry>& history, InspectedImage& inspected) {
  graph::ImageWithLayers& image = inspected.image;
  // On the containerd store the diff IDs are the host platform's (inspect's RootFS), and each
  // history step's Size is the unpacked snapshot of its layer chain (moby
  // daemon/containerd/image_history.go): exactly the per-layer, chain-shared bytes the graph
  // counts. Its Size is another measure (see ImageSizeMeaning).
  engine::ImageSizeMeaning meaning = engine::ImageSizeMeaning::layers;
  if (client.image_store() == engine::ImageStore::containerd) {
    meaning = engine::ImageSizeMeaning::packed_content;
  } else if (client.is_podman()) {
    meaning = engine::ImageSizeMeaning::layers_and_metadata;
  }
  const auto sizes =
      engine::layer_sizes_from_history(image.layers.size(), history, inspected.size, meaning);
  if (!sizes.consistent) {
    spdlog::warn("image {}: layer sizes from its history do not add up to its size {}; "
                 "reclaimable figures for it may be off",
                 image.id, inspected.size);
  }
  for (std::size_t i = 0; i < image.layers.size(); ++i) {
    image.layers[i].size = i < sizes.sizes.size() ? sizes.sizes[i] : 0;
  }
  inspected.sized = true;
}

asio::awaitable<engine::Result<std::optional<graph::ImageWithLayers>>>
read_image(engine::EngineClient& client, std::string name, const graph::ImageGraph& known) {
  auto details = co_await client.inspect_image(std::move(name));
  if (!details) {
    co_return util::unexpected(std::move(details).error());
  }
  if (!details->has_value()) {
    co_return std::optional<graph::ImageWithLayers>{};
  }
  InspectedImage inspected = to_inspected(std::move(**details), known, client.image_store());
  if (!inspected.sized) {
    auto history = co_await client.image_history(inspected.image.id);
    if (!history) {
      co_return util::unexpected(std::move(history).error());
    }
    if (!history->has_value()) {
      co_return std::optional<graph::ImageWithLayers>{}; // deleted since it was inspected
    }
    take_layer_sizes(client, **history, inspected);
  }
  co_return std::optional<graph::ImageWithLayers>{std::move(inspected.image)};
}

} // namespace imagegc::sync
