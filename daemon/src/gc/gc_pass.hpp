#pragma once
// One garbage-collection pass: measure the disk, plan, run the plan, prune the build cache.

#include <optional>
#include <string>
#include <string_view>
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
  // Whether the engine has POST /build/prune: Podman has not (see build_prune_available()).
  bool build_prune_available = true;
};

// What became of the build-cache step of a pass.
enum class BuildCacheOutcome {
  not_requested, // no build_cache section, or the pass stopped before it
  would_prune,   // dry-run
  pruned,
  unavailable, // the engine has no build-cache pruning: never attempted, or answered 404
  failed,
};

std::string_view to_string(BuildCacheOutcome outcome); // "would_prune", "unavailable", ...

// Whether the engine can prune its build cache: Podman's compatible service has no
// POST /build/prune (Podman 4.3 answers it 404), so there it is never attempted.
bool build_prune_available(const engine::EngineClient& client);

struct PassReport {
  policy::Plan plan;
  ExecutionReport execution;
  std::optional<policy::DiskStats> disk;
  std::optional<engine::BuildPruneResponse> build_cache;
  BuildCacheOutcome build_cache_outcome = BuildCacheOutcome::not_requested;
  std::vector<std::string> warnings;
};

// The plan the pass would run now, with its build-cache step.
policy::Plan plan_now(const PassInput& input, const std::optional<policy::DiskStats>& disk);

boost::asio::awaitable<PassReport> run_pass(engine::EngineClient& client, PassInput input);

// The build-cache prune options a policy asks for.
engine::BuildPruneOptions build_prune_options(const policy::BuildCachePolicy& policy);

} // namespace imagegc::gc
