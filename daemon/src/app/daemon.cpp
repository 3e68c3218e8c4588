#include "app/daemon.hpp"

#include <algorithm>
#include <csignal>
#include <future>
#include <random>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <malloc.h>
#include <spdlog/spdlog.h>

#include "app/plan_report.hpp"
#include "app/policy_file.hpp"
#include "app/systemd_notify.hpp"
#include "engine/endpoint.hpp"
#include "engine/engine_client.hpp"
#include "gc/disk_stats.hpp"
#include "gc/gc_pass.hpp"
#include "gc/last_used.hpp"
#include "gc/schedule.hpp"
#include "gc/state_store.hpp"
#include "http/http_server.hpp"
#include "metrics/metrics.hpp"
#include "sync/graph_tracker.hpp"
#include "util/asio.hpp"
#include "util/format.hpp"

namespace imagegc::app {

namespace asio = boost::asio;
using SystemClock = std::chrono::system_clock;
using SteadyClock = std::chrono::steady_clock;

namespace {

// How often the disk is looked at for pressure between scheduled passes, and the least time
// between two pressure passes (a pass that could not reach the low watermark would otherwise
// repeat at once).
constexpr std::chrono::seconds k_disk_check_interval{10};
constexpr std::chrono::seconds k_pressure_pass_spacing{60};
// `imagegc once` gives up when the engine cannot be read for this long.
constexpr std::chrono::seconds k_once_sync_timeout{60};
// How stale the policy's figures may grow on an idle host: only time moves images past the
// rules' thresholds then.
constexpr std::chrono::seconds k_plan_metrics_interval{60};
constexpr std::chrono::minutes k_disk_usage_interval{15};

std::string graph_summary(const graph::ImageGraph& graph) {
  const auto counts = graph.state_counts();
  const auto both = [&](graph::ImageState state) {
    return counts.of(state, false) + counts.of(state, true);
  };
  const std::size_t tagged = both(graph::ImageState::tagged);
  const std::size_t dangling = both(graph::ImageState::dangling);
  const std::size_t intermediate = both(graph::ImageState::intermediate);
  const std::size_t in_use = counts.of(graph::ImageState::tagged, true) +
                             counts.of(graph::ImageState::dangling, true) +
                             counts.of(graph::ImageState::intermediate, true);
  return fmt::format("{} images ({} tagged, {} dangling, {} intermediate; {} in use), layers {}; "
                     "reclaimable: dangling {}, unused {}",
                     graph.image_count(), tagged, dangling, intermediate, in_use,
                     util::human_bytes(graph.layers_bytes()),
                     util::human_bytes(graph.dangling_reclaimable_bytes()),
                     util::human_bytes(graph.unused_reclaimable_bytes()));
}

// The state store, opened, and how long opening it and reading its chains took.
struct OpenedState {
  std::unique_ptr<gc::StateStore> store;
  SteadyClock::duration took{};
};

// Opens the state store on a thread of its own and reads every layer chain it remembers, while
// the daemon connects to the engine and reads its image list: with 100k images each takes a few
// hundred milliseconds, and the first re-list needs both. The store is handed over through the
// future and from then on used by the daemon's thread alone (SQLite's multi-thread mode allows a
// connection to move between threads that do not use it at once).
std::future<OpenedState> open_state_in_background(const std::string& directory) {
  // One malloc arena for both threads: the chains read there are freed here, and memory freed into
  // an arena of the other thread's would sit beside this one's, unused (60 MB more at 100k).
  // Set while this is the process's only thread, before the one below starts.
  ::mallopt(M_ARENA_MAX, 1); // NOLINT(concurrency-mt-unsafe)
  return std::async(std::launch::async, [directory] {
    const auto started = SteadyClock::now();
    OpenedState opened;
    gc::StateStoreOpenReport report;
    opened.store = gc::StateStore::open(directory, report);
    // Said now, not when the daemon first needs the store: that waits for the engine, which may
    // be down for a while. (The logger is thread-safe.)
    for (const auto& warning : report.warnings) {
      spdlog::warn("state: {}", warning);
    }
    opened.store->load_layers();
    opened.took = SteadyClock::now() - started;
    return opened;
  });
}

// Whether a pass neither deleted nor untagged anything, nor met an engine that refused or failed.
bool left_the_engine_as_it_was(const gc::ExecutionReport& execution) {
  using Kind = gc::ExecutionReport::Outcome::Kind;
  return execution.untagged.empty() &&
         std::all_of(execution.outcomes.begin(), execution.outcomes.end(), [](const auto& outcome) {
           return outcome.kind == Kind::would_delete || outcome.kind == Kind::skipped ||
                  outcome.kind == Kind::not_reached;
         });
}

class Daemon {
public:
  Daemon(asio::io_context& io, const engine::Endpoint& endpoint, DaemonOptions options,
         policy::Policy policy, std::future<OpenedState> opening_state)
      : m_io(io), m_options(std::move(options)), m_policy(std::move(policy)),
        m_state_opening(std::move(opening_state)), m_tracker(io.get_executor(), endpoint),
        m_client(io.get_executor(), endpoint), m_wakeup(io), m_signals(io, SIGINT, SIGTERM, SIGHUP),
        m_random(std::random_device{}()), m_metrics(IMAGEGC_VERSION), m_metrics_timer(io),
        m_notify(io.get_executor()) {
    m_signals.add(SIGUSR1);
    m_tracker.on_event_applied([this](const engine::Event& event) {
      m_metrics.record_event(event.type, event.action);
      if (const auto use = gc::image_use(event, m_tracker.graph()); use) {
        state().record_use(use->image_id, use->time);
      }
    });
    m_tracker.remember_layers([this](std::string_view id) { return state().layers(id); });
    m_tracker.on_graph_changed([this] {
      ++m_plan_input_changes;
      after_graph_change();
      schedule_metrics_refresh();
    });
  }

