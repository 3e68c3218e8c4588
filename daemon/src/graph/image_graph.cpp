#include "graph/image_graph.hpp"

#include <algorithm>
#include <array>
#include <functional>
#include <limits>
#include <unordered_map>
#include <utility>

#include <boost/sort/spreadsort/integer_sort.hpp>

#include "graph/layer_trie.hpp"
#include "graph/string_map.hpp"

namespace imagegc::graph {
namespace {

// The two prunes whose freed bytes are kept current on every change, so that reading them for
// metrics costs nothing however large the graph is.
constexpr std::size_t k_dangling_view = 0; // docker image prune
constexpr std::size_t k_unused_view = 1;   // docker image prune -a

using IdSet = std::set<std::string, std::less<>>;

constexpr std::uint8_t k_no_category = 0xff;

struct Usage {
  std::size_t containers = 0;
  std::size_t running = 0;
};

// An image in the graph. The Image base is what find_image and images() hand out, and what
// queries given an image of this graph turn back into its entry (a static_cast from the base).
struct Entry : Image {
  const Image& image() const { return *this; }

  LayerTrie::Path path;
  // A small number no other entry holds at the same time, so that queries can keep flat arrays
  // by image instead of hash maps.
  std::uint32_t slot = 0;
  // Kept in step with the indexes so that the hot walks (settling views, closures) follow
  // pointers instead of hashing IDs.
  Entry* parent_entry = nullptr;   // while the parent is in the graph
  std::size_t child_count = 0;     // children in the graph
  std::size_t container_count = 0; // containers using the image, running or not
  // Per view: whether its prune removes this image, and how many children it would keep.
  ViewFlags removed{};
  std::array<std::size_t, k_view_count> kept_children{};
  // Where the image counts in ImageGraph::state_counts: state * 2 + in use.
  std::uint8_t category = k_no_category;
};

void sort_unique(std::vector<std::string>& values) {
  std::sort(values.begin(), values.end());
  values.erase(std::unique(values.begin(), values.end()), values.end());
}

bool erase_sorted(std::vector<std::string>& values, std::string_view value) {
  const auto it = std::lower_bound(values.begin(), values.end(), value);
  if (it == values.end() || *it != value) {
    return false;
  }
  values.erase(it);
  return true;
}

bool has_references(const Image& image) {
  return !image.tags.empty() || !image.digests.empty();
}

// A moved-from graph has no state: it reads as empty and gets a fresh state when changed.
template <typename State> State& writable(std::unique_ptr<State>& state) {
  if (!state) {
    state = std::make_unique<State>();
  }
  return *state;
}

template <typename State> const State& readable(const std::unique_ptr<State>& state) {
  static const State k_empty;
  return state ? *state : k_empty;
}

std::uint8_t category_of(const Entry& entry) {
  const ImageState state = !entry.tags.empty()     ? ImageState::tagged
                           : entry.child_count > 0 ? ImageState::intermediate
                                                   : ImageState::dangling;
  return static_cast<std::uint8_t>(static_cast<std::size_t>(state) * 2 +
                                   (entry.container_count > 0 ? 1 : 0));
}

// For the candidates of a delete, how many of each one's children are not yet removed. Small
// deletes (one image's unique bytes) hash; large ones (a plan, a prune) index a flat array by
// Entry::slot, which costs a fill of the array but no hashing and no node per candidate.
class CandidateCounts {
public:
  CandidateCounts(std::size_t expected, std::uint32_t slot_bound)
      : m_flat(expected * 4 >= slot_bound) {
    if (m_flat) {
      m_by_slot.assign(slot_bound, k_absent);
    } else {
      m_by_entry.reserve(expected);
    }
  }

  // Adds the entry with a count of zero; false when it was there already.
  bool add(const Entry& entry) {
    if (m_flat) {
      std::size_t& count = m_by_slot[entry.slot];
      if (count != k_absent) {
        return false;
      }
      count = 0;
      return true;
    }
    return m_by_entry.try_emplace(&entry, 0).second;
  }

