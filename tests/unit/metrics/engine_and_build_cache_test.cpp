// The engine's image store as an info metric, and what became of each pass's build-cache step:
// an engine that cannot prune its build cache (Podman) shows as "unavailable", never as pruned.

#include <gtest/gtest.h>

#include "metrics/metrics.hpp"

namespace imagegc::metrics {
namespace {

bool has_line(const std::string& text, const std::string& line) {
  return text.find("\n" + line + "\n") != std::string::npos;
}

TEST(EngineInfoMetric, names_the_image_store_in_use) {
  Metrics metrics("1");
  metrics.set_image_store("containerd");
  auto text = metrics.serialize();
  EXPECT_TRUE(has_line(text, R"(imagegc_engine_info{image_store="containerd"} 1)")) << text;
  EXPECT_TRUE(has_line(text, R"(imagegc_engine_info{image_store="graphdriver"} 0)")) << text;
  metrics.set_image_store("graphdriver");
  text = metrics.serialize();
  EXPECT_TRUE(has_line(text, R"(imagegc_engine_info{image_store="containerd"} 0)")) << text;
}

TEST(BuildCacheMetric, counts_steps_by_outcome_and_ignores_passes_without_one) {
  Metrics metrics("1");
  metrics.record_build_cache_step("unavailable");
  metrics.record_build_cache_step("unavailable");
  metrics.record_build_cache_step("not_requested");
  const auto text = metrics.serialize();
  EXPECT_TRUE(has_line(text, R"(imagegc_build_cache_prunes_total{outcome="unavailable"} 2)"))
      << text;
  EXPECT_TRUE(has_line(text, R"(imagegc_build_cache_prunes_total{outcome="would_prune"} 0)"))
      << text;
  EXPECT_TRUE(has_line(text, R"(imagegc_build_cache_prunes_total{outcome="pruned"} 0)")) << text;
  EXPECT_EQ(text.find("not_requested"), std::string::npos) << text;
}

} // namespace
} // namespace imagegc::metrics
