#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string_view>

#include "engine/endpoint.hpp"
#include "engine/error.hpp"
#include "engine/records.hpp"
#include "util/asio.hpp"

namespace imagegc::engine {

struct EventSubscription {
  ApiVersion api_version;
  // Replay from this time (inclusive, as the engine does). nullopt: only new events.
  std::optional<std::int64_t> since_nano;
  // A line longer than this is discarded and reported, so a broken engine cannot grow the
  // buffer without limit.
  std::size_t max_line_bytes = std::size_t{1} << 20;
};

struct EventSink {
  std::function<void()> on_subscribed;                // the engine answered 200
  std::function<void(std::string_view)> on_line;      // one JSON object, without the newline
  std::function<void(std::size_t)> on_oversized_line; // bytes discarded
};

// The engine's GET /events, filtered to image and container events, on a connection of its own.
// run() returns when the engine ends the stream (an error says why) or cancel() is called.
class EventStream {
public:
  EventStream(boost::asio::any_io_executor executor, Endpoint endpoint);
  ~EventStream();
  EventStream(const EventStream&) = delete;
  EventStream& operator=(const EventStream&) = delete;

  boost::asio::awaitable<Result<void>> run(EventSubscription subscription, EventSink& sink);
  void cancel();

private:
  struct Impl;
  std::unique_ptr<Impl> m_impl;
};

// "since" query value for a nanosecond timestamp: "<seconds>.<nanoseconds, 9 digits>".
std::string format_since(std::int64_t time_nano);

} // namespace imagegc::engine
