#include "gc/gc_pass.hpp"

#include <chrono>

#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

#include "gc/disk_stats.hpp"

namespace imagegc::gc {

namespace asio = boost::asio;

namespace {

constexpr int k_http_not_found = 404;

std::int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

} // namespace

policy::Plan plan_now(const PassInput& input, const std::optional<policy::DiskStats>& disk) {
  return policy::make_plan(
      policy::PlanInput{input.graph, input.policy, unix_now(), disk, input.last_used});
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

asio::awaitable<PassReport> run_pass(engine::EngineClient& client, const PassInput& input) {
  PassReport report;
  report.disk = disk_stats(input.data_root);
  if (input.policy.pressure.enabled && !report.disk) {
    report.warnings.push_back(
        "disk_pressure is set but the engine's data root " +
        (input.data_root.empty() ? std::string("(unknown)") : input.data_root) +
        " is not visible here: pressure rules are not applied");
  }
  report.plan = plan_now(input, report.disk);
  ExecutionOptions options;
  options.mode = input.policy.mode;
  options.max_duration = input.policy.limits.max_duration;
  report.execution = co_await execute_plan(client, input.graph, report.plan, options);

  const policy::BuildCachePolicy& cache = input.policy.build_cache;
  if (cache.enabled && !report.execution.stopped_early) {
    if (input.policy.mode == policy::Mode::dry_run) {
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
        report.warnings.push_back("build-cache pruning is not available on this engine (it has "
                                  "no POST /build/prune): build_cache is not applied");
      } else if (pruned) {
        spdlog::info("build cache: {} entries pruned, {} bytes reclaimed",
                     pruned->caches_deleted.size(), pruned->space_reclaimed);
        report.build_cache = std::move(*pruned);
      } else {
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
