// Engine response bodies. The first line of the input names the answer it is parsed as
// ("images", "inspect", "history", ...); the rest is the body. Every parser must return a
// value or a malformed error, whatever the body.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "engine/json_ingest.hpp"

namespace {

void parse_as(std::string_view kind, std::string_view body) {
  namespace engine = imagegc::engine;
  if (kind == "images") {
    (void)engine::parse_image_list(body);
  } else if (kind == "inspect") {
    (void)engine::parse_image_details(body);
  } else if (kind == "history") {
    (void)engine::parse_image_history(body);
  } else if (kind == "containers") {
    (void)engine::parse_container_list(body);
  } else if (kind == "container") {
    (void)engine::parse_container_details(body);
  } else if (kind == "event") {
    (void)engine::parse_event(body);
  } else if (kind == "delete") {
    (void)engine::parse_delete_response(body);
  } else if (kind == "df") {
    (void)engine::parse_disk_usage(body);
    (void)engine::parse_build_cache_usage(body);
  } else if (kind == "prune") {
    (void)engine::parse_build_prune_response(body);
  } else if (kind == "version") {
    (void)engine::parse_version(body);
  } else if (kind == "info") {
    (void)engine::parse_info(body);
  } else if (kind == "error") {
    (void)engine::parse_error_message(body);
  } else if (kind == "text") {
    // The small text parsers the JSON ones use, on arbitrary strings.
    (void)engine::parse_api_version(body);
    (void)engine::normalize_image_id(body);
    (void)engine::familiar_reference(body);
    (void)engine::parse_rfc3339(body);
  }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const auto newline = input.find('\n');
  if (newline == std::string_view::npos) {
    return 0;
  }
  parse_as(input.substr(0, newline), input.substr(newline + 1));
  return 0;
}
