#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "engine/engine_client.hpp"
#include "graph/image_graph.hpp"
#include "util/asio.hpp"

namespace imagegc::sync {

// An image as inspect describes it, in the graph's form. Its layers carry their diff IDs; their
// sizes are known only when `sized` (the graph already held the image), else they are 0 until
// read_layer_sizes or a known chain (ChainSizes) gives them.
struct InspectedImage {
  graph::ImageWithLayers image;
  std::int64_t size = 0; // the engine's Size, which the layer sizes are checked against
  bool sized = false;
};

// Inspects one image. An image ID's layers never change, so when `known` already holds the image
// its layers, sizes and all, are taken from there. nullopt when the engine has no such image.
boost::asio::awaitable<engine::Result<std::optional<InspectedImage>>>
inspect_image(engine::EngineClient& client, std::string name, const graph::ImageGraph& known);

// Reads the layer sizes of `inspected` from the image's history. False when the engine no longer
// has the image.
boost::asio::awaitable<engine::Result<bool>> read_layer_sizes(engine::EngineClient& client,
                                                              InspectedImage& inspected);

// Reads one image from the engine as the graph holds it: inspect for references, parent, labels
// and diff IDs; history for the layer sizes, unless `known` already holds the image.
// nullopt when the engine has no such image.
boost::asio::awaitable<engine::Result<std::optional<graph::ImageWithLayers>>>
read_image(engine::EngineClient& client, std::string name, const graph::ImageGraph& known);

// The graph form of an engine image, given its layer sizes and the store it comes from.
graph::ImageWithLayers to_graph_image(engine::ImageDetails details,
                                      std::vector<graph::Layer> layers,
                                      engine::ImageStore store = engine::ImageStore::graphdriver);

} // namespace imagegc::sync
