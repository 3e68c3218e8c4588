#include "policy/planner.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <cstdint>
#include <cstring>
#include <deque>
#include <functional>
#include <future>
#include <iterator>
#include <limits>
#include <span>
#include <unordered_map>
#include <utility>

#include <boost/sort/spreadsort/integer_sort.hpp>

namespace imagegc::policy {

namespace {

using graph::ImageState;

void append_number(std::string& text, std::int64_t number) {
  std::array<char, 24> digits{};
  const char* const end = std::to_chars(digits.data(), digits.data() + digits.size(), number).ptr;
  text.append(digits.data(), static_cast<std::size_t>(end - digits.data()));
}

// "3d4h", "45m", "12s": how long ago, for reasons a person reads: the largest unit that is not
// zero and the next one when it is not zero either. Appends to `text`: reasons are built for
// every image of a plan, and this spares a temporary string per duration.
void append_duration(std::string& text, std::int64_t seconds) {
  if (seconds < 0) {
    text += "in the future";
    return;
  }
  const std::array<std::int64_t, 4> parts = {seconds / 86400, seconds / 3600 % 24,
                                             seconds / 60 % 60, seconds % 60};
  static constexpr std::array<char, 4> k_suffixes = {'d', 'h', 'm', 's'};
  std::size_t unit = 0;
  while (unit < parts.size() && parts[unit] == 0) {
    ++unit;
  }
  if (unit == parts.size()) {
    text += "0s";
    return;
  }
  append_number(text, parts[unit]);
  text += k_suffixes[unit];
  if (unit + 1 < parts.size() && parts[unit + 1] != 0) {
    append_number(text, parts[unit + 1]);
    text += k_suffixes[unit + 1];
  }
}

// " (older_than 14d)": a rule's condition beside the value it was held to, when the rule has it.
void append_condition(std::string& text, std::string_view name,
                      const std::optional<Seconds>& condition) {
  if (condition) {
    text += " (";
    text += name;
    text += ' ';
    append_duration(text, condition->count());
    text += ')';
  }
}

// What an image's age counts from, for reasons (DeletionEvidence::stored).
std::string_view age_origin(bool stored) {
  return stored ? "stored" : "created";
}

std::string quoted(std::string_view text) {
  return "\"" + std::string(text) + "\"";
}

// An image's position in the planner's list of images, sorted by address: the order the graph's
// images lie in memory, so that the passes that read them (tags, labels, IDs) walk memory
// forwards instead of jumping about it. The planner's facts, children and decisions are flat
// arrays indexed by it, so that no step looks an image up by its ID string. Plans are written in
// ID order, which Planner::m_by_id and m_id_rank give.
using ImageIndex = std::uint32_t;
constexpr ImageIndex k_no_image = std::numeric_limits<ImageIndex>::max();

// A view of a tag of the graph, and the number of its repository (Planner::index_tags).
struct Tag {
  std::string_view text;
  std::uint32_t repository = 0;
};

// What the planner knows of one image.
struct Facts {
  const graph::Image* image = nullptr;
  ImageState state = ImageState::dangling;
  std::size_t containers = 0;
  std::int64_t created = 0; // unix seconds, as graph::Image::created
  std::int64_t age = 0;     // seconds since created (since stored, on the containerd store)
  bool stored = false;      // `age` counts from the stored time (age_origin)
  bool has_digests = false;
  std::int64_t idle = 0;          // seconds since last used
  ImageIndex parent = k_no_image; // while the parent is in the graph
  std::uint32_t tag_count = 0;
  std::string_view id; // a view of the graph's string
};

bool state_matches(StateFilter filter, const Facts& facts) {
  switch (filter) {
  case StateFilter::dangling:
    return facts.state == ImageState::dangling;
  case StateFilter::intermediate:
    return facts.state == ImageState::intermediate;
  case StateFilter::tagged:
    return facts.state == ImageState::tagged;
  case StateFilter::unused:
    return facts.state != ImageState::intermediate && facts.containers == 0;
  }
  return false;
}

bool any_matches(const std::vector<Pattern>& patterns, std::string_view text) {
  return std::any_of(patterns.begin(), patterns.end(),
                     [&](const Pattern& pattern) { return pattern.matches(text); });
}

// By image: the number of the repository it is among the newest of, or k_no_repository.
using NewestRepositories = std::vector<std::uint32_t>;
constexpr std::uint32_t k_no_repository = std::numeric_limits<std::uint32_t>::max();

// Whether each repository matches one selector's repository patterns, decided on first use: a
// host has far fewer repositories than tags, and a rule asks about every image it looks at.
// Repositories are numbered while the images are read, so the list grows with them.
class RepositoryMatches {
public:
  explicit RepositoryMatches(const std::vector<Pattern>& patterns) : m_patterns(&patterns) {}

