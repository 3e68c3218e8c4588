#include "policy/planner.hpp"

#include <algorithm>
#include <unordered_map>
#include <unordered_set>

namespace imagegc::policy {

namespace {

using graph::ImageState;

// "3d4h", "45m", "12s": how long ago, for reasons a person reads.
std::string human_duration(std::int64_t seconds) {
  if (seconds < 0) {
    return "in the future";
  }
  struct Unit {
    std::int64_t seconds;
    const char* suffix;
  };
  static constexpr Unit k_units[] = {{86400, "d"}, {3600, "h"}, {60, "m"}, {1, "s"}};
  std::string text;
  int parts = 0;
  for (const Unit& unit : k_units) {
    if (seconds >= unit.seconds && parts < 2) {
      text += std::to_string(seconds / unit.seconds) + unit.suffix;
      seconds %= unit.seconds;
      ++parts;
    } else if (parts > 0) {
      break;
    }
  }
  return text.empty() ? "0s" : text;
}

std::string quoted(std::string_view text) {
  return "\"" + std::string(text) + "\"";
}

// What the planner knows of one image.
struct Facts {
  const graph::Image* image = nullptr;
  ImageState state = ImageState::dangling;
  std::size_t containers = 0;
  std::int64_t age = 0;         // seconds since created (since stored, on the containerd store)
  const char* aged = "created"; // what `age` counts from, for reasons
  std::int64_t idle = 0;        // seconds since last used
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

// Image IDs are digests: their last 16 characters hash as well as all of them, for less work.
struct IdHash {
  std::size_t operator()(std::string_view id) const noexcept {
    constexpr std::size_t k_hashed = 16;
    return std::hash<std::string_view>{}(id.size() > k_hashed ? id.substr(id.size() - k_hashed)
                                                              : id);
  }
};

// By image ID; the keys view the planner's own list of IDs.
using FactsMap = std::unordered_map<std::string_view, Facts, IdHash>;

// Image ID (a view of the graph's) -> the repository it is among the newest of.
using NewestMap = std::unordered_map<std::string_view, std::string, IdHash>;

// For each image, the repository in which it ranks among the newest `count` (by created time),
// if any. An image with tags in several repositories counts in each.
NewestMap newest_per_repository(const std::vector<std::string_view>& ids, const FactsMap& facts,
                                int count) {
  std::unordered_map<std::string_view, std::vector<const graph::Image*>> by_repository;
  std::vector<std::string_view> repositories;
  for (const std::string_view id : ids) {
    const graph::Image* image = facts.at(id).image;
    repositories.clear();
    for (const std::string& tag : image->tags) {
      repositories.push_back(repository_of(tag));
    }
    std::sort(repositories.begin(), repositories.end());
    repositories.erase(std::unique(repositories.begin(), repositories.end()), repositories.end());
    for (const std::string_view repository : repositories) {
      by_repository[repository].push_back(image);
    }
  }
  NewestMap newest;
  for (auto& [repository, images] : by_repository) {
    std::sort(images.begin(), images.end(), [](const graph::Image* a, const graph::Image* b) {
      return a->created != b->created ? a->created > b->created : a->id < b->id;
    });
    const auto keep = std::min<std::size_t>(images.size(), static_cast<std::size_t>(count));
    for (std::size_t i = 0; i < keep; ++i) {
      newest.try_emplace(images[i]->id, std::string(repository));
    }
  }
  return newest;
}

struct Candidate {
  std::string id;
  std::string rule;
  std::size_t rule_index = 0;
  std::string reason;
  bool pressure = false;
  std::int64_t age = 0; // Facts::age and idle, for ordering without a lookup
  std::int64_t idle = 0;
};

class Planner {
public:
  explicit Planner(const PlanInput& input) : m_input(input), m_graph(input.graph) {
    m_ids = m_graph.image_ids();
    m_facts.reserve(m_ids.size());
    for (const std::string& id : m_ids) {
      const graph::Image* image = m_graph.find_image(id);
      if (!image->parent.empty()) {
        // In ID order, as ImageGraph::children lists them.
        m_children[image->parent].push_back(id);
      }
      Facts facts;
      facts.image = image;
      facts.state = m_graph.state(id);
      facts.containers = m_graph.containers_using(id);
      // The age the engine's own prune `until` measures: the config's creation time on the
      // classic store, the image record's local time on the containerd store (graph::Image).
      facts.age = input.now - image->stored_at.value_or(image->created);
      if (image->stored_at) {
        facts.aged = "stored";
      }
      std::int64_t last_used = std::max(image->created, image->last_tag_time.value_or(0));
      if (input.last_used) {
        last_used = std::max(last_used, input.last_used(id).value_or(0));
      }
      facts.idle = input.now - last_used;
      m_facts.emplace(id, facts);
    }
  }