  int run() {
    if (!m_options.listen.empty() && !start_http()) {
      return 2;
    }
    m_notify.start_watchdog();
    wait_for_signal();
    asio::co_spawn(m_io, m_tracker.run(), rethrow);
    asio::co_spawn(m_io, scheduler(), [this](const std::exception_ptr& error) {
      m_signals.cancel();
      m_tracker.stop();
      rethrow(error);
    });
    m_io.run();
    return m_exit_code;
  }

private:
  // The state store, once its thread has opened it: the first caller (the first re-list, asking
  // for remembered layer chains) waits for it, which on a large host it mostly need not.
  gc::StateStore& state() {
    if (!m_state) {
      const auto waiting = SteadyClock::now();
      OpenedState opened = m_state_opening.get();
      spdlog::debug("state store opened and read in {:.3f}s; waited {:.3f}s for it",
                    std::chrono::duration<double>(opened.took).count(),
                    std::chrono::duration<double>(SteadyClock::now() - waiting).count());
      m_state = std::move(opened.store);
    }
    return *m_state;
  }

  static void rethrow(const std::exception_ptr& error) {
    if (error) {
      std::rethrow_exception(error);
    }
  }

  void wait_for_signal() {
    m_signals.async_wait([this](boost::system::error_code ec, int signal_number) {
      if (ec) {
        return;
      }
      if (signal_number == SIGHUP) {
        reload();
      } else if (signal_number == SIGUSR1) {
        request_pass("signal");
      } else {
        spdlog::info("received signal {}, stopping", signal_number);
        stop();
        return;
      }
      wait_for_signal();
    });
  }

  void stop() {
    m_stopping = true;
    m_notify.stopping();
    m_notify.stop_watchdog();
    m_tracker.stop();
    m_wakeup.cancel();
    m_metrics_timer.cancel();
    if (m_http) {
      m_http->stop();
    }
  }

  bool start_http() {
    http::ServerOptions options;
    options.listen = m_options.listen;
    m_http = std::make_unique<http::Server>(m_io.get_executor(), options);
    m_http->route("/metrics", [this] {
      // The graph's figures are kept current as it changes and cost little to read; the plan's
      // are refreshed off the scrape (refresh_plan_metrics), so a scrape never waits for a plan.
      refresh_metrics();
      return http::Reply{200, "text/plain; version=0.0.4; charset=utf-8", m_metrics.serialize()};
    });
    m_http->route("/healthz", [] { return http::Reply{200, "text/plain; charset=utf-8", "ok\n"}; });
    m_http->route("/readyz", [this] {
      if (m_tracker.ready()) {
        return http::Reply{200, "text/plain; charset=utf-8", "ready\n"};
      }
      const auto& error = m_tracker.last_error();
      return http::Reply{503, "text/plain; charset=utf-8",
                         "not ready: " + (error.empty() ? std::string("syncing") : error) + "\n"};
    });
    m_http->route("/plan", [this] {
      if (!m_tracker.ready()) {
        return http::Reply{503, "text/plain; charset=utf-8", "not synced yet\n"};
      }
      return http::Reply{200, "application/json", render_plan_json(current_plan())};
    });
    if (const auto started = m_http->start(); !started) {
      spdlog::error("{}", started.error());
      return false;
    }
    spdlog::info("serving /metrics, /healthz, /readyz and /plan on {}", m_http->local_address());
    return true;
  }

