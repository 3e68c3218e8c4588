#pragma once

#include "engine/engine_client.hpp"
#include "graph/image_graph.hpp"
#include "util/asio.hpp"

namespace imagegc::sync {

// A full re-list: every image (all=1) and every container (all=1), built into a new graph.
// Images `known` already holds with the same references are taken from it without another
// engine call; the others are inspected (and their history read when new).
boost::asio::awaitable<engine::Result<graph::ImageGraph>>
load_graph(engine::EngineClient& client, const graph::ImageGraph& known);

} // namespace imagegc::sync
