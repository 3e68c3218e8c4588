#include "engine/records.hpp"

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

} // namespace imagegc::engine
