#include <filesystem>
#include <fstream>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include "policy/policy_loader.hpp"

namespace imagegc::policy {
namespace {

using std::chrono::hours;
using std::chrono::minutes;
using std::chrono::seconds;
using testing::ElementsAre;
using testing::EndsWith;
using testing::HasSubstr;
using testing::StartsWith;

std::vector<std::string> error_lines(const PolicyResult& result) {
  std::vector<std::string> lines;
  if (!result) {
    for (const PolicyError& error : result.error()) {
      lines.push_back(error.to_string());
    }
  }
  return lines;
}

std::string joined(const std::vector<std::string>& lines) {
  std::string text;
  for (const auto& line : lines) {
    text += line + "\n";
  }
  return text;
}

Policy parsed(std::string_view yaml) {
  PolicyResult result = parse_policy(yaml, "policy.yaml");
  EXPECT_TRUE(result.has_value()) << joined(error_lines(result));
  return result ? std::move(result).value() : Policy{};
}

std::vector<std::string> errors(std::string_view yaml) {
  const PolicyResult result = parse_policy(yaml, "policy.yaml");
  EXPECT_FALSE(result.has_value()) << yaml;
  return error_lines(result);
}

// --- defaults and the full format -------------------------------------------------------------

TEST(PolicyDefaults, an_empty_document_is_dry_run_with_no_rules) {
  for (const char* yaml : {"", "\n\n", "# only a comment\n", "---\n", "~\n", "---\n...\n"}) {
    const Policy policy = parsed(yaml);
    EXPECT_EQ(policy.mode, Mode::dry_run);
    EXPECT_TRUE(policy.rules.empty());
    EXPECT_EQ(policy.schedule.interval, hours{1});
    EXPECT_EQ(policy.schedule.jitter, seconds{0});
    EXPECT_FALSE(policy.schedule.cron.has_value());
    EXPECT_TRUE(policy.protect.references.empty());
    EXPECT_FALSE(policy.protect.min_age.has_value());
    EXPECT_FALSE(policy.pressure.enabled);
    EXPECT_FALSE(policy.build_cache.enabled);
    EXPECT_FALSE(policy.limits.max_deletions.has_value());
    EXPECT_EQ(policy.source, "policy.yaml");
  }
}

TEST(PolicyDefaults, empty_sections_keep_their_defaults) {
  const Policy policy = parsed("schedule:\nprotect:\nrules:\nlimits:\n");
  EXPECT_EQ(policy.schedule.interval, hours{1});
  EXPECT_TRUE(policy.rules.empty());
}

TEST(PolicyFormat, reads_every_key) {
  const Policy policy = parsed(R"yaml(version: 1
mode: enforce
schedule:
  interval: 30m
  jitter: 5m
protect:
  references: ["**/postgres:*", "re:base/.*:(stable|lts)", {regex: "x+"}, {glob: "re:5000/app:*"}]
  labels: [imagegc.keep, "tier=prod", "env!=dev"]
  newest_per_repository: 2
  min_age: 1h
rules:
  - name: dangling
    select: {state: dangling}
    older_than: 24h
  - name: features
    select:
      repository: "team/**"
      tag: ["feature-*", "re:pr-[0-9]+"]
      labels: ci
      state: [unused, tagged, unused]
    unused_for: 2d
    keep_newest: 3
  - name: everything
    select: {}
disk_pressure:
  high: {used: 85%, free: 10GB}
  low: {used: 70.5%, free: 20GiB}
  rules:
    - name: pressure
      select: {state: unused}
limits:
  max_deletions: 100
  max_bytes: 50GB
  max_duration: 10m
build_cache:
  all: true
  older_than: 7d
  keep_storage: 20GB
  reserved_space: 1GB
  max_used_space: 2GB
  min_free_space: 3GB
)yaml");
  EXPECT_EQ(policy.mode, Mode::enforce);
  EXPECT_EQ(policy.schedule.interval, minutes{30});
  EXPECT_EQ(policy.schedule.jitter, minutes{5});

  ASSERT_EQ(policy.protect.references.size(), 4U);
  EXPECT_EQ(policy.protect.references[0].kind(), Pattern::Kind::glob);
  EXPECT_TRUE(policy.protect.references[0].matches("docker.io/library/postgres:16"));
  EXPECT_EQ(policy.protect.references[1].kind(), Pattern::Kind::regex);
  EXPECT_EQ(policy.protect.references[1].text(), "base/.*:(stable|lts)");
  EXPECT_TRUE(policy.protect.references[1].matches("base/a/b:lts"));
  EXPECT_EQ(policy.protect.references[2].kind(), Pattern::Kind::regex);
  EXPECT_EQ(policy.protect.references[3].kind(), Pattern::Kind::glob);
  EXPECT_TRUE(policy.protect.references[3].matches("re:5000/app:1"));
  ASSERT_EQ(policy.protect.labels.size(), 3U);
  EXPECT_EQ(policy.protect.labels[0].op, LabelMatcher::Op::exists);
  EXPECT_EQ(policy.protect.labels[0].key, "imagegc.keep");
  EXPECT_EQ(policy.protect.labels[1].op, LabelMatcher::Op::equals);
  EXPECT_EQ(policy.protect.labels[1].key, "tier");
  EXPECT_EQ(policy.protect.labels[1].value, "prod");
  EXPECT_EQ(policy.protect.labels[2].op, LabelMatcher::Op::not_equals);
  EXPECT_EQ(policy.protect.labels[2].key, "env");
  EXPECT_EQ(policy.protect.labels[2].value, "dev");
  EXPECT_EQ(policy.protect.newest_per_repository, 2);
  EXPECT_EQ(policy.protect.min_age, hours{1});

  ASSERT_EQ(policy.rules.size(), 3U);
  const Rule& dangling = policy.rules[0];
  EXPECT_EQ(dangling.name, "dangling");
  EXPECT_THAT(dangling.select.states, ElementsAre(StateFilter::dangling));
  EXPECT_EQ(dangling.older_than, hours{24});
  EXPECT_FALSE(dangling.unused_for.has_value());
  EXPECT_EQ(dangling.location.file, "policy.yaml");
  EXPECT_EQ(dangling.location.line, 12);
  EXPECT_EQ(dangling.location.column, 5);
  const Rule& features = policy.rules[1];
  ASSERT_EQ(features.select.repositories.size(), 1U);
  EXPECT_TRUE(features.select.repositories[0].matches("team/a/b"));
  ASSERT_EQ(features.select.tags.size(), 2U);
  EXPECT_TRUE(features.select.tags[1].matches("pr-12"));
  ASSERT_EQ(features.select.labels.size(), 1U);
  EXPECT_EQ(features.select.labels[0].key, "ci");
  EXPECT_THAT(features.select.states, ElementsAre(StateFilter::unused, StateFilter::tagged));
  EXPECT_EQ(features.unused_for, hours{48});
  EXPECT_EQ(features.keep_newest, 3);
  const Rule& everything = policy.rules[2];
  EXPECT_TRUE(everything.select.repositories.empty());
  EXPECT_TRUE(everything.select.states.empty());

  EXPECT_TRUE(policy.pressure.enabled);
  EXPECT_EQ(policy.pressure.high.used_percent, 85.0);
  EXPECT_EQ(policy.pressure.high.free_bytes, 10'000'000'000);
  EXPECT_EQ(policy.pressure.low.used_percent, 70.5);
  EXPECT_EQ(policy.pressure.low.free_bytes, 20LL << 30);
  ASSERT_EQ(policy.pressure.rules.size(), 1U);
  EXPECT_EQ(policy.pressure.rules[0].name, "pressure");

  EXPECT_EQ(policy.limits.max_deletions, 100);
  EXPECT_EQ(policy.limits.max_bytes, 50'000'000'000);
  EXPECT_EQ(policy.limits.max_duration, minutes{10});

  EXPECT_TRUE(policy.build_cache.enabled);
  EXPECT_TRUE(policy.build_cache.all);
  EXPECT_EQ(policy.build_cache.older_than, hours{24 * 7});
  EXPECT_EQ(policy.build_cache.keep_storage, 20'000'000'000);
  EXPECT_EQ(policy.build_cache.reserved_space, 1'000'000'000);
  EXPECT_EQ(policy.build_cache.max_used_space, 2'000'000'000);
  EXPECT_EQ(policy.build_cache.min_free_space, 3'000'000'000);
}

TEST(PolicyFormat, reads_a_cron_schedule) {
  const Policy policy = parsed("schedule:\n  cron: \"30 3 * * mon-fri\"\n");
  ASSERT_TRUE(policy.schedule.cron.has_value());
  EXPECT_EQ(policy.schedule.cron->text(), "30 3 * * mon-fri");
  EXPECT_FALSE(policy.schedule.interval.has_value());
}

TEST(PolicyFormat, a_bare_percentage_is_a_used_watermark) {
  const Policy policy = parsed("disk_pressure:\n  high: 85%\n  low: 70%\n");
  EXPECT_EQ(policy.pressure.high.used_percent, 85.0);
  EXPECT_EQ(policy.pressure.low.used_percent, 70.0);
  EXPECT_FALSE(policy.pressure.high.free_bytes.has_value());
}

TEST(PolicyFormat, sections_can_be_present_but_disabled) {
  const Policy policy =
      parsed("disk_pressure:\n  enabled: false\nbuild_cache:\n  enabled: false\n  all: true\n");
  EXPECT_FALSE(policy.pressure.enabled);
  EXPECT_FALSE(policy.build_cache.enabled);
  EXPECT_TRUE(parsed("build_cache: {}\n").build_cache.enabled);
}

TEST(PolicyFormat, quoted_and_flow_forms_are_equivalent) {
  const Policy policy = parsed("{mode: 'enforce', rules: [{name: a, select: {tag: \"v*\"}, "
                               "keep_newest: '2'}]}");
  EXPECT_EQ(policy.mode, Mode::enforce);
  ASSERT_EQ(policy.rules.size(), 1U);
  EXPECT_EQ(policy.rules[0].keep_newest, 2);
}

// --- error paths, each with its line and column ------------------------------------------------

TEST(PolicyErrors, name_file_line_column_path_and_what_was_expected) {
  EXPECT_THAT(errors(R"yaml(mode: enforce
rules:
  - name: a
    select: {}
  - name: b
    select: {}
    older_than: soon
)yaml"),
              ElementsAre("policy.yaml:7:17: rules[1].older_than: expected a duration like 90s, "
                          "24h or 7d, got \"soon\""));
}

TEST(PolicyErrors, unknown_keys_suggest_near_misses) {
  EXPECT_THAT(errors("mdoe: enforce\n"),
              ElementsAre("policy.yaml:1:1: unknown key \"mdoe\" (did you mean \"mode\"?)"));
  EXPECT_THAT(errors("rules:\n  - name: a\n    select: {}\n    older-than: 1d\n"),
              ElementsAre("policy.yaml:4:5: rules[0]: unknown key \"older-than\" (did you mean "
                          "\"older_than\"?)"));
  EXPECT_THAT(errors("protect:\n  MIN_AGE: 1h\n"),
              ElementsAre("policy.yaml:2:3: protect: unknown key \"MIN_AGE\" (did you mean "
                          "\"min_age\"?)"));
  EXPECT_THAT(errors("limits:\n  frobnicate: 1\n"),
              ElementsAre("policy.yaml:2:3: limits: unknown key \"frobnicate\"; expected one of "
                          "max_deletions, max_bytes, max_duration"));
}

TEST(PolicyErrors, wrong_types) {
  EXPECT_THAT(errors("mode: [enforce]\n"),
              ElementsAre("policy.yaml:1:7: mode: expected dry-run or enforce, got a list"));
  EXPECT_THAT(errors("mode: delete\n"),
              ElementsAre("policy.yaml:1:7: mode: expected dry-run or enforce, got \"delete\""));
  EXPECT_THAT(errors("rules: {name: a}\n"),
              ElementsAre("policy.yaml:1:8: rules: expected a list of rules, got a mapping"));
  EXPECT_THAT(errors("rules:\n  - dangling\n"),
              ElementsAre("policy.yaml:2:5: rules[0]: expected a rule (a mapping with name, "
                          "select and conditions), got \"dangling\""));
  EXPECT_THAT(errors("limits: 5\n"),
              ElementsAre("policy.yaml:1:9: limits: expected a mapping with keys max_deletions, "
                          "max_bytes, max_duration, got \"5\""));
  EXPECT_THAT(errors("- mode\n"),
              ElementsAre("policy.yaml:1:1: expected a mapping of policy settings (mode, "
                          "schedule, rules, ...), got a list"));
  EXPECT_THAT(errors("build_cache:\n  all: yes\n"),
              ElementsAre("policy.yaml:2:8: build_cache.all: expected true or false, got \"yes\""));
  EXPECT_THAT(errors("? [a, b]\n: 1\n"),
              ElementsAre("policy.yaml:1:3: expected a key name, got a list"));
}

TEST(PolicyErrors, an_empty_value_points_at_its_key) {
  EXPECT_THAT(errors("protect:\n  min_age:\n  labels: [x]\n"),
              ElementsAre("policy.yaml:2:3: protect.min_age: expected a duration like 90s, 24h "
                          "or 7d, got nothing"));
}

TEST(PolicyErrors, numbers_are_strict) {
  EXPECT_THAT(errors("rules:\n  - name: a\n    select: {}\n    keep_newest: -1\n"),
              ElementsAre("policy.yaml:4:18: rules[0].keep_newest: expected a whole number, 0 or "
                          "more, got \"-1\""));
  EXPECT_THAT(errors("protect: {newest_per_repository: 1.5}\n"),
              ElementsAre("policy.yaml:1:34: protect.newest_per_repository: expected a whole "
                          "number, 0 or more, got \"1.5\""));
  EXPECT_THAT(errors("protect: {newest_per_repository: 99999999999}\n"), testing::SizeIs(1));
  EXPECT_THAT(errors("limits:\n  max_deletions: 0\n  max_bytes: 0\n  max_duration: 0s\n"),
              ElementsAre("policy.yaml:2:18: limits.max_deletions: expected a whole number, 1 or "
                          "more, got \"0\"",
                          "policy.yaml:3:14: limits.max_bytes: must be more than 0",
                          "policy.yaml:4:17: limits.max_duration: must be longer than 0s"));
  EXPECT_THAT(errors("limits: {max_bytes: 10 GB}\n"),
              ElementsAre("policy.yaml:1:21: limits.max_bytes: expected a size like 512MiB, 10GB "
                          "or 4096 (bytes), got \"10 GB\""));
  EXPECT_THAT(errors("version: 2\n"),
              ElementsAre("policy.yaml:1:10: version: unsupported format version 2; this imagegc "
                          "reads version 1"));
}

TEST(PolicyErrors, duplicate_keys) {
  EXPECT_THAT(errors("mode: dry-run\nmode: enforce\n"),
              ElementsAre("policy.yaml:2:1: mode: duplicate key, first set at line 1, column 1"));
  EXPECT_THAT(errors("rules:\n  - name: a\n    select: {}\n    name: b\n"),
              ElementsAre("policy.yaml:4:5: rules[0].name: duplicate key, first set at line 2, "
                          "column 5"));
  EXPECT_THAT(errors("build_cache: {all: true, all: false}\n"),
              ElementsAre("policy.yaml:1:26: build_cache.all: duplicate key, first set at line 1, "
                          "column 15"));
}

TEST(PolicyErrors, rules_need_a_unique_name_and_a_selector) {
  EXPECT_THAT(errors("rules:\n  - older_than: 1d\n"),
              ElementsAre("policy.yaml:2:5: rules[0]: missing required key \"name\"",
                          "policy.yaml:2:5: rules[0]: missing required key \"select\" (select: {} "
                          "selects every image)"));
  EXPECT_THAT(errors("rules:\n  - name: ''\n    select: {}\n"),
              ElementsAre("policy.yaml:2:11: rules[0].name: expected a rule name, got \"\""));
  EXPECT_THAT(errors(R"yaml(rules:
  - name: old
    select: {}
  - name: old
    select: {}
disk_pressure:
  high: 90%
  low: 80%
  rules:
    - name: old
      select: {}
)yaml"),
              ElementsAre("policy.yaml:4:11: rules[1].name: duplicate rule name \"old\", first "
                          "used at line 2, column 11",
                          "policy.yaml:10:13: disk_pressure.rules[0].name: duplicate rule name "
                          "\"old\", first used at line 2, column 11"));
}

TEST(PolicyErrors, a_rule_reused_through_an_alias_is_a_duplicate) {
  EXPECT_THAT(errors("rules:\n  - &rule {name: a, select: {}}\n  - *rule\n"),
              ElementsAre(HasSubstr("duplicate rule name \"a\"")));
}

TEST(PolicyErrors, bad_patterns) {
  EXPECT_THAT(errors("rules:\n  - name: a\n    select:\n      tag: \"v[0-9]*\"\n"),
              ElementsAre("policy.yaml:4:12: rules[0].select.tag: invalid glob \"v[0-9]*\": '[' "
                          "is not supported in a glob (only *, ** and ?); use a regex (re:...) "
                          "instead"));
  EXPECT_THAT(
      errors("rules:\n  - name: a\n    select:\n      tag: [ok, \"re:(\"]\n"),
      ElementsAre("policy.yaml:4:17: rules[0].select.tag[1]: invalid regex \"re:(\": missing "
                  "): ("));
  EXPECT_THAT(errors("protect:\n  references:\n    - regex: \"a**\"\n"),
              ElementsAre(StartsWith("policy.yaml:3:14: protect.references[0].regex: invalid "
                                     "regex \"a**\": ")));
  EXPECT_THAT(errors("protect:\n  references:\n    - {regex: a, glob: b}\n"),
              ElementsAre("policy.yaml:3:7: protect.references[0]: expected exactly one of glob "
                          "or regex"));
  EXPECT_THAT(errors("protect:\n  references:\n    - {regexp: a}\n"),
              ElementsAre("policy.yaml:3:8: protect.references[0]: unknown key \"regexp\" (did "
                          "you mean \"regex\"?)"));
  EXPECT_THAT(errors("protect: {references: [\"re:\"]}\n"),
              ElementsAre("policy.yaml:1:24: protect.references[0]: invalid regex \"re:\": empty "
                          "regex"));
  EXPECT_THAT(errors("protect: {references: ['re:((a{100}){100}){100}']}\n"),
              ElementsAre(StartsWith("policy.yaml:1:24: protect.references[0]: invalid regex")));
}

TEST(PolicyErrors, selectors_reject_empty_lists_and_bad_values) {
  EXPECT_THAT(errors("rules:\n  - name: a\n    select: {tag: []}\n"),
              ElementsAre("policy.yaml:3:19: rules[0].select.tag: expected at least one pattern, "
                          "got an empty list"));
  EXPECT_THAT(errors("rules:\n  - name: a\n    select: {state: [unused, old]}\n"),
              ElementsAre("policy.yaml:3:30: rules[0].select.state[1]: expected dangling, "
                          "intermediate, unused or tagged, got \"old\""));
  EXPECT_THAT(errors("rules:\n  - name: a\n    select: {labels: [\"=x\", \" a=b\", ok]}\n"),
              ElementsAre("policy.yaml:3:23: rules[0].select.labels[0]: expected a label like "
                          "key, key=value or key!=value, got \"=x\"",
                          "policy.yaml:3:29: rules[0].select.labels[1]: expected a label like "
                          "key, key=value or key!=value, got \" a=b\""));
  // An empty protection list is harmless and allowed.
  EXPECT_TRUE(parsed("protect: {references: [], labels: []}\n").protect.references.empty());
}

TEST(PolicyErrors, schedule_takes_interval_or_cron) {
  EXPECT_THAT(errors("schedule:\n  interval: 1h\n  cron: \"0 * * * *\"\n"),
              ElementsAre("policy.yaml:3:9: schedule.cron: set either interval or cron, not both"));
  EXPECT_THAT(errors("schedule:\n  cron: \"0 * * * *\"\n  jitter: 1m\n"),
              ElementsAre("policy.yaml:3:11: schedule.jitter: jitter applies to interval only, "
                          "not to cron"));
  EXPECT_THAT(errors("schedule:\n  cron: \"0 25 * * *\"\n"),
              ElementsAre("policy.yaml:2:9: schedule.cron: invalid cron expression \"0 25 * * "
                          "*\": field 2 (hour): 25 is out of range 0-23"));
  EXPECT_THAT(errors("schedule:\n  interval: 0s\n"),
              ElementsAre("policy.yaml:2:13: schedule.interval: must be longer than 0s"));
  EXPECT_THAT(errors("schedule:\n  interval: 10m\n  jitter: 11m\n"),
              ElementsAre("policy.yaml:3:11: schedule.jitter: must not be longer than the "
                          "interval (600s)"));
  // Jitter alone applies to the default interval.
  EXPECT_EQ(parsed("schedule: {jitter: 10m}\n").schedule.jitter, minutes{10});
}

TEST(PolicyErrors, impossible_watermarks) {
  EXPECT_THAT(errors("disk_pressure:\n  high: {used: 70%}\n  low: {used: 85%}\n"),
              ElementsAre("policy.yaml:3:15: disk_pressure.low.used: must be below the high "
                          "watermark's used (\"70%\")"));
  EXPECT_THAT(errors("disk_pressure:\n  high: 80%\n  low: 80%\n"),
              ElementsAre("policy.yaml:3:8: disk_pressure.low: must be below the high "
                          "watermark's used (\"80%\")"));
  EXPECT_THAT(errors("disk_pressure:\n  high: {free: 20GB}\n  low: {free: 10GB}\n"),
              ElementsAre("policy.yaml:3:15: disk_pressure.low.free: must be above the high "
                          "watermark's free (\"20GB\")"));
  EXPECT_THAT(errors("disk_pressure:\n  high: {}\n  low: 85\n"),
              ElementsAre("policy.yaml:2:9: disk_pressure.high: expected used (a percentage) "
                          "and/or free (a size)",
                          "policy.yaml:3:8: disk_pressure.low: expected a percentage like 85%, "
                          "got \"85\""));
  EXPECT_THAT(errors("disk_pressure:\n  rules: []\n"),
              ElementsAre("policy.yaml:2:3: disk_pressure: missing required key \"high\" (e.g. "
                          "high: {used: 85%})",
                          "policy.yaml:2:3: disk_pressure: missing required key \"low\" (e.g. "
                          "low: {used: 70%})"));
  // Mixed kinds cannot be compared without the disk's size, so they are allowed.
  EXPECT_TRUE(parsed("disk_pressure:\n  high: 90%\n  low: {free: 50GB}\n").pressure.enabled);
}

TEST(PolicyErrors, every_error_is_reported_in_file_order) {
  EXPECT_THAT(errors(R"yaml(mode: on
schedule: {interval: 1hour}
rules:
  - name: a
    select: {state: gone}
    keep_newest: many
limits: {max_bytes: lots}
)yaml"),
              ElementsAre(StartsWith("policy.yaml:1:7: mode:"),
                          StartsWith("policy.yaml:2:22: schedule.interval:"),
                          StartsWith("policy.yaml:5:21: rules[0].select.state:"),
                          StartsWith("policy.yaml:6:18: rules[0].keep_newest:"),
                          StartsWith("policy.yaml:7:21: limits.max_bytes:")));
}

TEST(PolicyErrors, yaml_syntax_errors_have_a_location) {
  EXPECT_THAT(errors("mode: enforce\nrules: [\n"),
              ElementsAre(StartsWith("policy.yaml:3:1: invalid YAML: ")));
  EXPECT_THAT(errors("a: 1\n\tb: 2\n"),
              ElementsAre("policy.yaml:2:1: invalid YAML: illegal tab when looking for "
                          "indentation"));
  EXPECT_THAT(errors("mode: \"enforce\n"), ElementsAre(StartsWith("policy.yaml:")));
}

TEST(PolicyErrors, only_one_document) {
  EXPECT_THAT(errors("mode: enforce\n---\nmode: dry-run\n"),
              ElementsAre("policy.yaml:2:1: expected a single YAML document; a second one starts "
                          "here"));
  // The second document is read far enough to find its syntax errors.
  EXPECT_THAT(errors("mode: enforce\n---\n[\n"),
              ElementsAre("policy.yaml:4:1: invalid YAML: end of sequence flow not found"));
}

TEST(PolicyErrors, to_string_without_a_line) {
  EXPECT_EQ((PolicyError{{"p.yaml", 0, 0}, "unreadable"}.to_string()), "p.yaml: unreadable");
  EXPECT_EQ((PolicyError{{"", 0, 0}, "unreadable"}.to_string()), "unreadable");
  EXPECT_EQ((PolicyError{{"p.yaml", 3, 4}, "bad"}.to_string()), "p.yaml:3:4: bad");
}

// --- hostile input ------------------------------------------------------------------------------

TEST(PolicyHostile, binary_bytes_are_rejected_before_parsing) {
  EXPECT_THAT(errors(std::string("\x00\x01\xff", 3)),
              ElementsAre("policy.yaml:1:1: control character 0x00 is not allowed in a policy"));
  EXPECT_THAT(errors("mode: enforce\nrules: \xff\xfe\n"),
              ElementsAre("policy.yaml:2:8: the file is not UTF-8 text"));
  EXPECT_THAT(errors("mode: \xc0\x80\n"),
              ElementsAre("policy.yaml:1:7: the file is not UTF-8 text"));
  EXPECT_THAT(errors("mode: \xed\xa0\x80\n"),
              ElementsAre("policy.yaml:1:7: the file is not UTF-8 text"));
  EXPECT_THAT(errors("mode: \x1b[31m\n"),
              ElementsAre("policy.yaml:1:7: control character 0x1b is not allowed in a policy"));
  // Valid UTF-8 is text like any other.
  EXPECT_THAT(
      errors("mode: caf\xc3\xa9\n"),
      ElementsAre("policy.yaml:1:7: mode: expected dry-run or enforce, got \"caf\xc3\xa9\""));
}

TEST(PolicyHostile, deep_flow_nesting_is_rejected) {
  const std::string deep = std::string(10'000, '[') + std::string(10'000, ']');
  EXPECT_THAT(errors(deep), ElementsAre("policy.yaml:1:65: nesting is deeper than 64 levels"));
  std::string maps = "rules: ";
  for (int i = 0; i < 10'000; ++i) {
    maps += "{a: ";
  }
  EXPECT_THAT(errors(maps), ElementsAre("policy.yaml:1:264: nesting is deeper than 64 levels"));
}

TEST(PolicyHostile, deep_block_nesting_is_rejected) {
  std::string dashes;
  for (int i = 0; i < 10'000; ++i) {
    dashes += "- ";
  }
  EXPECT_THAT(errors(dashes + "x\n"), ElementsAre(EndsWith(": nesting is too deep")));

  std::string indented;
  for (int i = 0; i < 700; ++i) {
    indented += std::string(static_cast<std::size_t>(i), ' ') + "a:\n";
  }
  EXPECT_THAT(errors(indented), ElementsAre(EndsWith(": nesting is too deep")));
}

TEST(PolicyHostile, brackets_and_quotes_inside_scalars_do_not_count_as_nesting) {
  std::string yaml = "rules:\n  - name: a\n    select:\n      tag: re:";
  for (int i = 0; i < 100; ++i) {
    yaml += "[a]";
  }
  yaml += "\n  - name: \"b [[[[\"\n    select: {labels: ['it''s [[[']}\n";
  yaml += "# [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[\n";
  EXPECT_EQ(parsed(yaml).rules.size(), 2U);

  std::string quoted = "protect:\n  labels: [";
  for (int i = 0; i < 100; ++i) {
    quoted += "'it''s [', ";
  }
  quoted += "x]\n";
  EXPECT_EQ(parsed(quoted).protect.labels.size(), 101U);
}

TEST(PolicyHostile, stray_tokens_that_stall_yaml_cpp_are_errors) {
  // yaml-cpp 0.7's LoadAll loops forever, allocating, on these (jbeder/yaml-cpp#1040).
  EXPECT_THAT(errors(","), ElementsAre("policy.yaml:1:1: invalid YAML: unexpected \",\""));
  EXPECT_THAT(errors("# a comment\n,a\nmode: enforce\n"),
              ElementsAre("policy.yaml:2:1: invalid YAML: unexpected \",\""));
}

TEST(PolicyHostile, oversized_text_is_rejected) {
  const std::string huge(2 << 20, '#');
  EXPECT_THAT(errors(huge), ElementsAre("policy.yaml: the policy is larger than 1 MiB"));
}

TEST(PolicyHostile, aliases_do_not_multiply_work) {
  // A "billion laughs" document: aliases share nodes, and the walk only visits what the
  // schema expects, so this is a handful of type errors, not 10^9 visits.
  std::string yaml = "protect:\n  labels: &a0 [x, x, x, x, x, x, x, x, x, x]\n";
  for (int i = 1; i < 9; ++i) {
    yaml += "  x" + std::to_string(i) + ": &a" + std::to_string(i) + " [";
    for (int k = 0; k < 10; ++k) {
      yaml += (k == 0 ? "" : ", ") + std::string("*a") + std::to_string(i - 1);
    }
    yaml += "]\n";
  }
  EXPECT_THAT(errors(yaml), testing::SizeIs(8));
}

// --- files ------------------------------------------------------------------------------------

class PolicyFile : public testing::Test {
protected:
  void SetUp() override {
    m_dir = std::filesystem::temp_directory_path() /
            ("imagegc-policy-test-" + std::to_string(::getpid()));
    std::filesystem::create_directories(m_dir);
  }
  void TearDown() override { std::filesystem::remove_all(m_dir); }

  std::string write(const std::string& name, const std::string& text) {
    const auto path = m_dir / name;
    std::ofstream(path, std::ios::binary) << text;
    return path.string();
  }

  std::filesystem::path m_dir;
};

TEST_F(PolicyFile, loads_and_names_the_file_in_errors) {
  const std::string good = write("good.yaml", "mode: enforce\n");
  const PolicyResult loaded = load_policy_file(good);
  ASSERT_TRUE(loaded.has_value());
  EXPECT_EQ(loaded->mode, Mode::enforce);
  EXPECT_EQ(loaded->source, good);

  const std::string bad = write("bad.yaml", "mode: sometimes\n");
  EXPECT_THAT(error_lines(load_policy_file(bad)),
              ElementsAre(bad + ":1:7: mode: expected dry-run or enforce, got \"sometimes\""));
}

TEST_F(PolicyFile, unreadable_files_are_one_error_without_a_line) {
  const std::string missing = (m_dir / "missing.yaml").string();
  EXPECT_THAT(error_lines(load_policy_file(missing)),
              ElementsAre(missing + ": cannot read the policy: No such file or directory"));
  EXPECT_THAT(error_lines(load_policy_file(m_dir.string())),
              ElementsAre(m_dir.string() + ": cannot read the policy: it is a directory"));
}

TEST_F(PolicyFile, files_over_one_mebibyte_are_refused) {
  const std::string big = write("big.yaml", "# " + std::string(2 << 20, 'x') + "\n");
  EXPECT_THAT(error_lines(load_policy_file(big)),
              ElementsAre(big + ": the policy is larger than 1 MiB"));
  const std::string limit = write("limit.yaml", std::string(1 << 20, '\n'));
  EXPECT_TRUE(load_policy_file(limit).has_value());
}

TEST_F(PolicyFile, a_device_is_read_only_up_to_the_limit) {
  EXPECT_THAT(error_lines(load_policy_file("/dev/zero")),
              ElementsAre("/dev/zero: the policy is larger than 1 MiB"));
}

// --- the shipped policies -----------------------------------------------------------------------

TEST(ShippedPolicies, every_file_in_config_parses_without_errors) {
  const std::filesystem::path config = std::filesystem::path(IMAGEGC_SOURCE_DIR) / "config";
  std::vector<std::filesystem::path> files;
  for (const auto& dir : {config, config / "examples"}) {
    for (const auto& entry : std::filesystem::directory_iterator(dir)) {
      if (entry.path().extension() == ".yaml" || entry.path().extension() == ".yml") {
        files.push_back(entry.path());
      }
    }
  }
  EXPECT_GE(files.size(), 4U);
  for (const auto& file : files) {
    const PolicyResult result = load_policy_file(file.string());
    EXPECT_TRUE(result.has_value()) << joined(error_lines(result));
  }
}

TEST(ShippedPolicies, the_default_policy_is_safe) {
  const std::filesystem::path path =
      std::filesystem::path(IMAGEGC_SOURCE_DIR) / "config" / "policy.yaml";
  const PolicyResult result = load_policy_file(path.string());
  ASSERT_TRUE(result.has_value()) << joined(error_lines(result));
  const Policy& policy = *result;
  EXPECT_EQ(policy.mode, Mode::dry_run);
  EXPECT_EQ(policy.schedule.interval, hours{1});
  EXPECT_EQ(policy.schedule.jitter, minutes{5});
  EXPECT_EQ(policy.protect.min_age, hours{1});
  ASSERT_EQ(policy.rules.size(), 1U);
  EXPECT_EQ(policy.rules[0].name, "dangling");
  EXPECT_THAT(policy.rules[0].select.states, ElementsAre(StateFilter::dangling));
  EXPECT_TRUE(policy.rules[0].select.repositories.empty());
  EXPECT_EQ(policy.rules[0].older_than, hours{24});
  EXPECT_FALSE(policy.pressure.enabled);
  EXPECT_FALSE(policy.build_cache.enabled);
}

} // namespace
} // namespace imagegc::policy
