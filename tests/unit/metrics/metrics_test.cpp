#include <gtest/gtest.h>

#include "metrics/metrics.hpp"

namespace imagegc::metrics {
namespace {

bool has_line(const std::string& text, const std::string& line) {
  return text.find("\n" + line + "\n") != std::string::npos;
}

graph::ImageGraph small_graph() {
  graph::ImageGraph graph;
  graph::ImageWithLayers base;
  base.id = "base";
  base.tags = {"busybox:latest"};
  base.layers = {{"l0", 1000}};
  graph.upsert_image(base);
  graph::ImageWithLayers dangling;
  dangling.id = "dangling";
  dangling.layers = {{"l0", 1000}, {"l1", 50}};
  graph.upsert_image(dangling);
  graph.upsert_container({"c1", "base", true});
  return graph;
}

TEST(Metrics, graph_figures_appear_without_per_image_series) {
  Metrics metrics("1.2.3");
  metrics.update_graph(small_graph());
  const auto text = metrics.serialize();
  EXPECT_TRUE(has_line(text, R"(imagegc_images{in_use="true",state="tagged"} 1)")) << text;
  EXPECT_TRUE(has_line(text, R"(imagegc_images{in_use="false",state="dangling"} 1)")) << text;
  EXPECT_TRUE(has_line(text, "imagegc_layers_bytes 1050")) << text;
  EXPECT_TRUE(has_line(text, R"(imagegc_reclaimable_bytes{category="dangling"} 50)")) << text;
  EXPECT_TRUE(has_line(text, R"(imagegc_build_info{version="1.2.3"} 1)")) << text;
  EXPECT_EQ(text.find("sha256"), std::string::npos);
}

TEST(Metrics, event_actions_keep_only_their_verb) {
  Metrics metrics("1");
  metrics.record_event("container", "exec_start: sh -c 'echo secret'");
  metrics.record_event("container", "exec_start: ls");
  const auto text = metrics.serialize();
  EXPECT_TRUE(
      has_line(text, R"(imagegc_engine_events_total{action="exec_start",type="container"} 2)"))
      << text;
  EXPECT_EQ(text.find("secret"), std::string::npos);
}

TEST(Metrics, passes_count_deletions_and_failures_by_rule_and_reason) {
  Metrics metrics("1");
  gc::ExecutionReport report;
  using Kind = gc::ExecutionReport::Outcome::Kind;
  report.outcomes = {{"a", "dangling", Kind::deleted, "", 100},
                     {"b", "dangling", Kind::deleted, "", 50},
                     {"c", "unused", Kind::conflict, "in use", 10},
                     {"d", "unused", Kind::failed, "engine", 10}};
  metrics.record_pass("schedule", false, 0.25, report, 1'700'000'000);
  const auto text = metrics.serialize();
  EXPECT_TRUE(has_line(text, R"(imagegc_deleted_images_total{rule="dangling"} 2)")) << text;
  EXPECT_TRUE(has_line(text, R"(imagegc_reclaimed_bytes_total{rule="dangling"} 150)")) << text;
  EXPECT_TRUE(has_line(text, R"(imagegc_delete_failures_total{reason="conflict"} 1)")) << text;
  EXPECT_TRUE(has_line(text, R"(imagegc_delete_failures_total{reason="engine_error"} 1)")) << text;
  EXPECT_TRUE(has_line(text, R"(imagegc_runs_total{result="failure",trigger="schedule"} 1)"))
      << text;
  EXPECT_TRUE(has_line(text, "imagegc_last_run_timestamp_seconds 1700000000")) << text;
  EXPECT_TRUE(has_line(text, "imagegc_run_duration_seconds_count 1")) << text;
}

TEST(Metrics, every_rule_has_a_series_and_a_rule_that_frees_nothing_reads_zero) {
  Metrics metrics("1");
  policy::Plan plan;
  plan.deletions.push_back({{"a", {}}, "dangling", {}, 70, false, {}});
  plan.reclaim_bytes = 70;
  metrics.update_plan(plan, {"dangling", "stale"});
  auto text = metrics.serialize();
  EXPECT_TRUE(has_line(text, R"(imagegc_rule_reclaimable_bytes{rule="dangling"} 70)")) << text;
  EXPECT_TRUE(has_line(text, R"(imagegc_rule_reclaimable_bytes{rule="stale"} 0)")) << text;
  EXPECT_TRUE(has_line(text, R"(imagegc_reclaimable_bytes{category="policy"} 70)")) << text;
  metrics.update_plan(policy::Plan{}, {"stale"});
  text = metrics.serialize();
  EXPECT_TRUE(has_line(text, R"(imagegc_rule_reclaimable_bytes{rule="dangling"} 0)")) << text;
}

} // namespace
} // namespace imagegc::metrics
