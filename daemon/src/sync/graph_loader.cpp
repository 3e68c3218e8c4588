#include "sync/graph_loader.hpp"

#include <algorithm>

#include "engine/json_ingest.hpp"
#include "sync/image_reader.hpp"

namespace imagegc::sync {

namespace asio = boost::asio;

namespace {

bool same_references(const graph::Image& known, const engine::ImageSummary& summary) {
  auto tags = summary.repo_tags;
  auto digests = summary.repo_digests;
  std::sort(tags.begin(), tags.end());
  std::sort(digests.begin(), digests.end());
  tags.erase(std::unique(tags.begin(), tags.end()), tags.end());
  digests.erase(std::unique(digests.begin(), digests.end()), digests.end());
  return known.tags == tags && known.digests == digests;
}

} // namespace

asio::awaitable<engine::Result<graph::ImageGraph>> load_graph(engine::EngineClient& client,
                                                              const graph::ImageGraph& known) {
  // Containers first: an image a container was created from after this listing is then still
  // seen by the image listing that follows, never the other way round.
  auto containers = co_await client.list_containers();
  if (!containers) {
    co_return util::unexpected(std::move(containers).error());
  }
  auto summaries = co_await client.list_images();
  if (!summaries) {
    co_return util::unexpected(std::move(summaries).error());
  }

  graph::ImageGraph fresh;
  for (const engine::ImageSummary& summary : *summaries) {
    const graph::Image* previous = known.find_image(summary.id);
    if (previous && same_references(*previous, summary)) {
      graph::Image image = *previous;
      image.parent = summary.parent_id;
      fresh.upsert_image(std::move(image));
      continue;
    }
    auto image = co_await read_image(client, summary.id, known);
    if (!image) {
      co_return util::unexpected(std::move(image).error());
    }
    if (!image->has_value()) {
      continue; // deleted since the listing
    }
    // The listing's ParentId is there on every API version; inspect's Parent is not (1.52+).
    (*image)->parent = summary.parent_id;
    fresh.upsert_image(std::move(**image));
  }

  for (const engine::ContainerSummary& container : *containers) {
    fresh.upsert_container({container.id, engine::normalize_image_id(container.image_id),
                            container.state == "running"});
  }
  co_return fresh;
}

} // namespace imagegc::sync
