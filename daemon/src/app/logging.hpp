#pragma once

#include <string>

namespace imagegc::app {

struct LogOptions {
  std::string level = "info";
  std::string format = "text"; // "json": one object per line for log shippers
};

// Logs go to stderr (journald picks them up under systemd); stdout is for command output.
void configure_logging(const LogOptions& options);

} // namespace imagegc::app
