#pragma once
// One garbage-collection pass: measure the disk, plan, run the plan, prune the build cache.

#include <optional>
#include <string>
#include <vector>

#include "engine/engine_client.hpp"
#include "gc/executor.hpp"
#include "graph/image_graph.hpp"
#include "policy/planner.hpp"
#include "policy/policy.hpp"
#include "util/asio.hpp"

namespace imagegc::gc {

struct PassInput {
  const policy::Policy& policy;
  const graph::ImageGraph& graph; // the live graph; it may change while the pass runs
  policy::LastUsedLookup last_used;
  std::string data_root; // the engine's DockerRootDir, for disk stats; may be empty
};

struct PassReport {
  policy::Plan plan;
  ExecutionReport execution;
  std::optional<policy::DiskStats> disk;
  std::optional<engine::BuildPruneResponse> build_cache;
  std::vector<std::string> warnings;
};

// The plan the pass would run now.
policy::Plan plan_now(const PassInput& input, const std::optional<policy::DiskStats>& disk);

boost::asio::awaitable<PassReport> run_pass(engine::EngineClient& client, const PassInput& input);

// The build-cache prune options a policy asks for.
engine::BuildPruneOptions build_prune_options(const policy::BuildCachePolicy& policy);

} // namespace imagegc::gc
