#pragma once
// Turns Docker Engine API response bodies (API 1.41 through 1.52, and Podman's compatible
// service) into engine records. Unknown fields are ignored; a body that is not the JSON we
// expect is an ErrorKind::malformed error, never an exception or a crash.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/error.hpp"
#include "engine/records.hpp"

namespace imagegc::engine {

Result<std::vector<ImageSummary>> parse_image_list(std::string_view body);
Result<ImageDetails> parse_image_details(std::string_view body);
Result<std::vector<HistoryEntry>> parse_image_history(std::string_view body);
Result<std::vector<ContainerSummary>> parse_container_list(std::string_view body);
Result<ContainerDetails> parse_container_details(std::string_view body);
Result<Event> parse_event(std::string_view line);
Result<DeleteResponse> parse_delete_response(std::string_view body);
Result<DiskUsage> parse_disk_usage(std::string_view body);
// The same answer's LayersSize and BuildCache only (`images` stays empty): what a daemon asks
// /system/df for, on any API version.
Result<DiskUsage> parse_build_cache_usage(std::string_view body);
Result<BuildPruneResponse> parse_build_prune_response(std::string_view body);
Result<VersionInfo> parse_version(std::string_view body);
Result<EngineInfo> parse_info(std::string_view body);

// The "message" of an engine error body ({"message":"..."}), or the trimmed body itself.
std::string parse_error_message(std::string_view body);

// "1.41" → {1, 41}; anything else → nullopt.
std::optional<ApiVersion> parse_api_version(std::string_view text);

// The containerd image store keeps an untagged image as a record named
// "moby-dangling@<image ID>" (moby daemon/containerd/soft_delete.go). The API leaves such names
// out of RepoTags, and a delete naming one deletes by ID (daemon/containerd/image_delete.go,
// explicitDanglingRef); imagegc never takes one for a tag.
inline constexpr std::string_view k_dangling_record_prefix = "moby-dangling@";
bool is_dangling_record_name(std::string_view name);

// Podman sends bare hex IDs; Docker sends "sha256:<hex>". Always returns the Docker form for
// a 64-hex-digit input, the image ID for a containerd-store dangling record's name, and the
// input unchanged otherwise.
std::string normalize_image_id(std::string_view id);

// A reference in the familiar form Docker reports: "docker.io/library/x:1" → "x:1",
// "docker.io/team/x@sha256:…" → "team/x@sha256:…". Podman reports Docker Hub names fully
// qualified; names on any other registry, and Podman's "localhost/" names, are returned as they
// are. Docker's API resolves the familiar form back to the same image, and so does Podman's.
std::string familiar_reference(std::string_view reference);

// RFC 3339 / RFC 3339 nano ("2024-05-01T10:11:12.123456789Z", "+02:00" offsets) → unix
// seconds. Go's zero time ("0001-01-01T00:00:00Z") → nullopt.
std::optional<std::int64_t> parse_rfc3339(std::string_view text);

} // namespace imagegc::engine
