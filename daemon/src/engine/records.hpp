#pragma once
// Plain records of what the Docker Engine API returns, independent of the API version that
// produced them. engine/json_ingest turns response bodies into these; nothing else parses JSON.

#include <compare>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "graph/diff_id.hpp"

namespace imagegc::engine {

using Labels = std::map<std::string, std::string>;

struct ApiVersion {
  int major = 1;
  int minor = 41;

  // clang-tidy 14 takes the defaulted comparison's literal 0 for a null pointer.
  // NOLINTNEXTLINE(modernize-use-nullptr)
  auto operator<=>(const ApiVersion&) const = default;
  [[nodiscard]] std::string to_string() const; // "1.41"
};

// GET /_ping headers.
struct PingResult {
  std::optional<ApiVersion> api_version; // Api-Version header; absent on very old engines
  std::string os_type;                   // Ostype header
  bool experimental = false;             // Docker-Experimental header
};

// GET /version (the parts we use).
struct VersionInfo {
  std::string version;    // "20.10.24+dfsg1", or Podman's "4.3.1"
  ApiVersion api_version; // ApiVersion
  ApiVersion min_api_version;
  bool is_podman = false; // Components[].Name == "Podman Engine"
};

// Where the engine keeps its images. The containerd image store (the default for fresh installs
// from Engine 29) differs from the classic one in what the API reports: the image ID is the digest
// of the manifest or index an image record points at, an untagged image is a record named
// "moby-dangling@<digest>" that the API never shows by name, the only parent link is the record
// label "org.mobyproject.image.parent", the listing's Size sums every platform's packed content
// and unpacked snapshots, and prune's `until` compares the record's local creation time.
enum class ImageStore {
  graphdriver, // the classic layer store (overlay2, vfs, ...), and Podman
  containerd,  // the containerd image store (snapshotters)
};

std::string_view to_string(ImageStore store); // "graphdriver", "containerd"

// GET /info (the parts we use).
struct EngineInfo {
  std::string server_version;
  std::string storage_driver; // Driver
  std::string docker_root_dir;
  bool containerd_snapshotter = false; // DriverStatus driver-type io.containerd.snapshotter.v1

  [[nodiscard]] ImageStore image_store() const {
    return containerd_snapshotter ? ImageStore::containerd : ImageStore::graphdriver;
  }
};

// One element of GET /images/json?all=1.
struct ImageSummary {
  std::string id;        // "sha256:<hex>"; Podman's bare hex is normalised to this form
  std::string parent_id; // "" when none
  std::vector<std::string> repo_tags;    // "<none>:<none>" (API < 1.43) is dropped
  std::vector<std::string> repo_digests; // "<none>@<none>" is dropped
  std::int64_t created = 0;              // unix seconds
  std::int64_t size = 0;                 // bytes of the whole layer chain
  std::int64_t shared_size = -1;         // -1: not computed
  std::int64_t containers = -1;          // -1: not computed (always before API 1.51)
  Labels labels;
};

// GET /images/{id}/json (the parts we use).
struct ImageDetails {
  std::string id;
  std::string parent; // "" when none, and always "" from API 1.52 (field omitted)
  std::vector<std::string> repo_tags;
  std::vector<std::string> repo_digests;
  std::int64_t created = 0;                  // unix seconds, from RFC 3339 "Created"
  std::optional<std::int64_t> last_tag_time; // unix seconds, Metadata.LastTagTime
  std::int64_t size = 0;                     // Size
  std::vector<graph::DiffId> diff_ids;       // RootFS.Layers, base first
  Labels labels;                             // Config.Labels
};

// One element of GET /images/{id}/history (newest first, as the engine sends it).
struct HistoryEntry {
  std::string id; // image ID of the step, or "<missing>"
  std::int64_t created = 0;
  std::string created_by;
  std::string comment;
  std::int64_t size = 0; // 0 for steps that made no layer
};

// One element of GET /containers/json?all=1.
struct ContainerSummary {
  std::string id;
  std::string image;    // what the user typed (a reference, or an ID)
  std::string image_id; // the real image ID: "sha256:<hex>"
  std::string state;    // "running", "exited", "created", ...
  std::vector<std::string> names;
  std::int64_t created = 0; // unix seconds
};

// GET /containers/{id}/json (the parts we use).
struct ContainerDetails {
  std::string id;
  std::string image_id; // .Image: the real image ID
  std::string name;
  bool running = false;
  std::int64_t created = 0;                // unix seconds
  std::optional<std::int64_t> started_at;  // State.StartedAt; nullopt for Go's zero time
  std::optional<std::int64_t> finished_at; // State.FinishedAt
};

// One object of GET /events.
struct Event {
  std::string type;   // "image", "container", ...
  std::string action; // "tag", "delete", "create", "exec_start: sh" ...
  std::string actor_id;
  std::map<std::string, std::string> attributes;
  std::string scope;
  std::int64_t time_nano = 0; // timeNano, or time * 1e9 when only "time" is present
};

// DELETE /images/{name}: the items of a 200 answer.
struct DeleteResponse {
  std::vector<std::string> untagged;
  std::vector<std::string> deleted;
};

// One element of GET /system/df BuildCache.
struct BuildCacheRecord {
  std::string id;
  std::string type;
  bool in_use = false;
  bool shared = false;
  std::int64_t size = 0;
  std::optional<std::int64_t> last_used_at; // unix seconds
  std::int64_t usage_count = 0;

  bool operator==(const BuildCacheRecord&) const = default;
};

// One element of GET /system/df Images.
struct DiskUsageImage {
  std::string id;
  std::int64_t size = 0;
  std::int64_t shared_size = -1;
  std::int64_t containers = -1;
};

// GET /system/df.
struct DiskUsage {
  std::int64_t layers_size = 0;
  std::vector<DiskUsageImage> images;
  std::vector<BuildCacheRecord> build_cache;
};

// POST /build/prune parameters; those the negotiated API lacks are left out by the client.
struct BuildPruneOptions {
  bool all = false;
  std::optional<std::int64_t> until_seconds;  // filters {"until": ["<n>s"]}
  std::optional<std::int64_t> keep_storage;   // API 1.39+
  std::optional<std::int64_t> reserved_space; // API 1.48+
  std::optional<std::int64_t> max_used_space; // API 1.48+
  std::optional<std::int64_t> min_free_space; // API 1.48+
};

// POST /build/prune.
struct BuildPruneResponse {
  std::vector<std::string> caches_deleted;
  std::int64_t space_reclaimed = 0;
};

// A reference imagegc adds to an image it is about to delete, so that removing the image's own
// tags leaves it in place for a grace period (see gc/executor.cpp). It is imagegc's own
// bookkeeping: the engine client leaves it out of every image's tags.
std::string hold_reference(std::string_view image_id); // "imagegc-hold:<the ID's hex digits>"
constexpr std::string_view k_hold_repository = "imagegc-hold";
// Also in the fully qualified form Podman lists ("localhost/imagegc-hold:…").
bool is_hold_reference(std::string_view reference);

} // namespace imagegc::engine
