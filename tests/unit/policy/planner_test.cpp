#include <algorithm>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "policy/planner.hpp"

namespace imagegc::policy {
namespace {

constexpr std::int64_t k_now = 1'800'000'000;
constexpr std::int64_t k_hour = 3600;
constexpr std::int64_t k_day = 24 * k_hour;
constexpr std::int64_t k_minute = 60;

graph::ImageWithLayers image(const std::string& id, std::int64_t created,
                             std::vector<std::string> tags, std::vector<graph::Layer> layers,
                             std::string parent = {}) {
  graph::ImageWithLayers result;
  result.id = id;
  result.created = created;
  result.tags = std::move(tags);
  result.layers = std::move(layers);
  result.parent = std::move(parent);
  return result;
}

graph::Layer layer(const std::string& name, std::int64_t size) {
  return {"sha256:" + name, size};
}

Pattern glob(const std::string& text) {
  std::string error;
  auto pattern = Pattern::glob(text, error);
  EXPECT_TRUE(pattern.has_value()) << error;
  return *pattern;
}

Rule rule(std::string name, std::vector<StateFilter> states) {
  Rule result;
  result.name = std::move(name);
  result.select.states = std::move(states);
  return result;
}

std::vector<std::string> deleted_ids(const Plan& plan) {
  std::vector<std::string> ids;
  for (const auto& deletion : plan.deletions) {
    ids.emplace_back(deletion.image.id());
  }
  return ids;
}

const KeptImage* kept(const Plan& plan, const std::string& id) {
  const auto it = std::find_if(plan.kept.begin(), plan.kept.end(),
                               [&](const KeptImage& k) { return k.image.id() == id; });
  return it == plan.kept.end() ? nullptr : &*it;
}

Plan plan_for(const graph::ImageGraph& graph, const Policy& policy,
              std::optional<DiskStats> disk = std::nullopt, LastUsedLookup last_used = {}) {
  return make_plan(PlanInput{graph, policy, k_now, disk, std::move(last_used)});
}

TEST(Planner, an_image_belongs_to_the_first_rule_that_selects_it) {
  graph::ImageGraph graph;
  graph.upsert_image(image("fresh-dangling", k_now - 2 * k_hour, {}, {layer("a", 10)}));
  Policy policy;
  Rule dangling = rule("dangling", {StateFilter::dangling});
  dangling.older_than = std::chrono::hours(24);
  policy.rules = {dangling, rule("everything-unused", {StateFilter::unused})};

  const auto plan = plan_for(graph, policy);
  EXPECT_TRUE(plan.deletions.empty()) << "the second rule must not take what the first kept";
  ASSERT_NE(kept(plan, "fresh-dangling"), nullptr);
  EXPECT_EQ(kept(plan, "fresh-dangling")->why, KeepReason::younger_than);
  EXPECT_NE(kept(plan, "fresh-dangling")->reason.find("rule \"dangling\""), std::string::npos);
}

TEST(Planner, what_no_rule_selects_is_kept) {
  graph::ImageGraph graph;
  graph.upsert_image(image("tagged", k_now - 30 * k_day, {"app:1"}, {layer("a", 10)}));
  Policy policy;
  policy.rules = {rule("dangling", {StateFilter::dangling})};
  const auto plan = plan_for(graph, policy);
  EXPECT_TRUE(plan.deletions.empty());
  EXPECT_EQ(kept(plan, "tagged")->why, KeepReason::no_rule);
}

TEST(Planner, keep_newest_counts_an_image_with_several_tags_once_per_repository) {
  graph::ImageGraph graph;
  graph.upsert_image(image("v1", k_now - 3 * k_day, {"app:1"}, {layer("1", 100)}));
  graph.upsert_image(image("v2", k_now - 2 * k_day, {"app:2"}, {layer("2", 100)}));
  graph.upsert_image(image("v3", k_now - 1 * k_day, {"app:3", "app:latest"}, {layer("3", 100)}));
  Policy policy;
  Rule keep_two = rule("releases", {StateFilter::tagged});
  keep_two.keep_newest = 2;
  policy.rules = {keep_two};

  const auto plan = plan_for(graph, policy);
  EXPECT_EQ(deleted_ids(plan), std::vector<std::string>{"v1"});
  EXPECT_EQ(kept(plan, "v2")->why, KeepReason::keep_newest);
  EXPECT_EQ(kept(plan, "v3")->why, KeepReason::keep_newest);
  EXPECT_EQ(plan.deletions[0].image.tags(), std::vector<std::string_view>{"app:1"});
}

TEST(Planner, protections_win_over_every_rule) {
  graph::ImageGraph graph;
  auto labelled = image("labelled", k_now - 9 * k_day, {"tools/x:1"}, {layer("l", 10)});
  labelled.labels = {{"keep", "forever"}};
  graph.upsert_image(labelled);
  graph.upsert_image(image("base", k_now - 9 * k_day, {"base/os:12"}, {layer("b", 10)}));
  graph.upsert_image(image("young", k_now - std::int64_t{10} * 60, {"ci/job:7"}, {layer("y", 10)}));
  graph.upsert_image(image("used", k_now - 9 * k_day, {"svc:1"}, {layer("u", 10)}));
  graph.upsert_container({"c1", "used", true});
  graph.upsert_image(image("old", k_now - 9 * k_day, {"ci/job:1"}, {layer("o", 10)}));

  Policy policy;
  policy.protect.labels = {LabelMatcher{LabelMatcher::Op::equals, "keep", "forever"}};
  policy.protect.references = {glob("base/**")};
  policy.protect.min_age = std::chrono::hours(1);
  policy.rules = {rule("all", {})};

  const auto plan = plan_for(graph, policy);
  EXPECT_EQ(deleted_ids(plan), std::vector<std::string>{"old"});
  EXPECT_EQ(kept(plan, "labelled")->why, KeepReason::protected_label);
  EXPECT_EQ(kept(plan, "base")->why, KeepReason::protected_reference);
  EXPECT_EQ(kept(plan, "young")->why, KeepReason::protected_min_age);
  EXPECT_EQ(kept(plan, "used")->why, KeepReason::in_use);
}

TEST(Planner, newest_per_repository_protection_applies_before_rules) {
  graph::ImageGraph graph;
  graph.upsert_image(image("a1", k_now - 3 * k_day, {"a:1"}, {layer("1", 1)}));
  graph.upsert_image(image("a2", k_now - 2 * k_day, {"a:2"}, {layer("2", 1)}));
  Policy policy;
  policy.protect.newest_per_repository = 1;
  policy.rules = {rule("all", {})};
  const auto plan = plan_for(graph, policy);
  EXPECT_EQ(deleted_ids(plan), std::vector<std::string>{"a1"});
  EXPECT_EQ(kept(plan, "a2")->why, KeepReason::protected_newest);
}

TEST(Planner, an_image_goes_only_when_every_tag_is_selected) {
  graph::ImageGraph graph;
  graph.upsert_image(image("shared", k_now - 9 * k_day, {"app:1", "prod/app:1"}, {layer("s", 10)}));
  Policy policy;
  Rule apps = rule("apps", {});
  apps.select.repositories = {glob("app")};
  policy.rules = {apps};
  const auto plan = plan_for(graph, policy);
  EXPECT_TRUE(plan.deletions.empty());
  EXPECT_EQ(kept(plan, "shared")->why, KeepReason::no_rule);
}

TEST(Planner, children_go_before_parents_and_orphaned_parents_are_named) {
  graph::ImageGraph graph;
  const std::vector<graph::Layer> base = {layer("base", 1000)};
  auto with = [](std::vector<graph::Layer> layers, graph::Layer more) {
    layers.push_back(std::move(more));
    return layers;
  };
  graph.upsert_image(image("busybox", k_now - 9 * k_day, {"busybox:latest"}, base));
  graph.upsert_image(
      image("step", k_now - 8 * k_day, {}, with(base, layer("step", 50)), "busybox"));
  graph.upsert_image(image("app", k_now - 8 * k_day, {"app:1"},
                           with(with(base, layer("step", 50)), layer("app", 20)), "step"));
  Policy policy;
  policy.rules = {rule("unused", {StateFilter::unused})};

  const auto plan = plan_for(graph, policy);
  ASSERT_EQ(deleted_ids(plan), (std::vector<std::string>{"app", "busybox"}))
      << "busybox is older but must wait for its descendants";
  EXPECT_EQ(plan.deletions[0].orphaned_parents, std::vector<std::string>{"step"});
  EXPECT_EQ(plan.deletions[0].bytes, 70);
  EXPECT_EQ(plan.deletions[1].bytes, 1000);
  EXPECT_EQ(plan.reclaim_bytes, graph.reclaimable_bytes(deleted_ids(plan)));
}

TEST(Planner, a_parent_whose_children_stay_is_kept_not_untagged) {
  graph::ImageGraph graph;
  graph.upsert_image(image("busybox", k_now - 9 * k_day, {"busybox:latest"}, {layer("b", 1000)}));
  graph.upsert_image(
      image("svc", k_now - 8 * k_day, {"svc:1"}, {layer("b", 1000), layer("s", 10)}, "busybox"));
  graph.upsert_container({"c1", "svc", true});
  Policy policy;
  policy.rules = {rule("unused", {StateFilter::unused})};
  const auto plan = plan_for(graph, policy);
  EXPECT_TRUE(plan.deletions.empty());
  EXPECT_EQ(kept(plan, "busybox")->why, KeepReason::kept_children);
}

TEST(Planner, disk_pressure_deletes_least_recently_used_first_until_the_low_watermark) {
  graph::ImageGraph graph;
  for (const char* name : {"a", "b", "c", "d"}) {
    graph.upsert_image(
        image(name, k_now - 30 * k_day, {std::string(name) + ":1"}, {layer(name, 100)}));
  }
  const std::map<std::string, std::int64_t> last_used = {{"a", k_now - 1 * k_day},
                                                         {"b", k_now - 20 * k_day},
                                                         {"c", k_now - 5 * k_day},
                                                         {"d", k_now - 10 * k_day}};
  Policy policy;
  policy.pressure.enabled = true;
  policy.pressure.high.used_percent = 85.0;
  policy.pressure.low.used_percent = 70.0;
  // 1000 bytes disk, 900 used: 200 bytes must go to get down to 70 %.
  const DiskStats disk{1000, 100};
  const auto plan = plan_for(graph, policy, disk, [&](std::string_view id) {
    return std::optional<std::int64_t>(last_used.at(std::string(id)));
  });
  EXPECT_TRUE(plan.pressure);
  EXPECT_EQ(plan.pressure_goal_bytes, 200);
  EXPECT_EQ(deleted_ids(plan), (std::vector<std::string>{"b", "d"}));
  EXPECT_TRUE(plan.deletions[0].pressure);
  EXPECT_EQ(kept(plan, "a")->why, KeepReason::no_rule);
}

TEST(Planner, no_pressure_below_the_high_watermark) {
  graph::ImageGraph graph;
  graph.upsert_image(image("a", k_now - 30 * k_day, {"a:1"}, {layer("a", 100)}));
  Policy policy;
  policy.pressure.enabled = true;
  policy.pressure.high.free_bytes = 100;
  policy.pressure.low.free_bytes = 500;
  const auto plan = plan_for(graph, policy, DiskStats{1000, 400});
  EXPECT_FALSE(plan.pressure);
  EXPECT_TRUE(plan.deletions.empty());
}

TEST(Planner, limits_leave_the_rest_for_the_next_run) {
  graph::ImageGraph graph;
  graph.upsert_image(image("old", k_now - 9 * k_day, {}, {layer("o", 100)}));
  graph.upsert_image(image("older", k_now - 10 * k_day, {}, {layer("p", 100)}));
  graph.upsert_image(image("oldest", k_now - 11 * k_day, {}, {layer("q", 100)}));
  Policy policy;
  policy.rules = {rule("dangling", {StateFilter::dangling})};
  policy.limits.max_deletions = 2;
  auto plan = plan_for(graph, policy);
  EXPECT_EQ(deleted_ids(plan), (std::vector<std::string>{"oldest", "older"})) << "oldest first";
  EXPECT_TRUE(plan.limited);
  EXPECT_EQ(kept(plan, "old")->why, KeepReason::over_limit);

  policy.limits.max_deletions.reset();
  policy.limits.max_bytes = 150;
  plan = plan_for(graph, policy);
  EXPECT_EQ(deleted_ids(plan), std::vector<std::string>{"oldest"});
}

TEST(Planner, last_used_falls_back_to_created_and_last_tag_time) {
  graph::ImageGraph graph;
  auto retagged = image("retagged", k_now - 30 * k_day, {"app:1"}, {layer("r", 1)});
  retagged.last_tag_time = k_now - 1 * k_day;
  graph.upsert_image(retagged);
  Policy policy;
  Rule idle = rule("idle", {StateFilter::unused});
  idle.unused_for = std::chrono::hours(24 * 7);
  policy.rules = {idle};
  const auto plan = plan_for(graph, policy);
  EXPECT_TRUE(plan.deletions.empty());
  EXPECT_EQ(kept(plan, "retagged")->why, KeepReason::recently_used);
}

TEST(Planner, reasons_name_the_values_that_decided_in_their_largest_two_units) {
  graph::ImageGraph graph;
  graph.upsert_image(image("sha256:a", k_now - (3 * k_day + 4 * k_hour + 5 * k_minute), {"app:1"},
                           {layer("a", 10)}));
  graph.upsert_image(
      image("sha256:b", k_now - (2 * k_day + 7 * k_minute), {"app:2"}, {layer("b", 10)}));
  graph.upsert_image(image("sha256:c", k_now - 10 * k_hour, {"app:3"}, {layer("c", 10)}));
  graph.upsert_image(image("sha256:d", k_now - 5 * k_hour, {"app:4"}, {layer("d", 10)}));
  Policy policy;
  Rule old = rule("old", {StateFilter::tagged});
  old.older_than = std::chrono::hours(24);
  old.unused_for = std::chrono::hours(24);
  old.keep_newest = 1;
  policy.rules = {old};

  const auto plan = plan_for(graph, policy);
  ASSERT_EQ(plan.deletions.size(), 2U);
  EXPECT_EQ(plan.deletions[0].image.id(), "sha256:a");
  EXPECT_EQ(plan.deletions[0].reason(),
            "tagged, created 3d4h ago (older_than 1d), last used 3d4h ago (unused_for 1d)");
  EXPECT_EQ(plan.deletions[1].reason(),
            "tagged, created 2d ago (older_than 1d), last used 2d ago (unused_for 1d)");
  ASSERT_NE(kept(plan, "sha256:c"), nullptr);
  EXPECT_EQ(kept(plan, "sha256:c")->reason, "rule \"old\": created 10h ago, older_than is 1d");
  ASSERT_NE(kept(plan, "sha256:d"), nullptr);
  EXPECT_EQ(kept(plan, "sha256:d")->reason, "rule \"old\": among the newest 1 of app");
}

// Every deletion and kept image of a plan, in words, in order.
std::vector<std::string> plan_lines(const Plan& plan) {
  std::vector<std::string> lines;
  const auto names = [](const ImageNames& image) {
    std::string text(image.id());
    for (const std::string_view tag : image.tags()) {
      text += ' ';
      text += tag;
    }
    return text;
  };
  for (const PlannedDeletion& deletion : plan.deletions) {
    std::string line = "delete " + names(deletion.image) + " by " + deletion.rule + ", " +
                       std::to_string(deletion.bytes) + " bytes: " + deletion.reason();
    for (const std::string& parent : deletion.orphaned_parents) {
      line += " +" + parent;
    }
    lines.push_back(std::move(line));
  }
  for (const KeptImage& image : plan.kept) {
    lines.push_back("keep " + names(image.image) + " (" + std::string(to_string(image.why)) +
                    "): " + image.reason);
  }
  return lines;
}

TEST(Planner, a_large_graph_read_by_several_threads_gets_the_plan_one_thread_gives) {
  // Enough images that the read pass splits them into three parts, with repositories met first
  // in each part, parents in other parts, containers, labels and protected references.
  constexpr int k_images = 13'000;
  graph::ImageGraph graph;
  for (int number = 0; number < k_images; ++number) {
    std::vector<std::string> tags;
    if (number % 3 != 0) {
      tags.push_back("repo" + std::to_string(number * 7 % 60) + ":t" + std::to_string(number));
    }
    if (number % 10 == 1) {
      tags.push_back("other" + std::to_string(number % 9) + ":t" + std::to_string(number));
    }
    auto added =
        image("img-" + std::to_string(number), k_now - (number % 40) * k_day, std::move(tags),
              {layer("base" + std::to_string(number % 5), 1000),
               layer("own" + std::to_string(number), 10 + number % 100)},
              number % 4 == 3 ? "img-" + std::to_string(number - 3) : "");
    if (number % 11 == 0) {
      added.labels["keep"] = "yes";
    }
    graph.upsert_image(std::move(added));
    if (number % 97 == 0) {
      graph.upsert_container({"c-" + std::to_string(number), "img-" + std::to_string(number)});
    }
  }
  Policy policy;
  policy.protect.references = {glob("repo1*:*")};
  policy.protect.labels = {LabelMatcher{LabelMatcher::Op::equals, "keep", "yes"}};
  policy.protect.newest_per_repository = 1;
  Rule dangling = rule("dangling", {StateFilter::dangling});
  dangling.older_than = std::chrono::hours(24);
  Rule repo2 = rule("repo2", {});
  repo2.select.repositories = {glob("repo2*")};
  repo2.keep_newest = 2;
  Rule unused = rule("unused", {StateFilter::unused});
  unused.unused_for = std::chrono::hours(10 * 24);
  unused.keep_newest = 3;
  policy.rules = {dangling, repo2, unused};

  const auto plan_with = [&](std::size_t threads) {
    PlanInput input{graph, policy, k_now, std::nullopt, {}};
    input.read_threads = threads;
    return plan_lines(make_plan(input));
  };
  const std::vector<std::string> one_thread = plan_with(1);
  std::set<std::string> kinds;
  for (const std::string& line : one_thread) {
    kinds.insert(line.starts_with("delete") ? "delete" : line.substr(line.find('(')));
  }
  ASSERT_GE(kinds.size(), 8U) << "the plan must delete and keep for many reasons";
  EXPECT_EQ(plan_with(2), one_thread);
  EXPECT_EQ(plan_with(3), one_thread);
}

TEST(ImageNames, give_back_the_id_and_tags_they_were_made_from) {
  const std::string with_nul("odd\0tag:1", 9);
  const ImageNames names("sha256:a", std::vector<std::string>{"app:1", "", with_nul, "app:2"});
  EXPECT_EQ(names.id(), "sha256:a");
  EXPECT_EQ(names.tag_count(), 4U);
  EXPECT_EQ(names.tags(), (std::vector<std::string_view>{"app:1", "", with_nul, "app:2"}));
  EXPECT_EQ(names, ImageNames("sha256:a", {"app:1", "", with_nul, "app:2"}));
  EXPECT_NE(names, ImageNames("sha256:a", {"app:1"}));

  const ImageNames untagged("sha256:b", {});
  EXPECT_EQ(untagged.id(), "sha256:b");
  EXPECT_TRUE(untagged.tags().empty());
  EXPECT_EQ(ImageNames().id(), "");
  EXPECT_EQ(ImageNames("", {}), ImageNames());
}

TEST(ImageNames, written_into_shared_blocks_they_outlive_the_writer) {
  std::vector<ImageNames> names;
  {
    // Blocks of 64 bytes: some names share one, a long one gets a block of its own.
    ImageNames::Writer writer(64);
    for (int number = 0; number < 20; ++number) {
      const std::string id = "sha256:" + std::string(static_cast<std::size_t>(number), 'a');
      names.push_back(writer.write(id, std::vector<std::string>{"app:" + std::to_string(number)}));
    }
  }
  for (int number = 0; number < 20; ++number) {
    const ImageNames copy = names[static_cast<std::size_t>(number)];
    const std::string tag = "app:" + std::to_string(number);
    EXPECT_EQ(copy.id(), "sha256:" + std::string(static_cast<std::size_t>(number), 'a'));
    EXPECT_EQ(copy.tags(), (std::vector<std::string_view>{tag}));
  }
  names.erase(names.begin(), names.begin() + 10); // the blocks of the rest stay
  EXPECT_EQ(names.back().id(), "sha256:" + std::string(19, 'a'));
}

} // namespace
} // namespace imagegc::policy
