#include "sync/graph_tracker.hpp"

#include <algorithm>
#include <deque>
#include <unordered_map>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <spdlog/spdlog.h>

#include "engine/engine_client.hpp"
#include "engine/event_stream.hpp"
#include "engine/json_ingest.hpp"
#include "sync/event_applier.hpp"
#include "sync/graph_loader.hpp"
#include "sync/replay_filter.hpp"

namespace imagegc::sync {

namespace asio = boost::asio;
using Clock = std::chrono::steady_clock;

// A build removes its containers in a burst; one look at the dangling images after it settles.
constexpr std::chrono::milliseconds k_dangling_check_delay{500};

struct GraphTracker::Impl {
  Impl(asio::any_io_executor tracker_executor, engine::Endpoint engine_endpoint,
       TrackerOptions tracker_options)
      : executor(std::move(tracker_executor)), endpoint(std::move(engine_endpoint)),
        options(tracker_options), client(executor, endpoint), wakeup(executor) {}

  asio::any_io_executor executor;
  engine::Endpoint endpoint;
  TrackerOptions options;
  engine::EngineClient client;
  graph::ImageGraph graph;
  TrackerStats stats;
  std::string last_error;
  bool ready = false;
  bool stopping = false;
  bool need_sync = false;
  bool synced_once = false;
  asio::steady_timer wakeup;
  // A line of the events stream, parsed as it arrives.
  struct Queued {
    std::string line;
    engine::Result<engine::Event> event;
    std::string reads; // what applying it re-reads from the engine ("" when nothing)
  };
  std::deque<Queued> queue;
  // How many queued events re-read each object. An event whose object a later queued event
  // re-reads anyway needs no read of its own: every read takes the engine's state as it is then,
  // not what the event said. This is what lets a backlog (a burst of container events) drain.
  std::unordered_map<std::string, std::size_t> queued_reads;

  void enqueue(std::string_view line) {
    Queued queued{std::string(line), engine::parse_event(line), {}};
    if (queued.event) {
      const EventEffect effect = effect_of(*queued.event);
      if (effect.kind == EventEffect::Kind::refresh_image ||
          effect.kind == EventEffect::Kind::refresh_container) {
        queued.reads = (effect.kind == EventEffect::Kind::refresh_image ? "image " : "container ") +
                       effect.subject;
        ++queued_reads[queued.reads];
      }
    }
    queue.push_back(std::move(queued));
  }

  // Takes `queued` off the count; true when a later queued event re-reads the same object.
  bool read_again_later(const Queued& queued) {
    if (queued.reads.empty()) {
      return false;
    }
    const auto it = queued_reads.find(queued.reads);
    if (it == queued_reads.end()) {
      return false;
    }
    if (--it->second == 0) {
      queued_reads.erase(it);
      return false;
    }
    return true;
  }
  ReplayFilter replay;
  engine::EventStream* current_stream = nullptr;
  Clock::time_point next_resync = Clock::time_point::max();
  Clock::time_point dangling_check_at = Clock::time_point::max();
  std::function<void()> changed;
  std::function<void(const engine::Event&)> event_applied;
  RememberedLayers remembered;

  void wake() { wakeup.cancel(); }

  asio::awaitable<void> sleep_until(Clock::time_point deadline) {
    boost::system::error_code ignored;
    wakeup.expires_at(deadline);
    co_await wakeup.async_wait(asio::redirect_error(asio::use_awaitable, ignored));
  }

  void record_error(std::string_view what, const engine::Error& error) {
    ++stats.engine_errors;
    if (last_error != error.message) {
      spdlog::warn("{}: {}", what, error.message);
    }
    last_error = error.message;
  }

  void notify() const {
    if (changed) {
      changed();
    }
  }

  // A re-list; false when the engine could not be read.
  asio::awaitable<bool> resync() {
    auto fresh = co_await load_graph(client, graph, remembered);
    if (!fresh) {
      record_error("re-list failed", fresh.error());
      co_return false;
    }
    if (synced_once) {
      const auto corrections = graph::ImageGraph::differences(*fresh, graph);
      stats.resync_corrections += corrections.size();
      if (!corrections.empty()) {
        spdlog::info("re-list corrected {} difference(s) the events had not shown, e.g. {}",
                     corrections.size(), corrections.front());
      }
    }
    graph = std::move(*fresh);
    synced_once = true;
    ++stats.resyncs;
    ready = true;
    last_error.clear();
    next_resync = Clock::now() + options.resync_interval;
    spdlog::debug("re-list done: {} images, {} containers", graph.image_count(),
                  graph.container_count());
    notify();
    co_return true;
  }

