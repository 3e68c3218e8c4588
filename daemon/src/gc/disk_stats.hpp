#pragma once

#include <optional>
#include <string>

#include "policy/planner.hpp"

namespace imagegc::gc {

// Size and free bytes of the filesystem holding `path` (the engine's data root), as the
// engine's user sees them (statvfs: f_bavail). nullopt when the path is not visible from here,
// e.g. a remote engine: disk-pressure rules are then not applied.
std::optional<policy::DiskStats> disk_stats(const std::string& path);

} // namespace imagegc::gc
