#include "sync/graph_loader.hpp"

#include <algorithm>
#include <unordered_map>

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

// One summary per image. The containerd image store of Engines 24 and 25 listed one entry per
// image record, that is per name, each with that one name in RepoTags (moby
// daemon/containerd/image_list.go before it grouped records by target digest); later engines
// send one entry per ID, which this leaves as it is.
std::vector<engine::ImageSummary> one_per_image(std::vector<engine::ImageSummary> summaries) {
  std::vector<engine::ImageSummary> merged;
  merged.reserve(summaries.size());
  std::unordered_map<std::string, std::size_t> index;
  for (engine::ImageSummary& summary : summaries) {
    const auto [it, inserted] = index.try_emplace(summary.id, merged.size());
    if (inserted) {
      merged.push_back(std::move(summary));
      continue;
    }
    engine::ImageSummary& first = merged[it->second];
    first.repo_tags.insert(first.repo_tags.end(), summary.repo_tags.begin(),
                           summary.repo_tags.end());
    first.repo_digests.insert(first.repo_digests.end(), summary.repo_digests.begin(),
                              summary.repo_digests.end());
    if (first.parent_id.empty()) {
      first.parent_id = summary.parent_id;
    }
  }
  return merged;
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
  for (const engine::ImageSummary& summary : one_per_image(std::move(*summaries))) {
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
    // On the containerd store both are the image record's label org.mobyproject.image.parent,
    // the only parent link that store has (daemon/containerd/image_list.go, image_children.go).
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
