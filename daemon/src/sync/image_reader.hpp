#pragma once

#include <optional>
#include <string>

#include "engine/engine_client.hpp"
#include "graph/image_graph.hpp"
#include "util/asio.hpp"

namespace imagegc::sync {

// Reads one image from the engine as the graph holds it: inspect for references, parent, labels
// and diff IDs; history for the layer sizes. An image ID's layers never change, so when `known`
// already holds the image its layers are reused and history is not fetched again.
// nullopt when the engine has no such image.
boost::asio::awaitable<engine::Result<std::optional<graph::ImageWithLayers>>>
read_image(engine::EngineClient& client, std::string name, const graph::ImageGraph& known);

// The graph form of an engine image, given its layer sizes and the store it comes from.
graph::ImageWithLayers to_graph_image(const engine::ImageDetails& details,
                                      std::vector<graph::Layer> layers,
                                      engine::ImageStore store = engine::ImageStore::graphdriver);

} // namespace imagegc::sync
