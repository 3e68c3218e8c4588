#include "metrics/metrics.hpp"

#include <map>

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

namespace imagegc::metrics {

namespace {

using prometheus::BuildCounter;
using prometheus::BuildGauge;
using prometheus::BuildHistogram;

// Event actions carry arguments ("exec_start: sh -c ...", "health_status: healthy"): only the
// verb is a label value, or every command line would become a series.
std::string action_verb(std::string_view action) {
  return std::string(action.substr(0, action.find(':')));
}

// Raises a counter to a total kept elsewhere (the tracker counts; the registry mirrors).
void raise_to(prometheus::Counter& counter, std::uint64_t total) {
  const double delta = static_cast<double>(total) - counter.Value();
  if (delta > 0) {
    counter.Increment(delta);
  }
}

} // namespace

struct Metrics::Impl {
  prometheus::Registry registry;

  prometheus::Family<prometheus::Gauge>& images =
      BuildGauge()
          .Name("imagegc_images")
          .Help("Images by state and whether a container uses them")
          .Register(registry);
  prometheus::Gauge& layers_bytes =
      BuildGauge()
          .Name("imagegc_layers_bytes")
          .Help("Bytes of every distinct layer chain (the engine's LayersSize)")
          .Register(registry)
          .Add({});
  prometheus::Family<prometheus::Gauge>& reclaimable =
      BuildGauge()
          .Name("imagegc_reclaimable_bytes")
          .Help("Bytes a clean-up would free: dangling (docker image prune), unused (prune -a), "
                "policy (the current plan)")
          .Register(registry);
  prometheus::Family<prometheus::Gauge>& rule_reclaimable =
      BuildGauge()
          .Name("imagegc_rule_reclaimable_bytes")
          .Help("Bytes the current plan frees, by rule")
          .Register(registry);
  prometheus::Family<prometheus::Counter>& deleted = BuildCounter()
                                                         .Name("imagegc_deleted_images_total")
                                                         .Help("Images deleted, by rule")
                                                         .Register(registry);
  prometheus::Family<prometheus::Counter>& reclaimed =
      BuildCounter()
          .Name("imagegc_reclaimed_bytes_total")
          .Help("Bytes freed by deletions, by rule")
          .Register(registry);
  prometheus::Family<prometheus::Counter>& delete_failures =
      BuildCounter()
          .Name("imagegc_delete_failures_total")
          .Help(
              "Deletes that did not happen: conflict (the engine kept it), not_found, engine_error")
          .Register(registry);
  prometheus::Family<prometheus::Counter>& runs =
      BuildCounter()
          .Name("imagegc_runs_total")
          .Help("Garbage-collection passes, by trigger and result")
          .Register(registry);
  prometheus::Histogram& run_duration =
      BuildHistogram()
          .Name("imagegc_run_duration_seconds")
          .Help("Duration of garbage-collection passes")
          .Register(registry)
          .Add({}, prometheus::Histogram::BucketBoundaries{0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60,
                                                           300, 900});
  prometheus::Gauge& last_run = BuildGauge()
                                    .Name("imagegc_last_run_timestamp_seconds")
                                    .Help("When the last pass finished (unix time)")
                                    .Register(registry)
                                    .Add({});
  prometheus::Gauge& engine_up = BuildGauge()
                                     .Name("imagegc_engine_up")
                                     .Help("1 when subscribed to the engine's events and synced")
                                     .Register(registry)
                                     .Add({});
  prometheus::Counter& reconnects = BuildCounter()
                                        .Name("imagegc_engine_reconnects_total")
                                        .Help("Event-stream subscriptions after the first")
                                        .Register(registry)
                                        .Add({});
  prometheus::Family<prometheus::Counter>& engine_faults =
      BuildCounter()
          .Name("imagegc_engine_faults_total")
          .Help("Engine trouble survived: error (a failed call or a lost events stream), "
                "malformed_event (a line that did not parse), oversized_line (a line over the "
                "limit), "
                "dropped_event (queued past the bound while the engine answered slowly; re-listed)")
          .Register(registry);
  prometheus::Counter& fault_error = engine_faults.Add({{"kind", "error"}});
  prometheus::Counter& fault_malformed = engine_faults.Add({{"kind", "malformed_event"}});
  prometheus::Counter& fault_oversized = engine_faults.Add({{"kind", "oversized_line"}});
  prometheus::Counter& fault_dropped = engine_faults.Add({{"kind", "dropped_event"}});
  prometheus::Family<prometheus::Counter>& events =
      BuildCounter()
          .Name("imagegc_engine_events_total")
          .Help("Engine events applied, by type and action")
          .Register(registry);
  prometheus::Counter& corrections =
      BuildCounter()
          .Name("imagegc_graph_resync_corrections_total")
          .Help("Differences a re-list found that events had not shown")
          .Register(registry)
          .Add({});
  prometheus::Family<prometheus::Gauge>& disk =
      BuildGauge()
          .Name("imagegc_disk_bytes")
          .Help("The engine's data-root filesystem: size and free bytes")
          .Register(registry);
  prometheus::Family<prometheus::Gauge>& build_cache =
      BuildGauge()
          .Name("imagegc_build_cache_bytes")
          .Help("Build cache bytes, by whether a prune could free them")
          .Register(registry);
  prometheus::Family<prometheus::Counter>& reloads = BuildCounter()
                                                         .Name("imagegc_policy_reloads_total")
                                                         .Help("Policy reloads, by result")
                                                         .Register(registry);
  prometheus::Family<prometheus::Counter>& build_cache_steps =
      BuildCounter()
          .Name("imagegc_build_cache_prunes_total")
          .Help("Build-cache steps of passes, by outcome: pruned, would_prune (dry-run), "
                "unavailable (the engine cannot prune its build cache, e.g. Podman), failed")
          .Register(registry);
  prometheus::Family<prometheus::Gauge>& engine_info =
      BuildGauge()
          .Name("imagegc_engine_info")
          .Help("1 for the image store the engine uses (graphdriver or containerd), else 0")
          .Register(registry);
  prometheus::Family<prometheus::Gauge>& build_info = BuildGauge()
                                                          .Name("imagegc_build_info")
                                                          .Help("Always 1; the version is a label")
                                                          .Register(registry);

