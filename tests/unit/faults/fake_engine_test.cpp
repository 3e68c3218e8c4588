// The fake engine answers as dockerd does: moby's delete rules, the list and history shapes
// imagegc's client reads, the events a change sends, and faults on delete.

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <set>

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
using Clock = std::chrono::steady_clock;

std::string id_of(int serial) {
  char hex[65];
  std::snprintf(hex, sizeof hex, "%064x", serial);
  return std::string("sha256:") + hex;
}

FakeImage image(int serial, const FakeImage* parent, std::vector<std::string> tags) {
  FakeImage made;
  made.id = id_of(serial);
  if (parent != nullptr) {
    made.parent = parent->id;
    made.layers = parent->layers;
  }
  made.layers.push_back({id_of(serial + 0x10000), std::int64_t{1000} * serial});
  made.tags = std::move(tags);
  made.created = 1'700'000'000 + serial;
  return made;
}

// base:1 ← (untagged) mid ← app:1 app:2 ; other:1 used by a stopped container.
class FakeDeletes : public ::testing::Test {
protected:
  void SetUp() override {
    m_base = image(1, nullptr, {"base:1"});
    m_mid = image(2, &m_base, {});
    m_app = image(3, &m_mid, {"app:1", "app:2"});
    m_other = image(4, nullptr, {"other:1"});
    for (const auto* each : {&m_base, &m_mid, &m_app, &m_other}) {
      m_fake.add_image(*each);
    }
    FakeContainer container;
    container.id = std::string(64, 'c');
    container.image_id = m_other.id;
    container.image = "other:1";
    m_fake.add_container(container);
  }

  engine::DeleteOutcome remove(const std::string& name) {
    auto result = with_client<engine::Result<engine::DeleteOutcome>>(
        m_fake.endpoint(), [&](engine::EngineClient& client) { return client.delete_image(name); });
    if (!result) {
      throw std::runtime_error(result.error().message);
    }
    return *result;
  }

  FakeEngine m_fake;
  FakeImage m_base;
  FakeImage m_mid;
  FakeImage m_app;
  FakeImage m_other;
};

TEST_F(FakeDeletes, one_of_several_tags_is_only_untagged) {
  const auto outcome = remove("app:1");
  EXPECT_EQ(outcome.kind, engine::DeleteOutcome::Kind::deleted);
  EXPECT_EQ(outcome.response.untagged, std::vector<std::string>{"app:1"});
  EXPECT_TRUE(outcome.response.deleted.empty());
  EXPECT_EQ(m_fake.image_count(), 4u);
}

TEST_F(FakeDeletes, the_last_tag_deletes_the_image_and_its_untagged_parents) {
  remove("app:1");
  const auto outcome = remove("app:2");
  EXPECT_EQ(outcome.kind, engine::DeleteOutcome::Kind::deleted);
  // The untagged parent goes with its last child; the tagged base stays.
  EXPECT_EQ(outcome.response.deleted, (std::vector<std::string>{m_app.id, m_mid.id}));
  EXPECT_EQ(m_fake.image_count(), 2u);
}

TEST_F(FakeDeletes, an_id_with_tags_in_several_repositories_conflicts) {
  m_fake.tag(m_app.id, "elsewhere:1");
  const auto outcome = remove(m_app.id);
  EXPECT_EQ(outcome.kind, engine::DeleteOutcome::Kind::conflict);
  EXPECT_NE(outcome.message.find("referenced in multiple repositories"), std::string::npos)
      << outcome.message;
}

TEST_F(FakeDeletes, a_parent_with_children_conflicts) {
  const auto outcome = remove(m_base.id);
  EXPECT_EQ(outcome.kind, engine::DeleteOutcome::Kind::conflict);
  EXPECT_NE(outcome.message.find("dependent child images"), std::string::npos) << outcome.message;
}