  // The entry's count, or nullptr when it is not a candidate.
  std::size_t* find(const Entry& entry) {
    if (m_flat) {
      std::size_t& count = m_by_slot[entry.slot];
      return count == k_absent ? nullptr : &count;
    }
    const auto it = m_by_entry.find(&entry);
    return it == m_by_entry.end() ? nullptr : &it->second;
  }

private:
  static constexpr std::size_t k_absent = std::numeric_limits<std::size_t>::max();
  bool m_flat;
  std::vector<std::size_t> m_by_slot;
  std::unordered_map<const Entry*, std::size_t> m_by_entry;
};

} // namespace

std::string_view to_string(ImageState state) {
  switch (state) {
  case ImageState::tagged:
    return "tagged";
  case ImageState::dangling:
    return "dangling";
  case ImageState::intermediate:
    return "intermediate";
  }
  return "unknown";
}

struct ImageGraph::State {
  StringMap<Entry> images;
  // Keyed by parent ID, also for parents not in the graph: when such a parent arrives later
  // (a re-list reads images in any order) its edges are already there.
  StringMap<IdSet> children;
  // "repo:tag" or "repo@digest" -> the image it names. An entry forgets its references before
  // it goes, so no pointer here outlives its entry.
  StringMap<Entry*> references;
  StringMap<ContainerRef> containers;
  StringMap<Usage> usage; // by image ID, also for images not in the graph
  LayerTrie layers;
  // Images per Entry::category, kept as entries change so that metrics read them for free.
  std::array<std::size_t, 6> category_counts{};
  // Entry::slot numbers: every slot below slot_bound is held by an entry or free.
  std::vector<std::uint32_t> free_slots;
  std::uint32_t slot_bound = 0;
  // The entry holding each slot, nullptr for a free one: all images without walking the map's
  // nodes (ImageGraph::unsorted_images).
  std::vector<Entry*> by_slot;

  State() = default;
  State(const State& other)
      : images(other.images), children(other.children), references(other.references),
        containers(other.containers), usage(other.usage), layers(other.layers),
        category_counts(other.category_counts), free_slots(other.free_slots),
        slot_bound(other.slot_bound) {
    // The copied pointers still point into `other`.
    for (auto& [id, entry] : images) {
      entry.parent_entry = entry.parent.empty() ? nullptr : find(entry.parent);
    }
    for (auto& [reference, owner] : references) {
      owner = find(owner->id);
    }
    by_slot.assign(slot_bound, nullptr);
    for (auto& [id, entry] : images) {
      by_slot[entry.slot] = &entry;
    }
  }
  State& operator=(const State&) = delete;

  Entry* find(std::string_view id) {
    const auto it = images.find(id);
    return it == images.end() ? nullptr : &it->second;
  }
  const Entry* find(std::string_view id) const {
    const auto it = images.find(id);
    return it == images.end() ? nullptr : &it->second;
  }
  const IdSet* children_of(std::string_view id) const {
    const auto it = children.find(id);
    return it == children.end() ? nullptr : &it->second;
  }
  const Usage* usage_of(std::string_view id) const {
    const auto it = usage.find(id);
    return it == usage.end() ? nullptr : &it->second;
  }

  // Whether `view`'s prune removes the image, given what it does to the image's children.
  // Both prunes delete their requested images without force and with parent pruning: an image
  // goes when no container uses it, all its children go, and it was requested or is a parent
  // without references that lost its last child.
  static bool view_removes(const Entry& entry, std::size_t view) {
    if (entry.kept_children[view] != 0 || entry.container_count != 0) {
      return false;
    }
    if (view == k_unused_view) {
      // prune -a requests every image with a reference or without children (moby's
      // ImagesPrune); the rest are parents without references, which parent pruning takes
      // once their children go.
      return true;
    }
    // prune requests the untagged images without children; a parent goes only by pruning.
    const Image& image = entry.image();
    return entry.child_count == 0 ? image.tags.empty() : !has_references(image);
  }

  // Moves the entry to the count its state and use now call for.
  void recount(Entry& entry) {
    const std::uint8_t category = category_of(entry);
    if (category == entry.category) {
      return;
    }
    if (entry.category != k_no_category) {
      --category_counts[entry.category];
    }
    ++category_counts[category];
    entry.category = category;
  }

  // Brings the views of `entry` up to date after something they depend on changed, and carries
  // any change up the parent chain. Each step flips an image in the same direction, so a cycle
  // in bad data ends the walk when it comes back to an image already flipped. The entry's own
  // count follows too (its ancestors' do not depend on what the walk changes).
  void settle(Entry* start) {
    if (start != nullptr) {
      recount(*start);
    }
    for (std::size_t view = 0; view < k_view_count; ++view) {
      for (Entry* entry = start; entry != nullptr; entry = entry->parent_entry) {
        const bool removed = view_removes(*entry, view);
        if (removed == entry->removed[view]) {
          break;
        }
        entry->removed[view] = removed;
        layers.set_removed(entry->path, view, removed);
        if (entry->parent_entry != nullptr) {
          if (removed) {
            --entry->parent_entry->kept_children[view];
          } else {
            ++entry->parent_entry->kept_children[view];
          }
        }
      }
    }
  }
  void settle(std::string_view id) { settle(find(id)); }

