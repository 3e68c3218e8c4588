#include <gtest/gtest.h>

#include "sync/chain_sizes.hpp"

namespace imagegc::sync {
namespace {

const std::vector<graph::Layer> k_base_and_app{{"sha256:base", 100}, {"sha256:app", 20}};

TEST(ChainSizes, a_single_layer_image_is_its_size) {
  ChainSizes chains;
  std::vector<graph::Layer> layers{{"sha256:base", 0}};
  ASSERT_TRUE(chains.settle(layers, 100));
  EXPECT_EQ(layers.front().size, 100);
}

TEST(ChainSizes, the_top_layer_is_what_the_known_chain_leaves_of_the_size) {
  ChainSizes chains;
  chains.add(k_base_and_app);
  std::vector<graph::Layer> layers{{"sha256:base", 0}, {"sha256:app", 0}, {"sha256:top", 0}};
  ASSERT_TRUE(chains.settle(layers, 150));
  EXPECT_EQ(layers, (std::vector<graph::Layer>{
                        {"sha256:base", 100}, {"sha256:app", 20}, {"sha256:top", 30}}));
  // Settled chains are known to the images after it.
  std::vector<graph::Layer> longer = layers;
  longer.push_back({"sha256:more", 0});
  ASSERT_TRUE(chains.settle(longer, 155));
  EXPECT_EQ(longer.back().size, 5);
}

TEST(ChainSizes, a_layer_is_known_by_its_whole_chain_not_its_diff_id) {
  ChainSizes chains;
  chains.add(k_base_and_app);
  // "sha256:app" on another base is another layer, so two are unknown.
  std::vector<graph::Layer> layers{{"sha256:other", 0}, {"sha256:app", 0}};
  EXPECT_FALSE(chains.settle(layers, 150));
  EXPECT_EQ(layers, (std::vector<graph::Layer>{{"sha256:other", 0}, {"sha256:app", 0}}));
}

TEST(ChainSizes, two_unknown_layers_are_left_to_the_history) {
  ChainSizes chains;
  chains.add(k_base_and_app);
  std::vector<graph::Layer> layers{{"sha256:base", 0}, {"sha256:x", 0}, {"sha256:y", 0}};
  EXPECT_FALSE(chains.settle(layers, 150));
  EXPECT_EQ(layers.front().size, 0);
}

TEST(ChainSizes, sizes_that_do_not_fit_are_left_to_the_history) {
  ChainSizes chains;
  chains.add(k_base_and_app);
  // The known layers already exceed the size.
  std::vector<graph::Layer> top{{"sha256:base", 0}, {"sha256:app", 0}, {"sha256:top", 0}};
  EXPECT_FALSE(chains.settle(top, 119));
  // A known chain that does not add up to the size.
  std::vector<graph::Layer> known{{"sha256:base", 0}, {"sha256:app", 0}};
  EXPECT_FALSE(chains.settle(known, 121));
  ASSERT_TRUE(chains.settle(known, 120));
  EXPECT_EQ(known, k_base_and_app);
  // An image without layers has size 0.
  std::vector<graph::Layer> none;
  EXPECT_FALSE(chains.settle(none, 1));
  EXPECT_TRUE(chains.settle(none, 0));
}

} // namespace
} // namespace imagegc::sync