  bool matches(std::uint32_t repository, std::string_view name) {
    if (repository >= m_known.size()) {
      m_known.resize(repository + 1, k_unknown);
    }
    std::int8_t& known = m_known[repository];
    if (known == k_unknown) {
      known = any_matches(*m_patterns, name) ? 1 : 0;
    }
    return known == 1;
  }

private:
  static constexpr std::int8_t k_unknown = -1;
  const std::vector<Pattern>* m_patterns;
  std::vector<std::int8_t> m_known;
};

// An image a rule would delete. The reason is written only for the deletions the plan lists.
struct Candidate {
  ImageIndex image = k_no_image;
  const Rule* rule = nullptr; // a rule that outlives the planner
  std::size_t rule_index = 0;
  bool pressure = false;
  std::int64_t age = 0; // Facts::age and idle, for ordering without a lookup
  std::int64_t idle = 0;
};

// Why an image stays, until the plan lists it with its ID and tags.
struct Keep {
  KeepReason why = KeepReason::no_rule;
  std::string reason;
};

// Asks the processor to start loading what a pass over `images` in memory order reads of the
// images ahead of `index`: the image, then its tags and their text, a few images nearer. At 100k
// images the graph's images lie too far apart for the hardware to guess the next one, and a
// pass otherwise waited for each of them in turn. Always inlined: GCC drops a call to a function
// that only reads and prefetches, as one without effects.
[[gnu::always_inline]] inline void prefetch_ahead(std::span<const graph::Image* const> images,
                                                  std::size_t index) {
  constexpr std::size_t k_distance = 8; // images: a few hundred nanoseconds of work
  constexpr std::size_t k_line = 64;
  if (index + 2 * k_distance < images.size()) {
    const graph::Image* image = images[index + 2 * k_distance];
    __builtin_prefetch(image);
    __builtin_prefetch(reinterpret_cast<const char*>(image) + k_line);
    __builtin_prefetch(reinterpret_cast<const char*>(image) + 2 * k_line);
  }
  if (index + k_distance < images.size()) {
    const graph::Image& image = *images[index + k_distance];
    if (!image.tags.empty()) {
      __builtin_prefetch(image.tags.data());
      __builtin_prefetch(image.tags.front().data());
    }
  }
}

// The same for the labels of the images a pass reads, which the rules' selectors read: the
// images are `images[indexes[...]]`, in memory order.
[[gnu::always_inline]] inline void
prefetch_labels_ahead(std::span<const graph::Image* const> images,
                      std::span<const std::uint32_t> indexes, std::size_t position) {
  constexpr std::size_t k_distance = 8;
  if (position + 2 * k_distance < indexes.size()) {
    __builtin_prefetch(&images[indexes[position + 2 * k_distance]]->labels);
  }
  if (position + k_distance < indexes.size()) {
    const auto& labels = images[indexes[position + k_distance]]->labels;
    if (!labels.empty()) {
      __builtin_prefetch(&*labels.begin());
    }
  }
}

// The repositories that tags name, numbered in the order they are met, so that rules compare
// numbers. An image's tags mostly share one repository.
class Repositories {
public:
  // The number of `name`, numbering it if it is new. `references`: the policy's
  // protect.references, which a new repository is checked against (reference_possible).
  std::uint32_t number(std::string_view name, const std::vector<Pattern>& references) {
    auto it = m_numbers.find(name);
    if (it == m_numbers.end()) {
      // A copy of its own: looking a name up then compares it with text close by, not with a
      // tag of whichever image named the repository first.
      const std::string_view own = m_storage.emplace_back(name);
      it = m_numbers.emplace(own, static_cast<std::uint32_t>(m_names.size())).first;
      m_names.push_back(own);
      // Whether each pattern may match a tag of the repository (Pattern::may_match_starting_with):
      // most patterns rule most repositories out once, instead of being matched against each of
      // their tags.
      for (const Pattern& pattern : references) {
        m_reference_possible.push_back(pattern.may_match_starting_with(own));
      }
    }
    return it->second;
  }

  [[nodiscard]] std::string_view name(std::uint32_t number) const { return m_names[number]; }
  [[nodiscard]] std::size_t size() const { return m_names.size(); }
  // Whether protect.references pattern `pattern` (of `patterns`) may match a tag of `number`.
  [[nodiscard]] bool reference_possible(std::uint32_t number, std::size_t pattern,
                                        std::size_t patterns) const {
    return m_reference_possible[number * patterns + pattern];
  }

private:
  std::vector<std::string_view> m_names; // by number: views of m_storage
  std::deque<std::string> m_storage;     // never moves its strings, even when moved itself
  std::unordered_map<std::string_view, std::uint32_t> m_numbers;
  std::vector<bool> m_reference_possible; // by repository, then protect.references pattern
};

// What one thread of the pass that reads the images keeps as it goes, over the images
// [first, last) (Planner::read_images). Each part numbers the repositories it meets; when all
// are read, the first part's numbers become the planner's and the others' join them.
struct ReadPart {
  ImageIndex first = 0;
  ImageIndex last = 0;
  Repositories repositories;
  std::vector<RepositoryMatches> rule_matches; // by policy rule, by this part's numbers
  std::vector<Tag> tags;                       // of the part's images, in their order
  std::vector<std::uint32_t> tag_start;        // by image of the part, into `tags`; one more
  std::string text;                            // the reason being written
};

// The pass that reads the images splits them into parts of at least this many, one per thread:
// below it, starting a thread costs more than it saves.
constexpr std::size_t k_min_images_per_read_part = 4096;

// By image, the rule that takes it (its index in the rules evaluated), or one of these.
constexpr std::uint32_t k_no_rule = std::numeric_limits<std::uint32_t>::max(); // none selects it
constexpr std::uint32_t k_undecided = k_no_rule - 1;                           // not looked at yet

class Planner {
public:
  explicit Planner(const PlanInput& input) : m_input(input), m_graph(input.graph) {
    m_images = m_graph.unsorted_images();
    // By address, radix sorted: what std::sort would give, in a fraction of the time.
    boost::sort::spreadsort::integer_sort(
        m_images.begin(), m_images.end(),
        [](const graph::Image* image, unsigned shift) {
          return reinterpret_cast<std::uintptr_t>(image) >> shift;
        },
        std::less<const graph::Image*>{});
    const std::size_t count = m_images.size();
    m_facts.resize(count);
    m_kept.resize(count);
    m_regular_rule_of.assign(count, k_undecided);
    read_images();
    std::vector<std::uint32_t> child_counts(count, 0);
    for (const Facts& facts : m_facts) {
      if (facts.parent != k_no_image) {
        ++child_counts[facts.parent];
      }
    }

    // ID order, its IDs read in memory order.
    m_by_id = graph::id_order(m_images);
    m_id_rank.resize(count);
    for (std::uint32_t rank = 0; rank < count; ++rank) {
      m_id_rank[m_by_id[rank]] = rank;
    }

    // Children by parent, each list in ID order (as ImageGraph::children lists them): a parent's
    // list starts where the counts of the parents before it end.
    m_child_start.assign(count + 1, 0);
    for (std::size_t index = 0; index < count; ++index) {
      m_child_start[index + 1] = m_child_start[index] + child_counts[index];
    }
    m_children.resize(m_child_start[count]);
    std::vector<std::uint32_t> filled(m_child_start.begin(), m_child_start.end() - 1);
    for (const ImageIndex index : m_by_id) {
      if (const ImageIndex parent = m_facts[index].parent; parent != k_no_image) {
        m_children[filled[parent]++] = index;
      }
    }
    // The graph's own classification (ImageGraph::state): children count only while present.
    for (std::size_t index = 0; index < count; ++index) {
      Facts& facts = m_facts[index];
      facts.state = facts.tag_count > 0       ? ImageState::tagged
                    : child_counts[index] > 0 ? ImageState::intermediate
                                              : ImageState::dangling;
    }
  }

