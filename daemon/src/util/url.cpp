#include "util/url.hpp"

#include <array>

namespace imagegc::util {

void append_percent_encoded(std::string& out, std::string_view text, bool keep_slash) {
  static constexpr char k_hex[] = "0123456789ABCDEF";
  // Which bytes stay as they are, looked up, without and with '/': a cold start encodes an image
  // ID per request, and a chain of comparisons per byte was a visible part of it.
  static constexpr std::array<std::array<bool, 256>, 2> k_kept = [] {
    std::array<std::array<bool, 256>, 2> kept{};
    for (int byte = 0; byte < 256; ++byte) {
      const bool unreserved = (byte >= 'a' && byte <= 'z') || (byte >= 'A' && byte <= 'Z') ||
                              (byte >= '0' && byte <= '9') || byte == '-' || byte == '.' ||
                              byte == '_' || byte == '~';
      kept[0][byte] = unreserved;
      kept[1][byte] = unreserved || byte == '/';
    }
    return kept;
  }();
  const std::array<bool, 256>& kept = k_kept[keep_slash ? 1 : 0];
  // Runs of kept bytes copied whole: an image ID is two runs. No room is made here: a caller
  // that builds a target of several parts makes it once for all of them (an exact reserve per
  // part would defeat the string's own growth).
  const char* next = text.data();
  const char* const end = next + text.size();
  while (next != end) {
    const char* const run = next;
    while (next != end && kept[static_cast<unsigned char>(*next)]) {
      ++next;
    }
    out.append(run, static_cast<std::size_t>(next - run));
    if (next != end) {
      const auto byte = static_cast<unsigned char>(*next++);
      const std::array<char, 3> encoded = {'%', k_hex[byte >> 4], k_hex[byte & 0x0F]};
      out.append(encoded.data(), encoded.size());
    }
  }
}

std::string percent_encode(std::string_view text, bool keep_slash) {
  std::string out;
  out.reserve(text.size()); // most texts need few of their bytes encoded
  append_percent_encoded(out, text, keep_slash);
  return out;
}

} // namespace imagegc::util
