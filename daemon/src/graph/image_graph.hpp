#pragma once
// The in-memory picture of an engine's images: parent/child edges, layer chains, tags and the
// containers that reference each image. One thread owns a graph; it has no locks.
//
// Definitions (../shared/DESIGN.md, moby's own rules):
//  - tagged:       at least one repo:tag reference.
//  - dangling:     no tag and no child image (digest-only references still count as dangling).
//  - intermediate: no tag but at least one child (legacy builder steps).
//  - in use:       referenced by any container, running or stopped.
//  - unused:       tagged or dangling (not intermediate) and not in use.
// Layers are shared by chain: two images share a layer only when they share the whole prefix of
// diff IDs up to it. A layer's bytes are freed only when no remaining image uses its chain.

#include <array>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "graph/diff_id.hpp"

namespace imagegc::graph {

enum class ImageState { tagged, dangling, intermediate };

std::string_view to_string(ImageState state);

struct Layer {
  DiffId diff_id;
  std::int64_t size = 0;

  bool operator==(const Layer&) const = default;
};

// What the graph keeps of one image. Children and containers are derived and kept by the graph;
// the layer chain lives only in the graph's layer accounting (ImageGraph::layers gives it back),
// where images that share a chain prefix share its nodes.
struct Image {
  std::string id;                   // "sha256:<hex>"
  std::string parent;               // "" when none
  std::vector<std::string> tags;    // "repo:tag", sorted, unique
  std::vector<std::string> digests; // "repo@sha256:...", sorted, unique
  std::int64_t created = 0;         // unix seconds
  std::optional<std::int64_t> last_tag_time;
  // The containerd image store only: when the engine last made or updated one of the image's
  // records (a pull, a tag, the untag that left it dangling): what that store's prune `until`
  // compares. nullopt on the classic store, where prune compares `created`.
  std::optional<std::int64_t> stored_at;
  std::map<std::string, std::string> labels;

  bool operator==(const Image&) const = default;
};

// An image with its layer chain: what the engine's answers are made into and upsert_image takes.
struct ImageWithLayers : Image {
  std::vector<Layer> layers; // base first; an image ID's layers never change

  bool operator==(const ImageWithLayers&) const = default;
};

struct ContainerRef {
  std::string id;
  std::string image_id;
  bool running = false;

  bool operator==(const ContainerRef&) const = default;
};

struct ReclaimOptions {
  // When false, containers are ignored: "what would this free if nothing used it".
  bool respect_containers = true;
};

// The positions of `images` in ID order: images[order[0]] has the lowest ID. IDs are read in the
// order given, so a caller that passes images in the order they lie in memory reads them
// sequentially.
std::vector<std::uint32_t> id_order(std::span<const Image* const> images);

class ImageGraph {
public:
  ImageGraph();
  ~ImageGraph();
  ImageGraph(const ImageGraph&);
  ImageGraph& operator=(const ImageGraph&);
  ImageGraph(ImageGraph&&) noexcept;
  ImageGraph& operator=(ImageGraph&&) noexcept;

  // --- changes -------------------------------------------------------------------------------

  // Adds or replaces an image. Tags and digests it carries are taken away from any other image
  // (a reference names exactly one image: a tag moved by a rebuild sends no untag event).
  void upsert_image(ImageWithLayers image);
  // Removes an image; its children keep their parent ID (as the engine reports them).
  bool remove_image(std::string_view id);
  // Replaces the references of a known image; same move semantics as upsert_image.
  bool set_references(std::string_view id, std::vector<std::string> tags,
                      std::vector<std::string> digests);

  void upsert_container(ContainerRef container);
  bool remove_container(std::string_view container_id);
  bool set_container_running(std::string_view container_id, bool running);

  void clear();
  // Makes room for `images` images, so that building a large graph does not rehash its indexes
  // step by step.
  void reserve(std::size_t images);

  // --- queries -------------------------------------------------------------------------------

  [[nodiscard]] std::size_t image_count() const;
  [[nodiscard]] std::size_t container_count() const;
  [[nodiscard]] const Image* find_image(std::string_view id) const;
  [[nodiscard]] const ContainerRef* find_container(std::string_view container_id) const;
  // All image IDs, sorted.
  [[nodiscard]] std::vector<std::string> image_ids() const;
  // All images, sorted by ID: image_ids() without copying the IDs.
  [[nodiscard]] std::vector<const Image*> images() const;
  // All images, in no particular order: for callers that put them in an order of their own
  // (images() reads every ID to sort them). Reads no image.
  [[nodiscard]] std::vector<const Image*> unsorted_images() const;
  // All containers, sorted by ID.
  [[nodiscard]] std::vector<ContainerRef> containers() const;
  // Image that owns `reference` ("repo:tag" or "repo@digest"), or nullptr.
  [[nodiscard]] const Image* find_by_reference(std::string_view reference) const;