  Plan run() {
    const std::vector<ImageIndex> open = apply_protections();
    std::vector<Candidate> chosen = evaluate_policy_rules(open);
    chosen = removable_only(chosen);
    std::vector<ImageIndex> order = children_first(chosen);

    Plan plan;
    std::vector<Candidate> pressure_chosen;
    if (const auto goal = pressure_goal(); goal) {
      plan.pressure = true;
      plan.pressure_goal_bytes = *goal;
      pressure_chosen = choose_for_pressure(chosen, order, *goal);
      const auto pressure_order = children_first(pressure_chosen);
      chosen.insert(chosen.end(), pressure_chosen.begin(), pressure_chosen.end());
      order.insert(order.end(), pressure_order.begin(), pressure_order.end());
    }

    emit(plan, chosen, order);
    keep_remaining_intermediates();
    for (std::size_t rank = 0; rank < m_by_id.size(); ++rank) {
      // ID order jumps about memory: the decisions, then the kept images' texts, are asked for
      // a few images ahead.
      constexpr std::size_t k_distance = 8;
      if (rank + 2 * k_distance < m_by_id.size()) {
        __builtin_prefetch(&m_kept[m_by_id[rank + 2 * k_distance]]);
      }
      if (rank + k_distance < m_by_id.size() && m_kept[m_by_id[rank + k_distance]]) {
        prefetch_texts(m_by_id[rank + k_distance]);
      }
      const ImageIndex index = m_by_id[rank];
      if (std::optional<Keep>& kept = m_kept[index]; kept) {
        plan.kept.push_back({names_of(index), kept->why, std::move(kept->reason)});
      }
    }
    return plan;
  }

private:
  // The index of an image of the graph: its place in m_images, which is sorted by address.
  ImageIndex index_of(const graph::Image* image) const {
    const auto found =
        std::lower_bound(m_images.begin(), m_images.end(), image, std::less<const graph::Image*>{});
    return static_cast<ImageIndex>(found - m_images.begin());
  }

  // The one pass that reads the graph's images (bar their IDs, which id_order reads, and the
  // texts a plan copies): on a large host each image is a few cache misses away, so whatever
  // depends on an image's own data alone is decided while it is at hand. The images are read in
  // parts, each by a thread of its own (PlanInput::read_threads): the cache misses of one wait
  // beside those of the others.
  void read_images() {
    const std::size_t count = m_images.size();
    const std::size_t parts = std::clamp<std::size_t>(
        count / k_min_images_per_read_part, 1, std::max<std::size_t>(m_input.read_threads, 1));
    std::vector<ReadPart> read(parts);
    for (std::size_t part = 0; part < parts; ++part) {
      read[part].first = static_cast<ImageIndex>(count * part / parts);
      read[part].last = static_cast<ImageIndex>(count * (part + 1) / parts);
      for (const Rule& rule : m_input.policy.rules) {
        read[part].rule_matches.emplace_back(rule.select.repositories);
      }
    }
    {
      // The futures wait for their threads when destroyed, even if this thread's part throws.
      std::vector<std::future<void>> others;
      for (std::size_t part = 1; part < parts; ++part) {
        others.push_back(
            std::async(std::launch::async, [this, &read, part] { read_part(read[part]); }));
      }
      read_part(read.front());
      for (std::future<void>& other : others) {
        other.get();
      }
    }
    merge_read_parts(read);
  }

  // Reads the images of `part`: writes their facts, keeps what their own data protects, and
  // decides the policy's rule of each tagged one. Touches only the part's own images of the
  // planner's arrays.
  void read_part(ReadPart& part) {
    const std::span<const graph::Image* const> images =
        std::span<const graph::Image* const>(m_images).first(part.last);
    part.tag_start.reserve(part.last - part.first + 1);
    part.tag_start.push_back(0);
    for (ImageIndex index = part.first; index < part.last; ++index) {
      prefetch_ahead(images, index);
      const graph::Image* image = m_images[index];
      Facts& facts = m_facts[index];
      facts.image = image;
      facts.id = image->id;
      facts.created = image->created;
      facts.containers = m_graph.containers_using(*image);
      if (const graph::Image* parent = m_graph.parent_of(*image); parent != nullptr) {
        facts.parent = index_of(parent);
      }
      // The age the engine's own prune `until` measures: the config's creation time on the
      // classic store, the image record's local time on the containerd store (graph::Image).
      facts.age = m_input.now - image->stored_at.value_or(image->created);
      facts.stored = image->stored_at.has_value();
      std::int64_t last_used = std::max(image->created, image->last_tag_time.value_or(0));
      if (m_input.last_used) {
        last_used = std::max(last_used, m_input.last_used(image->id).value_or(0));
      }
      facts.idle = m_input.now - last_used;
      facts.tag_count = static_cast<std::uint32_t>(image->tags.size());
      facts.has_digests = !image->digests.empty();
      const std::size_t tags_start = part.tags.size();
      index_tags(part, *image);
      part.tag_start.push_back(static_cast<std::uint32_t>(part.tags.size()));
      const std::span<const Tag> tags = std::span<const Tag>(part.tags).subspan(tags_start);
      protect_by_own_data(part, index, tags);
      // The state of an image without tags depends on its children, known once all are read:
      // evaluate_rules takes those.
      if (facts.tag_count > 0 && !m_kept[index]) {
        facts.state = ImageState::tagged;
        m_regular_rule_of[index] = first_rule_selecting(m_input.policy.rules, part.rule_matches,
                                                        part.repositories, index, tags);
      }
    }
  }

  // Appends the image's tags to the part's, each with the number of its repository. An image's
  // tags mostly share one repository: it is looked up once.
  void index_tags(ReadPart& part, const graph::Image& image) const {
    std::optional<std::string_view> previous;
    std::uint32_t previous_number = 0;
    for (const std::string& tag : image.tags) {
      const std::string_view repository = repository_of(tag);
      if (!previous || repository != *previous) {
        previous = repository;
        previous_number = part.repositories.number(repository, m_input.policy.protect.references);
      }
      part.tags.push_back({tag, previous_number});
    }
  }

  // The parts' tags and repositories as the planner's own: the first part's numbers stand, the
  // others' repositories are numbered after them.
  void merge_read_parts(std::vector<ReadPart>& read) {
    ReadPart& first = read.front();
    m_repositories = std::move(first.repositories);
    m_regular_matches = std::move(first.rule_matches);
    m_tags = std::move(first.tags);
    m_tag_start = std::move(first.tag_start);
    for (auto part = read.begin() + 1; part != read.end(); ++part) {
      std::vector<std::uint32_t> number_of(part->repositories.size());
      for (std::uint32_t number = 0; number < number_of.size(); ++number) {
        number_of[number] = m_repositories.number(part->repositories.name(number),
                                                  m_input.policy.protect.references);
      }
      const auto tags_before = static_cast<std::uint32_t>(m_tags.size());
      for (const Tag& tag : part->tags) {
        m_tags.push_back({tag.text, number_of[tag.repository]});
      }
      for (auto start = part->tag_start.begin() + 1; start != part->tag_start.end(); ++start) {
        m_tag_start.push_back(tags_before + *start);
      }
    }
  }

