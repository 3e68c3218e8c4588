#pragma once
// The retention policy as the planner uses it: parsed once from YAML (policy/policy_loader),
// validated, with every pattern compiled. See config/policy.yaml for the file format.

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "policy/cron.hpp"

namespace re2 {
class RE2;
}

namespace imagegc::policy {

using Seconds = std::chrono::seconds;

enum class Mode { dry_run, enforce };

// Where a setting came from, for messages that point at the policy file.
struct SourceLocation {
  std::string file;
  int line = 0;   // 1-based; 0 when unknown
  int column = 0; // 1-based
};

// A repository or tag pattern: a glob ("*" within a path segment, "**" across segments, "?")
// or an RE2 regular expression; both always match the whole text.
class Pattern {
public:
  enum class Kind { glob, regex };

  // nullopt and `error` set when the pattern does not compile.
  static std::optional<Pattern> glob(std::string_view text, std::string& error);
  static std::optional<Pattern> regex(std::string_view text, std::string& error);

  [[nodiscard]] bool matches(std::string_view text) const;
  // False when no text that starts with `start` can match (a glob's literal prefix or a regex's
  // range rules them all out); true says nothing. Lets a caller ask once about a repository
  // instead of about each of its references.
  [[nodiscard]] bool may_match_starting_with(std::string_view start) const;
  [[nodiscard]] Kind kind() const { return m_kind; }
  [[nodiscard]] const std::string& text() const { return m_text; }

private:
  Kind m_kind = Kind::glob;
  std::string m_text;
  std::shared_ptr<const re2::RE2> m_compiled; // immutable, shared by copies
  // Globs only: literal text every match starts with, ends with, and holds (the longest run).
  std::string m_prefix;
  std::string m_suffix;
  std::string m_needle;
  // Regexes only, when RE2 can say: every match sorts between these (Pattern::regex).
  bool m_has_range = false;
  std::string m_range_min;
  std::string m_range_max;
};

// `key` (present), `key=value`, `key!=value` (absent or different).
struct LabelMatcher {
  enum class Op { exists, equals, not_equals };
  Op op = Op::exists;
  std::string key;
  std::string value;

  [[nodiscard]] bool matches(const std::map<std::string, std::string>& labels) const;
};

// Image states a selector may ask for. `unused`: not intermediate and no container uses it.
enum class StateFilter { dangling, intermediate, unused, tagged };

// Which images a rule is about. Every given part must match (empty parts match everything).
// Repository and tag are matched against each "repo:tag" reference of the image; an image with
// no tag matches only selectors without repository/tag patterns.
struct Selector {
  std::vector<Pattern> repositories; // any of them
  std::vector<Pattern> tags;         // any of them
  std::vector<LabelMatcher> labels;  // all of them
  std::vector<StateFilter> states;   // any of them
};

struct Rule {
  std::string name;
  Selector select;
  std::optional<Seconds> older_than; // since created
  std::optional<Seconds> unused_for; // since last used
  std::optional<int> keep_newest;    // per repository, newest by created time
  SourceLocation location;
};

// Checked before any rule; nothing overrides them. Images in use are always protected.
struct Protections {
  std::vector<Pattern> references;  // matched against each full "repo:tag"
  std::vector<LabelMatcher> labels; // any of them protects
  std::optional<int> newest_per_repository;
  std::optional<Seconds> min_age; // since created (fresh pulls and builds)
};

struct Watermark {
  std::optional<double> used_percent;     // of the engine's data-root filesystem
  std::optional<std::int64_t> free_bytes; // "free below this" is pressure
};

// Above `high`, `rules` (or, when empty, every unused image) delete least-recently-used first
// until `low` is reached.
struct DiskPressure {
  bool enabled = false;
  Watermark high;
  Watermark low;
  std::vector<Rule> rules;
};

struct Limits {
  std::optional<int> max_deletions;
  std::optional<std::int64_t> max_bytes;
  std::optional<Seconds> max_duration;
};

struct Schedule {
  std::optional<Seconds> interval;    // either interval ...
  Seconds jitter{0};                  //   ... plus up to this much random delay
  std::optional<CronExpression> cron; // ... or a 5-field cron expression (local time)
};

// Passed to the engine's POST /build/prune.
struct BuildCachePolicy {
  bool enabled = false;
  bool all = false;                           // also internal/frontend cache
  std::optional<Seconds> older_than;          // filters until=
  std::optional<std::int64_t> keep_storage;   // keep-storage (API 1.39+)
  std::optional<std::int64_t> reserved_space; // API 1.48+
  std::optional<std::int64_t> max_used_space; // API 1.48+
  std::optional<std::int64_t> min_free_space; // API 1.48+
};

struct Policy {
  Mode mode = Mode::dry_run;
  Schedule schedule;
  Protections protect;
  std::vector<Rule> rules;
  DiskPressure pressure;
  Limits limits;
  BuildCachePolicy build_cache;
  std::string source; // file name it was loaded from
};

// The repository part of a reference: "registry:5000/team/app:1.0" → "registry:5000/team/app".
std::string_view repository_of(std::string_view reference);
// The tag part: "app:1.0" → "1.0"; "" when the reference has none.
std::string_view tag_of(std::string_view reference);

} // namespace imagegc::policy
