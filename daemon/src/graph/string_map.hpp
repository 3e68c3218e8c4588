#pragma once
// Hash maps keyed by std::string that can be searched with a std::string_view, so that lookups
// from the graph's string_view arguments do not allocate a temporary string.

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>

namespace imagegc::graph {

struct StringHash {
  using is_transparent = void;

  std::size_t operator()(std::string_view text) const noexcept {
    return std::hash<std::string_view>{}(text);
  }
};

template <typename Value>
using StringMap = std::unordered_map<std::string, Value, StringHash, std::equal_to<>>;

} // namespace imagegc::graph
