#include "util/format.hpp"

#include <array>
#include <cstdio>
#include <ctime>

namespace imagegc::util {

std::string human_bytes(std::int64_t bytes) {
  static constexpr std::array<const char*, 7> k_units = {"B", "kB", "MB", "GB", "TB", "PB", "EB"};
  const bool negative = bytes < 0;
  double value = negative ? -static_cast<double>(bytes) : static_cast<double>(bytes);
  std::size_t unit = 0;
  while (value >= 1000.0 && unit + 1 < k_units.size()) {
    value /= 1000.0;
    ++unit;
  }
  std::array<char, 32> text{};
  const char* format = unit == 0 ? "%s%.0f%s" : (value < 10 ? "%s%.3g%s" : "%s%.4g%s");
  std::snprintf(text.data(), text.size(), format, negative ? "-" : "", value, k_units[unit]);
  return text.data();
}

std::string iso8601_utc(std::int64_t unix_seconds) {
  const auto time = static_cast<std::time_t>(unix_seconds);
  std::tm parts{};
  gmtime_r(&time, &parts);
  std::array<char, 32> text{};
  std::strftime(text.data(), text.size(), "%Y-%m-%dT%H:%M:%SZ", &parts);
  return text.data();
}

} // namespace imagegc::util
