#pragma once

#include <functional>
#include <optional>
#include <string_view>
#include <vector>

#include "engine/engine_client.hpp"
#include "graph/image_graph.hpp"
#include "util/asio.hpp"

namespace imagegc::sync {

// Layer chains remembered from an earlier run (the state store), by image ID; nullopt when the
// image's chain is not known.
using RememberedLayers =
    std::function<std::optional<std::vector<graph::Layer>>(std::string_view image_id)>;

// A full re-list: every image (all=1) and every container (all=1), built into a new graph.
// Images `known` already holds with the same references are taken from it without another
// engine call. An image `known` lacks but whose chain `remembered` has is built from its listing
// and that chain, also without a call, when the chain's sizes agree with the listed size (an
// image ID's layers never change; a chain that does not add up is read again). The others are
// inspected, and the history read of those whose layer sizes the chains known by then and the
// image's Size do not settle (ChainSizes).
boost::asio::awaitable<engine::Result<graph::ImageGraph>>
load_graph(engine::EngineClient& client, const graph::ImageGraph& known,
           RememberedLayers remembered = {});

// Whether a remembered chain fits an image the engine lists with `listed_size` bytes: Docker
// lists the sum of the chain's layers, Podman that and the image's metadata.
bool chain_fits_listing(const std::vector<graph::Layer>& layers, std::int64_t listed_size,
                        bool podman);

} // namespace imagegc::sync