  // `parent`: the entry of entry.parent, nullptr while that is not in the graph.
  void link_parent(const std::string& id, Entry& entry, Entry* parent) {
    const std::string& parent_id = entry.parent;
    if (parent_id.empty()) {
      return;
    }
    children[parent_id].insert(id);
    entry.parent_entry = parent;
    if (parent != nullptr) {
      ++parent->child_count;
      for (std::size_t view = 0; view < k_view_count; ++view) {
        if (!entry.removed[view]) {
          ++parent->kept_children[view];
        }
      }
      // Even with unchanged counts: gaining a first child changes what prune asks of it.
      settle(parent);
    }
  }

  // Clears the entry's parent first, so that a settle reaching it through a cycle stops there.
  void unlink_parent(const std::string& id, Entry& entry) {
    const std::string parent_id = std::exchange(entry.parent, std::string{});
    Entry* parent = std::exchange(entry.parent_entry, nullptr);
    if (parent_id.empty()) {
      return;
    }
    if (const auto it = children.find(parent_id); it != children.end()) {
      it->second.erase(id);
      if (it->second.empty()) {
        children.erase(it);
      }
    }
    if (parent != nullptr) {
      --parent->child_count;
      for (std::size_t view = 0; view < k_view_count; ++view) {
        if (!entry.removed[view]) {
          --parent->kept_children[view];
        }
      }
      settle(parent);
    }
  }

  void forget_references(const Entry& entry) {
    for (const auto* list : {&entry.tags, &entry.digests}) {
      for (const std::string& reference : *list) {
        if (const auto it = references.find(reference);
            it != references.end() && it->second == &entry) {
          references.erase(it);
        }
      }
    }
  }

  // Points `image`'s references at `entry` (where `image` is going), taking them away from their
  // previous owners: the engine sends no untag for the image a moved tag left. Returns the owners
  // that lost a reference.
  std::vector<Entry*> claim_references(Entry& entry, const Image& image) {
    std::vector<Entry*> losers;
    for (const auto* list : {&image.tags, &image.digests}) {
      for (const std::string& reference : *list) {
        auto [it, inserted] = references.try_emplace(reference, &entry);
        if (inserted || it->second == &entry) {
          continue;
        }
        Entry* owner = it->second;
        if (!erase_sorted(owner->tags, reference)) {
          erase_sorted(owner->digests, reference);
        }
        losers.push_back(owner);
        it->second = &entry;
      }
    }
    return losers;
  }

  void settle_all(const std::vector<Entry*>& entries) {
    for (Entry* entry : entries) {
      settle(entry);
    }
  }

  // The entry of an image of this graph (find_image, images()).
  static const Entry& entry_of(const Image& image) { return static_cast<const Entry&>(image); }

  void insert(ImageWithLayers image) {
    // The map's own copy of the ID, which lives as long as the entry.
    const auto placed = images.try_emplace(image.id).first;
    const std::string& id = placed->first;
    Entry& entry = placed->second;
    const std::vector<Entry*> losers = claim_references(entry, image);
    static_cast<Image&>(entry) = std::move(static_cast<Image&>(image));
    if (free_slots.empty()) {
      entry.slot = slot_bound++;
      by_slot.push_back(&entry);
    } else {
      entry.slot = free_slots.back();
      free_slots.pop_back();
      by_slot[entry.slot] = &entry;
    }
    if (const Usage* counts = usage_of(id); counts != nullptr) {
      entry.container_count = counts->containers;
    }
    if (const IdSet* known_children = children_of(id); known_children != nullptr) {
      for (const std::string& child_id : *known_children) {
        Entry* child = find(child_id);
        child->parent_entry = &entry;
        ++entry.child_count;
        for (std::size_t view = 0; view < k_view_count; ++view) {
          if (!child->removed[view]) {
            ++entry.kept_children[view];
          }
        }
      }
    }
    for (std::size_t view = 0; view < k_view_count; ++view) {
      entry.removed[view] = view_removes(entry, view);
    }
    // A child's chain mostly starts with its parent's: the nodes it shares need no lookup.
    Entry* parent = entry.parent.empty() ? nullptr : find(entry.parent);
    entry.path = layers.acquire(image.layers, entry.removed,
                                parent != nullptr ? std::span<const LayerTrie::NodeId>(parent->path)
                                                  : std::span<const LayerTrie::NodeId>());
    recount(entry);
    link_parent(id, entry, parent);
    settle_all(losers);
  }

