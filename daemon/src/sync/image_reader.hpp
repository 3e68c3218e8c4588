#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "engine/engine_client.hpp"
#include "graph/image_graph.hpp"
#include "util/asio.hpp"

namespace imagegc::sync {

// An image as inspect describes it, in the graph's form. Its layers carry their diff IDs; their
// sizes are known only when `sized` (the graph already held the image), else they are 0 until
// take_layer_sizes or a known chain (ChainSizes) gives them.
struct InspectedImage {
  graph::ImageWithLayers image;
  std::int64_t size = 0; // the engine's Size, which the layer sizes are checked against
  bool sized = false;
};

// The image inspect describes. An image ID's layers never change, so when `known` already holds
// the image its layers, sizes and all, are taken from there.
InspectedImage to_inspected(engine::ImageDetails details, const graph::ImageGraph& known,
                            engine::ImageStore store);

// Gives `inspected` the layer sizes that `history` (its image's, as `client`'s engine tells it)
// says.
void take_layer_sizes(const engine::EngineClient& client,
                      const std::vector<engine::HistoryEntry>& history, InspectedImage& inspected);

// Reads one image from the engine as the graph holds it (to_inspected, take_layer_sizes):
// inspect for references, parent, labels and diff IDs; history for the layer sizes, unless
// `known` already holds the image.
// nullopt when the engine has no such image.
boost::asio::awaitable<engine::Result<std::optional<graph::ImageWithLayers>>>
read_image(engine::EngineClient& client, std::string name, const graph::ImageGraph& known);

// The graph form of an engine image, given its layer sizes and the store it comes from.
graph::ImageWithLayers to_graph_image(engine::ImageDetails details,
                                      std::vector<graph::Layer> layers,
                                      engine::ImageStore store = engine::ImageStore::graphdriver);

} // namespace imagegc::sync
