#include "sync/event_applier.hpp"

#include <algorithm>
#include <initializer_list>
#include <vector>

#include "engine/json_ingest.hpp"
#include "sync/image_reader.hpp"

namespace imagegc::sync {

namespace asio = boost::asio;

namespace {

bool is_one_of(std::string_view value, std::initializer_list<std::string_view> options) {
  return std::find(options.begin(), options.end(), value) != options.end();
}

// Legacy builders can leave chains of parents that never announced themselves; bound the walk
// so corrupt parent links cannot loop.
constexpr int k_max_parent_walk = 4096;

} // namespace

EventEffect effect_of(const engine::Event& event) {
  if (event.type == "image") {
    // push, save and prune change nothing in the graph (prune sends a delete per image).
    if (is_one_of(event.action, {"tag", "untag", "delete", "remove", "import", "load", "create",
                                 "pull", "build", "commit"}) &&
        !event.actor_id.empty()) {
      return {EventEffect::Kind::refresh_image, engine::normalize_image_id(event.actor_id)};
    }
    return {};
  }
  if (event.type == "container" && !event.actor_id.empty()) {
    if (is_one_of(event.action, {"destroy", "remove"})) {
      return {EventEffect::Kind::forget_container, event.actor_id};
    }
    if (is_one_of(event.action, {"create", "start", "die"})) {
      return {EventEffect::Kind::refresh_container, event.actor_id};
    }
    // A commit (docker commit, legacy builder) names the image it made.
    if (event.action == "commit") {
      if (const auto it = event.attributes.find("imageID"); it != event.attributes.end()) {
        return {EventEffect::Kind::refresh_image, engine::normalize_image_id(it->second)};
      }
    }
  }
  return {};
}

namespace {

// Inspect no longer says the parent from API 1.52: keep the one the graph had from a listing.
void keep_known_parent(const engine::EngineClient& client, const graph::ImageGraph& graph,
                       graph::Image& image) {
  if (image.parent.empty() && client.api_version() >= engine::ApiVersion{1, 52}) {
    if (const graph::Image* previous = graph.find_image(image.id)) {
      image.parent = previous->parent;
    }
  }
}

} // namespace

asio::awaitable<engine::Result<void>> refresh_image(engine::EngineClient& client,
                                                    graph::ImageGraph& graph, std::string name) {
  std::vector<std::string> lost_a_tag;
  std::string next = std::move(name);
  for (int walked = 0; !next.empty() && walked < k_max_parent_walk; ++walked) {
    auto image = co_await read_image(client, next, graph);
    if (!image) {
      co_return util::unexpected(std::move(image).error());
    }
    if (!image->has_value()) {
      graph.remove_image(next);
      break;
    }
    graph::ImageWithLayers& found = **image;
    keep_known_parent(client, graph, found);
    for (const std::string& tag : found.tags) {
      const graph::Image* owner = graph.find_by_reference(tag);
      if (owner != nullptr && owner->id != found.id) {
        lost_a_tag.push_back(owner->id);
      }
    }
    const std::string parent = found.parent;
    graph.upsert_image(std::move(found));
    next = (!parent.empty() && graph.find_image(parent) == nullptr) ? parent : std::string{};
  }
  // A tag that a build or pull moved sends no event about the image it left, and more than the
  // tag may have changed there: Podman lists a digest reference only for a repository the image
  // still has a tag in. Re-read those images rather than guess.
  std::sort(lost_a_tag.begin(), lost_a_tag.end());
  lost_a_tag.erase(std::unique(lost_a_tag.begin(), lost_a_tag.end()), lost_a_tag.end());
  for (const std::string& id : lost_a_tag) {
    auto image = co_await read_image(client, id, graph);
    if (!image) {
      co_return util::unexpected(std::move(image).error());
    }
    if (!image->has_value()) {
      graph.remove_image(id);
      continue;
    }
    keep_known_parent(client, graph, **image);
    graph.upsert_image(std::move(**image));
  }
  co_return engine::Result<void>{};
}

asio::awaitable<engine::Result<void>> apply_event(engine::EngineClient& client,
                                                  graph::ImageGraph& graph, engine::Event event) {
  const EventEffect effect = effect_of(event);
  switch (effect.kind) {
  case EventEffect::Kind::none:
    break;
  case EventEffect::Kind::refresh_image:
    co_return co_await refresh_image(client, graph, effect.subject);
  case EventEffect::Kind::forget_container:
    graph.remove_container(effect.subject);
    break;
  case EventEffect::Kind::refresh_container: {
    auto container = co_await client.inspect_container(effect.subject);
    if (!container) {
      co_return util::unexpected(std::move(container).error());
    }
    if (!container->has_value()) {
      graph.remove_container(effect.subject);
      break;
    }
    const engine::ContainerDetails& details = **container;
    const std::string image_id = engine::normalize_image_id(details.image_id);
    graph.upsert_container({details.id, image_id, details.running});
    // A legacy build step runs a container on an image no event announced.
    if (!image_id.empty() && graph.find_image(image_id) == nullptr) {
      co_return co_await refresh_image(client, graph, image_id);
    }
    break;
  }
  }
  co_return engine::Result<void>{};
}

} // namespace imagegc::sync