  // Reads the engine's dangling images and adds those the graph does not know (with their
  // parents); false when the engine could not be read.
  asio::awaitable<bool> find_silent_images() {
    auto dangling = co_await client.list_images(engine::ImageListFilter::dangling_only);
    if (!dangling) {
      record_error("listing dangling images failed", dangling.error());
      co_return dangling.error().kind == engine::ErrorKind::malformed;
    }
    bool found = false;
    for (const auto& summary : *dangling) {
      if (graph.find_image(summary.id) != nullptr) {
        continue;
      }
      auto refreshed = co_await refresh_image(client, graph, summary.id);
      if (!refreshed) {
        record_error("reading a new dangling image failed", refreshed.error());
        co_return refreshed.error().kind == engine::ErrorKind::malformed;
      }
      ++stats.silent_images_found;
      found = true;
    }
    if (found) {
      notify();
    }
    co_return true;
  }

  // One line of the events stream; false when the engine could not be read.
  asio::awaitable<bool> handle_line(const Queued& queued) {
    ++stats.events_received;
    const bool read_later = read_again_later(queued);
    const std::string& line = queued.line;
    const auto& event = queued.event;
    if (!event) {
      ++stats.events_malformed;
      spdlog::warn("skipped a malformed event ({}): {:.200}", event.error().message, line);
      co_return true;
    }
    if (replay.seen(*event)) {
      ++stats.events_duplicate;
      co_return true;
    }
    if (effect_of(*event).kind == EventEffect::Kind::none) {
      ++stats.events_ignored;
      co_return true;
    }
    if (read_later) {
      ++stats.events_coalesced;
    } else if (auto applied = co_await apply_event(client, graph, *event); !applied) {
      record_error("applying a " + event->type + " " + event->action + " event failed",
                   applied.error());
      // A broken answer about one object is not a broken engine: the next re-list repairs it.
      co_return applied.error().kind == engine::ErrorKind::malformed;
    }
    ++stats.events_applied;
    // The legacy builder commits its images without an event of their own; an untagged build's
    // result is only ever seen as a dangling image once the build's containers are gone.
    if (event->type == "container" && event->action == "destroy" &&
        dangling_check_at == Clock::time_point::max()) {
      dangling_check_at = Clock::now() + k_dangling_check_delay;
    }
    if (event_applied) {
      event_applied(*event);
    }
    notify();
    co_return true;
  }

