#pragma once

#include <string>

#include "app/commands.hpp"

namespace imagegc::app {

struct DaemonOptions {
  std::string config_path;
  std::string state_dir;
  bool once = false;  // one pass, then exit
  std::string listen; // HTTP endpoints (/metrics, /healthz, /readyz, /plan); empty: none
};

// `imagegc run` (once = false) and `imagegc once`: follow the engine, record when images are
// used, and run garbage-collection passes on the policy's schedule, on disk pressure and on
// SIGUSR1. SIGHUP reloads the policy; SIGTERM/SIGINT stop after the current delete.
int run_daemon(const GlobalOptions& global, const DaemonOptions& options);

} // namespace imagegc::app