  // Replaces what the graph knows of an image; its layers too when `chain` is given.
  void replace(Entry& entry, Image image, std::optional<std::span<const Layer>> chain) {
    const std::string id = image.id;
    forget_references(entry);
    const std::vector<Entry*> losers = claim_references(entry, image);
    if (chain && !layers.holds(entry.path, *chain)) {
      // Acquired before the release, so that nodes both chains hold are never freed.
      LayerTrie::Path path = layers.acquire(*chain, entry.removed);
      layers.release(entry.path, entry.removed);
      entry.path = std::move(path);
    }
    const bool parent_changed = entry.parent != image.parent;
    if (parent_changed) {
      unlink_parent(id, entry);
    }
    static_cast<Image&>(entry) = std::move(image);
    if (parent_changed) {
      link_parent(id, entry, entry.parent.empty() ? nullptr : find(entry.parent));
    }
    settle(&entry);
    settle_all(losers);
  }

  void erase(const std::string& id, Entry& entry) {
    unlink_parent(id, entry);
    if (const IdSet* orphans = children_of(id); orphans != nullptr) {
      for (const std::string& child_id : *orphans) {
        find(child_id)->parent_entry = nullptr;
      }
    }
    forget_references(entry);
    layers.release(entry.path, entry.removed);
    if (entry.category != k_no_category) {
      --category_counts[entry.category];
    }
    free_slots.push_back(entry.slot);
    by_slot[entry.slot] = nullptr;
    images.erase(id);
  }

  void change_usage(const ContainerRef& container, int sign) {
    Usage& counts = usage[container.image_id];
    if (sign > 0) {
      ++counts.containers;
      counts.running += container.running ? 1 : 0;
    } else {
      --counts.containers;
      counts.running -= container.running ? 1 : 0;
    }
    if (Entry* entry = find(container.image_id); entry != nullptr) {
      entry->container_count = counts.containers;
    }
    if (counts.containers == 0) {
      usage.erase(container.image_id);
    }
  }

  // The images a delete of `requested` removes (see removal_closure). Only requested images and
  // their ancestors without references can go, so the work is bounded by those; children are
  // decided before their parents by counting down each parent's children. Null entries (IDs
  // not in the graph) are skipped.
  std::vector<const Entry*> closure(std::span<const Entry* const> requested, ReclaimOptions options,
                                    CandidateCounts& candidates) const {
    const auto can_go = [&](const Entry& entry) {
      return !options.respect_containers || entry.container_count == 0;
    };
    std::vector<const Entry*> listed; // the candidates, in the order they were found
    listed.reserve(requested.size());
    for (const Entry* entry : requested) {
      if (entry != nullptr && can_go(*entry) && candidates.add(*entry)) {
        listed.push_back(entry);
      }
    }
    const std::size_t starts = listed.size();
    for (std::size_t start = 0; start < starts; ++start) {
      // Stops at an ancestor already visited, which also ends any cycle.
      const Entry* parent = listed[start]->parent_entry;
      while (parent != nullptr && can_go(*parent) && !has_references(*parent) &&
             candidates.add(*parent)) {
        listed.push_back(parent);
        parent = parent->parent_entry;
      }
    }

    // Every candidate may go by itself (no container; requested, or a parent without references
    // pruned with its children), so it goes exactly when all its children went. A child outside
    // the candidates never goes, so its parent never counts down to zero and stays, and so does
    // every ancestor above it; the same holds inside a cycle.
    std::vector<const Entry*> removed;
    for (const Entry* entry : listed) {
      *candidates.find(*entry) = entry->child_count;
      if (entry->child_count == 0) {
        removed.push_back(entry);
      }
    }
    for (std::size_t next = 0; next < removed.size(); ++next) {
      const Entry* parent = removed[next]->parent_entry;
      if (parent == nullptr) {
        continue;
      }
      if (std::size_t* children_left = candidates.find(*parent);
          children_left != nullptr && --*children_left == 0) {
        removed.push_back(parent);
      }
    }
    return removed;
  }
  std::vector<const Entry*> closure(std::span<const Entry* const> requested,
                                    ReclaimOptions options) const {
    CandidateCounts candidates(requested.size(), slot_bound);
    return closure(requested, options, candidates);
  }

