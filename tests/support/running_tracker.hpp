#pragma once
// A GraphTracker on its own thread for tests; every read goes through the tracker's executor,
// so the test thread never touches the graph while events are applied.

#include <chrono>
#include <future>
#include <thread>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>

#include "sync/graph_tracker.hpp"

namespace imagegc::test {

class RunningTracker {
public:
  using Clock = std::chrono::steady_clock;

  RunningTracker(const engine::Endpoint& endpoint, sync::TrackerOptions options)
      : m_tracker(m_io.get_executor(), endpoint, options) {
    boost::asio::co_spawn(m_io, m_tracker.run(), [](const std::exception_ptr& error) {
      if (error) {
        std::rethrow_exception(error);
      }
    });
    m_thread = std::thread([this] { m_io.run(); });
  }

  ~RunningTracker() {
    boost::asio::post(m_io, [this] { m_tracker.stop(); });
    m_thread.join();
  }

  RunningTracker(const RunningTracker&) = delete;
  RunningTracker& operator=(const RunningTracker&) = delete;

  // Runs `read_function(tracker)` on the tracker's thread and returns its result.
  template <class Read> auto read(Read read_function) {
    std::packaged_task<decltype(read_function(m_tracker))()> task(
        [&] { return read_function(m_tracker); });
    auto result = task.get_future();
    boost::asio::post(m_io, [&task] { task(); });
    return result.get();
  }

  sync::TrackerStats stats() {
    return read([](const sync::GraphTracker& tracker) { return tracker.stats(); });
  }

  bool ready() {
    return read([](const sync::GraphTracker& tracker) { return tracker.ready(); });
  }

  // Polls until `condition` holds on the tracker's thread, or the time is up.
  template <class Condition>
  bool wait_for(Condition condition, Clock::duration limit = std::chrono::seconds(60)) {
    const auto deadline = Clock::now() + limit;
    while (Clock::now() < deadline) {
      if (read(condition)) {
        return true;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return read(condition);
  }

private:
  boost::asio::io_context m_io;
  sync::GraphTracker m_tracker;
  std::thread m_thread;
};

} // namespace imagegc::test
