#pragma once

#include <cstdint>
#include <string>

namespace imagegc::util {

// Decimal units as the docker CLI prints them: 999B, 1.98MB, 12.3GB.
std::string human_bytes(std::int64_t bytes);

// "2024-05-01T10:11:12Z" for unix seconds.
std::string iso8601_utc(std::int64_t unix_seconds);

} // namespace imagegc::util
