#include <algorithm>
#include <array>
#include <csignal>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <sys/resource.h>

#include "gc/state_store.hpp"

namespace imagegc::gc {
namespace {

namespace fs = std::filesystem;

// A directory of its own for every test, removed afterwards.
class TempDir {
public:
  TempDir() {
    const auto* test = ::testing::UnitTest::GetInstance()->current_test_info();
    std::random_device random;
    m_path = fs::temp_directory_path() /
             ("imagegc-state-" + std::string(test->name()) + "-" + std::to_string(random()));
    fs::create_directories(m_path);
  }
  ~TempDir() {
    std::error_code ignored;
    fs::remove_all(m_path, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  [[nodiscard]] const fs::path& path() const { return m_path; }
  [[nodiscard]] fs::path db() const { return m_path / "state.db"; }
  [[nodiscard]] std::string dir() const { return m_path.string(); }

private:
  fs::path m_path;
};

std::string image_id(int n) {
  std::string hex = std::to_string(n);
  return "sha256:" + std::string(64 - hex.size(), '0') + hex;
}

std::unique_ptr<StateStore> open_store(const TempDir& dir, StateStoreOpenReport& report) {
  auto store = StateStore::open(dir.dir(), report);
  EXPECT_NE(store, nullptr);
  return store;
}

std::unique_ptr<StateStore> open_store(const TempDir& dir) {
  StateStoreOpenReport report;
  auto store = open_store(dir, report);
  EXPECT_TRUE(report.persistent);
  EXPECT_TRUE(report.warnings.empty()) << report.warnings.front();
  EXPECT_FALSE(report.set_aside_path.has_value());
  return store;
}

std::vector<unsigned char> read_bytes(const fs::path& file, std::size_t count) {
  std::ifstream in(file, std::ios::binary);
  std::vector<char> bytes(count);
  in.read(bytes.data(), static_cast<std::streamsize>(count));
  return {bytes.begin(), bytes.begin() + in.gcount()};
}

void write_file(const fs::path& file, const std::string& content) {
  std::ofstream out(file, std::ios::binary | std::ios::trunc);
  out << content;
}

std::string random_bytes(std::size_t count) {
  std::mt19937 random(42);
  std::string bytes(count, '\0');
  for (auto& byte : bytes) {
    byte = static_cast<char>(random() & 0xff);
  }
  return bytes;
}

bool contains(const std::vector<std::string>& warnings, const std::string& text) {
  return std::ranges::any_of(warnings, [&](const std::string& warning) {
    return warning.find(text) != std::string::npos;
  });
}

TEST(StateStore, records_survive_a_restart) {
  TempDir dir;
  {
    auto store = open_store(dir);
    EXPECT_TRUE(store->persistent());
    EXPECT_EQ(store->size(), 0U);
    store->record_use(image_id(1), 1000);
    store->record_use(image_id(2), 2000);
    store->seed_use(image_id(3), 3000);
    EXPECT_EQ(store->last_used(image_id(3)), 3000);
    store->set_meta("seeded", "1");
    store->set_meta("empty", "");
  }
  auto store = open_store(dir);
  EXPECT_EQ(store->size(), 2U);
  EXPECT_EQ(store->last_used(image_id(1)), 1000);
  EXPECT_EQ(store->last_used(image_id(2)), 2000);
  // A seed is a guess made again at every start, never written.
  EXPECT_EQ(store->last_used(image_id(3)), std::nullopt);
  EXPECT_EQ(store->last_used(image_id(4)), std::nullopt);
  EXPECT_EQ(store->meta("seeded"), "1");
  EXPECT_EQ(store->meta("empty"), "");
  EXPECT_EQ(store->meta("missing"), std::nullopt);
  EXPECT_EQ(store->write_failures(), 0U);
}

TEST(StateStore, a_use_only_moves_the_time_forward) {
  TempDir dir;
  {
    auto store = open_store(dir);
    store->record_use(image_id(1), 100);
    store->record_use(image_id(1), 50);
    EXPECT_EQ(store->last_used(image_id(1)), 100);
    store->record_use(image_id(1), 200);
    EXPECT_EQ(store->last_used(image_id(1)), 200);
    store->record_use(image_id(1), 150);
  }
  auto store = open_store(dir);
  EXPECT_EQ(store->last_used(image_id(1)), 200);
}

TEST(StateStore, a_seed_never_overrides_a_recorded_time) {
  TempDir dir;
  {
    auto store = open_store(dir);
    store->record_use(image_id(1), 100);
    store->seed_use(image_id(1), 500);
    store->seed_use(image_id(2), 300);
    store->seed_use(image_id(2), 400);
    EXPECT_EQ(store->last_used(image_id(1)), 100);
    EXPECT_EQ(store->last_used(image_id(2)), 300);
    // A real use after the seed still moves it forward.
    store->record_use(image_id(2), 350);
  }
  auto store = open_store(dir);
  EXPECT_EQ(store->last_used(image_id(1)), 100);
  EXPECT_EQ(store->last_used(image_id(2)), 350);
}

// A real use older than the seed is not written either: the seed stands for it, and the daemon
// seeds the same time again after a restart.
TEST(StateStore, a_use_older_than_the_seed_changes_nothing) {
  TempDir dir;
  {
    auto store = open_store(dir);
    store->seed_use(image_id(1), 500);
    store->record_use(image_id(1), 100);
    EXPECT_EQ(store->last_used(image_id(1)), 500);
  }
  auto store = open_store(dir);
  EXPECT_EQ(store->last_used(image_id(1)), std::nullopt);
  store->seed_use(image_id(1), 500);
  EXPECT_EQ(store->last_used(image_id(1)), 500);
}

TEST(StateStore, forget_removes_the_record) {
  TempDir dir;
  {
    auto store = open_store(dir);
    store->record_use(image_id(1), 100);
    store->record_use(image_id(2), 200);
    store->forget(image_id(1));
    store->forget(image_id(9));
    EXPECT_EQ(store->last_used(image_id(1)), std::nullopt);
    EXPECT_EQ(store->size(), 1U);
  }
  auto store = open_store(dir);
  EXPECT_EQ(store->last_used(image_id(1)), std::nullopt);
  EXPECT_EQ(store->last_used(image_id(2)), 200);
}

TEST(StateStore, retain_only_drops_images_that_are_gone) {
  TempDir dir;
  {
    auto store = open_store(dir);
    for (int n = 0; n < 10; ++n) {
      store->record_use(image_id(n), 100 + n);
    }
    store->retain_only({image_id(2), image_id(5), image_id(42)});
    EXPECT_EQ(store->size(), 2U);
  }
  auto store = open_store(dir);
  EXPECT_EQ(store->size(), 2U);
  EXPECT_EQ(store->last_used(image_id(2)), 102);
  EXPECT_EQ(store->last_used(image_id(5)), 105);
  EXPECT_EQ(store->last_used(image_id(3)), std::nullopt);
  store->retain_only({});
  EXPECT_EQ(store->size(), 0U);
}

TEST(StateStore, a_truncated_file_is_set_aside_and_a_fresh_one_started) {
  TempDir dir;
  {
    auto store = open_store(dir);
    for (int n = 0; n < 2000; ++n) {
      store->record_use(image_id(n), n);
    }
  }
  // The last close checkpoints the WAL into the file and removes it.
  ASSERT_FALSE(fs::exists(dir.path() / "state.db-wal"));
  const auto full_size = fs::file_size(dir.db());
  ASSERT_GT(full_size, 64U * 1024U);
  fs::resize_file(dir.db(), full_size / 2);

  StateStoreOpenReport report;
  auto store = open_store(dir, report);
  EXPECT_TRUE(report.persistent);
  ASSERT_TRUE(report.set_aside_path.has_value());
  EXPECT_NE(report.set_aside_path->find("state.db.corrupt-"), std::string::npos);
  EXPECT_TRUE(fs::exists(*report.set_aside_path));
  EXPECT_EQ(fs::file_size(*report.set_aside_path), full_size / 2);
  EXPECT_TRUE(contains(report.warnings, *report.set_aside_path));
  EXPECT_EQ(store->size(), 0U);

  store->record_use(image_id(1), 10);
  store.reset();
  auto reopened = open_store(dir);
  EXPECT_EQ(reopened->last_used(image_id(1)), 10);
}

TEST(StateStore, a_damaged_page_is_found_by_the_integrity_check) {
  TempDir dir;
  {
    auto store = open_store(dir);
    for (int n = 0; n < 2000; ++n) {
      store->record_use(image_id(n), n);
    }
  }
  const auto size = fs::file_size(dir.db());
  // The header page stays intact, so the file opens and reads its version; table pages do not.
  {
    std::fstream file(dir.db(), std::ios::binary | std::ios::in | std::ios::out);
    const std::string garbage = random_bytes(std::size_t{3} * 4096);
    file.seekp(std::streamoff{2} * 4096);
    file.write(garbage.data(), static_cast<std::streamsize>(garbage.size()));
  }
  ASSERT_EQ(fs::file_size(dir.db()), size);

  StateStoreOpenReport report;
  auto store = open_store(dir, report);
  EXPECT_TRUE(report.persistent);
  ASSERT_TRUE(report.set_aside_path.has_value());
  EXPECT_NE(report.set_aside_path->find("state.db.corrupt-"), std::string::npos);
  EXPECT_EQ(store->size(), 0U);
}

TEST(StateStore, a_file_that_is_not_a_database_is_set_aside) {
  TempDir dir;
  const std::string garbage = random_bytes(8192);
  write_file(dir.db(), garbage);

  StateStoreOpenReport report;
  auto store = open_store(dir, report);
  EXPECT_TRUE(report.persistent);
  EXPECT_TRUE(store->persistent());
  ASSERT_TRUE(report.set_aside_path.has_value());
  EXPECT_NE(report.set_aside_path->find("state.db.corrupt-"), std::string::npos);
  EXPECT_EQ(fs::file_size(*report.set_aside_path), garbage.size());
  store->record_use(image_id(1), 10);
  EXPECT_EQ(store->write_failures(), 0U);
}

TEST(StateStore, a_second_bad_file_in_the_same_second_does_not_overwrite_the_first) {
  TempDir dir;
  std::vector<std::string> moved;
  for (int round = 0; round < 2; ++round) {
    write_file(dir.db(), random_bytes(4096));
    StateStoreOpenReport report;
    auto store = open_store(dir, report);
    ASSERT_TRUE(report.set_aside_path.has_value());
    moved.push_back(*report.set_aside_path);
  }
  EXPECT_NE(moved[0], moved[1]);
  EXPECT_TRUE(fs::exists(moved[0]));
  EXPECT_TRUE(fs::exists(moved[1]));
}

TEST(StateStore, a_newer_schema_version_is_set_aside_as_newer) {
  TempDir dir;
  {
    auto store = open_store(dir);
    store->record_use(image_id(1), 100);
  }
  // user_version is the big-endian 32-bit integer at offset 60 of the file header.
  {
    std::fstream file(dir.db(), std::ios::binary | std::ios::in | std::ios::out);
    file.seekp(60);
    const std::array<char, 4> version{0, 0, 0, StateStore::k_schema_version + 1};
    file.write(version.data(), version.size());
  }

  StateStoreOpenReport report;
  auto store = open_store(dir, report);
  EXPECT_TRUE(report.persistent);
  ASSERT_TRUE(report.set_aside_path.has_value());
  EXPECT_NE(report.set_aside_path->find("state.db.newer-"), std::string::npos);
  EXPECT_TRUE(contains(report.warnings, "newer"));
  EXPECT_EQ(store->last_used(image_id(1)), std::nullopt);
  // The newer file is kept as it was, for the newer imagegc to use again.
  EXPECT_EQ(read_bytes(*report.set_aside_path, 64).at(63), StateStore::k_schema_version + 1);
}

TEST(StateStore, a_directory_that_cannot_be_created_falls_back_to_memory) {
  TempDir dir;
  write_file(dir.path() / "file.txt", "not a directory");
  StateStoreOpenReport report;
  auto store = StateStore::open((dir.path() / "file.txt" / "sub").string(), report);
  ASSERT_NE(store, nullptr);
  EXPECT_FALSE(report.persistent);
  EXPECT_FALSE(store->persistent());
  EXPECT_TRUE(contains(report.warnings, "memory"));
  store->record_use(image_id(1), 100);
  store->set_meta("seeded", "1");
  EXPECT_EQ(store->last_used(image_id(1)), 100);
  EXPECT_EQ(store->meta("seeded"), "1");
  EXPECT_EQ(store->write_failures(), 0U);
}

TEST(StateStore, a_missing_directory_is_created) {
  TempDir dir;
  const fs::path nested = dir.path() / "var" / "lib" / "imagegc";
  StateStoreOpenReport report;
  auto store = StateStore::open(nested.string(), report);
  EXPECT_TRUE(report.persistent);
  EXPECT_TRUE(fs::exists(nested / "state.db"));
  EXPECT_EQ(fs::status(nested).permissions(), fs::perms::owner_all);
}

TEST(StateStore, a_symlinked_database_is_not_followed) {
  TempDir dir;
  const fs::path target = dir.path() / "elsewhere";
  write_file(target, "precious");
  fs::create_symlink(target, dir.db());
  StateStoreOpenReport report;
  auto store = open_store(dir, report);
  EXPECT_FALSE(report.persistent);
  EXPECT_FALSE(report.set_aside_path.has_value());
  EXPECT_TRUE(contains(report.warnings, "symbolic link"));
  EXPECT_TRUE(fs::is_symlink(dir.db()));
  EXPECT_EQ(fs::file_size(target), std::string("precious").size());
}

TEST(StateStore, world_writable_directory_and_file_are_reported) {
  TempDir dir;
  open_store(dir);
  fs::permissions(dir.path(), fs::perms::all);
  {
    StateStoreOpenReport report;
    auto store = open_store(dir, report);
    EXPECT_TRUE(report.persistent);
    EXPECT_TRUE(report.world_writable);
    EXPECT_TRUE(contains(report.warnings, "state directory"));
    EXPECT_FALSE(contains(report.warnings, "state database"));
  }
  fs::permissions(dir.path(), fs::perms::owner_all);
  fs::permissions(dir.db(), fs::perms::others_write, fs::perm_options::add);
  StateStoreOpenReport report;
  auto store = open_store(dir, report);
  EXPECT_TRUE(report.world_writable);
  EXPECT_TRUE(contains(report.warnings, "state database"));
  EXPECT_FALSE(contains(report.warnings, "state directory"));
}

TEST(StateStore, the_database_is_in_wal_mode) {
  TempDir dir;
  auto store = open_store(dir);
  store->record_use(image_id(1), 100);
  // Header bytes 18 and 19 (file format write and read versions) are 2 for WAL, 1 for a rollback
  // journal.
  const auto header = read_bytes(dir.db(), 20);
  ASSERT_EQ(header.size(), 20U);
  EXPECT_EQ(header[18], 2);
  EXPECT_EQ(header[19], 2);
  EXPECT_TRUE(fs::exists(dir.path() / "state.db-wal"));
}

TEST(StateStore, many_writes_keep_the_files_small) {
  TempDir dir;
  auto store = open_store(dir);
  for (int n = 0; n < 10000; ++n) {
    store->record_use(image_id(n % 100), 1000 + n);
  }
  EXPECT_EQ(store->write_failures(), 0U);
  EXPECT_EQ(store->last_used(image_id(99)), 1000 + 9999);
  // 100 records fit in a few pages. Every commit appends to the WAL, but automatic checkpoints
  // start it over every ~1000 pages (4 MiB), where 10k commits without them would reach ~40 MiB.
  EXPECT_LT(fs::file_size(dir.db()), 64U * 1024U);
  EXPECT_LT(fs::file_size(dir.path() / "state.db-wal"), 5U * 1024U * 1024U);
  store.reset();
  EXPECT_LT(fs::file_size(dir.db()), 64U * 1024U);
  EXPECT_EQ(open_store(dir)->size(), 100U);
}

TEST(StateStore, a_failed_write_is_counted_and_the_time_kept_in_memory) {
  TempDir dir;
  auto store = open_store(dir);
  store->record_use(image_id(1), 100);
  const fs::path wal = dir.path() / "state.db-wal";
  ASSERT_TRUE(fs::exists(wal));

  // A file size limit at the WAL's current size makes the next append fail as a full disk would
  // (EFBIG instead of the signal, which is ignored here).
  rlimit original{};
  ASSERT_EQ(getrlimit(RLIMIT_FSIZE, &original), 0);
  const auto previous_handler = std::signal(SIGXFSZ, SIG_IGN);
  rlimit limited = original;
  limited.rlim_cur = fs::file_size(wal);
  ASSERT_EQ(setrlimit(RLIMIT_FSIZE, &limited), 0);
  store->record_use(image_id(1), 200);
  store->record_use(image_id(2), 300);
  setrlimit(RLIMIT_FSIZE, &original);
  std::signal(SIGXFSZ, previous_handler);

  EXPECT_EQ(store->write_failures(), 2U);
  EXPECT_EQ(store->last_used(image_id(1)), 200);
  EXPECT_EQ(store->last_used(image_id(2)), 300);
  store->record_use(image_id(1), 400);
  EXPECT_EQ(store->write_failures(), 2U);
  store.reset();
  auto reopened = open_store(dir);
  EXPECT_EQ(reopened->last_used(image_id(1)), 400);
  // Lost with the failed write; the next sync or event records it again.
  EXPECT_EQ(reopened->last_used(image_id(2)), std::nullopt);
}

TEST(StateStore, an_in_memory_store_keeps_nothing_on_disk) {
  auto store = StateStore::in_memory();
  EXPECT_FALSE(store->persistent());
  store->record_use(image_id(1), 100);
  store->record_use(image_id(1), 50);
  store->seed_use(image_id(1), 500);
  store->seed_use(image_id(2), 20);
  EXPECT_EQ(store->last_used(image_id(1)), 100);
  EXPECT_EQ(store->last_used(image_id(2)), 20);
  store->retain_only({image_id(2)});
  EXPECT_EQ(store->size(), 1U);
  store->forget(image_id(2));
  EXPECT_EQ(store->size(), 0U);
}

} // namespace
} // namespace imagegc::gc
