#pragma once

#include <string>
#include <string_view>

namespace imagegc::util {

// Percent-encodes everything but RFC 3986 unreserved characters (and '/' when keep_slash, for
// path segments such as "registry.example/team/app:1.0").
std::string percent_encode(std::string_view text, bool keep_slash = false);
// The same, appended to `out`: for targets built of several parts.
void append_percent_encoded(std::string& out, std::string_view text, bool keep_slash = false);

} // namespace imagegc::util