  // An image's tags, in the graph's order.
  std::span<const Tag> tags_of(ImageIndex image) const {
    return std::span<const Tag>(m_tags).subspan(m_tag_start[image],
                                                m_tag_start[image + 1] - m_tag_start[image]);
  }

  // Asks the processor for the image's ID and tag texts, which a plan copies. Always inlined, as
  // prefetch_ahead.
  [[gnu::always_inline]] void prefetch_texts(ImageIndex image) const {
    __builtin_prefetch(m_facts[image].id.data());
    for (const Tag& tag : tags_of(image)) {
      __builtin_prefetch(tag.text.data());
    }
  }

  // Asks for the planner's tags of the images a pass reads a few positions ahead: `images` in
  // any order but memory order (ID order, a rule's selection) jump about m_tag_start and m_tags.
  [[gnu::always_inline]] void prefetch_tags_ahead(std::span<const ImageIndex> images,
                                                  std::size_t position) const {
    constexpr std::size_t k_distance = 8;
    if (position + 2 * k_distance < images.size()) {
      __builtin_prefetch(&m_tag_start[images[position + 2 * k_distance]]);
    }
    if (position + k_distance < images.size()) {
      __builtin_prefetch(m_tags.data() + m_tag_start[images[position + k_distance]]);
    }
  }

  // The image's ID and tags for the plan, copied from the views: the image's own vector is not
  // read again.
  ImageNames names_of(ImageIndex image) {
    m_tag_texts.clear();
    for (const Tag& tag : tags_of(image)) {
      m_tag_texts.push_back(tag.text);
    }
    return m_names.write(m_facts[image].id, m_tag_texts);
  }

  std::span<const ImageIndex> children_of(ImageIndex image) const {
    return std::span<const ImageIndex>(m_children)
        .subspan(m_child_start[image], m_child_start[image + 1] - m_child_start[image]);
  }

  std::size_t child_count(ImageIndex image) const {
    return m_child_start[image + 1] - m_child_start[image];
  }

  // For each image, the repository in which it ranks among the newest `count` (by created time,
  // then ID), if any. An image with tags in several repositories counts in each.
  NewestRepositories newest_per_repository(const std::vector<ImageIndex>& images, int count) const {
    // Each image with each of its repositories once, and the repositories in the order they are
    // first met (an image's new ones by name).
    std::vector<std::pair<std::uint32_t, ImageIndex>> memberships;
    std::vector<std::uint32_t> member_counts(m_repositories.size(), 0);
    std::vector<ImageIndex> last_member(m_repositories.size(), k_no_image);
    std::vector<std::uint32_t> first_met;
    for (std::size_t position = 0; position < images.size(); ++position) {
      prefetch_tags_ahead(images, position);
      const ImageIndex image = images[position];
      const std::size_t met_before = first_met.size();
      for (const auto& [text, repository] : tags_of(image)) {
        if (last_member[repository] == image) {
          continue;
        }
        last_member[repository] = image;
        memberships.emplace_back(repository, image);
        if (member_counts[repository]++ == 0) {
          first_met.push_back(repository);
        }
      }
      if (first_met.size() - met_before > 1) {
        std::sort(first_met.begin() + static_cast<std::ptrdiff_t>(met_before), first_met.end(),
                  [&](std::uint32_t a, std::uint32_t b) {
                    return m_repositories.name(a) < m_repositories.name(b);
                  });
      }
    }
    // An image among the newest of several repositories names the first of them in the order a
    // hash map of the names, filled in that order, lists them: what plans have always named.
    std::unordered_map<std::string_view, std::uint32_t> by_name;
    for (const std::uint32_t repository : first_met) {
      by_name.try_emplace(m_repositories.name(repository), repository);
    }

    // The members of each repository, in the order of `images`.
    std::vector<std::uint32_t> member_start(m_repositories.size() + 1, 0);
    for (std::size_t repository = 0; repository < member_counts.size(); ++repository) {
      member_start[repository + 1] = member_start[repository] + member_counts[repository];
    }
    std::vector<ImageIndex> members(memberships.size());
    std::vector<std::uint32_t> filled(member_start.begin(), member_start.end() - 1);
    for (const auto& [repository, image] : memberships) {
      members[filled[repository]++] = image;
    }

    NewestRepositories newest(m_facts.size(), k_no_repository);
    for (const auto& [name, repository] : by_name) {
      const auto first = members.begin() + member_start[repository];
      const auto last = members.begin() + member_start[repository + 1];
      const auto keep = std::min<std::ptrdiff_t>(last - first, count);
      std::partial_sort(first, first + keep, last, [&](ImageIndex a, ImageIndex b) {
        const std::int64_t created_a = m_facts[a].created;
        const std::int64_t created_b = m_facts[b].created;
        return created_a != created_b ? created_a > created_b : m_id_rank[a] < m_id_rank[b];
      });
      for (auto it = first; it != first + keep; ++it) {
        if (newest[*it] == k_no_repository) {
          newest[*it] = repository;
        }
      }
    }
    return newest;
  }

  // A selector takes an image only when it takes every one of its tags: deleting some tags of an
  // image frees nothing.
  bool selects(const Selector& selector, RepositoryMatches& repository_matches,
               const Repositories& repositories, ImageIndex image,
               std::span<const Tag> tags) const {
    const Facts& facts = m_facts[image];
    if (!selector.states.empty() &&
        std::none_of(selector.states.begin(), selector.states.end(),
                     [&](StateFilter filter) { return state_matches(filter, facts); })) {
      return false;
    }
    for (const LabelMatcher& matcher : selector.labels) {
      if (!matcher.matches(facts.image->labels)) {
        return false;
      }
    }
    if (selector.repositories.empty() && selector.tags.empty()) {
      return true;
    }
    if (tags.empty()) {
      return false;
    }
    for (const auto& [text, repository] : tags) {
      const bool repository_taken =
          selector.repositories.empty() ||
          repository_matches.matches(repository, repositories.name(repository));
      if (!repository_taken ||
          (!selector.tags.empty() && !any_matches(selector.tags, tag_of(text)))) {
        return false;
      }
    }
    return true;
  }

  void keep(ImageIndex image, KeepReason why, std::string reason) {
    if (!m_kept[image]) {
      m_kept[image] = Keep{why, std::move(reason)};
    }
  }

  // The same for a reason written in m_text: copied into a string of its own size.
  void keep_text(ImageIndex image, KeepReason why) {
    if (!m_kept[image]) {
      m_kept[image] = Keep{why, m_text};
    }
  }

