#include "sync/graph_loader.hpp"

#include <algorithm>
#include <bit>
#include <chrono>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <string_view>
#include <unordered_map>
#include <unordered_set>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <spdlog/spdlog.h>

#include "engine/json_ingest.hpp"
#include "graph/string_map.hpp"
#include "sync/chain_sizes.hpp"
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

// The graph form of a listed image whose layers are known, taken from its summary (all but its
// ParentId, which load_graph sets for every image). The listing says all but the last tag time,
// which only seeds the last-used record the state store already holds.
graph::ImageWithLayers from_listing(engine::ImageSummary& summary,
                                    std::vector<graph::Layer> layers) {
  graph::ImageWithLayers image;
  image.id = std::move(summary.id);
  image.tags = std::move(summary.repo_tags);
  image.digests = std::move(summary.repo_digests);
  image.created = summary.created;
  image.labels = std::move(summary.labels);
  image.layers = std::move(layers);
  return image; // upsert_image sorts the references
}

// One summary per image. The containerd image store of Engines 24 and 25 listed one entry per
// image record, that is per name, each with that one name in RepoTags (moby
// daemon/containerd/image_list.go before it grouped records by target digest); later engines
// send one entry per ID, which this leaves as it is.
std::vector<engine::ImageSummary> one_per_image(std::vector<engine::ImageSummary> summaries) {
  // Most listings have no ID twice, and then stay as they are: moving 100k summaries into a new
  // list cost more than this check.
  std::unordered_set<std::string_view, graph::StringHash, std::equal_to<>> ids;
  ids.reserve(summaries.size());
  const bool repeated =
      std::any_of(summaries.begin(), summaries.end(), [&](const engine::ImageSummary& summary) {
        return !ids.insert(summary.id).second;
      });
  if (!repeated) {
    return summaries;
  }
  std::unordered_map<std::string, std::size_t> index;
  std::vector<engine::ImageSummary> merged;
  merged.reserve(summaries.size());
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

// A host with many images to read has a request or two to make per image. Each connection sends
// them in batches of this many, pipelined; the engine answers one request per connection at a
// time, so beyond this many images a few connections read at once.
constexpr std::size_t k_batch_size = 32;
constexpr std::size_t k_images_per_connection = 64;
constexpr std::size_t k_max_connections = 8;

// Reads the items [first, first + count) on `reader`.
using ReadBatch = std::function<asio::awaitable<engine::Result<void>>(
    engine::EngineClient& reader, std::size_t first, std::size_t count)>;

// Runs `read_batch` over every item in [0, count), in batches, on `client` and, for many items,
// on a few more connections negotiated like it. Stops at the first error.
asio::awaitable<engine::Result<void>> read_on_connections(engine::EngineClient& client,
                                                          std::size_t count, ReadBatch read_batch) {
  std::size_t next = 0;
  std::optional<engine::Error> failed;
  const auto read_some = [&](engine::EngineClient& reader) -> asio::awaitable<void> {
    while (!failed && next < count) {
      const std::size_t first = next;
      const std::size_t batch = std::min(k_batch_size, count - first);
      next += batch;
      if (auto read = co_await read_batch(reader, first, batch); !read) {
        failed = std::move(read).error();
      }
    }
  };

  const std::size_t connections =
      std::clamp<std::size_t>(count / k_images_per_connection, 1, k_max_connections);
  if (connections == 1) {
    co_await read_some(client);
  } else {
    const auto executor = co_await asio::this_coro::executor;
    asio::steady_timer all_done(executor, asio::steady_timer::time_point::max());
    std::size_t running = connections - 1;
    std::exception_ptr thrown;
    for (std::size_t n = 1; n < connections; ++n) {
      asio::co_spawn(
          executor,
          [&]() -> asio::awaitable<void> {
            engine::EngineClient reader(executor, client.endpoint());
            if (auto negotiated = co_await reader.negotiate(); !negotiated) {
              failed = std::move(negotiated).error();
              co_return;
            }
            if (auto info = co_await reader.info(); !info) {
              failed = std::move(info).error();
              co_return;
            }
            co_await read_some(reader);
          },
          [&](const std::exception_ptr& error) {
            if (error && !thrown) {
              thrown = error;
            }
            if (--running == 0) {
              all_done.cancel();
            }
          });
    }
    co_await read_some(client);
    while (running > 0) {
      boost::system::error_code ignored;
      co_await all_done.async_wait(asio::redirect_error(asio::use_awaitable, ignored));
    }
    if (thrown) {
      std::rethrow_exception(thrown);
    }
  }
  if (failed) {
    co_return util::unexpected(std::move(*failed));
  }
  co_return engine::Result<void>{};
}

// Fingerprints of layer chains: equal chains have equal ones, and different chains collide about
// never (a collision costs only some needless work: every use below checks the chains
// themselves, or reads a history in a later round).
constexpr std::uint64_t k_empty_chain = 0x243f6a8885a308d3ULL;

std::uint64_t extend_chain(std::uint64_t fingerprint, const graph::DiffId& diff_id) {
  return std::rotl(fingerprint * 0x9e3779b97f4a7c15ULL, 31) ^ std::hash<graph::DiffId>{}(diff_id);
}

// A set of fingerprints, open-addressed in one array: a cold start looks up a million of them,
// and a node-based set cost a cache miss or two more per lookup.
class FingerprintSet {
public:
  explicit FingerprintSet(std::size_t expected)
      : m_slots(std::bit_ceil(std::max<std::size_t>(expected * 2, 16)), k_empty),
        m_mask(m_slots.size() - 1), m_shift(std::countl_zero(m_mask)) {}

  // At most `expected` fingerprints go in.
  void insert(std::uint64_t fingerprint) {
    std::uint64_t& slot = m_slots[find(fingerprint)];
    slot = stored(fingerprint);
  }
  [[nodiscard]] bool contains(std::uint64_t fingerprint) const {
    return m_slots[find(fingerprint)] != k_empty;
  }

private:
  static constexpr std::uint64_t k_empty = 0;
  // The empty mark stands for no fingerprint: one that equals it is stored as another (a
  // collision, which costs only needless work).
  static std::uint64_t stored(std::uint64_t fingerprint) {
    return fingerprint == k_empty ? 1 : fingerprint;
  }
  std::size_t find(std::uint64_t fingerprint) const {
    const std::uint64_t key = stored(fingerprint);
    // Multiplied, so that the slot (the top bits) depends on every bit.
    std::size_t slot = static_cast<std::size_t>((key * 0x9E3779B97F4A7C15ULL) >> m_shift) & m_mask;
    while (m_slots[slot] != k_empty && m_slots[slot] != key) {
      slot = (slot + 1) & m_mask;
    }
    return slot;
  }

  std::vector<std::uint64_t> m_slots;
  std::size_t m_mask;
  int m_shift;
};

// The fingerprint of the first `count` layers of `layers`.
std::uint64_t chain_fingerprint(const std::vector<graph::Layer>& layers, std::size_t count) {
  std::uint64_t fingerprint = k_empty_chain;
  for (std::size_t i = 0; i < count; ++i) {
    fingerprint = extend_chain(fingerprint, layers[i].diff_id);
  }
  return fingerprint;
}

// Gives what layer sizes the known chains settle to the images that lack them (ChainSizes),
// shortest chains first, so that a parent's chain is known before its children's. The images
// already sized (known, remembered, or with sizes from inspect) are the chains they may build on.
void settle_from_chains(std::vector<std::unique_ptr<InspectedImage>>& images) {
  std::vector<InspectedImage*> unsized;
  for (const std::unique_ptr<InspectedImage>& image : images) {
    if (image && !image->sized) {
      unsized.push_back(image.get());
    }
  }
  if (unsized.empty()) {
    return;
  }
  // What each unsized image needs known: its chain below the top layer (or its one layer).
  FingerprintSet needed(unsized.size());
  for (const InspectedImage* image : unsized) {
    const std::vector<graph::Layer>& layers = image->image.layers;
    if (!layers.empty()) {
      needed.insert(chain_fingerprint(layers, std::max<std::size_t>(layers.size() - 1, 1)));
    }
  }
  // Only the sized chains that hold what some unsized image needs: on a cold start most images
  // are sized by then, and a trie of all their chains cost more than the rest of the settling.
  ChainSizes chains;
  for (const std::unique_ptr<InspectedImage>& image : images) {
    if (!image || !image->sized) {
      continue;
    }
    std::uint64_t fingerprint = k_empty_chain;
    for (const graph::Layer& layer : image->image.layers) {
      fingerprint = extend_chain(fingerprint, layer.diff_id);
      if (needed.contains(fingerprint)) {
        chains.add(image->image.layers);
        break;
      }
    }
  }
  std::stable_sort(unsized.begin(), unsized.end(),
                   [](const InspectedImage* left, const InspectedImage* right) {
                     return left->image.layers.size() < right->image.layers.size();
                   });
  for (InspectedImage* image : unsized) {
    image->sized = chains.settle(image->image.layers, image->size);
  }
}

// For each of `unsized` (indexes in `images`), whether its chain is another unsized image's
// chain and one layer more: once that image's history is read, ChainSizes settles this one.
std::vector<bool>
one_layer_above_another(const std::vector<std::unique_ptr<InspectedImage>>& images,
                        const std::vector<std::size_t>& unsized) {
  FingerprintSet chains(unsized.size());
  for (const std::size_t index : unsized) {
    const std::vector<graph::Layer>& layers = images[index]->image.layers;
    chains.insert(chain_fingerprint(layers, layers.size()));
  }
  std::vector<bool> above(unsized.size(), false);
  for (std::size_t nth = 0; nth < unsized.size(); ++nth) {
    const std::vector<graph::Layer>& layers = images[unsized[nth]]->image.layers;
    above[nth] =
        layers.size() >= 2 && chains.contains(chain_fingerprint(layers, layers.size() - 1));
  }
  return above;
}

// Reads the image `ids[item]` into `images[to_read[item]]` for each item (left empty when the
// engine no longer has the image): inspects them all, then reads the history of those whose
// layer sizes the chains known by then do not settle. Stops at the first error.
asio::awaitable<engine::Result<void>>
read_images(engine::EngineClient& client, const graph::ImageGraph& known,
            const std::vector<std::string>& ids, const std::vector<std::size_t>& to_read,
            std::vector<std::unique_ptr<InspectedImage>>& images) {
  auto inspect_batch = [&](engine::EngineClient& reader, std::size_t first,
                           std::size_t count) -> asio::awaitable<engine::Result<void>> {
    std::vector<std::string> names(ids.begin() + static_cast<std::ptrdiff_t>(first),
                                   ids.begin() + static_cast<std::ptrdiff_t>(first + count));
    auto details = co_await reader.inspect_images(std::move(names));
    if (!details) {
      co_return util::unexpected(std::move(details).error());
    }
    for (std::size_t nth = 0; nth < count; ++nth) {
      if (std::optional<engine::ImageDetails>& image = (*details)[nth]) {
        images[to_read[first + nth]] = std::make_unique<InspectedImage>(
            to_inspected(std::move(*image), known, reader.image_store()));
      }
    }
    co_return engine::Result<void>{};
  };
  if (auto read = co_await read_on_connections(client, to_read.size(), inspect_batch); !read) {
    co_return read;
  }

  std::vector<std::size_t> need_history;
  auto read_history_batch = [&](engine::EngineClient& reader, std::size_t first,
                                std::size_t count) -> asio::awaitable<engine::Result<void>> {
    std::vector<std::string> names;
    names.reserve(count);
    for (std::size_t nth = first; nth < first + count; ++nth) {
      names.push_back(images[need_history[nth]]->image.id);
    }
    auto histories = co_await reader.image_histories(std::move(names));
    if (!histories) {
      co_return util::unexpected(std::move(histories).error());
    }
    for (std::size_t nth = 0; nth < count; ++nth) {
      std::unique_ptr<InspectedImage>& image = images[need_history[first + nth]];
      if (const auto& history = (*histories)[nth]) {
        take_layer_sizes(reader, *history, *image);
      } else {
        image.reset(); // deleted since it was inspected
      }
    }
    co_return engine::Result<void>{};
  };
  const auto unsized = [&] {
    std::vector<std::size_t> found;
    for (const std::size_t index : to_read) {
      if (images[index] && !images[index]->sized) {
        found.push_back(index);
      }
    }
    return found;
  };

  if (client.image_store() == engine::ImageStore::graphdriver && !client.is_podman()) {
    settle_from_chains(images);
    // Two rounds: first the histories of the images no other unsized image settles, then the
    // chains those gave settle the images one layer above them (the legacy builder's steps and
    // children, say), and only what is left is read.
    const std::vector<std::size_t> left = unsized();
    const std::vector<bool> deferred = one_layer_above_another(images, left);
    for (std::size_t nth = 0; nth < left.size(); ++nth) {
      if (!deferred[nth]) {
        need_history.push_back(left[nth]);
      }
    }
    if (auto read = co_await read_on_connections(client, need_history.size(), read_history_batch);
        !read) {
      co_return read;
    }
    settle_from_chains(images);
  }
  need_history = unsized();
  co_return co_await read_on_connections(client, need_history.size(), read_history_batch);
}

} // namespace

