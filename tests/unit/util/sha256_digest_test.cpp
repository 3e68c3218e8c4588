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

} // namespace
} // namespace imagegc::util
