#include "util/url.hpp"

#include <array>

namespace imagegc::util {

std::string percent_encode(std::string_view text, bool keep_slash) {
  static constexpr char k_hex[] = "0123456789ABCDEF";
  // Each byte's class, looked up: a cold start encodes an image ID per request, and a chain of
  // comparisons per byte was a visible part of it.
  static constexpr std::array<bool, 256> k_unreserved = [] {
    std::array<bool, 256> unreserved{};
    for (int byte = 0; byte < 256; ++byte) {
      unreserved[byte] = (byte >= 'a' && byte <= 'z') || (byte >= 'A' && byte <= 'Z') ||
                         (byte >= '0' && byte <= '9') || byte == '-' || byte == '.' ||
                         byte == '_' || byte == '~';
    }
    return unreserved;
  }();
  const auto unreserved = [keep_slash](unsigned char byte) {
    return k_unreserved[byte] || (keep_slash && byte == '/');
  };
  // Sized first and then written.
  std::size_t size = 0;
  for (const char c : text) {
    size += unreserved(static_cast<unsigned char>(c)) ? 1 : 3;
  }
  std::string out(size, '\0');
  char* next = out.data();
  for (const char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    if (unreserved(byte)) {
      *next++ = c;
    } else {
      *next++ = '%';
      *next++ = k_hex[byte >> 4];
      *next++ = k_hex[byte & 0x0F];
    }
  }
  return out;
}

} // namespace imagegc::util
