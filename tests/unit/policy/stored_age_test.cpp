// On the containerd image store an image's age is its records' local time (graph::Image's
// stored_at), as that store's `docker image prune --filter until=` measures it, not the config's
// Created: an image built years ago elsewhere, or one that went dangling a minute ago, is young.

#include <algorithm>

#include <gtest/gtest.h>

#include "policy/planner.hpp"

namespace imagegc::policy {
namespace {

constexpr std::int64_t k_now = 1'800'000'000;
constexpr std::int64_t k_hour = 3600;
constexpr std::int64_t k_year = std::int64_t{365} * 24 * k_hour;

graph::ImageWithLayers untagged(const std::string& id, std::int64_t created,
                                std::optional<std::int64_t> stored_at) {
  graph::ImageWithLayers image;
  image.id = id;
  image.created = created;
  image.stored_at = stored_at;
  image.layers = {{"sha256:layer-" + id, 1000}};
  return image;
}

Policy dangling_older_than(std::chrono::seconds age) {
  Policy policy;
  Rule rule;
  rule.name = "dangling";
  rule.select.states = {StateFilter::dangling};
  rule.older_than = age;
  policy.rules.push_back(rule);
  return policy;
}

TEST(StoredAge, a_dangling_record_made_recently_is_young_however_old_its_config) {
  graph::ImageGraph graph;
  graph.upsert_image(untagged("sha256:just-dangling", k_now - 3 * k_year, k_now - 600));
  graph.upsert_image(untagged("sha256:long-dangling", k_now - 3 * k_year, k_now - 48 * k_hour));
  graph.upsert_image(untagged("sha256:classic", k_now - 3 * k_year, std::nullopt));
  const Plan plan =
      make_plan(PlanInput{graph, dangling_older_than(std::chrono::hours(24)), k_now, {}, {}});

  std::vector<std::string> deleted;
  for (const auto& deletion : plan.deletions) {
    deleted.emplace_back(deletion.image.id());
  }
  std::sort(deleted.begin(), deleted.end());
  EXPECT_EQ(deleted, (std::vector<std::string>{"sha256:classic", "sha256:long-dangling"}));
  const auto long_dangling =
      std::find_if(plan.deletions.begin(), plan.deletions.end(), [](const auto& deletion) {
        return deletion.image.id() == "sha256:long-dangling";
      });
  EXPECT_NE(long_dangling->reason().find("stored 2d ago"), std::string::npos)
      << long_dangling->reason();

  ASSERT_EQ(plan.kept.size(), 1u);
  EXPECT_EQ(plan.kept.front().image.id(), "sha256:just-dangling");
  EXPECT_EQ(plan.kept.front().why, KeepReason::younger_than);
  EXPECT_NE(plan.kept.front().reason.find("stored 10m ago"), std::string::npos)
      << plan.kept.front().reason;
}

TEST(StoredAge, a_pulled_image_stored_long_ago_is_old_even_with_a_newer_config) {
  graph::ImageGraph graph;
  // A config dated after the local record (a skewed build clock): the record time decides.
  graph.upsert_image(untagged("sha256:pulled", k_now + k_hour, k_now - 48 * k_hour));
  const Plan plan =
      make_plan(PlanInput{graph, dangling_older_than(std::chrono::hours(24)), k_now, {}, {}});
  ASSERT_EQ(plan.deletions.size(), 1u);
  EXPECT_EQ(plan.deletions.front().image.id(), "sha256:pulled");
}

} // namespace
} // namespace imagegc::policy