  // m_text, emptied for the next reason: each reason is written there and then copied, so that
  // it holds no more bytes than it needs and no temporary strings are made.
  std::string& text() {
    m_text.clear();
    return m_text;
  }

  // The protections that an image's own data decides, in their order: its containers, its tags
  // and digests, its labels, its age. Called by the pass that reads the image, before any other
  // decision; apply_protections adds protect.newest_per_repository, which compares images.
  void protect_by_own_data(ReadPart& part, ImageIndex index, std::span<const Tag> tags) {
    const Protections& protect = m_input.policy.protect;
    const Facts& facts = m_facts[index];
    if (facts.containers > 0) {
      std::string& reason = part.text;
      reason.clear();
      reason += "used by ";
      append_number(reason, static_cast<std::int64_t>(facts.containers));
      reason += facts.containers == 1 ? " container" : " containers";
      keep(index, KeepReason::in_use, reason);
      return;
    }
    if (auto reference = protected_reference(part.repositories, index, tags); reference) {
      keep(index, KeepReason::protected_reference, std::move(*reference));
      return;
    }
    if (auto label = protected_label(*facts.image); label) {
      keep(index, KeepReason::protected_label, std::move(*label));
      return;
    }
    if (protect.min_age && facts.age < protect.min_age->count()) {
      std::string reason = std::string(age_origin(facts.stored)) + " ";
      append_duration(reason, facts.age);
      reason += " ago, younger than protect.min_age ";
      append_duration(reason, protect.min_age->count());
      keep(index, KeepReason::protected_min_age, std::move(reason));
    }
  }

  // Protections come first and nothing overrides them: protect_by_own_data has kept what it
  // protects, this adds protect.newest_per_repository. Returns the images still open, in ID
  // order.
  std::vector<ImageIndex> apply_protections() {
    const Protections& protect = m_input.policy.protect;
    NewestRepositories newest;
    if (protect.newest_per_repository) {
      newest = newest_per_repository(m_by_id, *protect.newest_per_repository);
    }
    // In memory order, as the planner's facts and decisions lie.
    std::vector<bool> is_open(m_facts.size(), false);
    for (ImageIndex index = 0; index < m_facts.size(); ++index) {
      const Facts& facts = m_facts[index];
      if (m_kept[index]) {
        continue; // protect_by_own_data
      }
      if (!newest.empty() && newest[index] != k_no_repository) {
        std::string& reason = text();
        reason += "among the newest ";
        append_number(reason, *protect.newest_per_repository);
        reason += " of ";
        reason += m_repositories.name(newest[index]);
        reason += " (protect.newest_per_repository)";
        keep_text(index, KeepReason::protected_newest);
        continue;
      }
      if (facts.state == ImageState::intermediate) {
        continue; // never deleted by itself: decided with its children at the end
      }
      is_open[index] = true;
    }
    std::vector<ImageIndex> open;
    open.reserve(m_facts.size());
    for (const ImageIndex index : m_by_id) {
      if (is_open[index]) {
        open.push_back(index);
      }
    }
    return open;
  }

  // Tags first, then digests.
  std::optional<std::string> protected_reference(const Repositories& repositories, ImageIndex image,
                                                 std::span<const Tag> tags) const {
    const std::vector<Pattern>& patterns = m_input.policy.protect.references;
    if (patterns.empty()) {
      return std::nullopt;
    }
    const auto reason = [&](std::string_view reference, const Pattern& pattern) {
      return std::string(reference) + " matches protect.references " + quoted(pattern.text());
    };
    for (const Tag& tag : tags) {
      // A tag starts with its repository's name.
      for (std::size_t pattern = 0; pattern < patterns.size(); ++pattern) {
        if (repositories.reference_possible(tag.repository, pattern, patterns.size()) &&
            patterns[pattern].matches(tag.text)) {
          return reason(tag.text, patterns[pattern]);
        }
      }
    }
    for (const std::string& digest : m_facts[image].image->digests) {
      for (const Pattern& pattern : patterns) {
        if (pattern.matches(digest)) {
          return reason(digest, pattern);
        }
      }
    }
    return std::nullopt;
  }

  std::optional<std::string> protected_label(const graph::Image& image) const {
    for (const LabelMatcher& matcher : m_input.policy.protect.labels) {
      if (matcher.matches(image.labels)) {
        const std::string text =
            matcher.key + (matcher.op == LabelMatcher::Op::equals       ? "=" + matcher.value
                           : matcher.op == LabelMatcher::Op::not_equals ? "!=" + matcher.value
                                                                        : "");
        return "label " + text + " is protected (protect.labels)";
      }
    }
    return std::nullopt;
  }

  // The first of `rules` that selects the image, or k_no_rule.
  std::uint32_t first_rule_selecting(const std::vector<Rule>& rules,
                                     std::vector<RepositoryMatches>& repository_matches,
                                     const Repositories& repositories, ImageIndex image,
                                     std::span<const Tag> tags) const {
    for (std::uint32_t index = 0; index < rules.size(); ++index) {
      if (selects(rules[index].select, repository_matches[index], repositories, image, tags)) {
        return index;
      }
    }
    return k_no_rule;
  }

  // The policy's rules over `images`, with what the pass that read the images decided: run once
  // per plan, as it takes that decision over.
  std::vector<Candidate> evaluate_policy_rules(const std::vector<ImageIndex>& images) {
    return evaluate_rules(m_input.policy.rules, m_regular_matches,
                          std::exchange(m_regular_rule_of, {}), images, false);
  }

  std::vector<Candidate> evaluate_pressure_rules(const std::vector<ImageIndex>& images) {
    std::vector<RepositoryMatches> repository_matches;
    repository_matches.reserve(m_pressure_rules.size());
    for (const Rule& rule : m_pressure_rules) {
      repository_matches.emplace_back(rule.select.repositories);
    }
    return evaluate_rules(m_pressure_rules, repository_matches,
                          std::vector<std::uint32_t>(m_facts.size(), k_undecided), images, true);
  }