  // One connection's life: subscribe, re-list, apply events until the stream ends or fails.
  // Returns whether it got as far as a completed re-list.
  asio::awaitable<bool> session() {
    auto version = co_await client.negotiate();
    if (!version) {
      record_error("engine unavailable", version.error());
      co_return false;
    }
    // Which image store the engine uses decides how its answers read (engine::ImageStore). An
    // engine that does not answer /info at all keeps the store last seen (at first, classic).
    if (auto info = co_await client.info(); !info) {
      if (info.error().kind != engine::ErrorKind::http_status) {
        record_error("engine unavailable", info.error());
        co_return false;
      }
      spdlog::warn("GET /info failed ({}); taking the engine's image store to be {}",
                   info.error().message, engine::to_string(client.image_store()));
    }

    engine::EventStream stream(executor, endpoint);
    current_stream = &stream;
    bool done = false;
    engine::Result<void> stream_result;
    engine::EventSink sink;
    sink.on_subscribed = [this] {
      ++stats.connections;
      spdlog::info("subscribed to events at {} (API {}, {} image store){}", endpoint.to_string(),
                   client.api_version().to_string(), engine::to_string(client.image_store()),
                   stats.connections > 1 ? ", reconnected" : "");
      need_sync = true; // the engine keeps 256 events and sends no untag when a tag moves
      wake();
    };
    sink.on_line = [this](std::string_view line) {
      if (queue.size() >= options.max_queued_events) {
        // Applying has fallen this far behind the stream: a re-list is cheaper than the
        // backlog, and bounds the memory it holds.
        stats.events_dropped += queue.size();
        spdlog::warn("{} events queued while the engine answers slowly: dropped for a re-list",
                     queue.size());
        queue.clear();
        queued_reads.clear();
        need_sync = true;
      }
      enqueue(line);
      wake();
    };
    sink.on_oversized_line = [this](std::size_t bytes) {
      ++stats.oversized_lines;
      spdlog::warn("discarded an events-stream line of {} bytes (over the limit); re-listing",
                   bytes);
      // Whatever events the line swallowed are lost: only a re-list can show what they changed.
      need_sync = true;
      wake();
    };
    const engine::EventSubscription subscription{*version, replay.resume_from()};
    asio::co_spawn(
        executor,
        [&]() -> asio::awaitable<void> {
          stream_result = co_await stream.run(subscription, sink);
          done = true;
          wake();
        },
        asio::detached);

    bool healthy = true;
    bool synced = false;
    for (;;) {
      if (stopping || !healthy) {
        stream.cancel();
        if (done) {
          break;
        }
        co_await sleep_until(Clock::now() + std::chrono::seconds(1));
        continue;
      }
      if (need_sync) {
        need_sync = false;
        healthy = co_await resync();
        synced = synced || healthy;
        continue;
      }
      if (!queue.empty()) {
        const Queued queued = std::move(queue.front());
        queue.pop_front();
        healthy = co_await handle_line(queued);
        continue;
      }
      if (done) {
        break;
      }
      if (Clock::now() >= dangling_check_at) {
        dangling_check_at = Clock::time_point::max();
        healthy = co_await find_silent_images();
        continue;
      }
      co_await sleep_until(std::min(next_resync, dangling_check_at));
      if (Clock::now() >= next_resync) {
        need_sync = true;
      }
    }
    current_stream = nullptr;
    queue.clear();
    queued_reads.clear();
    need_sync = false;
    ready = false;
    // A stream cancelled here (stopping, or a failed re-list already recorded) is no news.
    if (!stream_result && !stopping && healthy) {
      record_error("events stream lost", stream_result.error());
    }
    co_return synced;
  }
};

GraphTracker::GraphTracker(asio::any_io_executor executor, engine::Endpoint endpoint,
                           TrackerOptions options)
    : m_impl(std::make_unique<Impl>(std::move(executor), std::move(endpoint), options)) {}

GraphTracker::~GraphTracker() = default;

asio::awaitable<void> GraphTracker::run() {
  Impl& impl = *m_impl;
  int failures = 0;
  while (!impl.stopping) {
    const bool synced = co_await impl.session();
    if (impl.stopping) {
      break;
    }
    failures = synced ? 0 : std::min(failures + 1, 30);
    const auto delay = std::min<std::chrono::milliseconds>(
        impl.options.backoff_max,
        impl.options.backoff_initial * (std::int64_t{1} << std::min(failures, 20)));
    co_await impl.sleep_until(Clock::now() + delay);
  }
}

void GraphTracker::stop() {
  m_impl->stopping = true;
  if (m_impl->current_stream != nullptr) {
    m_impl->current_stream->cancel();
  }
  m_impl->wake();
}

void GraphTracker::request_resync() {
  m_impl->need_sync = true;
  m_impl->wake();
}

const graph::ImageGraph& GraphTracker::graph() const {
  return m_impl->graph;
}
const TrackerStats& GraphTracker::stats() const {
  return m_impl->stats;
}
bool GraphTracker::ready() const {
  return m_impl->ready;
}
engine::ApiVersion GraphTracker::api_version() const {
  return m_impl->client.api_version();
}
engine::ImageStore GraphTracker::image_store() const {
  return m_impl->client.image_store();
}
const std::string& GraphTracker::last_error() const {
  return m_impl->last_error;
}

void GraphTracker::on_graph_changed(std::function<void()> callback) {
  m_impl->changed = std::move(callback);
}

void GraphTracker::on_event_applied(std::function<void(const engine::Event&)> callback) {
  m_impl->event_applied = std::move(callback);
}

void GraphTracker::remember_layers(RememberedLayers lookup) {
  m_impl->remembered = std::move(lookup);
}

} // namespace imagegc::sync
