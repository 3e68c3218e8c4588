// imagegc against the fake engine answering as one with the containerd image store
// (FakeEngineOptions::containerd_store; no such engine runs here): the tracker's graph equals the
// scripted state and, as the engine changes, a fresh sync; a dangling rule deletes only the
// images dangling for long enough by their records' local time; an image in use is never deleted.

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <stdexcept>
#include <string>
#include <vector>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <gtest/gtest.h>

#include "engine/engine_client.hpp"
#include "gc/gc_pass.hpp"
#include "policy/policy_loader.hpp"
#include "support/engine_call.hpp"
#include "support/fake_engine.hpp"
#include "support/running_tracker.hpp"
#include "sync/graph_loader.hpp"

namespace imagegc::test {
namespace {

namespace asio = boost::asio;
using Kind = gc::ExecutionReport::Outcome::Kind;

constexpr std::int64_t k_hour = 3600;

std::int64_t unix_now() {
  return static_cast<std::int64_t>(std::time(nullptr));
}

std::string hex_id(int serial) {
  char hex[65];
  std::snprintf(hex, sizeof hex, "%064x", serial);
  return std::string("sha256:") + hex;
}

FakeLayer layer(int serial, std::int64_t size) {
  return {hex_id(0x100000 + serial), size};
}

// Connects as `imagegc graph` does (negotiate, /info for the store) and runs `use(client)`.
FakeEngineOptions containerd_engine() {
  FakeEngineOptions options;
  options.api_version = {1, 52};
  options.server_version = "29.1.0";
  options.containerd_store = true;
  return options;
}

// A host on the containerd store: a base image, a legacy build on it (an untagged step whose
// child is tagged), an image an old build left dangling two days ago, one whose tag moved off it
// ten minutes ago (built three years ago), and two images containers use: one tagged with a
// running container, one dangling with a stopped one.
class ContainerdStore : public ::testing::Test {
protected:
  void SetUp() override {
    const std::int64_t now = unix_now();
    const std::int64_t built = now - std::int64_t{3} * 365 * 24 * k_hour;
    m_base = image(1, "", {layer(1, 5'000'000)}, {"alpine:latest"}, built, now - 72 * k_hour);
    m_step = image(2, m_base.id, {layer(1, 5'000'000), layer(2, 20'000)}, {}, built, now - k_hour);
    m_app = image(3, m_step.id, {layer(1, 5'000'000), layer(2, 20'000), layer(3, 300)}, {"app:1"},
                  built, now - k_hour);
    m_old_dangling =
        image(4, "", {layer(1, 5'000'000), layer(4, 70'000)}, {}, built, now - 48 * k_hour);
    m_new_dangling = image(5, "", {layer(1, 5'000'000), layer(5, 80'000)}, {}, built, now - 600);
    m_web = image(6, "", {layer(6, 900'000)}, {"web:1"}, built, now - 72 * k_hour);
    m_used_dangling = image(7, "", {layer(7, 60'000)}, {}, built, now - 72 * k_hour);
    for (const FakeImage* each :
         {&m_base, &m_step, &m_app, &m_old_dangling, &m_new_dangling, &m_web, &m_used_dangling}) {
      m_fake.add_image(*each, false);
    }
    m_fake.add_container({std::string(64, 'a'), m_web.id, "web:1", "web", true, now - k_hour});
    m_fake.add_container(
        {std::string(64, 'b'), m_used_dangling.id, m_used_dangling.id, "old", false, now - k_hour});
  }

  static FakeImage image(int serial, const std::string& parent, std::vector<FakeLayer> layers,
                         std::vector<std::string> tags, std::int64_t created,
                         std::int64_t stored_at) {
    FakeImage result;
    result.id = hex_id(serial);
    result.parent = parent;
    result.layers = std::move(layers);
    result.tags = std::move(tags);
    result.created = created;
    result.stored_at = stored_at;
    result.packed_bytes = 4096 + serial;
    result.other_platforms_bytes = 1'000'000;
    return result;
  }

  gc::PassReport pass(std::string_view policy_text) {
    auto policy = policy::parse_policy(policy_text, "policy.yaml");
    if (!policy) {
      throw std::runtime_error(policy.error().front().to_string());
    }
    return with_client<gc::PassReport>(
        m_fake.endpoint(), [&](engine::EngineClient& client) -> asio::awaitable<gc::PassReport> {
          auto graph = co_await sync::load_graph(client, graph::ImageGraph{});
          if (!graph) {
            throw std::runtime_error(graph.error().message);
          }
          const gc::PassInput input{*policy, *graph, {}, m_fake.directory()};
          co_return co_await gc::run_pass(client, input);
        });
  }

  bool present(const std::string& id) const {
    const auto images = m_fake.images();
    return std::any_of(images.begin(), images.end(),
                       [&](const FakeImage& image) { return image.id == id; });
  }

  FakeEngine m_fake{containerd_engine()};
  FakeImage m_base, m_step, m_app, m_old_dangling, m_new_dangling, m_web, m_used_dangling;
};

TEST_F(ContainerdStore, a_sync_reads_the_scripted_state) {
  RunningTracker tracker(m_fake.endpoint(), {});
  ASSERT_TRUE(tracker.wait_for([](const sync::GraphTracker& t) { return t.ready(); }));
  EXPECT_EQ(tracker.read([](const sync::GraphTracker& t) { return t.image_store(); }),
            engine::ImageStore::containerd);
  const auto graph = tracker.read([](const sync::GraphTracker& t) { return t.graph(); });
  ASSERT_EQ(graph.image_count(), 7u);
  for (const FakeImage& scripted : m_fake.images()) {
    const graph::Image* image = graph.find_image(scripted.id);
    ASSERT_NE(image, nullptr) << scripted.id;
    EXPECT_EQ(image->parent, scripted.parent) << "the parent label, " << scripted.id;
    EXPECT_EQ(image->tags, scripted.tags);
    EXPECT_EQ(image->created, scripted.created);
    EXPECT_EQ(image->stored_at, std::optional<std::int64_t>(scripted.stored_at));
    const std::vector<graph::Layer> layers = graph.layers(*image);
    ASSERT_EQ(layers.size(), scripted.layers.size());
    for (std::size_t i = 0; i < scripted.layers.size(); ++i) {
      EXPECT_EQ(layers[i].diff_id, scripted.layers[i].diff_id);
      EXPECT_EQ(layers[i].size, scripted.layers[i].size)
          << "the snapshot, not the listing's Size summed over platforms";
    }
  }
  EXPECT_EQ(graph.find_image(m_base.id)->digests, std::vector<std::string>{"alpine@" + m_base.id});
  EXPECT_EQ(graph.state(m_step.id), graph::ImageState::intermediate);
  EXPECT_EQ(graph.state(m_old_dangling.id), graph::ImageState::dangling);
  EXPECT_EQ(graph.state(m_used_dangling.id), graph::ImageState::dangling);
  EXPECT_EQ(graph.dangling_images(),
            (std::vector<std::string>{m_old_dangling.id, m_new_dangling.id, m_used_dangling.id}));
  EXPECT_EQ(graph.layers_bytes(), 5'000'000 + 20'000 + 300 + 70'000 + 80'000 + 900'000 + 60'000);
  EXPECT_EQ(graph.dangling_reclaimable_bytes(), 70'000 + 80'000);
}

TEST_F(ContainerdStore, events_keep_the_graph_equal_to_a_fresh_sync) {
  RunningTracker tracker(m_fake.endpoint(), {});
  ASSERT_TRUE(tracker.wait_for([](const sync::GraphTracker& t) { return t.ready(); }));

  // A rebuild moves app:1 to another image: no untag for the old one, which is left dangling.
  m_fake.tag(m_new_dangling.id, "app:1");
  // Refused while a container runs it, then deleted by tag once the container is gone.
  EXPECT_EQ(m_fake.remove_image("web:1").status, 409);
  m_fake.remove_container(std::string(64, 'a'));
  const auto web_deleted = m_fake.remove_image("web:1");
  EXPECT_EQ(web_deleted.status, 200);
  EXPECT_EQ(web_deleted.deleted, std::vector<std::string>{m_web.id});
  // The old app by its dangling record's name: by ID, and its untagged parent goes with it.
  const auto app_deleted = m_fake.remove_image("moby-dangling@" + m_app.id);
  EXPECT_EQ(app_deleted.deleted, (std::vector<std::string>{m_app.id, m_step.id}));
  // A second name, then the first one goes: an untag keyed by the digest.
  m_fake.tag(m_base.id, "alpine:3.20");
  m_fake.untag("alpine:latest");
  m_fake.add_image(image(8, "", {layer(8, 1234)}, {"new:1"}, unix_now(), 0));

  const graph::ImageGraph expected = fresh_graph(m_fake.endpoint());
  EXPECT_EQ(expected.image_count(), 5u);
  EXPECT_TRUE(tracker.wait_for([&](const sync::GraphTracker& t) {
    return graph::ImageGraph::differences(expected, t.graph()).empty();
  })) << tracker.read([&](const sync::GraphTracker& t) {
    const auto lines = graph::ImageGraph::differences(expected, t.graph());
    return lines.empty() ? std::string() : lines.front();
  });
  EXPECT_EQ(tracker.stats().resync_corrections, 0u);
}

TEST_F(ContainerdStore, a_dangling_rule_deletes_only_images_dangling_long_enough) {
  const auto report = pass(R"(version: 1
mode: enforce
schedule: {interval: 1h}
rules:
  - name: dangling
    select: {state: dangling}
    older_than: 24h
)");
  EXPECT_FALSE(report.execution.stopped_early);
  EXPECT_EQ(report.execution.count(Kind::deleted), 1u);
  EXPECT_FALSE(present(m_old_dangling.id));
  EXPECT_TRUE(present(m_new_dangling.id)) << "dangling for ten minutes, whatever its config says";
  EXPECT_TRUE(present(m_used_dangling.id));
  EXPECT_TRUE(present(m_step.id)) << "an intermediate step, parent by label";
  EXPECT_EQ(m_fake.image_count(), 6u);
  EXPECT_EQ(report.execution.reclaimed_bytes, 70'000);
}

TEST_F(ContainerdStore, an_image_in_use_is_never_deleted) {
  const auto report = pass(R"(version: 1
mode: enforce
schedule: {interval: 1h}
rules:
  - name: everything
    select: {}
)");
  EXPECT_FALSE(report.execution.stopped_early);
  EXPECT_TRUE(present(m_web.id));
  EXPECT_TRUE(present(m_used_dangling.id));
  const auto requests = m_fake.stats().requests_by_path;
  for (const std::string& path :
       std::vector<std::string>{"DELETE /images/" + m_web.id, "DELETE /images/web:1",
                                "DELETE /images/" + m_used_dangling.id}) {
    EXPECT_EQ(requests.count(path), 0u) << path;
  }
  EXPECT_EQ(m_fake.image_count(), 2u) << "everything else went";
}

TEST_F(ContainerdStore, a_re_list_inspects_images_whose_chains_are_remembered) {
  // Even when a remembered chain adds up to the listed size, the listing does not say when the
  // image's records were made: the age the policy needs comes from inspect.
  FakeImage bare = image(9, "", {layer(9, 4321)}, {}, unix_now(), unix_now() - 30 * k_hour);
  bare.packed_bytes = 0;
  bare.other_platforms_bytes = 0;
  m_fake.add_image(bare, false);
  const std::vector<graph::Layer> chain{{bare.layers.front().diff_id, 4321}};
  const auto graph = with_client<graph::ImageGraph>(
      m_fake.endpoint(), [&](engine::EngineClient& client) -> asio::awaitable<graph::ImageGraph> {
        auto loaded = co_await sync::load_graph(
            client, graph::ImageGraph{},
            [&](std::string_view id) -> std::optional<std::vector<graph::Layer>> {
              if (id == bare.id) {
                return chain;
              }
              return std::nullopt;
            });
        if (!loaded) {
          throw std::runtime_error(loaded.error().message);
        }
        co_return std::move(*loaded);
      });
  const graph::Image* read = graph.find_image(bare.id);
  ASSERT_NE(read, nullptr);
  EXPECT_EQ(read->stored_at, std::optional<std::int64_t>(bare.stored_at));
}

TEST_F(ContainerdStore, the_fake_deletes_as_the_containerd_store_does) {
  m_fake.tag(m_base.id, "alpine:3.20");
  // One of two names: only untagged.
  const auto one_name = m_fake.remove_image("alpine:3.20");
  EXPECT_EQ(one_name.untagged, std::vector<std::string>{"alpine:3.20"});
  EXPECT_TRUE(one_name.deleted.empty());
  m_fake.tag(m_base.id, "alpine:3.20");
  // By ID with two names: refused.
  EXPECT_EQ(m_fake.remove_image(m_base.id).status, 409);
  // A name that is no image, and a dangling-record name of a tagged image.
  EXPECT_EQ(m_fake.remove_image("nothing:here").status, 404);
  EXPECT_EQ(m_fake.remove_image("moby-dangling@" + m_base.id).status, 404);
}

// The containerd store of Engines 24 and 25 listed an image once per record, that is per tag:
// the re-list makes one image of them, with every tag, and reads it once.
TEST(ContainerdStoreListing, an_image_listed_once_per_tag_is_one_image_with_all_its_tags) {
  FakeEngineOptions options;
  options.containerd_store = true;
  options.list_per_tag = true;
  FakeEngine fake(options);
  fake.add_synthetic_images(60, 31);
  const std::vector<FakeImage> images = fake.images();
  ASSERT_TRUE(std::any_of(images.begin(), images.end(), [](const FakeImage& image) {
    return image.tags.size() > 1;
  })) << "the listing has no image twice";
  const graph::ImageGraph graph = fresh_graph(fake.endpoint());
  ASSERT_EQ(graph.image_count(), images.size());
  for (const FakeImage& image : images) {
    const graph::Image* found = graph.find_image(image.id);
    ASSERT_NE(found, nullptr) << image.id;
    std::vector<std::string> tags = image.tags;
    std::sort(tags.begin(), tags.end());
    EXPECT_EQ(found->tags, tags) << image.id;
  }
  std::uint64_t inspects = 0;
  for (const auto& [path, times] : fake.stats().requests_by_path) {
    if (path.starts_with("GET /images/sha256:") && path.ends_with("/json")) {
      inspects += times;
    }
  }
  EXPECT_EQ(inspects, images.size());
}

} // namespace
} // namespace imagegc::test