TEST_F(FakeDeletes, an_image_a_container_uses_conflicts_by_tag_and_by_id) {
  auto outcome = remove("other:1");
  EXPECT_EQ(outcome.kind, engine::DeleteOutcome::Kind::conflict);
  EXPECT_NE(outcome.message.find("container cccccccccccc is using"), std::string::npos)
      << outcome.message;
  outcome = remove(m_other.id);
  EXPECT_EQ(outcome.kind, engine::DeleteOutcome::Kind::conflict);
  EXPECT_NE(outcome.message.find("stopped container"), std::string::npos) << outcome.message;
  m_fake.remove_container(std::string(64, 'c'));
  outcome = remove(m_other.id);
  EXPECT_EQ(outcome.kind, engine::DeleteOutcome::Kind::deleted);
  EXPECT_EQ(outcome.response.untagged, std::vector<std::string>{"other:1"});
  EXPECT_EQ(outcome.response.deleted, std::vector<std::string>{m_other.id});
}

TEST_F(FakeDeletes, unknown_names_are_not_found) {
  EXPECT_EQ(remove("nothing:here").kind, engine::DeleteOutcome::Kind::not_found);
  EXPECT_EQ(remove(id_of(999)).kind, engine::DeleteOutcome::Kind::not_found);
}

TEST_F(FakeDeletes, injected_409_and_404_reach_the_client_as_outcomes) {
  FaultPlan plan;
  plan.requests.push_back(status_fault("DELETE", "/images/", 409, 1));
  plan.requests.push_back(status_fault("DELETE", "/images/", 404, 1));
  m_fake.set_faults(plan);
  EXPECT_EQ(remove("app:1").kind, engine::DeleteOutcome::Kind::conflict);
  EXPECT_EQ(remove("app:1").kind, engine::DeleteOutcome::Kind::not_found);
  EXPECT_EQ(remove("app:1").kind, engine::DeleteOutcome::Kind::deleted);
  EXPECT_EQ(m_fake.image_count(), 4u);
}

TEST(FakeEngineState, a_synced_graph_classifies_as_scripted) {
  FakeEngine fake;
  const FakeImage base = image(1, nullptr, {"base:1"});
  const FakeImage mid = image(2, &base, {});
  const FakeImage leaf = image(3, &mid, {"leaf:1"});
  const FakeImage dangling = image(4, &base, {});
  for (const auto* each : {&base, &mid, &leaf, &dangling}) {
    fake.add_image(*each);
  }
  const auto graph = with_client<graph::ImageGraph>(
      fake.endpoint(), [](engine::EngineClient& client) -> asio::awaitable<graph::ImageGraph> {
        auto loaded = co_await sync::load_graph(client, graph::ImageGraph{});
        if (!loaded) {
          throw std::runtime_error(loaded.error().message);
        }
        co_return std::move(*loaded);
      });
  ASSERT_EQ(graph.image_count(), 4u);
  // The engine's own dangling filter agrees with the graph.
  const auto dangling_list = with_client<engine::Result<std::vector<engine::ImageSummary>>>(
      fake.endpoint(), [](engine::EngineClient& client) {
        return client.list_images(engine::ImageListFilter::dangling_only);
      });
  ASSERT_TRUE(dangling_list);
  ASSERT_EQ(dangling_list->size(), 1u);
  EXPECT_EQ(dangling_list->front().id, dangling.id);
  EXPECT_EQ(graph.dangling_images(), std::vector<std::string>{dangling.id});
  EXPECT_EQ(graph.state(mid.id), graph::ImageState::intermediate);
  EXPECT_EQ(graph.state(dangling.id), graph::ImageState::dangling);
  EXPECT_EQ(graph.state(leaf.id), graph::ImageState::tagged);
  // Layer sizes come back from the history as scripted.
  const auto* read_leaf = graph.find_image(leaf.id);
  ASSERT_NE(read_leaf, nullptr);
  ASSERT_EQ(graph.layers(*read_leaf).size(), 3u);
  EXPECT_EQ(graph.layers(*read_leaf)[2].size, 3000);
  EXPECT_EQ(read_leaf->parent, mid.id);
  // LayersSize counts each chain once: base, mid, leaf and dangling's own layer.
  const auto usage = with_client<engine::Result<engine::DiskUsage>>(
      fake.endpoint(), [](engine::EngineClient& client) { return client.disk_usage(); });
  ASSERT_TRUE(usage);
  EXPECT_EQ(usage->layers_size, 1000 + 2000 + 3000 + 4000);
  EXPECT_EQ(graph.layers_bytes(), usage->layers_size);
}