  // The parent of an image of this graph (from find_image or images()) while the parent is in
  // the graph, else nullptr: what find_image(image.parent) finds, without looking it up.
  [[nodiscard]] const Image* parent_of(const Image& image) const;
  // The layer chain of an image of this graph (from find_image or images()), base first.
  [[nodiscard]] std::vector<Layer> layers(const Image& image) const;
  // An image of this graph with its layer chain.
  [[nodiscard]] ImageWithLayers with_layers(const Image& image) const;
  // Children present in the graph, sorted.
  [[nodiscard]] std::vector<std::string> children(std::string_view id) const;
  [[nodiscard]] ImageState state(std::string_view id) const;
  [[nodiscard]] bool in_use(std::string_view id) const;
  [[nodiscard]] std::size_t containers_using(std::string_view id) const;
  // The same for an image of this graph (from find_image or images()), without an ID lookup.
  [[nodiscard]] std::size_t containers_using(const Image& image) const;
  [[nodiscard]] std::size_t running_containers_using(std::string_view id) const;

  // IDs in each class, sorted.
  [[nodiscard]] std::vector<std::string> dangling_images() const;
  // Images `docker image prune -a` considers: not intermediate and not in use.
  [[nodiscard]] std::vector<std::string> unused_images() const;
  // How many images are in each state, in use or not: one pass, no sorting (for metrics).
  struct StateCounts {
    std::array<std::array<std::size_t, 2>, 3> counts{}; // [ImageState][in use]

    [[nodiscard]] std::size_t of(ImageState state, bool in_use) const {
      return counts[static_cast<std::size_t>(state)][in_use ? 1 : 0];
    }
  };
  [[nodiscard]] StateCounts state_counts() const;

  // Bytes of every distinct layer chain any image uses: the engine's /system/df LayersSize.
  [[nodiscard]] std::int64_t layers_bytes() const;

  // The images the engine really removes when asked to delete `requested` (without force, with
  // parent pruning): an image goes when nothing keeps it (no container, every child gone); an
  // untagged parent goes with its last child. Sorted.
  [[nodiscard]] std::vector<std::string> removal_closure(std::span<const std::string> requested,
                                                         ReclaimOptions options = {}) const;
  // For each of `requested` (images of this graph, from find_image or images()), whether
  // removal_closure of them all holds it: what a planner checking many candidates needs, without
  // looking up IDs or building and sorting a list of them.
  [[nodiscard]] std::vector<bool> removed_by_delete(std::span<const Image* const> requested,
                                                    ReclaimOptions options = {}) const;
  // Bytes freed by deleting `requested`: layers used only by images in the removal closure.
  [[nodiscard]] std::int64_t reclaimable_bytes(std::span<const std::string> requested,
                                               ReclaimOptions options = {}) const;
  // What `docker image prune` frees.
  [[nodiscard]] std::int64_t dangling_reclaimable_bytes() const;
  // What `docker image prune -a` frees.
  [[nodiscard]] std::int64_t unused_reclaimable_bytes() const;
  // Bytes each delete frees when `ordered` is deleted one image at a time, in that order, each
  // counting the parents without references it orphans; 0 for a delete the engine would refuse
  // (a container uses the image, or one of its children is still there).
  [[nodiscard]] std::vector<std::int64_t> sequential_reclaim(std::span<const std::string> ordered,
                                                             ReclaimOptions options = {}) const;
  // The same for images of this graph (from find_image or images()), without ID lookups.
  [[nodiscard]] std::vector<std::int64_t> sequential_reclaim(std::span<const Image* const> ordered,
                                                             ReclaimOptions options = {}) const;
  // Bytes that deleting this one image (and the parents it orphans) frees, containers ignored.
  [[nodiscard]] std::int64_t unique_bytes(std::string_view id) const;

  // Human-readable differences between two graphs ("image sha256:ab.. tags: [a] != [b]"), empty
  // when equal. A re-list counts its corrections with this.
  [[nodiscard]] static std::vector<std::string> differences(const ImageGraph& expected,
                                                            const ImageGraph& actual);

private:
  struct State;
  std::unique_ptr<State> m_state;
};

} // namespace imagegc::graph
