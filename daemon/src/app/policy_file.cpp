#include "app/policy_file.hpp"

#include <spdlog/spdlog.h>
#include <sys/stat.h>

#include "policy/policy_loader.hpp"

namespace imagegc::app {

std::optional<policy::Policy> load_policy_or_log(const std::string& path) {
  struct stat info {};
  if (::stat(path.c_str(), &info) == 0 && (info.st_mode & S_IWOTH) != 0) {
    spdlog::error("{}: refused: any user may write it (chmod o-w {})", path, path);
    return std::nullopt;
  }
  auto loaded = policy::load_policy_file(path);
  if (!loaded) {
    for (const auto& error : loaded.error()) {
      spdlog::error("{}", error.to_string());
    }
    return std::nullopt;
  }
  return std::move(*loaded);
}

} // namespace imagegc::app
