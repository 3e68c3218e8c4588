#pragma once
// imagegc's Prometheus metrics. No per-image series: the body's size does not grow with the
// number of images. Not thread-safe beyond what prometheus-cpp guarantees: update and serialize
// from the daemon's executor.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "gc/executor.hpp"
#include "graph/image_graph.hpp"
#include "policy/planner.hpp"
#include "sync/graph_tracker.hpp"

namespace imagegc::metrics {

class Metrics {
public:
  explicit Metrics(std::string_view version);
  ~Metrics();
  Metrics(const Metrics&) = delete;
  Metrics& operator=(const Metrics&) = delete;

  // Images by state, layer bytes and the two prune figures.
  void update_graph(const graph::ImageGraph& graph);
  // The policy's reclaimable bytes, in total and per rule (`rules`: every rule of the policy).
  void update_plan(const policy::Plan& plan, const std::vector<std::string>& rules);
  // Engine connection, events, reconnects and resync corrections, from the tracker's counters.
  void update_tracker(const sync::GraphTracker& tracker);
  void record_event(std::string_view type, std::string_view action);
  void record_pass(std::string_view trigger, bool success, double seconds,
                   const gc::ExecutionReport& report, std::int64_t finished_unix);
  void update_disk(const std::optional<policy::DiskStats>& disk);
  void update_build_cache(std::int64_t reclaimable_bytes, std::int64_t other_bytes);
  // What a pass's build-cache step came to (gc::to_string(BuildCacheOutcome)); not_requested is
  // not counted.
  void record_build_cache_step(std::string_view outcome);
  // The engine's image store ("graphdriver" or "containerd"), as imagegc_engine_info.
  void set_image_store(std::string_view store);
  void record_policy_reload(bool success);

  // The text exposition format 0.0.4.
  [[nodiscard]] std::string serialize() const;

private:
  struct Impl;
  std::unique_ptr<Impl> m_impl;
};

} // namespace imagegc::metrics
