#pragma once
// Turns the graph and the policy into a Plan: every deletion with the rule and the measured
// values that decided it, and every kept image with the reason it stays.

#include <cstdint>
#include <functional>
#include <initializer_list>
#include <memory>
#include <optional>
#include <ranges>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "graph/image_graph.hpp"
#include "policy/policy.hpp"

namespace imagegc::policy {

// The engine's data-root filesystem.
struct DiskStats {
  std::int64_t size_bytes = 0;
  std::int64_t free_bytes = 0;

  [[nodiscard]] double used_percent() const;
};

// Unix seconds an image was last used, when known. Called by the threads that read a large
// graph's images at once (PlanInput::read_threads): a lookup that changes nothing is safe.
using LastUsedLookup = std::function<std::optional<std::int64_t>(std::string_view image_id)>;

struct PlanInput {
  const graph::ImageGraph& graph;
  const Policy& policy;
  std::int64_t now = 0; // unix seconds
  std::optional<DiskStats> disk;
  LastUsedLookup last_used; // may be empty: created / last-tag time stand in
  // Threads that read the images of a large graph, each a part of them: reading is mostly
  // waiting for memory, and each thread waits beside the others. The plan does not depend on it.
  std::size_t read_threads = 2;
};

enum class KeepReason {
  in_use,              // a container uses it (always protected)
  protected_reference, // protect.references
  protected_label,     // protect.labels
  protected_newest,    // protect.newest_per_repository
  protected_min_age,   // protect.min_age
  no_rule,             // no rule selects it
  keep_newest,         // the rule keeps the newest N per repository
  younger_than,        // the rule's older_than is not reached
  recently_used,       // the rule's unused_for is not reached
  kept_children,       // child images stay, so deleting it would only untag it
  intermediate,        // a parent without tags; it goes with its last child
  over_limit,          // selected, but this run's limits were reached: next run
};

std::string_view to_string(KeepReason reason);

// An image's ID and tags as a plan names them: a view of text in a block that the names share.
// A plan names up to every image of a host; a block of text for many names, instead of one
// allocation per image (or per text), is most of what writing and freeing a large plan costs.
// Copies share the block, which lives while any name written into it does.
class ImageNames {
public:
  // Writes names one after another into blocks of its own, a new block when one is full.
  class Writer {
  public:
    // Blocks of a size the allocator serves from its heap, for many names.
    static constexpr std::size_t k_block_size = std::size_t{64} * 1024;

    // `block_size`: the least size of a block; a name larger than that gets a block of its size.
    explicit Writer(std::size_t block_size = k_block_size) : m_block_size(block_size) {}

    // `tags`: "repo:tag" texts (anything a std::string_view is made from), in their order.
    template <std::ranges::forward_range Tags>
    requires std::ranges::sized_range<Tags> ImageNames write(std::string_view id,
                                                             const Tags& tags) {
      std::size_t text_size = id.size();
      for (const auto& tag : tags) {
        text_size += std::string_view(tag).size();
      }
      ImageNames names = start(id, std::ranges::size(tags), text_size);
      std::size_t position = 0;
      for (const auto& tag : tags) {
        add_tag(position++, std::string_view(tag));
      }
      return names;
    }

  private:
    ImageNames start(std::string_view id, std::size_t tag_count, std::size_t text_size);
    void add_tag(std::size_t position, std::string_view tag);

    std::size_t m_block_size;
    std::shared_ptr<char[]> m_block;
    char* m_record = nullptr; // the name being written, in m_block
    std::size_t m_capacity = 0;
    std::size_t m_used = 0; // bytes of m_block written
  };

  ImageNames() = default;
  ImageNames(std::string_view id, std::initializer_list<std::string_view> tags)
      : ImageNames(id, std::span<const std::string_view>(tags.begin(), tags.size())) {}
  // Names in a block of their own, of their size.
  template <std::ranges::forward_range Tags>
  requires std::ranges::sized_range<Tags> ImageNames(std::string_view id, const Tags& tags)
      : ImageNames(Writer(0).write(id, tags)) {}

  [[nodiscard]] std::string_view id() const { return {m_text + tag_sizes_size(), m_id_size}; }
  // Views of the shared text: valid while this object (or a copy of it) lives.
  [[nodiscard]] std::vector<std::string_view> tags() const;
  [[nodiscard]] std::size_t tag_count() const { return m_tag_count; }

  bool operator==(const ImageNames& other) const;

private:
  [[nodiscard]] std::size_t tag_sizes_size() const { return m_tag_count * sizeof(std::uint32_t); }
  [[nodiscard]] std::uint32_t tag_size(std::size_t position) const;

  // The tags' sizes (4 bytes each, as std::uint32_t), then the ID, then the tags: a size is
  // kept for each, so that any text, even one holding a NUL, comes back as it was given.
  std::shared_ptr<const char[]> m_block; // holds m_text
  const char* m_text = nullptr;
  std::uint32_t m_tag_count = 0;
  std::uint32_t m_id_size = 0;
};

// The measured values that decided a deletion, beside its rule's conditions. Kept as values and
// put into words on demand (PlannedDeletion::reason): a plan holds a deletion for most images of
// a large host, and most of their reasons are never read.
struct DeletionEvidence {
  graph::ImageState state = graph::ImageState::dangling;
  bool stored = false;   // `age` counts from when the image was stored (containerd), not created
  std::int64_t age = 0;  // seconds
  std::int64_t idle = 0; // seconds since last used
  std::optional<Seconds> older_than; // the rule's
  std::optional<Seconds> unused_for; // the rule's
};

struct PlannedDeletion {
  ImageNames image; // its tags are deleted one by one before it; without tags it goes by ID
  std::string rule;
  DeletionEvidence evidence;
  std::int64_t bytes = 0;                    // freed, given the deletions before it
  bool pressure = false;                     // chosen by disk pressure (least recently used first)
  std::vector<std::string> orphaned_parents; // untagged parents the engine removes with it

  // The measured values that decided it, in words: "dangling, created 3d ago (older_than 1d),
  // last used 3d ago".
  [[nodiscard]] std::string reason() const;
};

struct KeptImage {
  ImageNames image;
  KeepReason why = KeepReason::no_rule;
  std::string reason;
};

// What a pass does about the build cache, as its plan reports it. The planner leaves it empty;
// gc::plan_now fills it in, knowing the engine.
struct BuildCacheStep {
  bool requested = false; // the policy has a build_cache section
  bool available = true;  // the engine can prune its build cache (Podman has no POST /build/prune)
  std::string note;       // what the pass does about it, in words; empty when not requested
};

struct Plan {
  std::vector<PlannedDeletion> deletions; // in the order to run them: children first
  std::vector<KeptImage> kept;            // sorted by image ID
  std::int64_t reclaim_bytes = 0;         // sum of deletions' bytes
  bool pressure = false;                  // the disk was above the high watermark
  std::int64_t pressure_goal_bytes = 0;   // what reaching the low watermark needs
  bool limited = false;                   // the run's limits left selected images for later
  BuildCacheStep build_cache;
};

Plan make_plan(const PlanInput& input);

} // namespace imagegc::policy
