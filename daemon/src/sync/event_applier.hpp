#pragma once

#include <string>

#include "engine/engine_client.hpp"
#include "engine/records.hpp"
#include "graph/image_graph.hpp"
#include "util/asio.hpp"

namespace imagegc::sync {

// What an engine event means for the graph. Every effect re-reads the object from the engine
// rather than trusting the event: events replayed after a reconnect may be older than what a
// re-list already showed, and an image ID can come back after a delete (same content, same ID).
struct EventEffect {
  enum class Kind {
    none,              // not about images or their users
    refresh_image,     // re-read `subject` (an image ID or reference) and its missing parents
    refresh_container, // re-read container `subject` and the image it uses
    forget_container,  // container `subject` is gone
  };
  Kind kind = Kind::none;
  std::string subject;

  bool operator==(const EventEffect&) const = default;
};

EventEffect effect_of(const engine::Event& event);

// Applies one event to `graph`, reading from the engine what the event does not say.
boost::asio::awaitable<engine::Result<void>>
apply_event(engine::EngineClient& client, graph::ImageGraph& graph, engine::Event event);

// Re-reads an image (by ID or reference) and any parents the graph does not know yet; an image
// the engine no longer has is removed from the graph.
boost::asio::awaitable<engine::Result<void>>
refresh_image(engine::EngineClient& client, graph::ImageGraph& graph, std::string name);

} // namespace imagegc::sync
