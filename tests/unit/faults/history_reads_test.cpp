// A cold load reads an image's history only when the chains of the images around it and its Size
// do not settle its layer sizes (sync::ChainSizes), and gets the same sizes either way.

#include <gtest/gtest.h>

#include "support/engine_call.hpp"
#include "support/fake_engine.hpp"

namespace imagegc::test {
namespace {

std::string hex_id(char digit) {
  return "sha256:" + std::string(64, digit);
}

FakeImage image(char digit, const FakeImage* parent, std::vector<FakeLayer> own_layers,
                std::vector<std::string> tags) {
  FakeImage made;
  made.id = hex_id(digit);
  if (parent != nullptr) {
    made.parent = parent->id;
    made.layers = parent->layers;
  }
  made.layers.insert(made.layers.end(), own_layers.begin(), own_layers.end());
  made.tags = std::move(tags);
  made.created = 1'700'000'000;
  return made;
}

// base:1 (one layer) ← untagged step (one layer more) ← app:1 (two layers more); tool:1 has its
// own layer on base's, without a parent link, as a pull of an image on the same base has.
std::vector<FakeImage> host() {
  const FakeImage base = image('1', nullptr, {{hex_id('a'), 1000}}, {"base:1"});
  const FakeImage step = image('2', &base, {{hex_id('b'), 200}}, {});
  const FakeImage app = image('3', &step, {{hex_id('c'), 30}, {hex_id('d'), 4}}, {"app:1"});
  FakeImage tool = image('4', &base, {{hex_id('e'), 5}}, {"tool:1"});
  tool.parent.clear();
  return {base, step, app, tool};
}

std::uint64_t history_reads(const FakeEngine& fake) {
  std::uint64_t count = 0;
  for (const auto& [path, times] : fake.stats().requests_by_path) {
    if (path.ends_with("/history")) {
      count += times;
    }
  }
  return count;
}

void expect_scripted_layers(const graph::ImageGraph& graph, const std::vector<FakeImage>& images) {
  for (const FakeImage& scripted : images) {
    const graph::Image* loaded = graph.find_image(scripted.id);
    ASSERT_NE(loaded, nullptr) << scripted.id;
    const std::vector<graph::Layer> layers = graph.layers(*loaded);
    ASSERT_EQ(layers.size(), scripted.layers.size()) << scripted.id;
    for (std::size_t i = 0; i < scripted.layers.size(); ++i) {
      EXPECT_EQ(layers[i].diff_id.text(), scripted.layers[i].diff_id);
      EXPECT_EQ(layers[i].size, scripted.layers[i].size) << scripted.id << " layer " << i;
    }
  }
}

TEST(HistoryReads, only_an_image_with_two_unknown_layers_needs_its_history) {
  FakeEngine fake;
  const std::vector<FakeImage> images = host();
  for (const FakeImage& each : images) {
    fake.add_image(each, false);
  }
  const graph::ImageGraph graph = fresh_graph(fake.endpoint());
  expect_scripted_layers(graph, images);
  EXPECT_EQ(history_reads(fake), 1u);
  EXPECT_EQ(fake.stats().requests_by_path.count("GET /images/" + images[2].id + "/history"), 1u);
  EXPECT_EQ(graph.layers_bytes(), 1000 + 200 + 30 + 4 + 5);
}

// app:1 needs its history; the two steps of a legacy build on it (each one layer above the
// image before it) are settled by the chain that history gives, and so is a pull of an image
// one layer above app:1 without a parent link. One with two layers of its own is read.
TEST(HistoryReads, images_one_layer_above_a_read_image_wait_for_its_history) {
  FakeEngine fake;
  std::vector<FakeImage> images = host();
  const FakeImage app = images[2];
  const FakeImage step = image('5', &app, {{hex_id('f'), 60}}, {});
  const FakeImage child = image('6', &step, {{hex_id('g'), 7}}, {"app-child:1"});
  FakeImage pulled = image('7', &app, {{hex_id('h'), 80}}, {"pulled:1"});
  pulled.parent.clear();
  const FakeImage wide = image('8', &app, {{hex_id('i'), 9}, {hex_id('j'), 10}}, {"wide:1"});
  for (const FakeImage& each : {step, child, pulled, wide}) {
    images.push_back(each);
  }
  for (const FakeImage& each : images) {
    fake.add_image(each, false);
  }
  const graph::ImageGraph graph = fresh_graph(fake.endpoint());
  expect_scripted_layers(graph, images);
  EXPECT_EQ(history_reads(fake), 2u);
  EXPECT_EQ(fake.stats().requests_by_path.count("GET /images/" + app.id + "/history"), 1u);
  EXPECT_EQ(fake.stats().requests_by_path.count("GET /images/" + wide.id + "/history"), 1u);
}

TEST(HistoryReads, the_containerd_store_reads_every_history) {
  FakeEngineOptions options;
  options.containerd_store = true;
  FakeEngine fake(options);
  const std::vector<FakeImage> images = host();
  for (const FakeImage& each : images) {
    fake.add_image(each, false);
  }
  const graph::ImageGraph graph = fresh_graph(fake.endpoint());
  expect_scripted_layers(graph, images);
  EXPECT_EQ(history_reads(fake), images.size());
}

} // namespace
} // namespace imagegc::test
