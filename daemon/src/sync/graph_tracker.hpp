#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "engine/endpoint.hpp"
#include "engine/records.hpp"
#include "graph/image_graph.hpp"
#include "sync/graph_loader.hpp"
#include "util/asio.hpp"

namespace imagegc::sync {

struct TrackerOptions {
  // A re-list also runs on this interval: some changes send no event at all (an untagged build
  // whose last step is metadata, events lost while more than 256 happened during a disconnect).
  std::chrono::seconds resync_interval{600};
  std::chrono::milliseconds backoff_initial{100};
  // Capped low: a reconnect attempt on a local socket costs nothing, and the graph is stale
  // while disconnected.
  std::chrono::milliseconds backoff_max{1000};
  // Events read but not yet applied, at most (a stalled engine answers re-reads slowly while
  // the stream goes on). Past it they are dropped for a re-list, which shows what they changed.
  std::size_t max_queued_events = 65536;
};

struct TrackerStats {
  std::uint64_t events_received = 0;
  std::uint64_t events_applied = 0;   // events that changed or re-read something
  std::uint64_t events_coalesced = 0; // of those, left to a later queued event's re-read
  std::uint64_t events_ignored = 0;   // actions that do not concern the graph
  std::uint64_t events_malformed = 0; // lines that did not parse (logged, skipped)
  std::uint64_t events_duplicate = 0; // replayed after a reconnect and already applied
  std::uint64_t oversized_lines = 0;
  std::uint64_t events_dropped = 0; // queued past max_queued_events, left to a re-list
  std::uint64_t resyncs = 0;
  std::uint64_t resync_corrections = 0;  // differences re-lists found between graph and engine
  std::uint64_t silent_images_found = 0; // new dangling images no event announced (legacy builds)
  std::uint64_t connections = 0;         // successful subscriptions (1 + reconnects)
  std::uint64_t engine_errors = 0;
};

// Keeps an ImageGraph equal to what the engine holds: subscribes to events, re-lists after every
// (re)connect and on an interval, applies each event as it arrives, reconnects with capped
// exponential backoff. Everything runs on the executor it was made with; the graph is only ever
// touched there.
class GraphTracker {
public:
  GraphTracker(boost::asio::any_io_executor executor, engine::Endpoint endpoint,
               TrackerOptions options = {});
  ~GraphTracker();
  GraphTracker(const GraphTracker&) = delete;
  GraphTracker& operator=(const GraphTracker&) = delete;

  // Runs until stop(). Never throws for engine trouble: it logs, counts and retries.
  boost::asio::awaitable<void> run();
  void stop();
  // Asks for a re-list at the next opportunity.
  void request_resync();

  [[nodiscard]] const graph::ImageGraph& graph() const;
  [[nodiscard]] const TrackerStats& stats() const;
  // Subscribed to events and the first re-list of this connection done.
  [[nodiscard]] bool ready() const;
  [[nodiscard]] engine::ApiVersion api_version() const;
  // The engine's image store, as /info said at the last connect.
  [[nodiscard]] engine::ImageStore image_store() const;
  [[nodiscard]] const std::string& last_error() const;

  // Called on the executor after every change to the graph (a re-list or an applied event).
  void on_graph_changed(std::function<void()> callback);
  // Called on the executor after each event was applied to the graph (duplicates excluded).
  void on_event_applied(std::function<void(const engine::Event&)> callback);
  // Layer chains remembered from an earlier run: a re-list takes an image it does not hold yet
  // from its listing and this chain instead of inspecting it (see load_graph).
  void remember_layers(RememberedLayers lookup);

private:
  struct Impl;
  std::unique_ptr<Impl> m_impl;
};

} // namespace imagegc::sync
