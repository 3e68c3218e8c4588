#include "engine/records.hpp"

namespace imagegc::engine {

std::string ApiVersion::to_string() const {
  return std::to_string(major) + "." + std::to_string(minor);
}

} // namespace imagegc::engine