  std::map<std::string, prometheus::Gauge*> rule_gauges;
};

Metrics::Metrics(std::string_view version) : m_impl(std::make_unique<Impl>()) {
  m_impl->build_info.Add({{"version", std::string(version)}}).Set(1);
  // Series that exist from the start, so dashboards and alerts see 0 rather than nothing.
  for (const char* state : {"tagged", "dangling", "intermediate"}) {
    for (const char* in_use : {"true", "false"}) {
      m_impl->images.Add({{"state", state}, {"in_use", in_use}});
    }
  }
  for (const char* category : {"dangling", "unused", "policy"}) {
    m_impl->reclaimable.Add({{"category", category}});
  }
  for (const char* reason : {"conflict", "not_found", "engine_error"}) {
    m_impl->delete_failures.Add({{"reason", reason}});
  }
  for (const char* result : {"success", "failure"}) {
    m_impl->reloads.Add({{"result", result}});
    for (const char* trigger : {"schedule", "disk_pressure", "signal", "http", "once"}) {
      m_impl->runs.Add({{"trigger", trigger}, {"result", result}});
    }
  }
  for (const char* kind : {"size", "free"}) {
    m_impl->disk.Add({{"kind", kind}});
  }
  for (const char* reclaimable : {"true", "false"}) {
    m_impl->build_cache.Add({{"reclaimable", reclaimable}});
  }
  for (const char* outcome : {"pruned", "would_prune", "unavailable", "failed"}) {
    m_impl->build_cache_steps.Add({{"outcome", outcome}});
  }
  for (const char* store : {"graphdriver", "containerd"}) {
    m_impl->engine_info.Add({{"image_store", store}});
  }
}

Metrics::~Metrics() = default;

void Metrics::update_graph(const graph::ImageGraph& graph) {
  const auto counts = graph.state_counts();
  for (const auto state :
       {graph::ImageState::tagged, graph::ImageState::dangling, graph::ImageState::intermediate}) {
    for (const bool in_use : {true, false}) {
      m_impl->images
          .Add({{"state", std::string(graph::to_string(state))},
                {"in_use", in_use ? "true" : "false"}})
          .Set(static_cast<double>(counts.of(state, in_use)));
    }
  }
  m_impl->layers_bytes.Set(static_cast<double>(graph.layers_bytes()));
  m_impl->reclaimable.Add({{"category", "dangling"}})
      .Set(static_cast<double>(graph.dangling_reclaimable_bytes()));
  m_impl->reclaimable.Add({{"category", "unused"}})
      .Set(static_cast<double>(graph.unused_reclaimable_bytes()));
}

void Metrics::update_plan(const policy::Plan& plan, const std::vector<std::string>& rules) {
  m_impl->reclaimable.Add({{"category", "policy"}}).Set(static_cast<double>(plan.reclaim_bytes));
  std::map<std::string, double> by_rule;
  for (const auto& rule : rules) {
    by_rule[rule] = 0; // every rule has a series, also while it frees nothing
  }
  for (const auto& deletion : plan.deletions) {
    by_rule[deletion.rule] += static_cast<double>(deletion.bytes);
  }
  // Rules that no longer free anything (or were removed by a reload) read 0.
  for (auto& [rule, gauge] : m_impl->rule_gauges) {
    gauge->Set(0);
  }
  for (const auto& [rule, bytes] : by_rule) {
    auto [it, inserted] = m_impl->rule_gauges.try_emplace(rule, nullptr);
    if (inserted) {
      it->second = &m_impl->rule_reclaimable.Add({{"rule", rule}});
    }
    it->second->Set(bytes);
  }
}

void Metrics::update_tracker(const sync::GraphTracker& tracker) {
  const auto& stats = tracker.stats();
  m_impl->engine_up.Set(tracker.ready() ? 1 : 0);
  raise_to(m_impl->reconnects, stats.connections > 0 ? stats.connections - 1 : 0);
  raise_to(m_impl->corrections, stats.resync_corrections);
  raise_to(m_impl->fault_error, stats.engine_errors);
  raise_to(m_impl->fault_malformed, stats.events_malformed);
  raise_to(m_impl->fault_oversized, stats.oversized_lines);
  raise_to(m_impl->fault_dropped, stats.events_dropped);
}

void Metrics::record_event(std::string_view type, std::string_view action) {
  m_impl->events.Add({{"type", std::string(type)}, {"action", action_verb(action)}}).Increment();
}

void Metrics::record_pass(std::string_view trigger, bool success, double seconds,
                          const gc::ExecutionReport& report, std::int64_t finished_unix) {
  m_impl->runs.Add({{"trigger", std::string(trigger)}, {"result", success ? "success" : "failure"}})
      .Increment();
  m_impl->run_duration.Observe(seconds);
  m_impl->last_run.Set(static_cast<double>(finished_unix));
  using Kind = gc::ExecutionReport::Outcome::Kind;
  for (const auto& outcome : report.outcomes) {
    switch (outcome.kind) {
    case Kind::deleted:
      m_impl->deleted.Add({{"rule", outcome.rule}}).Increment();
      m_impl->reclaimed.Add({{"rule", outcome.rule}}).Increment(static_cast<double>(outcome.bytes));
      break;
    case Kind::conflict:
      m_impl->delete_failures.Add({{"reason", "conflict"}}).Increment();
      break;
    case Kind::failed:
      m_impl->delete_failures.Add({{"reason", "engine_error"}}).Increment();
      break;
    case Kind::skipped:
      if (outcome.detail == "already gone") {
        m_impl->delete_failures.Add({{"reason", "not_found"}}).Increment();
      }
      break;
    case Kind::would_delete:
    case Kind::not_reached:
      break;
    }
  }
}

void Metrics::update_disk(const std::optional<policy::DiskStats>& disk) {
  if (!disk) {
    return;
  }
  m_impl->disk.Add({{"kind", "size"}}).Set(static_cast<double>(disk->size_bytes));
  m_impl->disk.Add({{"kind", "free"}}).Set(static_cast<double>(disk->free_bytes));
}

void Metrics::update_build_cache(std::int64_t reclaimable_bytes, std::int64_t other_bytes) {
  m_impl->build_cache.Add({{"reclaimable", "true"}}).Set(static_cast<double>(reclaimable_bytes));
  m_impl->build_cache.Add({{"reclaimable", "false"}}).Set(static_cast<double>(other_bytes));
}

void Metrics::record_build_cache_step(std::string_view outcome) {
  if (outcome == "not_requested") {
    return;
  }
  m_impl->build_cache_steps.Add({{"outcome", std::string(outcome)}}).Increment();
}

void Metrics::set_image_store(std::string_view store) {
  for (const char* known : {"graphdriver", "containerd"}) {
    m_impl->engine_info.Add({{"image_store", known}}).Set(store == known ? 1 : 0);
  }
}

void Metrics::record_policy_reload(bool success) {
  m_impl->reloads.Add({{"result", success ? "success" : "failure"}}).Increment();
}

std::string Metrics::serialize() const {
  return prometheus::TextSerializer().Serialize(m_impl->registry.Collect());
}

} // namespace imagegc::metrics
