#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/endpoint.hpp"
#include "engine/error.hpp"
#include "engine/http_connection.hpp"
#include "engine/records.hpp"
#include "util/asio.hpp"

namespace imagegc::engine {

// The API versions imagegc speaks. Below the minimum the field shapes differ too much; above the
// maximum the engine answers the maximum's shapes because the path says which version we want.
inline constexpr ApiVersion k_min_api_version{1, 41};
inline constexpr ApiVersion k_max_api_version{1, 52};

struct DeleteOutcome {
  enum class Kind {
    deleted,   // 200: some references untagged and/or images deleted
    not_found, // 404: already gone
    conflict,  // 409: kept by the engine (a container, a child, several repositories)
  };
  Kind kind = Kind::deleted;
  DeleteResponse response; // Kind::deleted
  std::string message;     // the engine's reason for not_found / conflict
};

enum class ImageListFilter { all, dangling_only };

// Typed calls to the Docker Engine API over one keep-alive connection. Call negotiate() first:
// every other path is prefixed with the negotiated /v1.NN/. Not thread-safe; sequential use.
// The coroutines take their arguments by value: a coroutine reads them only once it runs, when a
// caller's temporary would be gone.
class EngineClient {
public:
  EngineClient(boost::asio::any_io_executor executor, Endpoint endpoint, HttpLimits limits = {});

  // GET /_ping; picks min(k_max_api_version, engine's Api-Version). Fails when the engine is
  // older than k_min_api_version.
  boost::asio::awaitable<Result<ApiVersion>> negotiate();
  [[nodiscard]] ApiVersion api_version() const { return m_api_version; }
  // Whether the engine is Podman's compatible service (its /_ping sends Libpod-Api-Version).
  [[nodiscard]] bool is_podman() const { return m_podman; }
  // The engine's image store, as the last successful info() reported it (graphdriver before).
  [[nodiscard]] ImageStore image_store() const { return m_image_store; }
  [[nodiscard]] const Endpoint& endpoint() const { return m_connection.endpoint(); }
  [[nodiscard]] std::size_t connections_opened() const { return m_connection.connections_opened(); }

  boost::asio::awaitable<Result<VersionInfo>> version();
  // Also records the engine's image store (see image_store()).
  boost::asio::awaitable<Result<EngineInfo>> info();
  boost::asio::awaitable<Result<std::vector<ImageSummary>>>
  list_images(ImageListFilter filter = ImageListFilter::all);
  // nullopt when the engine has no such image (404).
  boost::asio::awaitable<Result<std::optional<ImageDetails>>> inspect_image(std::string name);
  boost::asio::awaitable<Result<std::optional<std::vector<HistoryEntry>>>>
  image_history(std::string name);
  // inspect_image and image_history for each of `names`, the requests pipelined on the one
  // connection: for reading many images. The answers are in the order of `names`; the first
  // error is the result.
  boost::asio::awaitable<Result<std::vector<std::optional<ImageDetails>>>>
  inspect_images(std::vector<std::string> names);
  boost::asio::awaitable<Result<std::vector<std::optional<std::vector<HistoryEntry>>>>>
  image_histories(std::vector<std::string> names);
  boost::asio::awaitable<Result<std::vector<ContainerSummary>>> list_containers();
  boost::asio::awaitable<Result<std::optional<ContainerDetails>>> inspect_container(std::string id);
  // Adds `reference` ("repo:tag") to the image `id`; never forces (a tag that exists moves only
  // as `docker tag` moves it).
  boost::asio::awaitable<Result<void>> tag_image(std::string id, std::string reference);
  // Never forces. 404 and 409 are outcomes, not errors.
  boost::asio::awaitable<Result<DeleteOutcome>> delete_image(std::string name,
                                                             bool prune_parents = true);
  boost::asio::awaitable<Result<DiskUsage>> disk_usage();
  // The build cache's records alone: API 1.42 and later size nothing else (no image, container
  // or volume), which on a large host is most of /system/df's cost and body. Older engines, and
  // Podman, which ignores the filter, answer with everything, of which only the build cache and
  // LayersSize are parsed. `images` stays empty.
  boost::asio::awaitable<Result<DiskUsage>> build_cache_usage();
  // Space options the negotiated API does not have (1.48+) are dropped, and listed in `dropped`.
  // An engine without the endpoint (Podman) answers 404: an ErrorKind::http_status error.
  boost::asio::awaitable<Result<BuildPruneResponse>>
  prune_build_cache(BuildPruneOptions options, std::vector<std::string>& dropped);

private:
  std::string path(std::string_view suffix) const;
  // The path of the image `name` (an ID or a reference), then `suffix`.
  std::string image_path(std::string_view name, std::string_view suffix) const;
  // The same after `prefix`, the versioned "/images/" path.
  static std::string image_path(std::string_view prefix, std::string_view name,
                                std::string_view suffix);
  std::vector<std::string> image_paths(const std::vector<std::string>& names,
                                       std::string_view suffix) const;

  HttpConnection m_connection;
  ApiVersion m_api_version = k_min_api_version;
  bool m_podman = false;
  ImageStore m_image_store = ImageStore::graphdriver;
};

} // namespace imagegc::engine
