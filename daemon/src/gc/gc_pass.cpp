#include "gc/gc_pass.hpp"

#include <chrono>

#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

#include "gc/disk_stats.hpp"

namespace imagegc::gc {

namespace asio = boost::asio;

namespace {

constexpr int k_http_not_found = 404;

constexpr std::string_view k_unavailable_note =
    "build-cache pruning is not available on this engine (it has no POST /build/prune): "
    "build_cache is not applied";

policy::BuildCacheStep build_cache_step(const PassInput& input) {
  policy::BuildCacheStep step;
  step.requested = input.policy.build_cache.enabled;
  step.available = input.build_prune_available;
  if (!step.requested) {
    return step;
  }
  if (!step.available) {
    step.note = k_unavailable_note;
  } else if (input.policy.mode == policy::Mode::dry_run) {
    step.note = "dry-run: would prune the build cache";
  } else {
    step.note = "prunes the build cache";
  }
  return step;
}

std::int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

} // namespace

std::string_view to_string(BuildCacheOutcome outcome) {
  switch (outcome) {
  case BuildCacheOutcome::not_requested:
    return "not_requested";
  case BuildCacheOutcome::would_prune:
    return "would_prune";
  case BuildCacheOutcome::pruned:
    return "pruned";
  case BuildCacheOutcome::unavailable:
    return "unavailable";
  case BuildCacheOutcome::failed:
    return "failed";
  }
  return "unknown";
}

bool build_prune_available(const engine::EngineClient& client) {
  return !client.is_podman();
}

policy::Plan plan_now(const PassInput& input, const std::optional<policy::DiskStats>& disk) {
  policy::Plan plan = policy::make_plan(
      policy::PlanInput{input.graph, input.policy, unix_now(), disk, input.last_used});
  plan.build_cache = build_cache_step(input);
  return plan;
}

engine::BuildPruneOptions build_prune_options(const policy::BuildCachePolicy& policy) {
  engine::BuildPruneOptions options;
  options.all = policy.all;
  if (policy.older_than) {
    options.until_seconds = policy.older_than->count();
  }
  options.keep_storage = policy.keep_storage;
  options.reserved_space = policy.reserved_space;
  options.max_used_space = policy.max_used_space;
  options.min_free_space = policy.min_free_space;
  return options;
}

asio::awaitable<PassReport> run_pass(engine::EngineClient& client, PassInput input) {
  PassReport report;
  report.disk = disk_stats(input.data_root);
  if (input.policy.pressure.enabled && !report.disk) {
    report.warnings.push_back(
        "disk_pressure is set but the engine's data root " +
        (input.data_root.empty() ? std::string("(unknown)") : input.data_root) +
        " is not visible here: pressure rules are not applied");
  }
  PassInput effective = input;
  effective.build_prune_available = input.build_prune_available && build_prune_available(client);
  report.plan = plan_now(effective, report.disk);
  ExecutionOptions options;
  options.mode = input.policy.mode;
  options.max_duration = input.policy.limits.max_duration;
  report.execution = co_await execute_plan(client, input.graph, report.plan, options);

  const policy::BuildCachePolicy& cache = input.policy.build_cache;
  if (cache.enabled && !report.execution.stopped_early) {
    if (!effective.build_prune_available) {
      // Never attempted, in either mode: a dry run must not promise what the engine cannot do.
      report.build_cache_outcome = BuildCacheOutcome::unavailable;
      report.warnings.emplace_back(k_unavailable_note);
    } else if (input.policy.mode == policy::Mode::dry_run) {
      report.build_cache_outcome = BuildCacheOutcome::would_prune;
      spdlog::info("dry-run: would prune the build cache");
    } else {
      std::vector<std::string> dropped;
      auto pruned = co_await client.prune_build_cache(build_prune_options(cache), dropped);
      if (!dropped.empty()) {
        report.warnings.push_back(
            fmt::format("build_cache: {} need API 1.48; the engine speaks {}: left out",
                        fmt::join(dropped, ", "), client.api_version().to_string()));
      }
      if (!pruned && pruned.error().kind == engine::ErrorKind::http_status &&
          pruned.error().http_status == k_http_not_found) {
        report.build_cache_outcome = BuildCacheOutcome::unavailable;
        report.warnings.emplace_back(k_unavailable_note);
      } else if (pruned) {
        report.build_cache_outcome = BuildCacheOutcome::pruned;
        spdlog::info("build cache: {} entries pruned, {} bytes reclaimed",
                     pruned->caches_deleted.size(), pruned->space_reclaimed);
        report.build_cache = std::move(*pruned);
      } else {
        report.build_cache_outcome = BuildCacheOutcome::failed;
        report.warnings.push_back("build cache prune failed: " + pruned.error().message);
      }
    }
  }
  for (const auto& warning : report.warnings) {
    spdlog::warn("{}", warning);
  }
  co_return report;
}

} // namespace imagegc::gc