  policy::Plan current_plan() {
    const gc::PassInput input{m_policy, m_tracker.graph(),
                              [this](std::string_view id) { return state().last_used(id); },
                              m_data_root, gc::build_prune_available(m_client)};
    return gc::plan_now(input, gc::disk_stats(m_data_root));
  }

  // Figures follow events within a fraction of a second, but a burst of events (a build) costs
  // one refresh, and the plan (the costly part) at most one a second.
  void schedule_metrics_refresh(std::chrono::milliseconds delay = std::chrono::milliseconds(100)) {
    if (m_metrics_refresh_pending) {
      return;
    }
    m_metrics_refresh_pending = true;
    m_metrics_timer.expires_after(delay);
    m_metrics_timer.async_wait([this](boost::system::error_code ec) {
      m_metrics_refresh_pending = false;
      if (!ec) {
        refresh_metrics();
        refresh_plan_metrics();
      }
    });
  }

  // The policy's figures: after the graph changed (at most once a second), and every minute
  // while it does not, as images age past the rules' thresholds. Planning a large host takes a
  // while; an idle daemon does not plan again and again for nothing.
  void refresh_plan_metrics() {
    if (!m_tracker.ready()) {
      return;
    }
    const auto since = SteadyClock::now() - m_last_plan_metrics;
    const bool changed = m_planned_changes != m_plan_input_changes;
    if (!changed && since < k_plan_metrics_interval) {
      return;
    }
    if (since < std::chrono::seconds(1)) {
      schedule_metrics_refresh(
          std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::seconds(1) - since));
      return;
    }
    show_plan(current_plan(), m_plan_input_changes);
    // A plan of a large host is a large allocation that passes: return the heap it took, at most
    // once a minute (the walk over the heap is not free either).
    if (SteadyClock::now() - m_last_heap_release >= std::chrono::minutes(1)) {
      release_heap();
    }
  }

  // The policy's figures from `plan`, made when the inputs had changed `changes` times.
  void show_plan(const policy::Plan& plan, std::uint64_t changes) {
    m_last_plan_metrics = SteadyClock::now();
    m_planned_changes = changes;
    std::vector<std::string> rules;
    for (const auto& rule : m_policy.rules) {
      rules.push_back(rule.name);
    }
    for (const auto& rule : m_policy.pressure.rules) {
      rules.push_back(rule.name);
    }
    m_metrics.update_plan(plan, rules);
  }

  // Returns the free heap at the top and in the middle of the arena to the system: glibc keeps
  // what a large, passing allocation (a re-list, a plan, a pass) freed as the daemon's resident
  // size otherwise. Posted, so that it runs after the caller's own memory is freed.
  void release_heap() {
    m_last_heap_release = SteadyClock::now();
    asio::post(m_io, [] { ::malloc_trim(0); });
  }

  void refresh_metrics() {
    m_metrics.update_tracker(m_tracker);
    if (!m_tracker.ready()) {
      return;
    }
    m_metrics.set_image_store(engine::to_string(m_tracker.image_store()));
    m_metrics.update_graph(m_tracker.graph());
    m_metrics.update_disk(gc::disk_stats(m_data_root));
  }

  void request_pass(std::string trigger) {
    m_requested_trigger = std::move(trigger);
    m_wakeup.cancel();
  }

  void reload() {
    spdlog::info("reloading {}", m_options.config_path);
    m_notify.reloading();
    auto loaded = load_policy_or_log(m_options.config_path);
    m_metrics.record_policy_reload(loaded.has_value());
    m_notify.ready();
    if (!loaded) {
      spdlog::error("reload failed: the previous policy stays in force");
      return;
    }
    m_policy = std::move(*loaded);
    ++m_plan_input_changes;
    m_next_pass = gc::next_pass_time(m_policy.schedule, SystemClock::now(), m_random);
    spdlog::info("policy reloaded: mode {}, {} rule(s)", mode_name(), m_policy.rules.size());
    m_wakeup.cancel();
  }

  const char* mode_name() const {
    return m_policy.mode == policy::Mode::enforce ? "enforce" : "dry-run";
  }