TEST(FakeEngineState, build_cache_usage_asks_for_the_build_cache_alone_where_the_api_can) {
  for (const engine::ApiVersion api : {engine::ApiVersion{1, 41}, engine::ApiVersion{1, 44}}) {
    FakeEngineOptions options;
    options.api_version = api;
    FakeEngine fake(options);
    fake.add_image(image(1, nullptr, {"base:1"}));
    const auto usage = with_client<engine::Result<engine::DiskUsage>>(
        fake.endpoint(), [](engine::EngineClient& client) { return client.build_cache_usage(); });
    ASSERT_TRUE(usage) << usage.error().message;
    // 1.41 has no `type` filter: the engine sizes (and sends) every image and the layers too,
    // of which only LayersSize is read.
    const std::int64_t layers_sized = api < engine::ApiVersion{1, 42} ? 1000 : 0;
    EXPECT_EQ(usage->layers_size, layers_sized) << api.to_string();
    EXPECT_EQ(usage->images.size(), 0u) << api.to_string();
  }
}

TEST(FakeEngineState, synthetic_images_have_the_requested_shape) {
  FakeEngine fake;
  const auto ids = fake.add_synthetic_images(2000, 42);
  ASSERT_EQ(ids.size(), 2000u);
  EXPECT_EQ(std::set<std::string>(ids.begin(), ids.end()).size(), 2000u);
  std::size_t untagged = 0;
  std::size_t with_parent = 0;
  std::set<std::string> base_layers;
  for (const auto& each : fake.images()) {
    EXPECT_GE(each.layers.size(), 5u);
    EXPECT_LE(each.layers.size(), 15u);
    EXPECT_LE(each.tags.size(), 3u);
    untagged += each.tags.empty() ? 1 : 0;
    with_parent += each.parent.empty() ? 0 : 1;
    base_layers.insert(each.layers.front().diff_id);
  }
  EXPECT_NEAR(static_cast<double>(untagged) / 2000, 0.10, 0.03);
  EXPECT_GT(with_parent, 400u);
  EXPECT_LT(base_layers.size(), 20u) << "base layers are shared";
  // Same seed, same state.
  FakeEngine again;
  EXPECT_EQ(again.add_synthetic_images(2000, 42), ids);
}

// 10k images by default; IMAGEGC_FAKE_ENGINE_IMAGES=100000 for the benchmark's size.
TEST(FakeEngineState, a_large_state_is_served_quickly) {
  const char* configured = std::getenv("IMAGEGC_FAKE_ENGINE_IMAGES");
  const std::size_t count = configured != nullptr ? std::stoul(configured) : 10'000;
  FakeEngine fake;
  auto started = Clock::now();
  fake.add_synthetic_images(count, 7);
  const auto generated = Clock::now() - started;
  const auto list = [&] {
    return with_client<engine::Result<std::vector<engine::ImageSummary>>>(
        fake.endpoint(), [](engine::EngineClient& client) { return client.list_images(); });
  };
  started = Clock::now();
  const auto listed = list();
  const auto first = Clock::now() - started;
  started = Clock::now();
  const auto again = list();
  const auto cached = Clock::now() - started;
  ASSERT_TRUE(listed);
  ASSERT_TRUE(again);
  EXPECT_EQ(listed->size(), count);
  const auto ms = [](Clock::duration duration) {
    return static_cast<long long>(
        std::chrono::duration_cast<std::chrono::milliseconds>(duration).count());
  };
  std::printf("%zu images: generated in %lld ms, listed in %lld ms (again %lld ms)\n", count,
              ms(generated), ms(first), ms(cached));
  EXPECT_LT(first, std::chrono::seconds(30));
}

} // namespace
} // namespace imagegc::test
