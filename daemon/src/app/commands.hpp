#pragma once

#include <string>

namespace imagegc::app {

struct GlobalOptions {
  std::string host; // --host; empty: DOCKER_HOST, then the default socket
};

enum class OutputFormat { table, json, tree };

// `imagegc graph`: sync once and print every image.
int graph_command(const GlobalOptions& global, OutputFormat format);

// `imagegc plan`: sync once and print what a pass would delete and keep, and why.
int plan_command(const GlobalOptions& global, const std::string& config_path,
                 const std::string& state_dir, OutputFormat format);

// `imagegc check-config FILE`: 0 when the policy loads; otherwise prints every error.
int check_config_command(const std::string& config_path);

} // namespace imagegc::app