  // Each image belongs to the first rule that selects it; the rule's conditions then decide.
  // `rule_of` holds, by image, the rule that takes it where that is already decided (the pass
  // that reads the images decides it for tagged ones) and k_undecided elsewhere.
  std::vector<Candidate> evaluate_rules(const std::vector<Rule>& rules,
                                        std::vector<RepositoryMatches>& repository_matches,
                                        std::vector<std::uint32_t> rule_of,
                                        const std::vector<ImageIndex>& images, bool pressure) {
    // The rule that takes each image not yet decided, in memory order (selectors read the
    // graph's tags and labels); then each rule's images listed in the order given.
    std::vector<bool> listed(m_facts.size(), false);
    for (const ImageIndex image : images) {
      listed[image] = true;
    }
    std::vector<ImageIndex> undecided;
    for (ImageIndex image = 0; image < m_facts.size(); ++image) {
      if (listed[image] && rule_of[image] == k_undecided) {
        undecided.push_back(image);
      }
    }
    for (std::size_t position = 0; position < undecided.size(); ++position) {
      prefetch_labels_ahead(m_images, undecided, position);
      const ImageIndex image = undecided[position];
      rule_of[image] =
          first_rule_selecting(rules, repository_matches, m_repositories, image, tags_of(image));
    }
    std::vector<std::vector<ImageIndex>> selected(rules.size());
    for (const ImageIndex image : images) {
      if (rule_of[image] != k_no_rule) {
        selected[rule_of[image]].push_back(image);
      } else if (!pressure) {
        keep(image, KeepReason::no_rule, "no rule selects it");
      }
    }

    std::vector<Candidate> candidates;
    for (std::size_t index = 0; index < rules.size(); ++index) {
      const Rule& rule = rules[index];
      NewestRepositories newest;
      if (rule.keep_newest) {
        newest = newest_per_repository(selected[index], *rule.keep_newest);
      }
      const std::string prefix = "rule " + quoted(rule.name) + ": ";
      for (const ImageIndex image : selected[index]) {
        const Facts& facts = m_facts[image];
        // Under pressure the pool is of kept images: their first reasons stand.
        const bool kept = m_kept[image].has_value();
        if (!newest.empty() && newest[image] != k_no_repository) {
          if (kept) {
            continue;
          }
          std::string& reason = text();
          reason += prefix;
          reason += "among the newest ";
          append_number(reason, *rule.keep_newest);
          reason += " of ";
          reason += m_repositories.name(newest[image]);
          keep_text(image, KeepReason::keep_newest);
          continue;
        }
        if (rule.older_than && facts.age < rule.older_than->count()) {
          if (kept) {
            continue;
          }
          std::string& reason = text();
          reason += prefix;
          reason += age_origin(facts.stored);
          reason += ' ';
          append_duration(reason, facts.age);
          reason += " ago, older_than is ";
          append_duration(reason, rule.older_than->count());
          keep_text(image, KeepReason::younger_than);
          continue;
        }
        if (rule.unused_for && facts.idle < rule.unused_for->count()) {
          if (kept) {
            continue;
          }
          std::string& reason = text();
          reason += prefix;
          reason += "last used ";
          append_duration(reason, facts.idle);
          reason += " ago, unused_for is ";
          append_duration(reason, rule.unused_for->count());
          keep_text(image, KeepReason::recently_used);
          continue;
        }
        candidates.push_back({image, &rule, index, pressure, facts.age, facts.idle});
      }
    }
    return candidates;
  }

  // Drops what the engine would not delete (children that stay): it would only be untagged.
  std::vector<Candidate> removable_only(const std::vector<Candidate>& candidates,
                                        const std::vector<ImageIndex>& also_removed = {}) {
    // Asked in memory order: what the engine removes does not depend on the order asked.
    std::vector<bool> is_requested(m_facts.size(), false);
    for (const ImageIndex image : also_removed) {
      is_requested[image] = true;
    }
    for (const Candidate& candidate : candidates) {
      is_requested[candidate.image] = true;
    }
    std::vector<const graph::Image*> requested;
    requested.reserve(also_removed.size() + candidates.size());
    for (ImageIndex image = 0; image < m_facts.size(); ++image) {
      if (is_requested[image]) {
        requested.push_back(m_facts[image].image);
      }
    }
    const std::vector<bool> removed = m_graph.removed_by_delete(requested);
    std::vector<bool> goes(m_facts.size(), false);
    for (ImageIndex image = 0, asked = 0; image < m_facts.size(); ++image) {
      if (is_requested[image]) {
        goes[image] = removed[asked++];
      }
    }
    std::vector<Candidate> removable;
    removable.reserve(candidates.size());
    for (const Candidate& candidate : candidates) {
      if (goes[candidate.image]) {
        removable.push_back(candidate);
      } else {
        std::string& reason = text();
        reason += "rule \"";
        reason += candidate.rule->name;
        reason += "\" selects it, but child images stay";
        keep_text(candidate.image, KeepReason::kept_children);
      }
    }
    return removable;
  }

  // The deletion order: rule by rule, oldest first, each image after every descendant it has
  // among the deletions (the engine refuses a parent while a child exists).
  std::vector<ImageIndex> children_first(const std::vector<Candidate>& candidates) const {
    // What the order compares, by value, and the position in `candidates` that keeps equals in
    // their order.
    struct Key {
      std::size_t rule_index;
      std::int64_t age;
      std::int64_t idle;
      ImageIndex image;
      std::uint32_t position;
      bool pressure;
    };
    std::vector<Key> sorted;
    std::vector<bool> wanted(m_facts.size(), false);
    sorted.reserve(candidates.size());
    for (const Candidate& candidate : candidates) {
      sorted.push_back({candidate.rule_index, candidate.age, candidate.idle, candidate.image,
                        static_cast<std::uint32_t>(sorted.size()), candidate.pressure});
      wanted[candidate.image] = true;
    }
    std::sort(sorted.begin(), sorted.end(), [](const Key& a, const Key& b) {
      if (a.pressure) {
        // Disk pressure: least recently used first.
        if (a.idle != b.idle) {
          return a.idle > b.idle;
        }
      } else if (a.rule_index != b.rule_index) {
        return a.rule_index < b.rule_index;
      } else if (a.age != b.age) {
        return a.age > b.age;
      }
      return a.position < b.position;
    });
    std::vector<ImageIndex> order;
    order.reserve(candidates.size());
    std::vector<bool> emitted(m_facts.size(), false);
    // Iterative depth-first walk: descendants (through untagged parents too) before the image.
    std::vector<std::pair<ImageIndex, bool>> stack;
    for (const Key& candidate : sorted) {
      stack.assign({{candidate.image, false}});
      while (!stack.empty()) {
        const auto [image, expanded] = stack.back();
        stack.pop_back();
        if (emitted[image]) {
          continue;
        }
        if (expanded) {
          if (wanted[image]) {
            emitted[image] = true;
            order.push_back(image);
          }
          continue;
        }
        stack.emplace_back(image, true);
        for (const ImageIndex child : children_of(image)) {
          if (!emitted[child]) {
            stack.emplace_back(child, false);
          }
        }
      }
    }
    return order;
  }

