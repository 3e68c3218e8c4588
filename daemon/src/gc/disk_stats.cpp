#include "gc/disk_stats.hpp"

#include <sys/statvfs.h>

namespace imagegc::gc {

std::optional<policy::DiskStats> disk_stats(const std::string& path) {
  struct statvfs stats {};
  if (path.empty() || ::statvfs(path.c_str(), &stats) != 0) {
    return std::nullopt;
  }
  const auto block = static_cast<std::int64_t>(stats.f_frsize);
  return policy::DiskStats{static_cast<std::int64_t>(stats.f_blocks) * block,
                           static_cast<std::int64_t>(stats.f_bavail) * block};
}

} // namespace imagegc::gc