  // After each re-list: guesses for images never seen used, the layer chains of images new to the
  // state store (a restart then need not inspect them), and records of images gone dropped.
  void after_graph_change() {
    const auto resyncs = m_tracker.stats().resyncs;
    if (resyncs == m_seen_resyncs) {
      return;
    }
    m_seen_resyncs = resyncs;
    gc::StateStore& store = state();
    const graph::ImageGraph& graph = m_tracker.graph();
    // The images themselves, not copies of their IDs: a large host has 100k of them. In no
    // particular order: the state store's records have none.
    std::vector<std::pair<std::string_view, std::int64_t>> seeds;
    seeds.reserve(graph.image_count());
    for (const graph::Image* image : graph.unsorted_images()) {
      seeds.emplace_back(image->id, std::max(image->created, image->last_tag_time.value_or(0)));
    }
    store.release_loaded_layers();
    const std::vector<std::string_view> without_layers = store.reconcile(seeds);
    m_layers_to_record.clear();
    if (store.persistent()) {
      m_layers_to_record.assign(without_layers.begin(), without_layers.end());
    }
    if (!m_layers_to_record.empty() && !m_layers_recording) {
      m_layers_recording = true;
      asio::post(m_io, [this] { record_some_layers(); });
    }
    const std::string summary = graph_summary(graph);
    spdlog::info("{}", summary);
    m_notify.status("engine " + m_tracker.api_version().to_string() + ": " + summary);
    m_notify.ready();
    // A re-list holds the engine's answers, the previous graph and the lists above all at once.
    release_heap();
  }

  // Writes the layer chains of images new to the state file, a slice per turn of the loop: they
  // only spare a later restart its inspect calls, and one transaction for a cold start's 100k
  // images held the loop (and /readyz) for a second. A slice is small enough that a scrape
  // waiting behind one still takes milliseconds (2000 images took about 30 ms). Each slice looks
  // its images up again, so one deleted meanwhile is skipped; a re-list meanwhile replaces what
  // is left to write.
  void record_some_layers() {
    constexpr std::size_t k_slice = 400;
    const graph::ImageGraph& graph = m_tracker.graph();
    // Stopping: the rest at once, as the loop is about to end.
    const std::size_t count =
        m_stopping ? m_layers_to_record.size() : std::min(k_slice, m_layers_to_record.size());
    std::vector<const graph::Image*> images;
    images.reserve(count);
    for (auto it = m_layers_to_record.end() - static_cast<std::ptrdiff_t>(count);
         it != m_layers_to_record.end(); ++it) {
      if (const graph::Image* image = graph.find_image(it->text())) {
        images.push_back(image);
      }
    }
    m_layers_to_record.resize(m_layers_to_record.size() - count);
    state().record_layers(graph, images);
    if (m_layers_to_record.empty()) {
      m_layers_to_record.shrink_to_fit();
      m_layers_recording = false;
      release_heap();
      return;
    }
    asio::post(m_io, [this] { record_some_layers(); });
  }

  bool disk_above_high_watermark() const {
    const policy::DiskPressure& pressure = m_policy.pressure;
    if (!pressure.enabled) {
      return false;
    }
    const auto disk = gc::disk_stats(m_data_root);
    if (!disk) {
      return false;
    }
    return (pressure.high.used_percent && disk->used_percent() >= *pressure.high.used_percent) ||
           (pressure.high.free_bytes && disk->free_bytes < *pressure.high.free_bytes);
  }

  asio::awaitable<void> sleep_until(SteadyClock::time_point deadline) {
    boost::system::error_code ignored;
    m_wakeup.expires_at(deadline);
    co_await m_wakeup.async_wait(asio::redirect_error(asio::use_awaitable, ignored));
  }