  Plan run() {
    const std::vector<std::string_view> open = apply_protections();
    std::vector<Candidate> chosen = evaluate_rules(m_input.policy.rules, open, false);
    chosen = removable_only(std::move(chosen));
    std::vector<std::string> order = children_first(chosen);

    Plan plan;
    std::vector<Candidate> pressure_chosen;
    if (const auto goal = pressure_goal(); goal) {
      plan.pressure = true;
      plan.pressure_goal_bytes = *goal;
      pressure_chosen = choose_for_pressure(chosen, order, *goal);
      chosen.insert(chosen.end(), pressure_chosen.begin(), pressure_chosen.end());
      const auto pressure_order = children_first(pressure_chosen);
      order.insert(order.end(), pressure_order.begin(), pressure_order.end());
    }

    emit(plan, chosen, order);
    keep_remaining_intermediates(plan);
    for (auto& [id, kept] : m_kept) {
      plan.kept.push_back(std::move(kept));
    }
    std::sort(plan.kept.begin(), plan.kept.end(),
              [](const KeptImage& a, const KeptImage& b) { return a.image_id < b.image_id; });
    return plan;
  }

private:
  // A selector takes an image only when it takes every one of its tags: deleting some tags of an
  // image frees nothing.
  bool selects(const Selector& selector, const Facts& facts) {
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
    if (facts.image->tags.empty()) {
      return false;
    }
    return std::all_of(facts.image->tags.begin(), facts.image->tags.end(), [&](const auto& tag) {
      return (selector.repositories.empty() ||
              repository_matches(selector.repositories, repository_of(tag))) &&
             (selector.tags.empty() || any_matches(selector.tags, tag_of(tag)));
    });
  }

  // any_matches for repositories, remembered per pattern list: a host has far fewer repositories
  // than tags, and every rule asks about the repositories of every image it looks at.
  bool repository_matches(const std::vector<Pattern>& patterns, std::string_view repository) {
    auto& known = m_repository_matches[&patterns];
    const auto [it, inserted] = known.try_emplace(repository, false);
    if (inserted) {
      it->second = any_matches(patterns, repository);
    }
    return it->second;
  }

  std::size_t child_count(std::string_view id) const {
    const auto it = m_children.find(id);
    return it == m_children.end() ? 0 : it->second.size();
  }

  void keep(std::string_view id, KeepReason why, std::string reason) {
    m_kept.try_emplace(std::string(id), KeptImage{std::string(id), m_facts.at(id).image->tags, why,
                                                  std::move(reason)});
  }

  // Protections come first and nothing overrides them. Returns the images still open.
  std::vector<std::string_view> apply_protections() {
    const Protections& protect = m_input.policy.protect;
    NewestMap newest;
    if (protect.newest_per_repository) {
      newest = newest_per_repository({m_ids.begin(), m_ids.end()}, m_facts,
                                     *protect.newest_per_repository);
    }
    std::vector<std::string_view> open;
    open.reserve(m_ids.size());
    for (const std::string& id : m_ids) {
      const Facts& facts = m_facts.at(id);
      const graph::Image& image = *facts.image;
      if (facts.containers > 0) {
        keep(id, KeepReason::in_use,
             "used by " + std::to_string(facts.containers) + " container" +
                 (facts.containers == 1 ? "" : "s"));
        continue;
      }
      if (const auto reference = protected_reference(image); reference) {
        keep(id, KeepReason::protected_reference, *reference);
        continue;
      }
      if (const auto label = protected_label(image); label) {
        keep(id, KeepReason::protected_label, *label);
        continue;
      }
      if (protect.min_age && facts.age < protect.min_age->count()) {
        keep(id, KeepReason::protected_min_age,
             std::string(facts.aged) + " " + human_duration(facts.age) +
                 " ago, younger than protect.min_age " + human_duration(protect.min_age->count()));
        continue;
      }
      if (const auto it = newest.find(id); it != newest.end()) {
        keep(id, KeepReason::protected_newest,
             "among the newest " + std::to_string(*protect.newest_per_repository) + " of " +
                 it->second + " (protect.newest_per_repository)");
        continue;
      }
      if (facts.state == ImageState::intermediate) {
        continue; // never deleted by itself: decided with its children at the end
      }
      open.push_back(id);
    }
    return open;
  }

