// The hash that keys the graph's and the state store's maps by image ID and reference.

#include <cstddef>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include <gtest/gtest.h>

#include "graph/string_map.hpp"

namespace imagegc::graph {
namespace {

std::string hex_id(std::size_t n) {
  static constexpr std::string_view k_hex = "0123456789abcdef";
  std::string id = "sha256:";
  // Distinct IDs that differ in a few digits only, the hardest case for a weak hash.
  std::string digits(64, '0');
  for (std::size_t at = 63; n > 0; --at, n /= 16) {
    digits[at] = k_hex[n % 16];
  }
  return id + digits;
}

TEST(StringHash, a_string_and_its_view_hash_alike) {
  const StringHash hash;
  for (const std::string& text : {std::string(), std::string("a"), std::string("synthetic/app1:v2"),
                                  hex_id(42), std::string(100, 'x')}) {
    EXPECT_EQ(hash(text), hash(std::string_view(text))) << text;
    EXPECT_EQ(hash(text), hash(std::string(text))) << text;
  }
  EXPECT_EQ(hash(std::string_view()), hash(std::string()));
}

TEST(StringHash, every_byte_counts) {
  const StringHash hash;
  const std::string base = hex_id(0);
  std::unordered_set<std::size_t> seen{hash(base)};
  for (std::size_t at = 0; at < base.size(); ++at) {
    std::string changed = base;
    changed[at] = 'f';
    EXPECT_TRUE(seen.insert(hash(changed)).second) << "byte " << at;
  }
  // Lengths differ even where the bytes read agree.
  EXPECT_NE(hash(std::string_view("ab\0", 3)), hash(std::string_view("ab", 2)));
}

TEST(StringHash, ids_that_differ_in_a_few_digits_spread) {
  const StringHash hash;
  constexpr std::size_t k_ids = 100000;
  constexpr std::size_t k_buckets = 1 << 16;
  std::vector<std::size_t> load(k_buckets, 0);
  std::unordered_set<std::size_t> distinct;
  for (std::size_t n = 0; n < k_ids; ++n) {
    const std::size_t value = hash(hex_id(n));
    distinct.insert(value);
    ++load[value % k_buckets];
  }
  EXPECT_EQ(distinct.size(), k_ids);
  std::size_t fullest = 0;
  for (const std::size_t count : load) {
    fullest = std::max(fullest, count);
  }
  // About 1.5 per bucket on average; a fair hash keeps the fullest in the low teens.
  EXPECT_LT(fullest, 16U);
}

TEST(StringMap, finds_keys_by_view) {
  StringMap<int> map;
  map.emplace(hex_id(7), 7);
  map.emplace("repo:tag", 1);
  EXPECT_EQ(map.find(std::string_view(hex_id(7)))->second, 7);
  EXPECT_EQ(map.find(std::string_view("repo:tag"))->second, 1);
  EXPECT_EQ(map.find(std::string_view("repo:other")), map.end());
}

} // namespace
} // namespace imagegc::graph