  std::vector<const Entry*> entries(std::span<const std::string> ids) const {
    std::vector<const Entry*> found;
    found.reserve(ids.size());
    for (const std::string& id : ids) {
      found.push_back(find(id));
    }
    return found;
  }

  // Bytes of the nodes whose every user is among `removed`.
  std::int64_t freed_by(const std::vector<const Entry*>& removed) const {
    std::size_t path_lengths = 0;
    for (const Entry* entry : removed) {
      path_lengths += entry->path.size();
    }
    std::int64_t bytes = 0;
    const auto count = [&](auto& removed_users) {
      for (const Entry* entry : removed) {
        for (const LayerTrie::NodeId node : entry->path) {
          if (++removed_users[node] == layers.users(node)) {
            bytes += layers.size(node);
          }
        }
      }
    };
    // Large deletes (a prune) touch much of the trie: a flat array beats hashing then.
    if (path_lengths * 4 >= layers.id_bound()) {
      std::vector<std::uint32_t> removed_users(layers.id_bound());
      count(removed_users);
    } else {
      std::unordered_map<LayerTrie::NodeId, std::uint32_t> removed_users;
      removed_users.reserve(path_lengths);
      count(removed_users);
    }
    return bytes;
  }
};

namespace {

// Deletes images one at a time the way the engine does, counting what each delete frees. Its
// marks are flat arrays (by Entry::slot and by trie node): it runs over a whole plan.
class SequentialDelete {
public:
  SequentialDelete(const LayerTrie& layers, std::uint32_t slot_bound, ReclaimOptions options)
      : m_layers(layers), m_options(options), m_removed(slot_bound, false),
        m_removed_children(slot_bound, 0), m_removed_users(layers.id_bound(), 0) {}

  // Bytes freed by deleting `entry` now (and the parents without references it orphans); 0 when
  // the engine would keep it (a container, a child that is still there).
  std::int64_t remove(const Entry* entry) {
    if (entry == nullptr || !may_go(*entry) || m_removed[entry->slot]) {
      return 0;
    }
    std::int64_t bytes = 0;
    for (const Entry* current = entry; current != nullptr;) {
      m_removed[current->slot] = true;
      for (const LayerTrie::NodeId node : current->path) {
        if (++m_removed_users[node] == m_layers.users(node)) {
          bytes += m_layers.size(node);
        }
      }
      const Entry* parent = current->parent_entry;
      if (parent == nullptr || m_removed[parent->slot]) {
        break;
      }
      ++m_removed_children[parent->slot];
      // moby prunes a parent without references once its last child is gone.
      current = (!has_references(*parent) && may_go(*parent)) ? parent : nullptr;
    }
    return bytes;
  }

private:
  bool may_go(const Entry& entry) const {
    if (m_options.respect_containers && entry.container_count != 0) {
      return false;
    }
    return m_removed_children[entry.slot] == entry.child_count;
  }

