#pragma once
// `imagegc graph` output: the same graph as a table, as JSON, or as a tree of parent chains.

#include <string>

#include "engine/records.hpp"
#include "graph/image_graph.hpp"

namespace imagegc::app {

struct EngineSummary {
  engine::ApiVersion api_version;
  std::string storage_driver;
};

std::string render_table(const graph::ImageGraph& graph);
std::string render_json(const graph::ImageGraph& graph, const EngineSummary& engine);
std::string render_tree(const graph::ImageGraph& graph);

} // namespace imagegc::app
