#include <gtest/gtest.h>

#include "policy/units.hpp"

namespace imagegc::policy {
namespace {

using std::chrono::seconds;

TEST(ParseDuration, reads_single_units_and_sums) {
  EXPECT_EQ(parse_duration("90s"), seconds{90});
  EXPECT_EQ(parse_duration("15m"), seconds{15 * 60});
  EXPECT_EQ(parse_duration("24h"), seconds{24 * 3600});
  EXPECT_EQ(parse_duration("7d"), seconds{7 * 86400});
  EXPECT_EQ(parse_duration("2w"), seconds{14 * 86400});
  EXPECT_EQ(parse_duration("1h30m"), seconds{5400});
  EXPECT_EQ(parse_duration("1w2d3h4m5s"), seconds{9 * 86400 + 3 * 3600 + 4 * 60 + 5});
  EXPECT_EQ(parse_duration("0s"), seconds{0});
  EXPECT_EQ(parse_duration("007m"), seconds{420});
}

TEST(ParseDuration, rejects_anything_not_strictly_a_duration) {
  for (const char* text : {"", "90", "-1s", "+1s", "1.5h", "1h1h", "30m1h", "1x", "1h ", " 1h", "h",
                           "1H", "1 h", "1hh", "nan", "inf", "1e3s", "1h-30m", "1y"}) {
    EXPECT_EQ(parse_duration(text), std::nullopt) << text;
  }
}

TEST(ParseDuration, rejects_overflow_and_durations_beyond_a_century) {
  EXPECT_EQ(parse_duration("99999999999999999999999s"), std::nullopt);
  EXPECT_EQ(parse_duration("18446744073709551617s"), std::nullopt);
  EXPECT_EQ(parse_duration("5300w"), std::nullopt);
  EXPECT_EQ(parse_duration("5200w"), seconds{5200LL * 7 * 86400});
  EXPECT_EQ(parse_duration(std::to_string(k_max_duration.count()) + "s"), k_max_duration);
  EXPECT_EQ(parse_duration(std::to_string(k_max_duration.count() + 1) + "s"), std::nullopt);
  EXPECT_EQ(parse_duration("36500d1s"), std::nullopt);
}

TEST(ParseSize, reads_bytes_and_decimal_and_binary_units) {
  EXPECT_EQ(parse_size("0"), 0);
  EXPECT_EQ(parse_size("4096"), 4096);
  EXPECT_EQ(parse_size("1B"), 1);
  EXPECT_EQ(parse_size("1kB"), 1000);
  EXPECT_EQ(parse_size("1KB"), 1000);
  EXPECT_EQ(parse_size("10GB"), 10'000'000'000);
  EXPECT_EQ(parse_size("2TB"), 2'000'000'000'000);
  EXPECT_EQ(parse_size("1PB"), 1'000'000'000'000'000);
  EXPECT_EQ(parse_size("1KiB"), 1024);
  EXPECT_EQ(parse_size("512MiB"), 512LL << 20);
  EXPECT_EQ(parse_size("1TiB"), 1LL << 40);
  EXPECT_EQ(parse_size("1PiB"), 1LL << 50);
}

TEST(ParseSize, reads_fractions_exactly_and_rounds_down_to_whole_bytes) {
  EXPECT_EQ(parse_size("1.5GiB"), 1'610'612'736);
  EXPECT_EQ(parse_size("0.5kB"), 500);
  EXPECT_EQ(parse_size("1.1KiB"), 1126); // 1126.4
  EXPECT_EQ(parse_size("0.000000001PB"), 1'000'000);
  EXPECT_EQ(parse_size("2.25TB"), 2'250'000'000'000);
}

TEST(ParseSize, accepts_the_largest_value_and_rejects_overflow) {
  EXPECT_EQ(parse_size("9223372036854775807"), INT64_MAX);
  EXPECT_EQ(parse_size("9223372036854775808"), std::nullopt);
  EXPECT_EQ(parse_size("8192PiB"), std::nullopt); // exactly 2^63
  EXPECT_EQ(parse_size("8191.999999999PiB"), 9'223'372'036'853'649'908);
  EXPECT_EQ(parse_size("99999999999999999999999GB"), std::nullopt);
}

TEST(ParseSize, rejects_anything_not_strictly_a_size) {
  for (const char* text :
       {"",     "-1",  "+5",  "1.5",   "1.5B", "10 GB",          "10gb", "10Gb", "10GBx",
        "1e3",  "nan", "inf", ".5GB",  "5.GB", "1.1234567890GB", "GB",   "10G",  "10M",
        "1EiB", " 1",  "1 ",  "1,5GB", "0x10"}) {
    EXPECT_EQ(parse_size(text), std::nullopt) << text;
  }
}

TEST(ParsePercent, reads_whole_and_fractional_percentages_from_0_to_100) {
  EXPECT_EQ(parse_percent("85%"), 85.0);
  EXPECT_EQ(parse_percent("85.5%"), 85.5);
  EXPECT_EQ(parse_percent("0%"), 0.0);
  EXPECT_EQ(parse_percent("100%"), 100.0);
  EXPECT_EQ(parse_percent("100.0%"), 100.0);
  EXPECT_DOUBLE_EQ(*parse_percent("33.3%"), 33.3);
}

TEST(ParsePercent, rejects_anything_not_strictly_a_percentage) {
  for (const char* text :
       {"", "%", "85", "100.1%", "101%", "-5%", "+5%", "nan%", "NaN%", "inf%", "1e2%", " 85%",
        "85 %", "85%%", ".5%", "5.%", "85%x", "0x10%", "99999999999999999999999%"}) {
    EXPECT_EQ(parse_percent(text), std::nullopt) << text;
  }
}

} // namespace
} // namespace imagegc::policy