  asio::awaitable<void> scheduler() {
    // An interval schedule runs its first pass once synced (after the jitter); a cron schedule
    // waits for its time.
    m_next_pass =
        m_policy.schedule.cron
            ? gc::next_pass_time(m_policy.schedule, SystemClock::now(), m_random)
            : SystemClock::now() + std::chrono::seconds(std::uniform_int_distribution<std::int64_t>(
                                       0, m_policy.schedule.jitter.count())(m_random));
    const auto started = SteadyClock::now();
    if (!m_options.once) {
      spdlog::info("policy {}: mode {}, {} rule(s); first pass at {}", m_policy.source, mode_name(),
                   m_policy.rules.size(), util::iso8601_utc(SystemClock::to_time_t(m_next_pass)));
    }
    while (!m_stopping) {
      if (!m_tracker.ready()) {
        if (m_options.once && SteadyClock::now() - started > k_once_sync_timeout) {
          spdlog::error("no pass: the engine could not be read within {}s: {}",
                        k_once_sync_timeout.count(), m_tracker.last_error());
          m_exit_code = 1;
          stop();
          break;
        }
        co_await sleep_until(SteadyClock::now() + std::chrono::milliseconds(100));
        continue;
      }
      // The policy's figures follow below or after the pass, whichever comes first.
      if (!m_client_ready && co_await prepare_client()) {
        refresh_metrics();
      }
      std::string trigger;
      if (m_options.once) {
        trigger = "once";
      } else if (!m_requested_trigger.empty()) {
        trigger = std::exchange(m_requested_trigger, std::string{});
      } else if (SystemClock::now() >= m_next_pass) {
        trigger = "schedule";
        m_next_pass = gc::next_pass_time(m_policy.schedule, SystemClock::now(), m_random);
      } else if (SteadyClock::now() - m_last_pressure_pass >= k_pressure_pass_spacing &&
                 disk_above_high_watermark()) {
        trigger = "disk_pressure";
        m_last_pressure_pass = SteadyClock::now();
      }
      if (!trigger.empty()) {
        co_await pass(trigger);
        if (m_options.once) {
          stop();
          break;
        }
        continue;
      }
      refresh_metrics(); // also when nothing changed: the engine may have gone away
      refresh_plan_metrics();
      const auto until_next = m_next_pass - SystemClock::now();
      const auto wait = std::min<SteadyClock::duration>(
          std::chrono::duration_cast<SteadyClock::duration>(until_next), k_disk_check_interval);
      co_await sleep_until(SteadyClock::now() + std::max<SteadyClock::duration>(wait, {}));
    }
  }

  // The connection passes delete over; also learns the engine's data root for disk figures.
  asio::awaitable<bool> prepare_client() {
    if (m_client_ready) {
      co_return true;
    }
    auto version = co_await m_client.negotiate();
    if (!version) {
      m_client_error = version.error().message;
      co_return false;
    }
    if (auto info = co_await m_client.info(); info) {
      m_data_root = info->docker_root_dir;
    }
    m_client_ready = true;
    co_await seed_from_containers();
    co_return true;
  }

  // On the first start, the containers that exist are the best evidence of use there is: their
  // creation time counts as a use of their image (later events add the real uses).
  asio::awaitable<void> seed_from_containers() {
    constexpr const char* k_seeded = "seeded_from_containers";
    if (state().meta(k_seeded)) {
      co_return;
    }
    auto containers = co_await m_client.list_containers();
    if (!containers) {
      co_return;
    }
    for (const auto& container : *containers) {
      state().record_use(container.image_id, container.created);
    }
    state().set_meta(k_seeded, "1");
  }