  std::vector<const graph::Image*> images_of(const std::vector<ImageIndex>& indexes) const {
    std::vector<const graph::Image*> images;
    images.reserve(indexes.size());
    for (const ImageIndex index : indexes) {
      images.push_back(m_facts[index].image);
    }
    return images;
  }

  // Bytes that reaching the low watermark needs, when the disk is above the high one.
  std::optional<std::int64_t> pressure_goal() const {
    const DiskPressure& pressure = m_input.policy.pressure;
    if (!pressure.enabled || !m_input.disk || m_input.disk->size_bytes <= 0) {
      return std::nullopt;
    }
    const DiskStats& disk = *m_input.disk;
    const bool above =
        (pressure.high.used_percent && disk.used_percent() >= *pressure.high.used_percent) ||
        (pressure.high.free_bytes && disk.free_bytes < *pressure.high.free_bytes);
    if (!above) {
      return std::nullopt;
    }
    std::int64_t goal = 0;
    if (pressure.low.used_percent) {
      const auto used = disk.size_bytes - disk.free_bytes;
      const auto target = static_cast<std::int64_t>(static_cast<double>(disk.size_bytes) *
                                                    *pressure.low.used_percent / 100.0);
      goal = std::max(goal, used - target);
    }
    if (pressure.low.free_bytes) {
      goal = std::max(goal, *pressure.low.free_bytes - disk.free_bytes);
    }
    return goal;
  }

  // Under disk pressure: the pressure rules (or every unused image) over what the regular rules
  // left, least recently used first, until the goal is met.
  std::vector<Candidate> choose_for_pressure(const std::vector<Candidate>& regular,
                                             const std::vector<ImageIndex>& regular_order,
                                             std::int64_t goal) {
    std::vector<bool> taken(m_facts.size(), false);
    for (const Candidate& candidate : regular) {
      taken[candidate.image] = true;
    }
    // In ID order, as the regular rules saw them.
    std::vector<ImageIndex> pool;
    for (const ImageIndex index : m_by_id) {
      const std::optional<Keep>& kept = m_kept[index];
      if (!kept || taken[index]) {
        continue;
      }
      const bool overridable =
          kept->why == KeepReason::no_rule || kept->why == KeepReason::keep_newest ||
          kept->why == KeepReason::younger_than || kept->why == KeepReason::recently_used ||
          kept->why == KeepReason::kept_children;
      if (overridable) {
        pool.push_back(index);
      }
    }

    // Kept by the planner: candidates name their rule by a view of it.
    m_pressure_rules = m_input.policy.pressure.rules;
    if (m_pressure_rules.empty()) {
      Rule everything_unused;
      everything_unused.name = "disk-pressure";
      everything_unused.select.states = {StateFilter::unused};
      m_pressure_rules.push_back(std::move(everything_unused));
    }
    auto candidates = evaluate_pressure_rules(pool);
    for (Candidate& candidate : candidates) {
      candidate.pressure = true;
    }
    candidates = removable_only(candidates, regular_order);
    const auto order = children_first(candidates);

    // Take the least recently used prefix whose bytes reach the goal.
    std::vector<const graph::Image*> combined = images_of(regular_order);
    for (const ImageIndex image : order) {
      combined.push_back(m_facts[image].image);
    }
    const auto freed = m_graph.sequential_reclaim(combined);
    std::int64_t reached = 0;
    for (std::size_t i = 0; i < regular_order.size(); ++i) {
      reached += freed[i];
    }
    std::vector<bool> needed(m_facts.size(), false);
    for (std::size_t i = 0; i < order.size() && reached < goal; ++i) {
      reached += freed[regular_order.size() + i];
      needed[order[i]] = true;
    }
    std::vector<Candidate> chosen;
    for (Candidate& candidate : candidates) {
      if (needed[candidate.image]) {
        m_kept[candidate.image].reset();
        chosen.push_back(candidate);
      }
    }
    return chosen;
  }

  // The final list, in order, with bytes, limits and the parents each deletion orphans.
  void emit(Plan& plan, std::vector<Candidate>& chosen, const std::vector<ImageIndex>& order) {
    std::vector<Candidate*> by_image(m_facts.size(), nullptr);
    for (Candidate& candidate : chosen) {
      if (by_image[candidate.image] == nullptr) {
        by_image[candidate.image] = &candidate;
      }
    }
    const auto freed = m_graph.sequential_reclaim(images_of(order));
    const Limits& limits = m_input.policy.limits;
    std::vector<std::uint32_t> removed_children(m_facts.size(), 0);
    std::vector<bool> removed(m_facts.size(), false);
    plan.deletions.reserve(order.size());
    for (std::size_t i = 0; i < order.size(); ++i) {
      // The order jumps about the planner's facts and candidates, and the texts copied below lie
      // wherever the graph put them: the facts are asked for a few deletions ahead, then what
      // they point to.
      constexpr std::size_t k_distance = 8;
      if (i + 2 * k_distance < order.size()) {
        __builtin_prefetch(&m_facts[order[i + 2 * k_distance]]);
        __builtin_prefetch(&by_image[order[i + 2 * k_distance]]);
      }
      if (i + k_distance < order.size()) {
        __builtin_prefetch(by_image[order[i + k_distance]]);
        prefetch_texts(order[i + k_distance]);
      }
      Candidate& candidate = *by_image[order[i]];
      const bool over_count =
          limits.max_deletions &&
          plan.deletions.size() >= static_cast<std::size_t>(*limits.max_deletions);
      const bool over_bytes = limits.max_bytes && plan.reclaim_bytes + freed[i] > *limits.max_bytes;
      if (plan.limited || over_count || over_bytes) {
        plan.limited = true;
        m_kept[candidate.image].reset();
        keep(candidate.image, KeepReason::over_limit,
             "rule " + quoted(candidate.rule->name) +
                 " selects it; left for the next run by limits");
        continue;
      }
      PlannedDeletion& deletion = plan.deletions.emplace_back();
      deletion.image = names_of(candidate.image);
      deletion.rule = candidate.rule->name;
      const Facts& facts = m_facts[candidate.image];
      deletion.evidence = {facts.state,
                           facts.stored,
                           facts.age,
                           facts.idle,
                           candidate.rule->older_than,
                           candidate.rule->unused_for};
      deletion.bytes = freed[i];
      deletion.pressure = candidate.pressure;
      // The engine prunes each parent without references once its last child is gone.
      removed[candidate.image] = true;
      for (ImageIndex image = candidate.image; m_facts[image].parent != k_no_image;) {
        const ImageIndex parent = m_facts[image].parent;
        if (removed[parent]) {
          break;
        }
        const Facts& parent_facts = m_facts[parent];
        const auto gone = ++removed_children[parent];
        if (gone < child_count(parent) || parent_facts.tag_count > 0 || parent_facts.has_digests ||
            parent_facts.containers > 0 || by_image[parent] != nullptr) {
          break;
        }
        removed[parent] = true;
        deletion.orphaned_parents.emplace_back(parent_facts.id);
        image = parent;
      }
      plan.reclaim_bytes += deletion.bytes;
    }
    m_removed = std::move(removed);
  }

