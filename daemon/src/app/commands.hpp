#pragma once

#include <string>

namespace imagegc::app {

struct GlobalOptions {
  std::string host; // --host; empty: DOCKER_HOST, then the default socket
};

enum class GraphFormat { table, json, tree };

// `imagegc graph`: sync once and print every image.
int graph_command(const GlobalOptions& global, GraphFormat format);

// `imagegc run`: follow the engine until SIGTERM/SIGINT, logging what it sees.
int run_command(const GlobalOptions& global);

} // namespace imagegc::app
