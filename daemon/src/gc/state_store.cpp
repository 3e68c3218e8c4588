#include "gc/state_store.hpp"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <exception>
#include <filesystem>
#include <optional>
#include <system_error>
#include <unordered_set>
#include <utility>

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <sqlite3.h>

#include "graph/string_map.hpp"
#include "util/expected.hpp"
#include "util/sha256_digest.hpp"

namespace imagegc::gc {
namespace {

namespace fs = std::filesystem;

constexpr const char* k_file_name = "state.db";
// Long enough to ride out a short lock held by someone reading the file with the sqlite3 shell,
// short enough not to stall the daemon's only thread for long.
constexpr int k_busy_timeout_ms = 1000;

// The WAL is reused from its start after each automatic checkpoint, so it stays near 1000 pages;
// this cap also shrinks it back after a one-off large transaction (a large host's first chains).
constexpr const char* k_configure_sql = "PRAGMA synchronous = NORMAL;"
                                        "PRAGMA journal_size_limit = 4194304;";

// Created in one transaction with the version, so a crash never leaves half a schema behind.
constexpr const char* k_create_sql =
    "BEGIN IMMEDIATE;"
    "CREATE TABLE images (id TEXT PRIMARY KEY NOT NULL, last_used INTEGER NOT NULL) WITHOUT ROWID;"
    "CREATE TABLE meta (key TEXT PRIMARY KEY NOT NULL, value TEXT NOT NULL) WITHOUT ROWID;"
    "CREATE TABLE image_layers (id TEXT PRIMARY KEY NOT NULL, layers BLOB NOT NULL) WITHOUT ROWID;"
    "PRAGMA user_version = 2;"
    "COMMIT;";
// Version 1 to 2: the layer chains.
constexpr const char* k_migrate_to_2_sql =
    "BEGIN IMMEDIATE;"
    "CREATE TABLE image_layers (id TEXT PRIMARY KEY NOT NULL, layers BLOB NOT NULL) WITHOUT ROWID;"
    "PRAGMA user_version = 2;"
    "COMMIT;";

// max() keeps the record moving forward even if the file and the map ever disagree.
constexpr const char* k_record_sql =
    "INSERT INTO images (id, last_used) VALUES (?1, ?2) "
    "ON CONFLICT (id) DO UPDATE SET last_used = max(last_used, excluded.last_used)";
constexpr const char* k_forget_sql = "DELETE FROM images WHERE id = ?1";
constexpr const char* k_get_layers_sql = "SELECT layers FROM image_layers WHERE id = ?1";
constexpr const char* k_put_layers_sql = "INSERT INTO image_layers (id, layers) VALUES (?1, ?2) "
                                         "ON CONFLICT (id) DO UPDATE SET layers = excluded.layers";
constexpr const char* k_forget_layers_sql = "DELETE FROM image_layers WHERE id = ?1";
constexpr const char* k_set_meta_sql = "INSERT INTO meta (key, value) VALUES (?1, ?2) "
                                       "ON CONFLICT (key) DO UPDATE SET value = excluded.value";

struct DatabaseCloser {
  void operator()(sqlite3* database) const noexcept { sqlite3_close_v2(database); }
};
using Database = std::unique_ptr<sqlite3, DatabaseCloser>;

struct StatementFinalizer {
  void operator()(sqlite3_stmt* statement) const noexcept { sqlite3_finalize(statement); }
};
using Statement = std::unique_ptr<sqlite3_stmt, StatementFinalizer>;

int prepare(sqlite3* database, const char* sql, Statement& statement) {
  sqlite3_stmt* raw = nullptr;
  const int rc = sqlite3_prepare_v3(database, sql, -1, SQLITE_PREPARE_PERSISTENT, &raw, nullptr);
  statement.reset(raw);
  return rc;
}

// The bound text outlives the step, so SQLite need not copy it: a null destructor is
// SQLITE_STATIC, spelt without the macro's C-style cast. An empty view may have a null data
// pointer, which SQLite would store as NULL rather than as an empty string.
int bind(sqlite3_stmt* statement, int index, std::string_view text) {
  return sqlite3_bind_text(statement, index, text.empty() ? "" : text.data(),
                           static_cast<int>(text.size()), nullptr);
}

struct Blob {
  std::string_view bytes;
};

int bind(sqlite3_stmt* statement, int index, Blob blob) {
  return sqlite3_bind_blob(statement, index, blob.bytes.empty() ? "" : blob.bytes.data(),
                           static_cast<int>(blob.bytes.size()), nullptr);
}

int bind(sqlite3_stmt* statement, int index, std::int64_t value) {
  return sqlite3_bind_int64(statement, index, value);
}

// Runs a statement that returns no rows and leaves it ready for the next use.
template <typename... Args> int execute(sqlite3_stmt* statement, const Args&... args) {
  int rc = SQLITE_OK;
  int index = 0;
  [[maybe_unused]] const auto bind_next = [&](const auto& value) {
    if (rc == SQLITE_OK) {
      rc = bind(statement, ++index, value);
    }
  };
  (bind_next(args), ...);
  if (rc == SQLITE_OK) {
    rc = sqlite3_step(statement);
    if (rc == SQLITE_DONE) {
      rc = SQLITE_OK;
    }
  }
  sqlite3_reset(statement);
  sqlite3_clear_bindings(statement);
  return rc;
}

// A layer chain as stored: a format byte (1), then per layer a kind byte, the diff ID and its size
// (8 bytes, little endian). Kind 1 is "sha256:" and 64 lower-case hex digits, kept as the 32 bytes
// they spell; kind 2 any other text, after a 2-byte length.
constexpr unsigned char k_layers_format = 1;
constexpr unsigned char k_layer_sha256 = 1;
constexpr unsigned char k_layer_text = 2;
void append_le(std::string& out, std::uint64_t value, int bytes) {
  for (int i = 0; i < bytes; ++i) {
    out.push_back(static_cast<char>((value >> (8 * i)) & 0xff));
  }
}

std::uint64_t read_le(std::string_view in, std::size_t at, int bytes) {
  std::uint64_t value = 0;
  for (int i = 0; i < bytes; ++i) {
    value |= static_cast<std::uint64_t>(static_cast<unsigned char>(in[at + i])) << (8 * i);
  }
  return value;
}

std::string encode_layers(const std::vector<graph::Layer>& layers) {
  std::string out(1, static_cast<char>(k_layers_format));
  out.reserve(1 + layers.size() * 41);
  for (const graph::Layer& layer : layers) {
    if (const util::Sha256Bytes* digest = layer.diff_id.digest()) {
      out.push_back(static_cast<char>(k_layer_sha256));
      out.append(reinterpret_cast<const char*>(digest->data()), digest->size());
    } else {
      const std::string_view text = layer.diff_id.other_text();
      const std::size_t length = std::min<std::size_t>(text.size(), 0xffff);
      out.push_back(static_cast<char>(k_layer_text));
      append_le(out, length, 2);
      out.append(text.substr(0, length));
    }
    append_le(out, static_cast<std::uint64_t>(layer.size), 8);
  }
  return out;
}

// nullopt for anything but exactly what encode_layers writes.
std::optional<std::vector<graph::Layer>> decode_layers(std::string_view in) {
  if (in.empty() || static_cast<unsigned char>(in[0]) != k_layers_format) {
    return std::nullopt;
  }
  std::vector<graph::Layer> layers;
  std::size_t at = 1;
  while (at < in.size()) {
    graph::Layer layer;
    const auto kind = static_cast<unsigned char>(in[at++]);
    if (kind == k_layer_sha256 && in.size() - at >= sizeof(util::Sha256Bytes)) {
      util::Sha256Bytes digest{};
      std::memcpy(digest.data(), in.data() + at, digest.size());
      layer.diff_id = graph::DiffId(digest);
      at += digest.size();
    } else if (kind == k_layer_text && in.size() - at >= 2) {
      const auto length = static_cast<std::size_t>(read_le(in, at, 2));
      at += 2;
      if (length == 0 || in.size() - at < length) {
        return std::nullopt;
      }
      layer.diff_id = in.substr(at, length);
      at += length;
    } else {
      return std::nullopt;
    }
    if (in.size() - at < 8) {
      return std::nullopt;
    }
    layer.size = static_cast<std::int64_t>(read_le(in, at, 8));
    at += 8;
    if (layer.size < 0) {
      return std::nullopt;
    }
    layers.push_back(std::move(layer));
  }
  return layers;
}

std::string column_text(sqlite3_stmt* statement, int column) {
  const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(statement, column));
  if (text == nullptr) {
    return {};
  }
  return {text, static_cast<std::size_t>(sqlite3_column_bytes(statement, column))};
}

// Runs `sql` and passes every row to `on_row`.
template <typename OnRow> int query(sqlite3* database, const char* sql, OnRow on_row) {
  Statement statement;
  int rc = prepare(database, sql, statement);
  if (rc != SQLITE_OK) {
    return rc;
  }
  while ((rc = sqlite3_step(statement.get())) == SQLITE_ROW) {
    on_row(statement.get());
  }
  return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

std::string error_text(sqlite3* database, int rc) {
  if (database != nullptr && sqlite3_errcode(database) != SQLITE_OK) {
    return sqlite3_errmsg(database);
  }
  return sqlite3_errstr(rc);
}

bool world_writable(const fs::path& path) {
  std::error_code error;
  const auto status = fs::status(path, error);
  return !error && fs::exists(status) &&
         (status.permissions() & fs::perms::others_write) != fs::perms::none;
}

std::int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// An open database and the records loaded from it; no database when the store lives in memory.
struct Store {
  // Declared first so that it is closed after the statements are finalized.
  Database database;
  Statement record;
  Statement forget;
  Statement set_meta;
  Statement get_layers;
  Statement put_layers;
  Statement forget_layers;
  Statement begin;
  Statement commit;
  Statement rollback;
  std::string path;

  graph::StringMap<std::int64_t> last_used;
  graph::StringMap<std::string> meta;
  std::unordered_set<std::string, graph::StringHash, std::equal_to<>> layer_ids;
  graph::StringMap<std::vector<graph::Layer>> loaded_layers; // by load_layers(), until taken
  std::uint64_t write_failures = 0;
  // Failures since the last successful write: while the disk stays full only the first is logged.
  std::uint64_t failures_in_a_row = 0;

  // Ends a transaction begun with `begin` whose statements gave `rc`; false when it did not stick.
  bool commit_or_roll_back(int rc, std::string_view what, std::string_view key) {
    if (rc == SQLITE_OK) {
      rc = execute(commit.get());
    }
    if (rc != SQLITE_OK) {
      // Reported before the rollback replaces the error message.
      wrote(rc, what, key);
      if (!sqlite3_get_autocommit(database.get())) {
        execute(rollback.get());
      }
      return false;
    }
    wrote(rc, what, {});
    return true;
  }

  // Counts and logs the outcome of one write.
  void wrote(int rc, std::string_view what, std::string_view key) {
    if (rc == SQLITE_OK) {
      if (failures_in_a_row > 0) {
        spdlog::info("state database {} is written again after {} failed writes", path,
                     failures_in_a_row);
        failures_in_a_row = 0;
      }
      return;
    }
    ++write_failures;
    if (failures_in_a_row++ == 0) {
      spdlog::warn("cannot write {} of {} to {}: {}; last-used times are kept in memory and "
                   "further failures only counted until a write succeeds",
                   what, key, path, error_text(database.get(), rc));
    }
  }
};

enum class Outcome { opened, unreadable, newer, failed };

struct Attempt {
  Outcome outcome = Outcome::failed;
  std::string detail;
  std::unique_ptr<Store> store;
};

// Corruption and "not a database" mean the file itself is bad and may be set aside; anything else
// (permissions, I/O, a lock held elsewhere) is about the surroundings, and the file must be left
// alone.
Attempt failure(sqlite3* database, int rc, std::string_view doing) {
  const int primary = rc & 0xff;
  const bool bad_file = primary == SQLITE_CORRUPT || primary == SQLITE_NOTADB;
  return {bad_file ? Outcome::unreadable : Outcome::failed,
          fmt::format("{}: {}", doing, error_text(database, rc)), nullptr};
}

Attempt try_open(const fs::path& path, std::vector<std::string>& warnings) {
  auto store = std::make_unique<Store>();
  store->path = path.string();
  sqlite3* raw = nullptr;
  // NOFOLLOW: in a directory others can write, a symlink could point the daemon's writes at any
  // file it may write.
  int rc = sqlite3_open_v2(store->path.c_str(), &raw,
                           SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX |
                               SQLITE_OPEN_NOFOLLOW | SQLITE_OPEN_EXRESCODE,
                           nullptr);
  store->database.reset(raw);
  sqlite3* database = raw;
  if (rc == SQLITE_CANTOPEN_SYMLINK) {
    return {Outcome::failed, "is a symbolic link, which is not followed", nullptr};
  }
  if (rc != SQLITE_OK) {
    return failure(database, rc, "cannot open");
  }
  sqlite3_extended_result_codes(database, 1);
  sqlite3_busy_timeout(database, k_busy_timeout_ms);
  if (sqlite3_db_readonly(database, "main") == 1) {
    return {Outcome::failed, "the file is read-only", nullptr};
  }

  // The first read of the file: this is where "not a database" shows.
  std::int64_t version = 0;
  rc = query(database, "PRAGMA user_version",
             [&](sqlite3_stmt* row) { version = sqlite3_column_int64(row, 0); });
  if (rc != SQLITE_OK) {
    return failure(database, rc, "cannot read the schema version");
  }
  if (version > StateStore::k_schema_version) {
    return {Outcome::newer,
            fmt::format("schema version {} is newer than this imagegc's {}", version,
                        StateStore::k_schema_version),
            nullptr};
  }

  std::vector<std::string> problems;
  rc = query(database, "PRAGMA quick_check",
             [&](sqlite3_stmt* row) { problems.push_back(column_text(row, 0)); });
  if (rc != SQLITE_OK) {
    return failure(database, rc, "integrity check failed");
  }
  if (problems.size() != 1 || problems.front() != "ok") {
    return {Outcome::unreadable,
            fmt::format("integrity check failed: {}", problems.empty() ? "" : problems.front()),
            nullptr};
  }

  std::int64_t tables = 0;
  rc = query(database, "SELECT count(*) FROM sqlite_schema",
             [&](sqlite3_stmt* row) { tables = sqlite3_column_int64(row, 0); });
  if (rc != SQLITE_OK) {
    return failure(database, rc, "cannot read the schema");
  }
  if (version == 0 && tables > 0) {
    // Tables without our version: some other program's database, not ours to write into.
    return {Outcome::unreadable, "holds tables but no imagegc schema version", nullptr};
  }

  std::string journal_mode;
  rc = query(database, "PRAGMA journal_mode = WAL",
             [&](sqlite3_stmt* row) { journal_mode = column_text(row, 0); });
  if (rc != SQLITE_OK) {
    return failure(database, rc, "cannot switch to WAL mode");
  }
  if (journal_mode != "wal") {
    // Still correct, only slower per write: some file systems cannot share the WAL index.
    warnings.push_back(
        fmt::format("{}: WAL mode unavailable, using journal mode {}", store->path, journal_mode));
  }
  rc = sqlite3_exec(database, k_configure_sql, nullptr, nullptr, nullptr);
  if (rc != SQLITE_OK) {
    return failure(database, rc, "cannot configure the database");
  }
  if (version == 0) {
    rc = sqlite3_exec(database, k_create_sql, nullptr, nullptr, nullptr);
    if (rc != SQLITE_OK) {
      sqlite3_exec(database, "ROLLBACK", nullptr, nullptr, nullptr);
      return failure(database, rc, "cannot create the schema");
    }
  } else if (version == 1) {
    rc = sqlite3_exec(database, k_migrate_to_2_sql, nullptr, nullptr, nullptr);
    if (rc != SQLITE_OK) {
      sqlite3_exec(database, "ROLLBACK", nullptr, nullptr, nullptr);
      return failure(database, rc, "cannot add the layer table to a version-1 schema");
    }
  }
  // Later schema versions migrate here, one step at a time, each in its own transaction.

  const std::pair<Statement*, const char*> statements[] = {
      {&store->record, k_record_sql},         {&store->forget, k_forget_sql},
      {&store->set_meta, k_set_meta_sql},     {&store->get_layers, k_get_layers_sql},
      {&store->put_layers, k_put_layers_sql}, {&store->forget_layers, k_forget_layers_sql},
      {&store->begin, "BEGIN IMMEDIATE"},     {&store->commit, "COMMIT"},
      {&store->rollback, "ROLLBACK"},
  };
  for (const auto& [statement, sql] : statements) {
    rc = prepare(database, sql, *statement);
    if (rc != SQLITE_OK) {
      // The version says ours but the tables do not match it.
      return {
          Outcome::unreadable,
          fmt::format("schema does not match version {}: {}", version, error_text(database, rc)),
          nullptr};
    }
  }

  rc = query(database, "SELECT id, last_used FROM images", [&](sqlite3_stmt* row) {
    store->last_used.insert_or_assign(column_text(row, 0), sqlite3_column_int64(row, 1));
  });
  if (rc == SQLITE_OK) {
    rc = query(database, "SELECT key, value FROM meta", [&](sqlite3_stmt* row) {
      store->meta.insert_or_assign(column_text(row, 0), column_text(row, 1));
    });
  }
  if (rc == SQLITE_OK) {
    rc = query(database, "SELECT id FROM image_layers",
               [&](sqlite3_stmt* row) { store->layer_ids.insert(column_text(row, 0)); });
  }
  if (rc != SQLITE_OK) {
    return failure(database, rc, "cannot load the records");
  }
  return {Outcome::opened, {}, std::move(store)};
}

// Moves `file` and its WAL companions to `file`.<kind>-<unix time>. A WAL left behind would be
// replayed into the fresh database that takes the old one's name, so it goes too or the move fails.
util::Expected<std::string, std::string> set_aside(const fs::path& file, std::string_view kind) {
  const std::string base = fmt::format("{}.{}-{}", file.string(), kind, unix_now());
  std::string target = base;
  std::error_code error;
  // Two bad files in one second (a fresh database that is bad again) must not overwrite each other.
  for (int n = 1; fs::exists(fs::symlink_status(target, error)); ++n) {
    target = fmt::format("{}.{}", base, n);
  }
  fs::rename(file, target, error);
  if (error) {
    return util::unexpected(
        fmt::format("cannot move {} to {}: {}", file.string(), target, error.message()));
  }
  for (const char* suffix : {"-wal", "-shm"}) {
    const fs::path companion = file.string() + suffix;
    if (!fs::exists(fs::symlink_status(companion, error))) {
      continue;
    }
    fs::rename(companion, target + suffix, error);
    if (error) {
      fs::remove(companion, error);
    }
    if (error) {
      return util::unexpected(
          fmt::format("cannot move {} aside: {}", companion.string(), error.message()));
    }
  }
  return target;
}

} // namespace

struct StateStore::Impl : Store {
  explicit Impl(Store&& store) : Store(std::move(store)) {}
};

StateStore::StateStore(std::unique_ptr<Impl> impl) : m_impl(std::move(impl)) {}

StateStore::~StateStore() = default;

std::unique_ptr<StateStore> StateStore::in_memory() {
  Store store;
  store.path = ":memory:";
  return std::unique_ptr<StateStore>(new StateStore(std::make_unique<Impl>(std::move(store))));
}

std::unique_ptr<StateStore> StateStore::open(const std::string& directory,
                                             StateStoreOpenReport& report) {
  report = {};
  const auto fall_back = [&](std::string reason) {
    report.persistent = false;
    report.warnings.push_back(fmt::format(
        "last-used times are kept in memory only and will not survive a restart: {}", reason));
    return in_memory();
  };
  try {
    const fs::path directory_path(directory);
    std::error_code error;
    if (fs::create_directories(directory_path, error)) {
      // Created by us: only the daemon's user needs it. Failing to narrow it is not worth a
      // warning; the world-writable check below still speaks up if it matters.
      std::error_code ignored;
      fs::permissions(directory_path, fs::perms::owner_all, fs::perm_options::replace, ignored);
    }
    if (error || !fs::is_directory(directory_path, error)) {
      return fall_back(fmt::format("cannot create the state directory {}: {}", directory,
                                   error ? error.message() : "not a directory"));
    }
    if (world_writable(directory_path)) {
      report.world_writable = true;
      report.warnings.push_back(
          fmt::format("state directory {} is writable by every user", directory));
    }

    const fs::path file = directory_path / k_file_name;
    Attempt attempt = try_open(file, report.warnings);
    if (attempt.outcome == Outcome::unreadable || attempt.outcome == Outcome::newer) {
      const bool newer = attempt.outcome == Outcome::newer;
      // Closed before the move, so that SQLite does not write to the file under its new name.
      attempt.store.reset();
      auto moved = set_aside(file, newer ? "newer" : "corrupt");
      if (!moved) {
        return fall_back(
            fmt::format("{}: {}, and {}", file.string(), attempt.detail, moved.error()));
      }
      report.set_aside_path = *moved;
      report.warnings.push_back(fmt::format("{}: {}; moved it to {} and started a fresh one",
                                            file.string(), attempt.detail, *moved));
      attempt = try_open(file, report.warnings);
    }
    if (attempt.outcome != Outcome::opened) {
      return fall_back(fmt::format("{}: {}", file.string(), attempt.detail));
    }
    if (world_writable(file)) {
      report.world_writable = true;
      report.warnings.push_back(
          fmt::format("state database {} is writable by every user", file.string()));
    }
    return std::unique_ptr<StateStore>(
        new StateStore(std::make_unique<Impl>(std::move(*attempt.store))));
  } catch (const std::exception& error) {
    return fall_back(error.what());
  }
}

void StateStore::record_use(std::string_view image_id, std::int64_t unix_seconds) {
  auto& impl = *m_impl;
  const auto found = impl.last_used.find(image_id);
  if (found == impl.last_used.end()) {
    impl.last_used.emplace(std::string(image_id), unix_seconds);
  } else if (found->second < unix_seconds) {
    found->second = unix_seconds;
  } else {
    return; // nothing newer: no write at all, which matters for bursts of events
  }
  if (impl.database) {
    impl.wrote(execute(impl.record.get(), image_id, unix_seconds), "the last use", image_id);
  }
}

void StateStore::seed_use(std::string_view image_id, std::int64_t unix_seconds) {
  auto& impl = *m_impl;
  if (!impl.last_used.contains(image_id)) {
    impl.last_used.emplace(std::string(image_id), unix_seconds);
  }
}

std::optional<std::int64_t> StateStore::last_used(std::string_view image_id) const {
  const auto found = m_impl->last_used.find(image_id);
  if (found == m_impl->last_used.end()) {
    return std::nullopt;
  }
  return found->second;
}

void StateStore::forget(std::string_view image_id) {
  auto& impl = *m_impl;
  if (const auto found = impl.last_used.find(image_id); found != impl.last_used.end()) {
    impl.last_used.erase(found);
    if (impl.database) {
      impl.wrote(execute(impl.forget.get(), image_id), "the removal", image_id);
    }
  }
  if (const auto found = impl.layer_ids.find(image_id); found != impl.layer_ids.end()) {
    impl.layer_ids.erase(found);
    if (impl.database) {
      impl.wrote(execute(impl.forget_layers.get(), image_id), "the removal of the layers",
                 image_id);
    }
  }
}

void StateStore::retain_only(const std::vector<std::string_view>& live_ids) {
  auto& impl = *m_impl;
  const std::unordered_set<std::string_view> live(live_ids.begin(), live_ids.end());
  std::vector<std::string> dropped;
  for (const auto& [id, time] : impl.last_used) {
    if (!live.contains(id)) {
      dropped.push_back(id);
    }
  }
  std::vector<std::string> dropped_layers;
  for (const auto& id : impl.layer_ids) {
    if (!live.contains(id)) {
      dropped_layers.push_back(id);
    }
  }
  if (dropped.empty() && dropped_layers.empty()) {
    return;
  }
  for (const auto& id : dropped) {
    impl.last_used.erase(id);
  }
  for (const auto& id : dropped_layers) {
    impl.layer_ids.erase(id);
  }
  if (!impl.database) {
    return;
  }
  int rc = execute(impl.begin.get());
  for (std::size_t i = 0; rc == SQLITE_OK && i < dropped.size(); ++i) {
    rc = execute(impl.forget.get(), std::string_view(dropped[i]));
  }
  for (std::size_t i = 0; rc == SQLITE_OK && i < dropped_layers.size(); ++i) {
    rc = execute(impl.forget_layers.get(), std::string_view(dropped_layers[i]));
  }
  impl.commit_or_roll_back(rc, "the removal of gone images",
                           fmt::format("{} images", dropped.size() + dropped_layers.size()));
}

void StateStore::seed_uses(const std::vector<std::pair<std::string_view, std::int64_t>>& seeds) {
  // Room for them all at once: a cold start seeds every image of a large host, and growing the
  // map step by step rehashed it a dozen times.
  m_impl->last_used.reserve(m_impl->last_used.size() + seeds.size());
  for (const auto& [id, time] : seeds) {
    seed_use(id, time);
  }
}

std::vector<std::string_view>
StateStore::reconcile(const std::vector<std::pair<std::string_view, std::int64_t>>& live) {
  auto& impl = *m_impl;
  seed_uses(live); // every live image has a last use now
  std::vector<std::string_view> without_layers;
  std::size_t with_layers = 0;
  for (const auto& [id, time] : live) {
    if (impl.layer_ids.contains(id)) {
      ++with_layers;
    } else {
      without_layers.push_back(id);
    }
  }
  // Image IDs are unique, so more records than live images with one means some image is gone.
  if (impl.last_used.size() > live.size() || impl.layer_ids.size() > with_layers) {
    std::vector<std::string_view> live_ids;
    live_ids.reserve(live.size());
    for (const auto& [id, time] : live) {
      live_ids.push_back(id);
    }
    retain_only(live_ids);
  }
  return without_layers;
}

std::optional<std::vector<graph::Layer>> StateStore::layers(std::string_view image_id) {
  auto& impl = *m_impl;
  if (!impl.database || !impl.layer_ids.contains(image_id)) {
    return std::nullopt;
  }
  if (const auto loaded = impl.loaded_layers.find(image_id); loaded != impl.loaded_layers.end()) {
    std::vector<graph::Layer> layers = std::move(loaded->second);
    impl.loaded_layers.erase(loaded);
    return layers;
  }
  sqlite3_stmt* statement = impl.get_layers.get();
  std::optional<std::vector<graph::Layer>> layers;
  if (bind(statement, 1, image_id) == SQLITE_OK && sqlite3_step(statement) == SQLITE_ROW) {
    const auto* bytes = static_cast<const char*>(sqlite3_column_blob(statement, 0));
    const auto size = static_cast<std::size_t>(sqlite3_column_bytes(statement, 0));
    if (bytes != nullptr) {
      layers = decode_layers(std::string_view(bytes, size));
    }
  }
  sqlite3_reset(statement);
  sqlite3_clear_bindings(statement);
  return layers;
}

void StateStore::load_layers() {
  auto& impl = *m_impl;
  if (!impl.database) {
    return;
  }
  impl.loaded_layers.clear();
  impl.loaded_layers.reserve(impl.layer_ids.size());
  const int rc =
      query(impl.database.get(), "SELECT id, layers FROM image_layers", [&](sqlite3_stmt* row) {
        const auto* bytes = static_cast<const char*>(sqlite3_column_blob(row, 1));
        const auto size = static_cast<std::size_t>(sqlite3_column_bytes(row, 1));
        if (bytes == nullptr) {
          return;
        }
        if (auto layers = decode_layers(std::string_view(bytes, size))) {
          impl.loaded_layers.insert_or_assign(column_text(row, 0), std::move(*layers));
        }
      });
  if (rc != SQLITE_OK) {
    // layers() still reads each chain by itself.
    spdlog::warn("cannot read the layer chains from {}: {}", impl.path,
                 error_text(impl.database.get(), rc));
    release_loaded_layers();
  }
}

void StateStore::release_loaded_layers() {
  graph::StringMap<std::vector<graph::Layer>>().swap(m_impl->loaded_layers);
}

bool StateStore::has_layers(std::string_view image_id) const {
  return m_impl->layer_ids.contains(image_id);
}

void StateStore::record_layers(const graph::ImageGraph& graph,
                               const std::vector<const graph::Image*>& images) {
  auto& impl = *m_impl;
  if (!impl.database) {
    return; // nothing to gain: a restart starts from nothing anyway
  }
  std::vector<std::pair<const graph::Image*, std::string>> fresh;
  for (const graph::Image* image : images) {
    if (impl.layer_ids.contains(image->id)) {
      continue;
    }
    if (const std::vector<graph::Layer> layers = graph.layers(*image); !layers.empty()) {
      fresh.emplace_back(image, encode_layers(layers));
    }
  }
  if (fresh.empty()) {
    return;
  }
  int rc = execute(impl.begin.get());
  for (std::size_t i = 0; rc == SQLITE_OK && i < fresh.size(); ++i) {
    const auto& [image, encoded] = fresh[i];
    rc = execute(impl.put_layers.get(), std::string_view(image->id), Blob{encoded});
  }
  if (impl.commit_or_roll_back(rc, "the layers", fmt::format("{} images", fresh.size()))) {
    for (const auto& [image, encoded] : fresh) {
      impl.layer_ids.insert(image->id);
    }
  }
}

std::size_t StateStore::layer_records() const {
  return m_impl->layer_ids.size();
}

std::size_t StateStore::size() const {
  return m_impl->last_used.size();
}

std::uint64_t StateStore::write_failures() const {
  return m_impl->write_failures;
}

bool StateStore::persistent() const {
  return static_cast<bool>(m_impl->database);
}

void StateStore::set_meta(std::string_view key, std::string_view value) {
  auto& impl = *m_impl;
  impl.meta.insert_or_assign(std::string(key), std::string(value));
  if (impl.database) {
    impl.wrote(execute(impl.set_meta.get(), key, value), "metadata", key);
  }
}

std::optional<std::string> StateStore::meta(std::string_view key) const {
  const auto found = m_impl->meta.find(key);
  if (found == m_impl->meta.end()) {
    return std::nullopt;
  }
  return found->second;
}

} // namespace imagegc::gc
