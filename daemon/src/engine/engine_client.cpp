#include "engine/engine_client.hpp"

#include <algorithm>

#include "engine/json_ingest.hpp"
#include "util/url.hpp"

namespace imagegc::engine {

namespace asio = boost::asio;

namespace {

util::Unexpected<Error> status_error(std::string_view what, const HttpResponse& response) {
  return util::unexpected(Error{ErrorKind::http_status, response.status,
                                std::string(what) + ": HTTP " + std::to_string(response.status) +
                                    ": " + parse_error_message(response.body)});
}

// Turns a 200 body into a record with `parse`, any other status into an error.
template <class Parse>
auto parse_ok(std::string_view what, const HttpResponse& response, Parse parse)
    -> decltype(parse(std::string_view{})) {
  if (response.status != 200) {
    return status_error(what, response);
  }
  auto parsed = parse(response.body);
  if (!parsed) {
    return util::unexpected(
        Error{ErrorKind::malformed, 0, std::string(what) + ": " + parsed.error().message});
  }
  return parsed;
}

// Docker answers 404 for an object that does not exist. Podman's compatibility service answers
// 500 for a container removed between its event and our inspect ("... does not exist in database:
// no such container"), so its own error words count too. So does dockerd's 500 for an image whose
// delete is under way when it is inspected (the untag event comes before the delete): its layers
// are already released, "layer does not exist" (moby layer.ErrLayerDoesNotExist). Were that an
// image that stays, it would be left out of the graph, and so never deleted.
bool names_a_missing_object(const HttpResponse& response) {
  if (response.status == 404) {
    return true;
  }
  if (response.status != 500) {
    return false;
  }
  const auto message = parse_error_message(response.body);
  return message.ends_with("no such container") || message.ends_with("no such image") ||
         message.ends_with("image not known") || message.ends_with("layer does not exist");
}

// Same, with a missing object as nullopt.
template <class Parse>
auto parse_ok_or_absent(std::string_view what, const HttpResponse& response, Parse parse)
    -> Result<std::optional<typename decltype(parse(std::string_view{}))::value_type>> {
  using Value = typename decltype(parse(std::string_view{}))::value_type;
  if (names_a_missing_object(response)) {
    return std::optional<Value>{};
  }
  auto parsed = parse_ok(what, response, parse);
  if (!parsed) {
    return util::unexpected(std::move(parsed).error());
  }
  return std::optional<Value>{std::move(*parsed)};
}

template <class Parse>
using ParsedRecord = typename decltype(std::declval<Parse>()(std::string_view{}))::value_type;

// GET `target` and parse a 200 answer.
template <class Parse>
asio::awaitable<Result<ParsedRecord<Parse>>> fetch(HttpConnection& connection, std::string target,
                                                   std::string_view what, Parse parse) {
  auto response = co_await connection.request("GET", std::move(target));
  if (!response) {
    co_return util::unexpected(std::move(response).error());
  }
  co_return parse_ok(what, *response, parse);
}

// GET `target` and parse a 200 answer; 404 is nullopt.
template <class Parse>
asio::awaitable<Result<std::optional<ParsedRecord<Parse>>>>
fetch_if_present(HttpConnection& connection, std::string target, std::string_view what,
                 Parse parse) {
  auto response = co_await connection.request("GET", std::move(target));
  if (!response) {
    co_return util::unexpected(std::move(response).error());
  }
  co_return parse_ok_or_absent(what, *response, parse);
}

// GET every one of `targets`, pipelined, and parse each answer as fetch_if_present does. The
// first error is the result.
template <class Parse>
asio::awaitable<Result<std::vector<std::optional<ParsedRecord<Parse>>>>>
fetch_each_if_present(HttpConnection& connection, std::vector<std::string> targets,
                      std::string_view what, Parse parse) {
  auto responses = co_await connection.get_pipelined(std::move(targets));
  std::vector<std::optional<ParsedRecord<Parse>>> records;
  records.reserve(responses.size());
  for (auto& response : responses) {
    if (!response) {
      co_return util::unexpected(std::move(response).error());
    }
    auto record = parse_ok_or_absent(what, *response, parse);
    if (!record) {
      co_return util::unexpected(std::move(record).error());
    }
    records.push_back(std::move(*record));
  }
  co_return records;
}

} // namespace

EngineClient::EngineClient(asio::any_io_executor executor, Endpoint endpoint, HttpLimits limits)
    : m_connection(std::move(executor), std::move(endpoint), limits) {}

std::string EngineClient::path(std::string_view suffix) const {
  return "/v" + m_api_version.to_string() + std::string(suffix);
}

std::string EngineClient::image_path(std::string_view name, std::string_view suffix) const {
  return image_path(path("/images/"), name, suffix);
}

std::string EngineClient::image_path(std::string_view prefix, std::string_view name,
                                     std::string_view suffix) {
  // In one allocation: room for the name encoded at worst, and the suffix.
  std::string target;
  target.reserve(prefix.size() + 3 * name.size() + suffix.size());
  target += prefix;
  util::append_percent_encoded(target, name, true);
  target += suffix;
  return target;
}

std::vector<std::string> EngineClient::image_paths(const std::vector<std::string>& names,
                                                   std::string_view suffix) const {
  // The versioned prefix once for all: a cold start asks for every image of a large host.
  const std::string prefix = path("/images/");
  std::vector<std::string> paths;
  paths.reserve(names.size());
  for (const std::string& name : names) {
    paths.push_back(image_path(prefix, name, suffix));
  }
  return paths;
}

asio::awaitable<Result<ApiVersion>> EngineClient::negotiate() {
  auto response = co_await m_connection.request("GET", "/_ping");
  if (!response) {
    co_return util::unexpected(std::move(response).error());
  }
  if (response->status != 200) {
    co_return status_error("GET /_ping", *response);
  }
  const auto header = response->header("api-version");
  const auto theirs = parse_api_version(header);
  if (!theirs) {
    co_return util::unexpected(Error{ErrorKind::malformed, 0,
                                     "the engine at " + endpoint().to_string() +
                                         " sent no usable Api-Version header (got \"" + header +
                                         "\")"});
  }
  if (*theirs < k_min_api_version) {
    co_return util::unexpected(Error{ErrorKind::http_status, 0,
                                     "the engine at " + endpoint().to_string() + " speaks API " +
                                         theirs->to_string() + "; imagegc needs " +
                                         k_min_api_version.to_string() + " or newer"});
  }
  m_api_version = std::min(*theirs, k_max_api_version);
  m_podman = !response->header("libpod-api-version").empty();
  co_return m_api_version;
}

asio::awaitable<Result<VersionInfo>> EngineClient::version() {
  co_return co_await fetch(m_connection, path("/version"), "GET /version", parse_version);
}

asio::awaitable<Result<EngineInfo>> EngineClient::info() {
  auto info = co_await fetch(m_connection, path("/info"), "GET /info", parse_info);
  if (info) {
    m_image_store = info->image_store();
  }
  co_return info;
}

asio::awaitable<Result<std::vector<ImageSummary>>>
EngineClient::list_images(ImageListFilter filter) {
  std::string target = path("/images/json?all=1");
  if (filter == ImageListFilter::dangling_only) {
    target = path("/images/json?filters=") + util::percent_encode(R"({"dangling":["true"]})");
  }
  co_return co_await fetch(m_connection, std::move(target), "GET /images/json", parse_image_list);
}

asio::awaitable<Result<std::optional<ImageDetails>>> EngineClient::inspect_image(std::string name) {
  co_return co_await fetch_if_present(m_connection, image_path(name, "/json"),
                                      "GET /images/{name}/json", parse_image_details);
}

asio::awaitable<Result<std::optional<std::vector<HistoryEntry>>>>
EngineClient::image_history(std::string name) {
  co_return co_await fetch_if_present(m_connection, image_path(name, "/history"),
                                      "GET /images/{name}/history", parse_image_history);
}

asio::awaitable<Result<std::vector<std::optional<ImageDetails>>>>
EngineClient::inspect_images(std::vector<std::string> names) {
  co_return co_await fetch_each_if_present(m_connection, image_paths(names, "/json"),
                                           "GET /images/{name}/json", parse_image_details);
}

asio::awaitable<Result<std::vector<std::optional<std::vector<HistoryEntry>>>>>
EngineClient::image_histories(std::vector<std::string> names) {
  co_return co_await fetch_each_if_present(m_connection, image_paths(names, "/history"),
                                           "GET /images/{name}/history", parse_image_history);
}

asio::awaitable<Result<std::vector<ContainerSummary>>> EngineClient::list_containers() {
  co_return co_await fetch(m_connection, path("/containers/json?all=1"), "GET /containers/json",
                           parse_container_list);
}

asio::awaitable<Result<std::optional<ContainerDetails>>>
EngineClient::inspect_container(std::string id) {
  co_return co_await fetch_if_present(m_connection,
                                      path("/containers/" + util::percent_encode(id) + "/json"),
                                      "GET /containers/{id}/json", parse_container_details);
}

asio::awaitable<Result<void>> EngineClient::tag_image(std::string id, std::string reference) {
  const auto colon = reference.rfind(':');
  const auto repository = reference.substr(0, colon);
  const auto tag = colon == std::string::npos ? "latest" : reference.substr(colon + 1);
  auto response = co_await m_connection.request(
      "POST", path("/images/" + util::percent_encode(id, true) +
                   "/tag?repo=" + util::percent_encode(repository, true) +
                   "&tag=" + util::percent_encode(tag, true)));
  if (!response) {
    co_return util::unexpected(std::move(response).error());
  }
  if (response->status != 201 && response->status != 200) {
    co_return status_error("POST /images/{name}/tag", *response);
  }
  co_return Result<void>{};
}

asio::awaitable<Result<DeleteOutcome>> EngineClient::delete_image(std::string name,
                                                                  bool prune_parents) {
  // force is never sent: an engine conflict means the image stays.
  std::string target = path("/images/" + util::percent_encode(name, true));
  if (!prune_parents) {
    target += "?noprune=1";
  }
  auto response = co_await m_connection.request("DELETE", std::move(target));
  if (!response) {
    co_return util::unexpected(std::move(response).error());
  }
  DeleteOutcome outcome;
  switch (response->status) {
  case 200: {
    auto parsed = parse_delete_response(response->body);
    if (!parsed) {
      co_return util::unexpected(std::move(parsed).error());
    }
    outcome.response = std::move(*parsed);
    co_return outcome;
  }
  case 404:
    outcome.kind = DeleteOutcome::Kind::not_found;
    outcome.message = parse_error_message(response->body);
    co_return outcome;
  case 409:
    outcome.kind = DeleteOutcome::Kind::conflict;
    outcome.message = parse_error_message(response->body);
    co_return outcome;
  default:
    co_return status_error("DELETE /images/{name}", *response);
  }
}

asio::awaitable<Result<DiskUsage>> EngineClient::disk_usage() {
  co_return co_await fetch(m_connection, path("/system/df"), "GET /system/df", parse_disk_usage);
}

asio::awaitable<Result<DiskUsage>> EngineClient::build_cache_usage() {
  const bool filtered = m_api_version >= ApiVersion{1, 42};
  co_return co_await fetch(m_connection,
                           path(filtered ? "/system/df?type=build-cache" : "/system/df"),
                           "GET /system/df", parse_build_cache_usage);
}

asio::awaitable<Result<BuildPruneResponse>>
EngineClient::prune_build_cache(BuildPruneOptions options, std::vector<std::string>& dropped) {
  std::string query;
  const auto add = [&](std::string_view name, const std::string& value) {
    query += (query.empty() ? "?" : "&") + std::string(name) + "=" + util::percent_encode(value);
  };
  if (options.all) {
    add("all", "1");
  }
  if (options.until_seconds) {
    add("filters", R"({"until":[")" + std::to_string(*options.until_seconds) + R"(s"]})");
  }
  if (options.keep_storage) {
    add("keep-storage", std::to_string(*options.keep_storage));
  }
  const bool has_space_options = m_api_version >= ApiVersion{1, 48};
  const std::pair<const char*, const std::optional<std::int64_t>*> space_options[] = {
      {"reserved-space", &options.reserved_space},
      {"max-used-space", &options.max_used_space},
      {"min-free-space", &options.min_free_space}};
  for (const auto& [name, value] : space_options) {
    if (!value->has_value()) {
      continue;
    }
    if (has_space_options) {
      add(name, std::to_string(**value));
    } else {
      dropped.emplace_back(name);
    }
  }
  auto response = co_await m_connection.request("POST", path("/build/prune" + query));
  if (!response) {
    co_return util::unexpected(std::move(response).error());
  }
  co_return parse_ok("POST /build/prune", *response, parse_build_prune_response);
}

} // namespace imagegc::engine
