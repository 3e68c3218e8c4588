#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "graph/image_graph.hpp"

namespace imagegc::gc {

// What happened while opening the state database, for the daemon to log and act on.
struct StateStoreOpenReport {
  // False when the store fell back to memory: nothing will survive a restart.
  bool persistent = true;
  std::vector<std::string> warnings;
  // Where an unreadable (corrupt, foreign or newer-version) database was moved, if one was.
  std::optional<std::string> set_aside_path;
  // The state directory or the database file can be written by any user, so anyone on the host
  // could change which images look recently used. The daemon decides whether to refuse.
  bool world_writable = false;
};

// When each image was last used, by image id. Docker does not record this, so imagegc does, and it
// must survive restarts: records live in <directory>/state.db (SQLite, WAL mode) and every change
// is written at once as one small statement, never a rewrite of the table. Reads come from a map
// loaded at open, so they cost no I/O.
//
// A write that fails (disk full, file removed under us) is logged and counted, never thrown: the
// in-memory record stays right for this run, which is what the planner reads.
//
// Not thread-safe: one thread at a time owns the store (the daemon opens it on a thread of its
// own and hands it to its executor's).
class StateStore {
public:
  // 2 added the layer chains; a version-1 file is migrated in place.
  static constexpr int k_schema_version = 2;

  // Opens <directory>/state.db, creating the directory and the file when missing. A file that is
  // corrupt, not a SQLite database, or written by a newer schema version is renamed aside to
  // state.db.corrupt-<unix time> (or .newer-<unix time>) and a fresh database takes its place. When
  // nothing can be opened or created there, the store lives in memory (report.persistent false).
  // Never throws for trouble with the files; everything is said in `report`.
  static std::unique_ptr<StateStore> open(const std::string& directory,
                                          StateStoreOpenReport& report);
  // A store that keeps nothing on disk (dry runs, tests, the fallback of open()).
  static std::unique_ptr<StateStore> in_memory();

  ~StateStore();
  StateStore(const StateStore&) = delete;
  StateStore& operator=(const StateStore&) = delete;

  // The image was used at `unix_seconds`. Only ever moves a time forward: events can arrive out of
  // order after a reconnect replays them.
  void record_use(std::string_view image_id, std::int64_t unix_seconds);
  // Gives an image without a time a guess (its LastTagTime or creation), so a real use is never
  // overwritten by a guess. Kept in memory only: the daemon makes the same guess from the graph
  // at every start, and writing one row per image made a large host's first sync a second longer.
  void seed_use(std::string_view image_id, std::int64_t unix_seconds);
  // seed_use for many images (every image a sync found).
  void seed_uses(const std::vector<std::pair<std::string_view, std::int64_t>>& seeds);
  [[nodiscard]] std::optional<std::int64_t> last_used(std::string_view image_id) const;
  // The image was deleted: its last use and its layers are forgotten.
  void forget(std::string_view image_id);
  // Drops the records (last use and layers) of every image not in `live_ids` (after a full sync),
  // in one transaction.
  void retain_only(const std::vector<std::string_view>& live_ids);
  // After a full sync, with every image the engine has and the time to seed its last use with:
  // seed_uses of them, retain_only of their IDs, and the IDs among them whose layer chains are not
  // recorded, in that order. One lookup per image and table: retain_only's pass over every record
  // runs only when the counts show records of images that are gone.
  std::vector<std::string_view>
  reconcile(const std::vector<std::pair<std::string_view, std::int64_t>>& live);

  [[nodiscard]] std::size_t size() const;
  // Writes that did not reach the database since open.
  [[nodiscard]] std::uint64_t write_failures() const;
  [[nodiscard]] bool persistent() const;

  // The layer chain (diff IDs and sizes, base first) of each image ID the daemon has read. An image
  // ID's layers never change, so a restart takes them from here instead of inspecting the image
  // and reading its history again. Only the IDs are held in memory; a chain is read when asked
  // for, or handed over (once) from what load_layers() read. A record that does not decode is
  // reported as absent (and the image read again).
  [[nodiscard]] std::optional<std::vector<graph::Layer>> layers(std::string_view image_id);
  // Reads every recorded chain in one pass over the table, for layers() to hand over: a restart's
  // first re-list asks for the chain of every image, and one pass costs far less than a lookup
  // per image. release_loaded_layers() drops what was not asked for.
  void load_layers();
  void release_loaded_layers();
  [[nodiscard]] bool has_layers(std::string_view image_id) const;
  // Records the chains of `images` (images of `graph`) not recorded yet, in one transaction.
  void record_layers(const graph::ImageGraph& graph,
                     const std::vector<const graph::Image*>& images);
  [[nodiscard]] std::size_t layer_records() const;

  // Persisted key/value metadata (e.g. "seeded" = "1").
  void set_meta(std::string_view key, std::string_view value);
  [[nodiscard]] std::optional<std::string> meta(std::string_view key) const;

private:
  struct Impl;
  explicit StateStore(std::unique_ptr<Impl> impl);

  std::unique_ptr<Impl> m_impl;
};

} // namespace imagegc::gc
