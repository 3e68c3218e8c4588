#include <string>

#include <gtest/gtest.h>

#include "util/sha256_digest.hpp"

namespace imagegc::util {
namespace {

constexpr const char* k_digest =
    "sha256:0123456789abcdef00ff10e0a5c3f00d0123456789abcdeffedcba9876543210";

TEST(Sha256Digest, parses_to_the_bytes_it_spells_and_formats_back) {
  const auto bytes = parse_sha256_digest(k_digest);
  ASSERT_TRUE(bytes.has_value());
  EXPECT_EQ((*bytes)[0], 0x01);
  EXPECT_EQ((*bytes)[7], 0xef);
  EXPECT_EQ((*bytes)[9], 0xff);
  EXPECT_EQ((*bytes)[31], 0x10);
  std::string text = "[";
  append_sha256_digest(text, *bytes);
  EXPECT_EQ(text, std::string("[") + k_digest);
}

TEST(Sha256Digest, anything_but_sha256_and_64_lower_case_hex_digits_is_not_one) {
  const std::string digest = k_digest;
  EXPECT_FALSE(parse_sha256_digest(""));
  EXPECT_FALSE(parse_sha256_digest("sha256:"));
  EXPECT_FALSE(parse_sha256_digest(digest.substr(0, digest.size() - 1)));
  EXPECT_FALSE(parse_sha256_digest(digest + "0"));
  EXPECT_FALSE(parse_sha256_digest("sha512:" + digest.substr(7)));
  std::string upper = digest;
  upper[10] = 'A';
  EXPECT_FALSE(parse_sha256_digest(upper));
  std::string other = digest;
  other.back() = 'g';
  EXPECT_FALSE(parse_sha256_digest(other));
  other.back() = '\0';
  EXPECT_FALSE(parse_sha256_digest(other));
}

TEST(Sha256Digest, every_character_at_every_position_is_judged_and_decoded) {
  const std::string digest = k_digest;
  const std::string_view hex_digits = "0123456789abcdef";
  for (std::size_t position = 7; position < digest.size(); ++position) {
    for (int byte = 0; byte < 256; ++byte) {
      std::string text = digest;
      text[position] = static_cast<char>(byte);
      const auto value = hex_digits.find(static_cast<char>(byte));
      const auto bytes = parse_sha256_digest(text);
      ASSERT_EQ(bytes.has_value(), value != std::string_view::npos)
          << "byte " << byte << " at " << position;
      if (bytes) {
        const std::size_t digit = position - 7;
        const std::uint8_t decoded = (*bytes)[digit / 2];
        EXPECT_EQ(digit % 2 == 0 ? decoded >> 4 : decoded & 0xf, value)
            << "byte " << byte << " at " << position;
        std::string back;
        append_sha256_digest(back, *bytes);
        EXPECT_EQ(back, text);
      }
    }
  }
}

} // namespace
} // namespace imagegc::util
