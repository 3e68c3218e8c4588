#include "util/sha256_digest.hpp"

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace imagegc::util {

namespace {

constexpr std::string_view k_prefix = "sha256:";
constexpr std::string_view k_digits = "0123456789abcdef";

#if defined(__SSE2__)
// The bytes 64 lower-case hex digits spell, sixteen digits at a time; false for any other
// character. A cold start of a large host decodes over a million digests, and a table lookup
// per digit was a visible part of it.
bool decode_hex(std::string_view hex, Sha256Bytes& bytes) {
  const auto in_range = [](__m128i chars, char first, char last) {
    // Signed comparisons: a byte of 0x80 or more is negative, in neither range.
    return _mm_and_si128(_mm_cmpgt_epi8(chars, _mm_set1_epi8(static_cast<char>(first - 1))),
                         _mm_cmplt_epi8(chars, _mm_set1_epi8(static_cast<char>(last + 1))));
  };
  constexpr std::size_t k_block = 16;
  for (std::size_t block = 0; block < hex.size() / k_block; ++block) {
    const __m128i chars =
        _mm_loadu_si128(reinterpret_cast<const __m128i*>(hex.data() + block * k_block));
    const __m128i letters = in_range(chars, 'a', 'f');
    if (_mm_movemask_epi8(_mm_or_si128(in_range(chars, '0', '9'), letters)) != 0xFFFF) {
      return false;
    }
    // Each digit's value: c - '0', less the gap between '9' + 1 and 'a' for letters.
    const __m128i values = _mm_sub_epi8(_mm_sub_epi8(chars, _mm_set1_epi8('0')),
                                        _mm_and_si128(letters, _mm_set1_epi8('a' - '0' - 10)));
    // Pairs of digits as 16-bit lanes, the first digit in the low byte: high * 16 + low.
    const __m128i high = _mm_and_si128(values, _mm_set1_epi16(0x00FF));
    const __m128i low = _mm_srli_epi16(values, 8);
    const __m128i pairs = _mm_or_si128(_mm_slli_epi16(high, 4), low);
    _mm_storel_epi64(reinterpret_cast<__m128i*>(bytes.data() + block * k_block / 2),
                     _mm_packus_epi16(pairs, pairs));
  }
  return true;
}
#else
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

// The bytes 64 lower-case hex digits spell, one table lookup per digit; false for any other
// character. (Where SSE2 is, sixteen digits at a time: see above.)
bool decode_hex(std::string_view hex, Sha256Bytes& bytes) {
  // Any character that is not a digit makes `invalid` negative; checked once at the end.
  int invalid = 0;
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    const int high = k_hex_values[static_cast<unsigned char>(hex[2 * i])];
    const int low = k_hex_values[static_cast<unsigned char>(hex[2 * i + 1])];
    invalid |= high | low;
    bytes[i] = static_cast<std::uint8_t>(((high & 0xf) << 4) | (low & 0xf));
  }
  return invalid >= 0;
}
#endif

} // namespace

std::optional<Sha256Bytes> parse_sha256_digest(std::string_view text) {
  Sha256Bytes bytes{};
  if (text.size() != k_prefix.size() + 2 * bytes.size() || !text.starts_with(k_prefix)) {
    return std::nullopt;
  }
  if (!decode_hex(text.substr(k_prefix.size()), bytes)) {
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
