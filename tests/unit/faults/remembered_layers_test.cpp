// A re-list with layer chains remembered from an earlier run (the state store): known image IDs
// are built from the listing without an inspect or a history, and give the same graph.

#include <functional>
#include <map>
#include <stdexcept>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <gtest/gtest.h>

#include "engine/engine_client.hpp"
#include "support/engine_call.hpp"
#include "support/fake_engine.hpp"
#include "sync/graph_loader.hpp"

namespace imagegc::test {
namespace {

namespace asio = boost::asio;

std::uint64_t requests(const FakeEngine& fake, const std::string& path_prefix,
                       const std::string& path_suffix) {
  std::uint64_t count = 0;
  for (const auto& [path, times] : fake.stats().requests_by_path) {
    if (path.starts_with(path_prefix) && path.ends_with(path_suffix)) {
      count += times;
    }
  }
  return count;
}

using Chains = std::map<std::string, std::vector<graph::Layer>, std::less<>>;

sync::RememberedLayers lookup(const Chains& chains) {
  return [&chains](std::string_view id) -> std::optional<std::vector<graph::Layer>> {
    const auto it = chains.find(id);
    if (it == chains.end()) {
      return std::nullopt;
    }
    return it->second;
  };
}

Chains chains_of(const graph::ImageGraph& graph) {
  Chains chains;
  for (const auto& id : graph.image_ids()) {
    chains.emplace(id, graph.layers(*graph.find_image(id)));
  }
  return chains;
}

TEST(RememberedLayers, known_images_are_not_inspected_and_the_graph_is_the_same) {
  FakeEngine fake;
  const auto ids = fake.add_synthetic_images(200, 21);
  const graph::ImageGraph cold = fresh_graph(fake.endpoint(), {});
  ASSERT_EQ(cold.image_count(), 200u);

  Chains chains = chains_of(cold);
  const std::string& unknown = ids.back();
  chains.erase(unknown);
  // A record for an ID the engine does not have is just not used.
  chains.emplace("sha256:" + std::string(64, 'e'), std::vector<graph::Layer>{{"sha256:x", 1}});

  FakeEngine again;
  again.add_synthetic_images(200, 21);
  const graph::ImageGraph warm = fresh_graph(again.endpoint(), lookup(chains));
  EXPECT_EQ(graph::ImageGraph::differences(cold, warm), std::vector<std::string>{});
  EXPECT_EQ(warm.layers_bytes(), cold.layers_bytes());
  EXPECT_EQ(warm.unused_reclaimable_bytes(), cold.unused_reclaimable_bytes());
  // Only the image whose chain was not remembered is read.
  EXPECT_EQ(requests(again, "GET /images/", "/json") - requests(again, "GET /images/json", ""), 1u);
  EXPECT_EQ(requests(again, "GET /images/", "/history"), 1u);
  EXPECT_EQ(again.stats().requests_by_path.count("GET /images/" + unknown + "/json"), 1u);
}

TEST(RememberedLayers, a_chain_that_does_not_add_up_to_the_listed_size_is_read_again) {
  FakeEngine fake;
  fake.add_synthetic_images(20, 22);
  const graph::ImageGraph cold = fresh_graph(fake.endpoint(), {});
  Chains chains = chains_of(cold);
  const std::string wrong = chains.begin()->first;
  chains.begin()->second.back().size += 1;

  FakeEngine again;
  again.add_synthetic_images(20, 22);
  const graph::ImageGraph warm = fresh_graph(again.endpoint(), lookup(chains));
  EXPECT_EQ(graph::ImageGraph::differences(cold, warm), std::vector<std::string>{});
  // Read again: inspected, its sizes settled by the chains of the others or read from history.
  EXPECT_EQ(again.stats().requests_by_path.count("GET /images/" + wrong + "/json"), 1u);
  EXPECT_EQ(requests(again, "GET /images/", "/json") - requests(again, "GET /images/json", ""), 1u);
  EXPECT_EQ(requests(again, "GET /images/", "/history"),
            requests(again, "GET /images/" + wrong, "/history"));
}

TEST(RememberedLayers, sizes_are_checked_the_way_each_engine_lists_them) {
  const std::vector<graph::Layer> layers{{"sha256:a", 100}, {"sha256:b", 50}};
  EXPECT_TRUE(sync::chain_fits_listing(layers, 150, false));
  EXPECT_FALSE(sync::chain_fits_listing(layers, 151, false));
  EXPECT_FALSE(sync::chain_fits_listing(layers, 149, false));
  // Podman's size also counts the image's config and manifest.
  EXPECT_TRUE(sync::chain_fits_listing(layers, 4096, true));
  EXPECT_FALSE(sync::chain_fits_listing(layers, 149, true));
}

} // namespace
} // namespace imagegc::test
