#pragma once
// `imagegc graph` output: the same graph as a table, as JSON, or as a tree of parent chains.

#include <optional>
#include <string>

#include "engine/records.hpp"
#include "graph/image_graph.hpp"

namespace imagegc::app {

struct EngineSummary {
  engine::ApiVersion api_version;
  std::string storage_driver;
  engine::ImageStore image_store = engine::ImageStore::graphdriver;
};

// "engine: API 1.52, containerd image store (overlayfs)": the header of the table and the tree.
std::string engine_header(const EngineSummary& engine);

// With `engine`, the table and the tree start with engine_header().
std::string render_table(const graph::ImageGraph& graph,
                         const std::optional<EngineSummary>& engine = std::nullopt);
std::string render_json(const graph::ImageGraph& graph, const EngineSummary& engine);
std::string render_tree(const graph::ImageGraph& graph,
                        const std::optional<EngineSummary>& engine = std::nullopt);

} // namespace imagegc::app
