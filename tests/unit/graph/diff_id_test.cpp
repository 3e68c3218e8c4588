#include <string>
#include <unordered_set>

#include <gtest/gtest.h>

#include "graph/diff_id.hpp"

namespace imagegc::graph {
namespace {

const std::string k_hex = std::string(62, '0') + "af";

TEST(DiffId, a_sha256_digest_is_kept_as_its_bytes_and_spelled_back) {
  const DiffId id("sha256:" + k_hex);
  ASSERT_NE(id.digest(), nullptr);
  EXPECT_EQ((*id.digest())[31], 0xaf);
  EXPECT_EQ(id.other_text(), "");
  EXPECT_EQ(id.text(), "sha256:" + k_hex);
  EXPECT_EQ(id, DiffId(*id.digest()));
}

TEST(DiffId, anything_else_is_kept_as_text) {
  for (const std::string& text : {std::string("sha256:ABC"), "sha256:" + k_hex.substr(1) + "G",
                                  "sha512:" + k_hex, std::string("l1")}) {
    const DiffId id(text);
    EXPECT_EQ(id.digest(), nullptr) << text;
    EXPECT_EQ(id.other_text(), text);
    EXPECT_EQ(id.text(), text);
  }
  EXPECT_NE(DiffId("sha256:" + k_hex), DiffId("sha256:" + std::string(62, '0') + "AF"));
  EXPECT_EQ(DiffId().text(), "");
}

TEST(DiffId, keys_a_hash_set) {
  const std::unordered_set<DiffId> ids = {DiffId("sha256:" + k_hex), DiffId("l1")};
  EXPECT_TRUE(ids.contains(DiffId("sha256:" + k_hex)));
  EXPECT_TRUE(ids.contains(DiffId("l1")));
  EXPECT_FALSE(ids.contains(DiffId("l2")));
}

} // namespace
} // namespace imagegc::graph