  // One pass on its own connection: deletes never wait behind the events stream.
  asio::awaitable<void> pass(std::string trigger) {
    const auto started = SteadyClock::now();
    if (!co_await prepare_client()) {
      spdlog::error("pass ({}) skipped: {}", trigger, m_client_error);
      m_exit_code = 1;
      co_return;
    }
    const gc::PassInput input{m_policy, m_tracker.graph(),
                              [this](std::string_view id) { return state().last_used(id); },
                              m_data_root, gc::build_prune_available(m_client)};
    const std::uint64_t changes_before = m_plan_input_changes;
    const gc::PassReport report = co_await gc::run_pass(m_client, input);
    if (m_plan_input_changes == changes_before && left_the_engine_as_it_was(report.execution)) {
      // Nothing changed while it ran, and it changed nothing (a dry run, or nothing deleted):
      // the pass's plan is the one the figures would get, and a large host's plan is not made
      // twice in a row. After a delete it is not: the delete's events may come in only after
      // the pass returns, and until then the figures would still count what went.
      show_plan(report.plan, changes_before);
    }
    using Kind = gc::ExecutionReport::Outcome::Kind;
    for (const auto& outcome : report.execution.outcomes) {
      if (outcome.kind == Kind::deleted) {
        state().forget(outcome.image_id);
      }
    }
    if (report.execution.stopped_early) {
      m_client_ready = false; // negotiate again: the engine may have restarted
      m_exit_code = 1;
    }
    const double seconds = std::chrono::duration<double>(SteadyClock::now() - started).count();
    m_metrics.record_pass(trigger, !report.execution.stopped_early, seconds, report.execution,
                          SystemClock::to_time_t(SystemClock::now()));
    m_metrics.record_build_cache_step(gc::to_string(report.build_cache_outcome));
    // GET /system/df sizes every image, container and volume unless the engine can be asked for
    // the build cache alone (API 1.42+): on a large host it is the engine's most expensive call.
    // The build-cache gauges are refreshed after a pass that pruned the cache, and otherwise at
    // most every k_disk_usage_interval.
    if (report.build_cache_outcome == gc::BuildCacheOutcome::pruned || !m_last_disk_usage ||
        SteadyClock::now() - *m_last_disk_usage >= k_disk_usage_interval) {
      m_last_disk_usage = SteadyClock::now();
      if (auto usage = co_await m_client.build_cache_usage(); usage) {
        std::int64_t reclaimable = 0;
        std::int64_t other = 0;
        for (const auto& record : usage->build_cache) {
          (record.in_use ? other : reclaimable) += record.size;
        }
        m_metrics.update_build_cache(reclaimable, other);
      }
    }
    refresh_metrics();
    refresh_plan_metrics();
    spdlog::info("pass ({}, {}): {} {}, {} reclaimed; kept {} (changed {}, refused {}), {} not "
                 "reached{}; {:.3f}s",
                 trigger, mode_name(),
                 m_policy.mode == policy::Mode::enforce
                     ? report.execution.count(Kind::deleted)
                     : report.execution.count(Kind::would_delete),
                 m_policy.mode == policy::Mode::enforce ? "deleted" : "would be deleted",
                 util::human_bytes(report.execution.reclaimed_bytes), report.plan.kept.size(),
                 report.execution.count(Kind::skipped), report.execution.count(Kind::conflict),
                 report.execution.count(Kind::not_reached),
                 report.execution.stopped_early ? " (stopped: " + report.execution.stop_reason + ")"
                                                : std::string{},
                 seconds);
    release_heap(); // the plan and the report, once this frame is gone
  }

  asio::io_context& m_io;
  DaemonOptions m_options;
  policy::Policy m_policy;
  // Opened by open_state_in_background until the first call of state() takes it.
  std::future<OpenedState> m_state_opening;
  std::unique_ptr<gc::StateStore> m_state;
  sync::GraphTracker m_tracker;
  engine::EngineClient m_client;
  bool m_client_ready = false;
  std::string m_client_error;
  std::string m_data_root;
  asio::steady_timer m_wakeup;
  asio::signal_set m_signals;
  std::mt19937_64 m_random;
  SystemClock::time_point m_next_pass;
  SteadyClock::time_point m_last_pressure_pass{};
  std::optional<SteadyClock::time_point> m_last_disk_usage;
  std::string m_requested_trigger;
  std::uint64_t m_seen_resyncs = 0;
  // Image IDs, written from the back. An image ID is a digest like a diff ID, and kept in the same
  // 32 bytes: a cold start has 100k of them, listed when the new graph is at its largest.
  std::vector<graph::DiffId> m_layers_to_record;
  bool m_layers_recording = false; // record_some_layers is posted
  bool m_stopping = false;
  int m_exit_code = 0;
  metrics::Metrics m_metrics;
  asio::steady_timer m_metrics_timer;
  bool m_metrics_refresh_pending = false;
  SteadyClock::time_point m_last_plan_metrics{};
  SteadyClock::time_point m_last_heap_release{};
  std::uint64_t m_plan_input_changes = 0; // graph changes and policy reloads
  std::uint64_t m_planned_changes = 0;    // m_plan_input_changes the plan figures reflect
  std::unique_ptr<http::Server> m_http;
  SystemdNotifier m_notify;
};

} // namespace

int run_daemon(const GlobalOptions& global, const DaemonOptions& options) {
  const auto endpoint = engine::resolve_endpoint(global.host);
  if (!endpoint) {
    spdlog::error("{}", endpoint.error());
    return 2;
  }
  auto policy = load_policy_or_log(options.config_path);
  if (!policy) {
    spdlog::error("{}: not starting with a policy that does not load", options.config_path);
    return 2;
  }
  spdlog::info("imagegc {} following the engine at {}, state in {}", IMAGEGC_VERSION,
               endpoint->to_string(), options.state_dir);

  asio::io_context io;
  Daemon daemon(io, *endpoint, options, std::move(*policy),
                open_state_in_background(options.state_dir));
  const int exit_code = daemon.run();
  spdlog::info("stopped");
  return exit_code;
}

} // namespace imagegc::app
