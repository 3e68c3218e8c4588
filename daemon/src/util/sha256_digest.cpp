#include "util/sha256_digest.hpp"

namespace imagegc::util {

namespace {

constexpr std::string_view k_prefix = "sha256:";
constexpr std::string_view k_digits = "0123456789abcdef";

// Each character's value as a lower-case hex digit, -1 for any other: a table, since a cold
// start or a warm restart goes through millions of digits.
constexpr std::array<int, 256> k_hex_values = [] {
  std::array<int, 256> values{};
  values.fill(-1);
  for (std::size_t digit = 0; digit < k_digits.size(); ++digit) {
    values[static_cast<unsigned char>(k_digits[digit])] = static_cast<int>(digit);
  }
  return values;
}();

} // namespace

std::optional<Sha256Bytes> parse_sha256_digest(std::string_view text) {
  Sha256Bytes bytes{};
  if (text.size() != k_prefix.size() + 2 * bytes.size() || !text.starts_with(k_prefix)) {
    return std::nullopt;
  }
  const std::string_view hex = text.substr(k_prefix.size());
  // Any character that is not a digit makes `invalid` negative; checked once at the end.
  int invalid = 0;
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    const int high = k_hex_values[static_cast<unsigned char>(hex[2 * i])];
    const int low = k_hex_values[static_cast<unsigned char>(hex[2 * i + 1])];
    invalid |= high | low;
    bytes[i] = static_cast<std::uint8_t>(((high & 0xf) << 4) | (low & 0xf));
  }
  if (invalid < 0) {
    return std::nullopt;
  }
  return bytes;
}

void append_sha256_digest(std::string& out, const Sha256Bytes& bytes) {
  const std::size_t at = out.size();
  out.resize(at + k_prefix.size() + 2 * bytes.size());
  char* next = out.data() + at;
  for (const char c : k_prefix) {
    *next++ = c;
  }
  for (const std::uint8_t byte : bytes) {
    *next++ = k_digits[byte >> 4];
    *next++ = k_digits[byte & 0xf];
  }
}

} // namespace imagegc::util