bool chain_fits_listing(const std::vector<graph::Layer>& layers, std::int64_t listed_size,
                        bool podman) {
  std::int64_t sum = 0;
  for (const graph::Layer& layer : layers) {
    sum += layer.size;
  }
  return podman ? sum <= listed_size : sum == listed_size;
}

asio::awaitable<engine::Result<graph::ImageGraph>> load_graph(engine::EngineClient& client,
                                                              const graph::ImageGraph& known,
                                                              RememberedLayers remembered) {
  // Containers first: an image a container was created from after this listing is then still
  // seen by the image listing that follows, never the other way round.
  const auto started = std::chrono::steady_clock::now();
  auto containers = co_await client.list_containers();
  if (!containers) {
    co_return util::unexpected(std::move(containers).error());
  }
  auto summaries = co_await client.list_images();
  if (!summaries) {
    co_return util::unexpected(std::move(summaries).error());
  }

  // Each listed image comes from `known`, from `remembered`, or from the engine; all go into the
  // graph in listing order. Of the listing only the parents and the IDs to read are kept past
  // this loop: on a large host it is as large as the images read.
  std::vector<engine::ImageSummary> listed = one_per_image(std::move(*summaries));
  std::vector<std::unique_ptr<InspectedImage>> images(listed.size());
  std::vector<std::string> parents(listed.size());
  std::vector<std::size_t> to_read;
  std::vector<std::string> ids_to_read;
  for (std::size_t index = 0; index < listed.size(); ++index) {
    engine::ImageSummary& summary = listed[index];
    // The listing's ParentId is there on every API version; inspect's Parent is not (1.52+).
    // On the containerd store both are the image record's label org.mobyproject.image.parent,
    // the only parent link that store has (daemon/containerd/image_list.go, image_children.go).
    parents[index] = std::move(summary.parent_id);
    const graph::Image* previous = known.find_image(summary.id);
    if (previous && same_references(*previous, summary)) {
      images[index] = std::make_unique<InspectedImage>(
          InspectedImage{known.with_layers(*previous), summary.size, true});
      continue;
    }
    // Not on the containerd store: there the listing's Size is no chain's (it adds packed content
    // and other platforms), and only inspect says when the image's records were made (stored_at).
    if (!previous && remembered && client.image_store() == engine::ImageStore::graphdriver) {
      if (auto layers = remembered(summary.id);
          layers && chain_fits_listing(*layers, summary.size, client.is_podman())) {
        const std::int64_t size = summary.size;
        images[index] = std::make_unique<InspectedImage>(
            InspectedImage{from_listing(summary, std::move(*layers)), size, true});
        continue;
      }
    }
    to_read.push_back(index);
    ids_to_read.push_back(std::move(summary.id));
  }
  std::vector<engine::ImageSummary>().swap(listed);
  const auto listed_at = std::chrono::steady_clock::now();
  if (auto read = co_await read_images(client, known, ids_to_read, to_read, images); !read) {
    co_return util::unexpected(std::move(read).error());
  }
  const auto read_at = std::chrono::steady_clock::now();

  graph::ImageGraph fresh;
  fresh.reserve(images.size());
  for (std::size_t index = 0; index < images.size(); ++index) {
    if (!images[index]) {
      continue; // deleted since the listing
    }
    images[index]->image.parent = std::move(parents[index]);
    fresh.upsert_image(std::move(images[index]->image));
    // On a large host what was read is as large as the graph: let it go as the graph grows.
    images[index].reset();
  }

  for (const engine::ContainerSummary& container : *containers) {
    fresh.upsert_container({container.id, engine::normalize_image_id(container.image_id),
                            container.state == "running"});
  }
  const auto seconds = [](auto from, auto to) {
    return std::chrono::duration<double>(to - from).count();
  };
  spdlog::debug("re-list of {} images: {:.3f}s listing, {:.3f}s reading {} of them, {:.3f}s "
                "building the graph",
                images.size(), seconds(started, listed_at), seconds(listed_at, read_at),
                ids_to_read.size(), seconds(read_at, std::chrono::steady_clock::now()));
  co_return fresh;
}

} // namespace imagegc::sync