  std::optional<std::string> protected_reference(const graph::Image& image) const {
    for (const auto* references : {&image.tags, &image.digests}) {
      for (const std::string& reference : *references) {
        for (const Pattern& pattern : m_input.policy.protect.references) {
          if (pattern.matches(reference)) {
            return reference + " matches protect.references " + quoted(pattern.text());
          }
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

  // Each image belongs to the first rule that selects it; the rule's conditions then decide.
  std::vector<Candidate> evaluate_rules(const std::vector<Rule>& rules,
                                        const std::vector<std::string_view>& ids, bool pressure) {
    std::vector<std::vector<std::string_view>> selected(rules.size());
    for (const std::string_view id : ids) {
      const Facts& facts = m_facts.at(id);
      bool matched = false;
      for (std::size_t index = 0; index < rules.size() && !matched; ++index) {
        if (selects(rules[index].select, facts)) {
          selected[index].push_back(id);
          matched = true;
        }
      }
      if (!matched && !pressure) {
        keep(id, KeepReason::no_rule, "no rule selects it");
      }
    }

    std::vector<Candidate> candidates;
    for (std::size_t index = 0; index < rules.size(); ++index) {
      const Rule& rule = rules[index];
      NewestMap newest;
      if (rule.keep_newest) {
        newest = newest_per_repository(selected[index], m_facts, *rule.keep_newest);
      }
      const std::string prefix = "rule " + quoted(rule.name) + ": ";
      for (const std::string_view id : selected[index]) {
        const Facts& facts = m_facts.at(id);
        if (const auto it = newest.find(id); it != newest.end()) {
          keep(id, KeepReason::keep_newest,
               prefix + "among the newest " + std::to_string(*rule.keep_newest) + " of " +
                   it->second);
          continue;
        }
        if (rule.older_than && facts.age < rule.older_than->count()) {
          keep(id, KeepReason::younger_than,
               prefix + facts.aged + " " + human_duration(facts.age) + " ago, older_than is " +
                   human_duration(rule.older_than->count()));
          continue;
        }
        if (rule.unused_for && facts.idle < rule.unused_for->count()) {
          keep(id, KeepReason::recently_used,
               prefix + "last used " + human_duration(facts.idle) + " ago, unused_for is " +
                   human_duration(rule.unused_for->count()));
          continue;
        }
        std::string reason = std::string(graph::to_string(facts.state)) + ", " + facts.aged + " " +
                             human_duration(facts.age) + " ago";
        if (rule.older_than) {
          reason += " (older_than " + human_duration(rule.older_than->count()) + ")";
        }
        reason += ", last used " + human_duration(facts.idle) + " ago";
        if (rule.unused_for) {
          reason += " (unused_for " + human_duration(rule.unused_for->count()) + ")";
        }
        candidates.push_back({std::string(id), rule.name, index, std::move(reason), pressure,
                              facts.age, facts.idle});
      }
    }
    return candidates;
  }

  // Drops what the engine would not delete (children that stay): it would only be untagged.
  std::vector<Candidate> removable_only(std::vector<Candidate> candidates,
                                        const std::vector<std::string>& also_removed = {}) {
    std::vector<std::string> requested = also_removed;
    for (const Candidate& candidate : candidates) {
      requested.push_back(candidate.id);
    }
    const auto closure = m_graph.removal_closure(requested);
    const std::unordered_set<std::string> goes(closure.begin(), closure.end());
    std::vector<Candidate> removable;
    for (Candidate& candidate : candidates) {
      if (goes.contains(candidate.id)) {
        removable.push_back(std::move(candidate));
      } else {
        keep(candidate.id, KeepReason::kept_children,
             "rule " + quoted(candidate.rule) + " selects it, but child images stay");
      }
    }
    return removable;
  }

  // The deletion order: rule by rule, oldest first, each image after every descendant it has
  // among the deletions (the engine refuses a parent while a child exists).
  std::vector<std::string> children_first(const std::vector<Candidate>& candidates) const {
    std::vector<const Candidate*> sorted;
    std::unordered_set<std::string_view> wanted;
    sorted.reserve(candidates.size());
    wanted.reserve(candidates.size());
    for (const Candidate& candidate : candidates) {
      sorted.push_back(&candidate);
      wanted.insert(candidate.id);
    }
    std::stable_sort(sorted.begin(), sorted.end(), [&](const Candidate* a, const Candidate* b) {
      if (a->pressure) {
        // Disk pressure: least recently used first.
        return a->idle > b->idle;
      }
      if (a->rule_index != b->rule_index) {
        return a->rule_index < b->rule_index;
      }
      return a->age > b->age;
    });
    std::vector<std::string> order;
    order.reserve(candidates.size());
    std::unordered_set<std::string_view> emitted;
    emitted.reserve(candidates.size());
    // Iterative depth-first walk: descendants (through untagged parents too) before the image.
    std::vector<std::pair<std::string_view, bool>> stack;
    for (const Candidate* candidate : sorted) {
      stack.assign({{candidate->id, false}});
      while (!stack.empty()) {
        const auto [id, expanded] = stack.back();
        stack.pop_back();
        if (emitted.contains(id)) {
          continue;
        }
        if (expanded) {
          if (wanted.contains(id)) {
            emitted.insert(id);
            order.emplace_back(id);
          }
          continue;
        }
        stack.emplace_back(id, true);
        if (const auto children = m_children.find(id); children != m_children.end()) {
          for (const std::string_view child : children->second) {
            if (!emitted.contains(child)) {
              stack.emplace_back(child, false);
            }
          }
        }
      }
    }
    return order;
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
                                             const std::vector<std::string>& regular_order,
                                             std::int64_t goal) {
    std::unordered_set<std::string> taken;
    for (const Candidate& candidate : regular) {
      taken.insert(candidate.id);
    }
    std::vector<std::string_view> pool;
    for (const auto& [id, kept] : m_kept) {
      const bool overridable =
          kept.why == KeepReason::no_rule || kept.why == KeepReason::keep_newest ||
          kept.why == KeepReason::younger_than || kept.why == KeepReason::recently_used ||
          kept.why == KeepReason::kept_children;
      if (overridable && !taken.contains(id)) {
        pool.push_back(m_facts.find(id)->first); // views the planner's own ID list
      }
    }
    std::sort(pool.begin(), pool.end());

    std::vector<Rule> rules = m_input.policy.pressure.rules;
    if (rules.empty()) {
      Rule everything_unused;
      everything_unused.name = "disk-pressure";
      everything_unused.select.states = {StateFilter::unused};
      rules.push_back(std::move(everything_unused));
    }
    auto candidates = evaluate_rules(rules, pool, true);
    for (Candidate& candidate : candidates) {
      candidate.pressure = true;
      candidate.reason = "disk pressure, least recently used first: " + candidate.reason;
    }
    candidates = removable_only(std::move(candidates), regular_order);
    const auto order = children_first(candidates);

    // Take the least recently used prefix whose bytes reach the goal.
    std::vector<std::string> combined = regular_order;
    combined.insert(combined.end(), order.begin(), order.end());
    const auto freed = m_graph.sequential_reclaim(combined);
    std::int64_t reached = 0;
    for (std::size_t i = 0; i < regular_order.size(); ++i) {
      reached += freed[i];
    }
    std::unordered_set<std::string> needed;
    for (std::size_t i = 0; i < order.size() && reached < goal; ++i) {
      reached += freed[regular_order.size() + i];
      needed.insert(order[i]);
    }
    std::vector<Candidate> chosen;
    for (Candidate& candidate : candidates) {
      if (needed.contains(candidate.id)) {
        m_kept.erase(candidate.id);
        chosen.push_back(std::move(candidate));
      }
    }
    return chosen;
  }

  // The final list, in order, with bytes, limits and the parents each deletion orphans.
  void emit(Plan& plan, const std::vector<Candidate>& chosen,
            const std::vector<std::string>& order) {
    std::unordered_map<std::string, const Candidate*> by_id;
    for (const Candidate& candidate : chosen) {
      by_id.emplace(candidate.id, &candidate);
    }
    const auto freed = m_graph.sequential_reclaim(order);
    const Limits& limits = m_input.policy.limits;
    std::unordered_map<std::string, std::size_t> removed_children;
    std::unordered_set<std::string> removed;
    for (std::size_t i = 0; i < order.size(); ++i) {
      const Candidate& candidate = *by_id.at(order[i]);
      const bool over_count =
          limits.max_deletions &&
          plan.deletions.size() >= static_cast<std::size_t>(*limits.max_deletions);
      const bool over_bytes = limits.max_bytes && plan.reclaim_bytes + freed[i] > *limits.max_bytes;
      if (plan.limited || over_count || over_bytes) {
        plan.limited = true;
        m_kept.erase(candidate.id);
        keep(candidate.id, KeepReason::over_limit,
             "rule " + quoted(candidate.rule) + " selects it; left for the next run by limits");
        continue;
      }
      PlannedDeletion deletion;
      deletion.image_id = candidate.id;
      deletion.tags = m_facts.at(candidate.id).image->tags;
      deletion.rule = candidate.rule;
      deletion.reason = candidate.reason;
      deletion.bytes = freed[i];
      deletion.pressure = candidate.pressure;
      // The engine prunes each parent without references once its last child is gone.
      removed.insert(candidate.id);
      for (const graph::Image* image = m_facts.at(candidate.id).image; !image->parent.empty();) {
        const graph::Image* parent = m_graph.find_image(image->parent);
        if (parent == nullptr || removed.contains(parent->id)) {
          break;
        }
        const auto gone = ++removed_children[parent->id];
        if (gone < child_count(parent->id) || !parent->tags.empty() || !parent->digests.empty() ||
            m_graph.in_use(parent->id) || by_id.contains(parent->id)) {
          break;
        }
        removed.insert(parent->id);
        deletion.orphaned_parents.push_back(parent->id);
        image = parent;
      }
      plan.reclaim_bytes += deletion.bytes;
      plan.deletions.push_back(std::move(deletion));
    }
    m_removed = std::move(removed);
  }

  void keep_remaining_intermediates(Plan& /*plan*/) {
    for (const std::string& id : m_ids) {
      const Facts& facts = m_facts.at(id);
      if (facts.state == ImageState::intermediate && !m_removed.contains(id)) {
        const auto children = child_count(id);
        keep(id, KeepReason::intermediate,
             "untagged parent of " + std::to_string(children) + " image" +
                 (children == 1 ? "" : "s") + "; goes with its last child");
      }
    }
  }

  const PlanInput& m_input;
  const graph::ImageGraph& m_graph;
  std::vector<std::string> m_ids;
  FactsMap m_facts;
  // Children by parent ID, in ID order; the views point into the graph's images.
  std::unordered_map<std::string_view, std::vector<std::string_view>> m_children;
  std::unordered_map<const std::vector<Pattern>*, std::unordered_map<std::string_view, bool>>
      m_repository_matches;
  std::unordered_map<std::string, KeptImage> m_kept;
  std::unordered_set<std::string> m_removed;
};

} // namespace

double DiskStats::used_percent() const {
  if (size_bytes <= 0) {
    return 0.0;
  }
  return 100.0 * static_cast<double>(size_bytes - free_bytes) / static_cast<double>(size_bytes);
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
