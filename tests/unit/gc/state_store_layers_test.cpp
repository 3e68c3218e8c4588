// The layer chains the state store keeps so that a restart need not inspect known images.

#include <array>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <sqlite3.h>

#include "gc/state_store.hpp"
#include "support/test_directory.hpp"

namespace imagegc::gc {
namespace {

std::string hex_id(int n) {
  std::string hex = std::to_string(n);
  return "sha256:" + std::string(64 - hex.size(), 'a') + hex;
}

graph::ImageWithLayers image_with_layers(int n, std::size_t layer_count) {
  graph::ImageWithLayers image;
  image.id = hex_id(n);
  for (std::size_t i = 0; i < layer_count; ++i) {
    image.layers.push_back(
        {hex_id(1000 * n + static_cast<int>(i)), static_cast<std::int64_t>(i) * 4096 + n});
  }
  return image;
}

// Records the chains of `images` the way the daemon does: as images of a graph.
void record(StateStore& store, const std::vector<const graph::ImageWithLayers*>& images) {
  graph::ImageGraph graph;
  for (const graph::ImageWithLayers* image : images) {
    graph.upsert_image(*image);
  }
  std::vector<const graph::Image*> in_graph;
  in_graph.reserve(images.size());
  for (const graph::ImageWithLayers* image : images) {
    in_graph.push_back(graph.find_image(image->id));
  }
  store.record_layers(graph, in_graph);
}

std::unique_ptr<StateStore> open_store(const test::TestDirectory& dir,
                                       StateStoreOpenReport& report) {
  return StateStore::open(dir.path().string(), report);
}

std::unique_ptr<StateStore> open_store(const test::TestDirectory& dir) {
  StateStoreOpenReport report;
  auto store = open_store(dir, report);
  EXPECT_TRUE(report.persistent);
  EXPECT_FALSE(report.set_aside_path.has_value());
  return store;
}

// Runs SQL on the state file the way another program (or an older imagegc) would.
void run_sql(const test::TestDirectory& dir, const std::string& sql) {
  sqlite3* database = nullptr;
  ASSERT_EQ(sqlite3_open((dir.path() / "state.db").string().c_str(), &database), SQLITE_OK);
  char* error = nullptr;
  const int rc = sqlite3_exec(database, sql.c_str(), nullptr, nullptr, &error);
  const std::string message = error != nullptr ? error : "";
  sqlite3_free(error);
  sqlite3_close(database);
  ASSERT_EQ(rc, SQLITE_OK) << message;
}

TEST(StateStoreLayers, chains_survive_a_restart) {
  test::TestDirectory dir("imagegc-layers");
  const graph::ImageWithLayers first = image_with_layers(1, 12);
  graph::ImageWithLayers odd = image_with_layers(2, 2);
  odd.layers.push_back({"sha512:not-the-usual-digest", 0}); // kept as text
  odd.layers.push_back({"sha256:ABCDEF", 7});               // upper case: kept as text too
  {
    auto store = open_store(dir);
    record(*store, {&first, &odd});
    EXPECT_TRUE(store->has_layers(first.id));
    EXPECT_EQ(store->layer_records(), 2u);
  }
  auto store = open_store(dir);
  EXPECT_EQ(store->layer_records(), 2u);
  EXPECT_EQ(store->layers(first.id), first.layers);
  EXPECT_EQ(store->layers(odd.id), odd.layers);
  EXPECT_EQ(store->layers(hex_id(3)), std::nullopt);
}

TEST(StateStoreLayers, loaded_chains_are_handed_over_like_the_ones_read_one_by_one) {
  test::TestDirectory dir("imagegc-layers");
  const graph::ImageWithLayers first = image_with_layers(1, 12);
  const graph::ImageWithLayers second = image_with_layers(2, 3);
  {
    auto store = open_store(dir);
    record(*store, {&first, &second});
  }
  auto store = open_store(dir);
  store->load_layers();
  EXPECT_EQ(store->layers(first.id), first.layers);
  EXPECT_EQ(store->layers(first.id), first.layers) << "asked again: read by itself";
  store->forget(second.id);
  EXPECT_EQ(store->layers(second.id), std::nullopt) << "forgotten after it was loaded";
  store->release_loaded_layers();
  EXPECT_EQ(store->layers(first.id), first.layers);
  EXPECT_EQ(store->layers(hex_id(3)), std::nullopt);
}

TEST(StateStoreLayers, an_image_already_recorded_is_not_written_again) {
  test::TestDirectory dir("imagegc-layers");
  auto store = open_store(dir);
  const graph::ImageWithLayers image = image_with_layers(1, 3);
  record(*store, {&image});
  // Same ID, other layers: an ID's layers never change, so this is not a correction.
  const graph::ImageWithLayers impostor = [&] {
    graph::ImageWithLayers changed = image_with_layers(2, 1);
    changed.id = image.id;
    return changed;
  }();
  record(*store, {&impostor});
  EXPECT_EQ(store->layers(image.id), image.layers);
}

TEST(StateStoreLayers, forget_and_retain_only_drop_chains) {
  test::TestDirectory dir("imagegc-layers");
  const graph::ImageWithLayers one = image_with_layers(1, 2);
  const graph::ImageWithLayers two = image_with_layers(2, 2);
  const graph::ImageWithLayers three = image_with_layers(3, 2);
  {
    auto store = open_store(dir);
    record(*store, {&one, &two, &three});
    store->forget(one.id);
    store->retain_only({three.id});
    EXPECT_FALSE(store->has_layers(one.id));
    EXPECT_FALSE(store->has_layers(two.id));
  }
  auto store = open_store(dir);
  EXPECT_EQ(store->layer_records(), 1u);
  EXPECT_EQ(store->layers(one.id), std::nullopt);
  EXPECT_EQ(store->layers(two.id), std::nullopt);
  EXPECT_EQ(store->layers(three.id), three.layers);
}

TEST(StateStoreLayers, a_record_that_does_not_decode_is_not_trusted) {
  test::TestDirectory dir("imagegc-layers");
  const graph::ImageWithLayers image = image_with_layers(1, 2);
  {
    auto store = open_store(dir);
    record(*store, {&image});
  }
  const std::array<std::string, 5> bad_blobs = {"X''",               // empty
                                                "X'02'",             // unknown format
                                                "X'0101'",           // a digest cut short
                                                "X'01020500616263'", // text shorter than its length
                                                "X'0102010061FFFFFFFFFFFFFFFF'"}; // a negative size
  for (const std::string& blob : bad_blobs) {
    run_sql(dir, "UPDATE image_layers SET layers = " + blob);
    auto store = open_store(dir);
    EXPECT_EQ(store->layers(image.id), std::nullopt) << blob;
  }
}

TEST(StateStoreLayers, a_version_1_database_is_migrated_and_keeps_its_records) {
  test::TestDirectory dir("imagegc-layers");
  const std::string id = hex_id(1);
  run_sql(dir, "CREATE TABLE images (id TEXT PRIMARY KEY NOT NULL, last_used INTEGER NOT NULL) "
               "WITHOUT ROWID;"
               "CREATE TABLE meta (key TEXT PRIMARY KEY NOT NULL, value TEXT NOT NULL) "
               "WITHOUT ROWID;"
               "INSERT INTO images VALUES ('" +
                   id +
                   "', 1234);"
                   "PRAGMA user_version = 1;");
  {
    auto store = open_store(dir);
    EXPECT_EQ(store->last_used(id), 1234);
    EXPECT_EQ(store->layer_records(), 0u);
    const graph::ImageWithLayers image = image_with_layers(1, 4);
    record(*store, {&image});
  }
  auto store = open_store(dir);
  EXPECT_EQ(store->last_used(id), 1234);
  EXPECT_EQ(store->layers(id), image_with_layers(1, 4).layers);
}

TEST(StateStoreLayers, a_newer_database_is_set_aside_and_its_chains_unused) {
  test::TestDirectory dir("imagegc-layers");
  const graph::ImageWithLayers image = image_with_layers(1, 2);
  {
    auto store = open_store(dir);
    record(*store, {&image});
  }
  run_sql(dir, "PRAGMA user_version = " + std::to_string(StateStore::k_schema_version + 1));
  StateStoreOpenReport report;
  auto store = open_store(dir, report);
  ASSERT_TRUE(report.set_aside_path.has_value());
  EXPECT_EQ(store->layer_records(), 0u);
  EXPECT_EQ(store->layers(image.id), std::nullopt);
}

TEST(StateStoreLayers, a_corrupt_database_is_set_aside_and_its_chains_unused) {
  test::TestDirectory dir("imagegc-layers");
  const graph::ImageWithLayers image = image_with_layers(1, 2);
  {
    auto store = open_store(dir);
    record(*store, {&image});
  }
  std::ofstream(dir.path() / "state.db", std::ios::binary | std::ios::trunc)
      << "SQLite format 3" << std::string(200, '\x7f');
  StateStoreOpenReport report;
  auto store = open_store(dir, report);
  ASSERT_TRUE(report.set_aside_path.has_value());
  EXPECT_EQ(store->layers(image.id), std::nullopt);
}

TEST(StateStoreLayers, seed_uses_seeds_only_images_without_a_time) {
  test::TestDirectory dir("imagegc-layers");
  {
    auto store = open_store(dir);
    store->record_use(hex_id(1), 500);
    const std::string one = hex_id(1);
    const std::string two = hex_id(2);
    store->seed_uses({{one, 100}, {two, 200}});
    EXPECT_EQ(store->last_used(one), 500);
    EXPECT_EQ(store->last_used(two), 200);
  }
  // Only the real use was written.
  auto store = open_store(dir);
  EXPECT_EQ(store->last_used(hex_id(1)), 500);
  EXPECT_EQ(store->last_used(hex_id(2)), std::nullopt);
}

// What the daemon does after every full sync.
TEST(StateStoreLayers, reconcile_seeds_drops_the_gone_and_names_images_without_chains) {
  test::TestDirectory dir("imagegc-layers");
  const graph::ImageWithLayers one = image_with_layers(1, 2);
  const graph::ImageWithLayers two = image_with_layers(2, 2);
  const graph::ImageWithLayers gone = image_with_layers(3, 2);
  const std::string fresh = hex_id(4);
  {
    auto store = open_store(dir);
    record(*store, {&one, &two, &gone});
    store->record_use(one.id, 500);
    store->record_use(gone.id, 600);
    // Nothing gone and every chain known: nothing to record, nothing dropped.
    EXPECT_TRUE(store->reconcile({{one.id, 100}, {two.id, 200}, {gone.id, 300}}).empty());
    EXPECT_EQ(store->last_used(one.id), 500);
    EXPECT_EQ(store->last_used(two.id), 200);
    EXPECT_EQ(store->layer_records(), 3u);

    const std::vector<std::string_view> without = store->reconcile({{one.id, 100}, {fresh, 400}});
    EXPECT_EQ(without, std::vector<std::string_view>{fresh});
    EXPECT_EQ(store->last_used(fresh), 400);
    EXPECT_EQ(store->last_used(two.id), std::nullopt);
    EXPECT_EQ(store->last_used(gone.id), std::nullopt);
    EXPECT_FALSE(store->has_layers(gone.id));
  }
  auto store = open_store(dir);
  EXPECT_EQ(store->size(), 1u); // the seed of `fresh` was not written
  EXPECT_EQ(store->last_used(one.id), 500);
  EXPECT_EQ(store->layer_records(), 1u);
  EXPECT_EQ(store->layers(one.id), one.layers);
}

// A chain that is gone while every last use is still there (and the other way round) is dropped.
TEST(StateStoreLayers, reconcile_drops_records_of_either_kind_alone) {
  test::TestDirectory dir("imagegc-layers");
  const graph::ImageWithLayers one = image_with_layers(1, 2);
  const graph::ImageWithLayers two = image_with_layers(2, 2);
  auto store = open_store(dir);
  record(*store, {&one, &two});
  // two's chain is recorded but it has no last use yet, and the live list names only one.
  EXPECT_TRUE(store->reconcile({{one.id, 100}}).empty());
  EXPECT_FALSE(store->has_layers(two.id));
  EXPECT_EQ(store->layer_records(), 1u);
  // A last use without a chain, for an image that is gone.
  store->record_use(hex_id(9), 50);
  EXPECT_TRUE(store->reconcile({{one.id, 100}}).empty());
  EXPECT_EQ(store->last_used(hex_id(9)), std::nullopt);
  EXPECT_EQ(store->size(), 1u);
}

TEST(StateStoreLayers, an_in_memory_store_keeps_no_chains) {
  auto store = StateStore::in_memory();
  const graph::ImageWithLayers image = image_with_layers(1, 2);
  record(*store, {&image});
  EXPECT_FALSE(store->has_layers(image.id));
  EXPECT_EQ(store->layers(image.id), std::nullopt);
}

} // namespace
} // namespace imagegc::gc