  const LayerTrie& m_layers;
  ReclaimOptions m_options;
  std::vector<bool> m_removed;                 // by slot
  std::vector<std::size_t> m_removed_children; // by slot
  std::vector<std::uint32_t> m_removed_users;  // by trie node
};

} // namespace

ImageGraph::ImageGraph() : m_state(std::make_unique<State>()) {}
ImageGraph::~ImageGraph() = default;
ImageGraph::ImageGraph(const ImageGraph& other)
    : m_state(std::make_unique<State>(readable(other.m_state))) {}
ImageGraph& ImageGraph::operator=(const ImageGraph& other) {
  if (this != &other) {
    m_state = std::make_unique<State>(readable(other.m_state));
  }
  return *this;
}
ImageGraph::ImageGraph(ImageGraph&&) noexcept = default;
ImageGraph& ImageGraph::operator=(ImageGraph&&) noexcept = default;

void ImageGraph::upsert_image(ImageWithLayers image) {
  State& data = writable(m_state);
  sort_unique(image.tags);
  sort_unique(image.digests);
  if (Entry* entry = data.find(image.id); entry != nullptr) {
    const std::vector<Layer> chain = std::move(image.layers);
    data.replace(*entry, std::move(image), chain);
  } else {
    data.insert(std::move(image));
  }
}

bool ImageGraph::remove_image(std::string_view id) {
  State& data = writable(m_state);
  const auto it = data.images.find(id);
  if (it == data.images.end()) {
    return false;
  }
  // `id` may point into the entry about to go.
  const std::string key = it->first;
  data.erase(key, it->second);
  return true;
}

bool ImageGraph::set_references(std::string_view id, std::vector<std::string> tags,
                                std::vector<std::string> digests) {
  State& data = writable(m_state);
  Entry* entry = data.find(id);
  if (entry == nullptr) {
    return false;
  }
  Image image = entry->image();
  image.tags = std::move(tags);
  image.digests = std::move(digests);
  sort_unique(image.tags);
  sort_unique(image.digests);
  data.replace(*entry, std::move(image), std::nullopt);
  return true;
}

void ImageGraph::upsert_container(ContainerRef container) {
  State& data = writable(m_state);
  std::string previous_image;
  auto it = data.containers.find(container.id);
  if (it != data.containers.end()) {
    data.change_usage(it->second, -1);
    previous_image = it->second.image_id;
    it->second = std::move(container);
  } else {
    const std::string id = container.id;
    it = data.containers.emplace(id, std::move(container)).first;
  }
  data.change_usage(it->second, 1);
  if (!previous_image.empty()) {
    data.settle(previous_image);
  }
  data.settle(it->second.image_id);
}

bool ImageGraph::remove_container(std::string_view container_id) {
  State& data = writable(m_state);
  const auto it = data.containers.find(container_id);
  if (it == data.containers.end()) {
    return false;
  }
  const std::string image_id = it->second.image_id;
  data.change_usage(it->second, -1);
  data.containers.erase(it);
  data.settle(image_id);
  return true;
}

bool ImageGraph::set_container_running(std::string_view container_id, bool running) {
  State& data = writable(m_state);
  const auto it = data.containers.find(container_id);
  if (it == data.containers.end()) {
    return false;
  }
  if (it->second.running != running) {
    // Running or stopped, a container keeps its image: only the counts change.
    data.change_usage(it->second, -1);
    it->second.running = running;
    data.change_usage(it->second, 1);
  }
  return true;
}

void ImageGraph::clear() {
  m_state = std::make_unique<State>();
}

void ImageGraph::reserve(std::size_t images) {
  // Layer chains per image vary (5 to 15 on the benchmarks' host, shared in part): four nodes
  // each costs little when it is too many (4 bytes a slot) and saves most of the index's growth.
  constexpr std::size_t k_chain_nodes_per_image = 4;
  State& data = writable(m_state);
  data.images.reserve(images);
  data.references.reserve(images);
  data.layers.reserve(images * k_chain_nodes_per_image);
}

std::size_t ImageGraph::image_count() const {
  return readable(m_state).images.size();
}

std::size_t ImageGraph::container_count() const {
  return readable(m_state).containers.size();
}

const Image* ImageGraph::find_image(std::string_view id) const {
  const Entry* entry = readable(m_state).find(id);
  return entry == nullptr ? nullptr : &entry->image();
}

const ContainerRef* ImageGraph::find_container(std::string_view container_id) const {
  const auto& containers = readable(m_state).containers;
  const auto it = containers.find(container_id);
  return it == containers.end() ? nullptr : &it->second;
}

std::vector<std::string> ImageGraph::image_ids() const {
  std::vector<std::string> ids;
  ids.reserve(image_count());
  for (const auto& [id, entry] : readable(m_state).images) {
    ids.push_back(id);
  }
  std::sort(ids.begin(), ids.end());
  return ids;
}

std::vector<const Image*> ImageGraph::images() const {
  const std::vector<const Image*> unsorted = unsorted_images();
  std::vector<const Image*> images;
  images.reserve(unsorted.size());
  for (const std::uint32_t position : id_order(unsorted)) {
    images.push_back(unsorted[position]);
  }
  return images;
}

std::vector<const Image*> ImageGraph::unsorted_images() const {
  const State& data = readable(m_state);
  std::vector<const Image*> images;
  images.reserve(data.images.size());
  for (const Entry* entry : data.by_slot) {
    if (entry != nullptr) {
      images.push_back(&entry->image());
    }
  }
  return images;
}

std::vector<std::uint32_t> id_order(std::span<const Image* const> images) {
  if (images.empty()) {
    return {};
  }
  // Comparing IDs reads each from wherever its string lives: a cache miss per comparison on a
  // large graph. So each image is sorted by a copy of 8 bytes of its ID, big-endian, taken past
  // the prefix every ID shares ("sha256:"); only equal keys compare the whole IDs. The pass that
  // finds the shared prefix copies the first bytes of each ID, from which the keys are then
  // made: each ID is read once.
  constexpr std::size_t k_head = 16;
  std::vector<std::array<char, k_head>> heads(images.size()); // zeroed past an ID's end
  std::string_view first = images.front()->id;
  std::size_t shared = first.size();
  for (std::size_t position = 0; position < images.size(); ++position) {
    // The images lie far apart: the processor is asked for the ones ahead, then their IDs' text,
    // instead of waiting for each in turn.
    constexpr std::size_t k_distance = 8;
    if (position + 2 * k_distance < images.size()) {
      __builtin_prefetch(images[position + 2 * k_distance]);
    }
    if (position + k_distance < images.size()) {
      __builtin_prefetch(images[position + k_distance]->id.data());
    }
    const std::string_view id = images[position]->id;
    std::copy_n(id.begin(), std::min(id.size(), k_head), heads[position].begin());
    const auto [mismatch, unused] = std::mismatch(
        first.begin(), first.begin() + static_cast<std::ptrdiff_t>(shared), id.begin(), id.end());
    shared = static_cast<std::size_t>(mismatch - first.begin());
  }
  std::vector<std::pair<std::uint64_t, std::uint32_t>> keyed;
  keyed.reserve(images.size());
  for (std::size_t position = 0; position < images.size(); ++position) {
    std::uint64_t key = 0;
    for (std::size_t i = shared; i < shared + 8; ++i) {
      // Past the end reads as 0, below any character: a shorter ID sorts first.
      const std::string& id = images[position]->id;
      const char byte = i < k_head ? heads[position][i] : i < id.size() ? id[i] : '\0';
      key = (key << 8) | static_cast<unsigned char>(byte);
    }
    keyed.emplace_back(key, static_cast<std::uint32_t>(position));
  }
  // Radix sorting by the keys moves each element a few times instead of comparing it some
  // seventeen times at 100k images.
  boost::sort::spreadsort::integer_sort(
      keyed.begin(), keyed.end(),
      [](const auto& element, unsigned shift) { return element.first >> shift; },
      [&](const auto& lhs, const auto& rhs) {
        return lhs.first != rhs.first ? lhs.first < rhs.first
                                      : images[lhs.second]->id < images[rhs.second]->id;
      });
  std::vector<std::uint32_t> order;
  order.reserve(keyed.size());
  for (const auto& [key, position] : keyed) {
    order.push_back(position);
  }
  return order;
}

std::vector<ContainerRef> ImageGraph::containers() const {
  std::vector<ContainerRef> result;
  result.reserve(container_count());
  for (const auto& [id, container] : readable(m_state).containers) {
    result.push_back(container);
  }
  std::sort(result.begin(), result.end(),
            [](const ContainerRef& lhs, const ContainerRef& rhs) { return lhs.id < rhs.id; });
  return result;
}

const Image* ImageGraph::find_by_reference(std::string_view reference) const {
  const State& data = readable(m_state);
  const auto it = data.references.find(reference);
  return it == data.references.end() ? nullptr : &it->second->image();
}

const Image* ImageGraph::parent_of(const Image& image) const {
  const Entry* parent = State::entry_of(image).parent_entry;
  return parent == nullptr ? nullptr : &parent->image();
}

std::vector<Layer> ImageGraph::layers(const Image& image) const {
  return readable(m_state).layers.layers(State::entry_of(image).path);
}

ImageWithLayers ImageGraph::with_layers(const Image& image) const {
  return {image, layers(image)};
}

std::vector<std::string> ImageGraph::children(std::string_view id) const {
  const IdSet* set = readable(m_state).children_of(id);
  return set == nullptr ? std::vector<std::string>{}
                        : std::vector<std::string>(set->begin(), set->end());
}

ImageState ImageGraph::state(std::string_view id) const {
  const State& data = readable(m_state);
  if (const Entry* entry = data.find(id); entry != nullptr) {
    if (!entry->tags.empty()) {
      return ImageState::tagged;
    }
    return entry->child_count > 0 ? ImageState::intermediate : ImageState::dangling;
  }
  return data.children_of(id) != nullptr ? ImageState::intermediate : ImageState::dangling;
}

bool ImageGraph::in_use(std::string_view id) const {
  return containers_using(id) > 0;
}

std::size_t ImageGraph::containers_using(std::string_view id) const {
  const Usage* found = readable(m_state).usage_of(id);
  return found == nullptr ? 0 : found->containers;
}

std::size_t ImageGraph::containers_using(const Image& image) const {
  return State::entry_of(image).container_count;
}

std::size_t ImageGraph::running_containers_using(std::string_view id) const {
  const Usage* found = readable(m_state).usage_of(id);
  return found == nullptr ? 0 : found->running;
}

std::vector<std::string> ImageGraph::dangling_images() const {
  std::vector<std::string> ids;
  for (const auto& [id, entry] : readable(m_state).images) {
    if (entry.tags.empty() && entry.child_count == 0) {
      ids.push_back(id);
    }
  }
  std::sort(ids.begin(), ids.end());
  return ids;
}

std::vector<std::string> ImageGraph::unused_images() const {
  std::vector<std::string> ids;
  for (const auto& [id, entry] : readable(m_state).images) {
    const bool intermediate = entry.tags.empty() && entry.child_count > 0;
    if (!intermediate && entry.container_count == 0) {
      ids.push_back(id);
    }
  }
  std::sort(ids.begin(), ids.end());
  return ids;
}

ImageGraph::StateCounts ImageGraph::state_counts() const {
  const auto& counts = readable(m_state).category_counts;
  StateCounts result;
  for (std::size_t state = 0; state < 3; ++state) {
    result.counts[state] = {counts[state * 2], counts[state * 2 + 1]};
  }
  return result;
}

std::int64_t ImageGraph::layers_bytes() const {
  return readable(m_state).layers.bytes();
}

std::vector<std::string> ImageGraph::removal_closure(std::span<const std::string> requested,
                                                     ReclaimOptions options) const {
  const State& data = readable(m_state);
  std::vector<std::string> ids;
  for (const Entry* entry : data.closure(data.entries(requested), options)) {
    ids.push_back(entry->id);
  }
  std::sort(ids.begin(), ids.end());
  return ids;
}

std::vector<bool> ImageGraph::removed_by_delete(std::span<const Image* const> requested,
                                                ReclaimOptions options) const {
  const State& data = readable(m_state);
  std::vector<const Entry*> entries;
  entries.reserve(requested.size());
  for (const Image* image : requested) {
    entries.push_back(&State::entry_of(*image));
  }
  CandidateCounts candidates(entries.size(), data.slot_bound);
  data.closure(entries, options, candidates);
  std::vector<bool> removed;
  removed.reserve(entries.size());
  for (const Entry* entry : entries) {
    const std::size_t* children_left = candidates.find(*entry);
    removed.push_back(children_left != nullptr && *children_left == 0);
  }
  return removed;
}

std::int64_t ImageGraph::reclaimable_bytes(std::span<const std::string> requested,
                                           ReclaimOptions options) const {
  const State& data = readable(m_state);
  return data.freed_by(data.closure(data.entries(requested), options));
}

std::int64_t ImageGraph::dangling_reclaimable_bytes() const {
  return readable(m_state).layers.freed_bytes(k_dangling_view);
}

std::int64_t ImageGraph::unused_reclaimable_bytes() const {
  return readable(m_state).layers.freed_bytes(k_unused_view);
}

std::int64_t ImageGraph::unique_bytes(std::string_view id) const {
  const std::array<std::string, 1> requested{std::string(id)};
  return reclaimable_bytes(requested, ReclaimOptions{.respect_containers = false});
}

std::vector<std::int64_t> ImageGraph::sequential_reclaim(std::span<const std::string> ordered,
                                                         ReclaimOptions options) const {
  const State& data = readable(m_state);
  SequentialDelete deleting(data.layers, data.slot_bound, options);
  std::vector<std::int64_t> freed;
  freed.reserve(ordered.size());
  for (const std::string& id : ordered) {
    freed.push_back(deleting.remove(data.find(id)));
  }
  return freed;
}

std::vector<std::int64_t> ImageGraph::sequential_reclaim(std::span<const Image* const> ordered,
                                                         ReclaimOptions options) const {
  const State& data = readable(m_state);
  SequentialDelete deleting(data.layers, data.slot_bound, options);
  std::vector<std::int64_t> freed;
  freed.reserve(ordered.size());
  for (std::size_t position = 0; position < ordered.size(); ++position) {
    // The entries lie far apart: the processor is asked for the ones ahead, then their chains.
    constexpr std::size_t k_distance = 8;
    if (position + 2 * k_distance < ordered.size()) {
      const auto* ahead = &State::entry_of(*ordered[position + 2 * k_distance]);
      __builtin_prefetch(&ahead->path);
      __builtin_prefetch(&ahead->container_count);
    }
    if (position + k_distance < ordered.size()) {
      __builtin_prefetch(State::entry_of(*ordered[position + k_distance]).path.data());
    }
    freed.push_back(deleting.remove(&State::entry_of(*ordered[position])));
  }
  return freed;
}

} // namespace imagegc::graph
