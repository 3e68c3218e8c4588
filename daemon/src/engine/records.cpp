#include "engine/records.hpp"

#include <algorithm>
#include <array>
#include <string_view>

namespace imagegc::engine {

std::string ApiVersion::to_string() const {
  return std::to_string(major) + "." + std::to_string(minor);
}

std::string_view to_string(ImageStore store) {
  switch (store) {
  case ImageStore::graphdriver:
    return "graphdriver";
  case ImageStore::containerd:
    return "containerd";
  }
  return "unknown";
}

std::string hold_reference(std::string_view image_id) {
  const auto colon = image_id.find(':');
  const auto hex = colon == std::string_view::npos ? image_id : image_id.substr(colon + 1);
  return std::string(k_hold_repository) + ":" + std::string(hex);
}

bool is_hold_reference(std::string_view reference) {
  constexpr std::array<std::string_view, 3> k_prefixes{"", "localhost/", "docker.io/library/"};
  return std::ranges::any_of(k_prefixes, [reference](std::string_view prefix) {
    return reference.starts_with(prefix) &&
           reference.substr(prefix.size()).starts_with(k_hold_repository) &&
           reference.substr(prefix.size() + k_hold_repository.size()).starts_with(':');
  });
}

} // namespace imagegc::engine
