// refresh_image against recorded Podman 4.3.1 answers (tests/data/podman-4.3/moved_tag_*), served
// over a Unix socket: `podman build -t seq/b:1` twice, the second build taking the tag.

#include <algorithm>
#include <string>
#include <vector>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <gtest/gtest.h>

#include "engine/json_ingest.hpp"
#include "support/recorded_engine.hpp"
#include "sync/event_applier.hpp"
#include "sync/image_reader.hpp"

namespace imagegc::sync {
namespace {

namespace asio = boost::asio;

const std::string k_old = "312053fd8acb74b9c0047b11b38c917344e0a20379ae093240c449f4c8ffad8b";
const std::string k_new = "7ed91a5649d9c33befb47f72b469070319514643b1f6fb5889f26a0e453c7c23";
const std::string k_base = "246719541dd9df955c3e0e4eb07e3d50a222b4eb2ee95242f8ef5929a78ded2a";

std::string recorded(const std::string& name) {
  return test::recorded_body("podman-4.3/" + name);
}

graph::ImageWithLayers from_recorded(const std::string& name) {
  const auto details = engine::parse_image_details(recorded(name));
  EXPECT_TRUE(details.has_value()) << details.error().message;
  std::vector<graph::Layer> layers;
  for (const auto& diff_id : details->diff_ids) {
    layers.push_back({diff_id, 1000});
  }
  return to_graph_image(*details, std::move(layers));
}

TEST(RefreshImage, a_rebuild_that_takes_a_tag_re_reads_the_image_it_left) {
  graph::ImageGraph graph;
  graph::ImageWithLayers base;
  base.id = "sha256:" + k_base;
  base.tags = {"busybox:latest"};
  base.layers = {{"sha256:base", 2129920}};
  graph.upsert_image(base);
  // What the events had shown after the first build: the tag and, on Podman, a digest reference
  // for each repository the image has a tag in.
  graph.upsert_image(from_recorded("moved_tag_old_before.json"));
  ASSERT_EQ(graph.find_image("sha256:" + k_old)->digests.size(), 1u);

  asio::io_context io;
  test::RecordedEngine podman(io,
                              {{k_new + "/json", 200, recorded("moved_tag_new.json")},
                               {k_new + "/history", 200, recorded("moved_tag_new_history.json")},
                               {k_old + "/json", 200, recorded("moved_tag_old_after.json")},
                               {k_old + "/history", 200, recorded("moved_tag_old_history.json")}},
                              test::podman_ping_headers());
  auto done = asio::co_spawn(
      io,
      [&]() -> asio::awaitable<engine::Result<void>> {
        engine::EngineClient client(io.get_executor(), podman.endpoint());
        auto negotiated = co_await client.negotiate();
        EXPECT_TRUE(negotiated.has_value());
        EXPECT_TRUE(client.is_podman());
        // The build event names only the new image.
        auto refreshed = co_await refresh_image(client, graph, "sha256:" + k_new);
        podman.close();
        co_return refreshed;
      },
      asio::use_future);
  io.run();
  const auto result = done.get();
  ASSERT_TRUE(result.has_value()) << result.error().message;

  const graph::Image* rebuilt = graph.find_image("sha256:" + k_new);
  ASSERT_NE(rebuilt, nullptr);
  EXPECT_EQ(rebuilt->tags, std::vector<std::string>{"localhost/seq/b:1"});
  const graph::Image* left = graph.find_image("sha256:" + k_old);
  ASSERT_NE(left, nullptr);
  EXPECT_TRUE(left->tags.empty());
  EXPECT_TRUE(left->digests.empty()) << "Podman dropped its digest reference with the tag";
  EXPECT_EQ(graph.state("sha256:" + k_old), graph::ImageState::dangling);
  EXPECT_NE(std::find(podman.requests().begin(), podman.requests().end(),
                      "GET /v1.41/images/sha256%3A" + k_old + "/json"),
            podman.requests().end())
      << "the image the tag left was re-read";
  EXPECT_EQ(std::count_if(
                podman.requests().begin(), podman.requests().end(),
                [](const std::string& target) { return target.find(k_base) != std::string::npos; }),
            0)
      << "the parent was known: not read again";
}

} // namespace
} // namespace imagegc::sync