  void keep_remaining_intermediates() {
    for (ImageIndex index = 0; index < m_facts.size(); ++index) {
      if (m_facts[index].state == ImageState::intermediate &&
          (m_removed.empty() || !m_removed[index])) {
        const auto children = child_count(index);
        keep(index, KeepReason::intermediate,
             "untagged parent of " + std::to_string(children) + " image" +
                 (children == 1 ? "" : "s") + "; goes with its last child");
      }
    }
  }

  const PlanInput& m_input;
  const graph::ImageGraph& m_graph;
  std::vector<const graph::Image*> m_images; // by image: sorted by address
  std::vector<Facts> m_facts;                // by image
  std::vector<ImageIndex> m_by_id;           // every image, in ID order
  std::vector<std::uint32_t> m_id_rank;      // by image: its place in m_by_id
  // Children by parent: the children of image i are m_children[m_child_start[i], [i + 1]).
  std::vector<std::uint32_t> m_child_start;
  std::vector<ImageIndex> m_children;
  // Every repository a tag names, numbered; the tags of image i are
  // m_tags[m_tag_start[i], [i + 1]), in the graph's order.
  Repositories m_repositories;
  std::vector<std::uint32_t> m_tag_start;
  std::vector<Tag> m_tags;
  std::vector<std::optional<Keep>> m_kept; // by image
  std::vector<bool> m_removed;             // by image, once emitted
  std::vector<Rule> m_pressure_rules;
  // By image, the policy's rule that takes it, decided for tagged images as they are read
  // (k_undecided for the others); and by rule, its repository matches (evaluate_rules).
  std::vector<std::uint32_t> m_regular_rule_of;
  std::vector<RepositoryMatches> m_regular_matches;
  std::string m_text;                        // the reason being written (text())
  ImageNames::Writer m_names;                // the plan's names (names_of)
  std::vector<std::string_view> m_tag_texts; // the tags names_of copies, kept between images
};

} // namespace

double DiskStats::used_percent() const {
  if (size_bytes <= 0) {
    return 0.0;
  }
  return 100.0 * static_cast<double>(size_bytes - free_bytes) / static_cast<double>(size_bytes);
}

ImageNames ImageNames::Writer::start(std::string_view id, std::size_t tag_count,
                                     std::size_t text_size) {
  const std::size_t tag_sizes_size = tag_count * sizeof(std::uint32_t);
  const std::size_t record_size = tag_sizes_size + text_size;
  if (!m_block || m_capacity - m_used < record_size) {
    m_capacity = std::max(m_block_size, record_size);
    m_block = std::make_shared_for_overwrite<char[]>(m_capacity);
    m_used = 0;
  }
  m_record = m_block.get() + m_used;
  std::memcpy(m_record + tag_sizes_size, id.data(), id.size());
  m_used += tag_sizes_size + id.size();
  ImageNames names;
  names.m_block = m_block;
  names.m_text = m_record;
  names.m_tag_count = static_cast<std::uint32_t>(tag_count);
  names.m_id_size = static_cast<std::uint32_t>(id.size());
  return names;
}

void ImageNames::Writer::add_tag(std::size_t position, std::string_view tag) {
  const auto size = static_cast<std::uint32_t>(tag.size());
  std::memcpy(m_record + position * sizeof(size), &size, sizeof(size));
  std::memcpy(m_block.get() + m_used, tag.data(), tag.size());
  m_used += tag.size();
}

std::uint32_t ImageNames::tag_size(std::size_t position) const {
  std::uint32_t size = 0;
  std::memcpy(&size, m_text + position * sizeof(size), sizeof(size));
  return size;
}

std::vector<std::string_view> ImageNames::tags() const {
  std::vector<std::string_view> tags;
  tags.reserve(m_tag_count);
  const char* text = m_text + tag_sizes_size() + m_id_size;
  for (std::size_t position = 0; position < m_tag_count; ++position) {
    const std::uint32_t size = tag_size(position);
    tags.emplace_back(text, size);
    text += size;
  }
  return tags;
}

bool ImageNames::operator==(const ImageNames& other) const {
  if (m_tag_count != other.m_tag_count || id() != other.id()) {
    return false;
  }
  // The same tag sizes, then the same tag texts, which follow the IDs.
  std::size_t tags_size = 0;
  for (std::size_t position = 0; position < m_tag_count; ++position) {
    if (tag_size(position) != other.tag_size(position)) {
      return false;
    }
    tags_size += tag_size(position);
  }
  const std::size_t tags_start = tag_sizes_size() + m_id_size;
  return tags_size == 0 ||
         std::memcmp(m_text + tags_start, other.m_text + tags_start, tags_size) == 0;
}

std::string PlannedDeletion::reason() const {
  std::string text;
  text.reserve(160); // room for the reasons plans give, in one allocation
  if (pressure) {
    text += "disk pressure, least recently used first: ";
  }
  text += graph::to_string(evidence.state);
  text += ", ";
  text += age_origin(evidence.stored);
  text += ' ';
  append_duration(text, evidence.age);
  text += " ago";
  append_condition(text, "older_than", evidence.older_than);
  text += ", last used ";
  append_duration(text, evidence.idle);
  text += " ago";
  append_condition(text, "unused_for", evidence.unused_for);
  return text;
}

std::string_view to_string(KeepReason reason) {
  switch (reason) {
  case KeepReason::in_use:
    return "in_use";
  case KeepReason::protected_reference:
    return "protected_reference";
  case KeepReason::protected_label:
    return "protected_label";
  case KeepReason::protected_newest:
    return "protected_newest";
  case KeepReason::protected_min_age:
    return "protected_min_age";
  case KeepReason::no_rule:
    return "no_rule";
  case KeepReason::keep_newest:
    return "keep_newest";
  case KeepReason::younger_than:
    return "younger_than";
  case KeepReason::recently_used:
    return "recently_used";
  case KeepReason::kept_children:
    return "kept_children";
  case KeepReason::intermediate:
    return "intermediate";
  case KeepReason::over_limit:
    return "over_limit";
  }
  return "unknown";
}

Plan make_plan(const PlanInput& input) {
  return Planner(input).run();
}

} // namespace imagegc::policy
