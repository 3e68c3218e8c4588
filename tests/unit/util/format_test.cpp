#include <gtest/gtest.h>

#include "util/format.hpp"
#include "util/url.hpp"

namespace imagegc::util {
namespace {

TEST(HumanBytes, uses_decimal_units_like_the_docker_cli) {
  EXPECT_EQ(human_bytes(0), "0B");
  EXPECT_EQ(human_bytes(999), "999B");
  EXPECT_EQ(human_bytes(1'982'000), "1.98MB");
  EXPECT_EQ(human_bytes(12'345'678'901), "12.35GB");
  EXPECT_EQ(human_bytes(-1500), "-1.5kB");
}

TEST(Iso8601, formats_unix_seconds_in_utc) {
  EXPECT_EQ(iso8601_utc(0), "1970-01-01T00:00:00Z");
  EXPECT_EQ(iso8601_utc(1'714'558'272), "2024-05-01T10:11:12Z");
}

TEST(PercentEncode, keeps_unreserved_characters_and_optionally_slashes) {
  EXPECT_EQ(percent_encode(R"({"dangling":["true"]})"), "%7B%22dangling%22%3A%5B%22true%22%5D%7D");
  EXPECT_EQ(percent_encode("registry.example/team/app:1.0", true),
            "registry.example/team/app%3A1.0");
  EXPECT_EQ(percent_encode("a/b"), "a%2Fb");
  EXPECT_EQ(percent_encode("A-z_0.9~"), "A-z_0.9~");
}

} // namespace
} // namespace imagegc::util
