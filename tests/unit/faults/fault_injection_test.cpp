// A GraphTracker against the fake engine while the engine misbehaves: for each fault the tracker
// logs and counts it, keeps going, is not ready while it cannot be, recovers when the engine
// does, and ends with the graph a fresh sync gives.

#include <chrono>
#include <fstream>
#include <future>
#include <optional>
#include <string>
#include <thread>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_future.hpp>
#include <gtest/gtest.h>
#include <spdlog/sinks/ringbuffer_sink.h>
#include <spdlog/spdlog.h>

#include "engine/engine_client.hpp"
#include "support/engine_call.hpp"
#include "support/fake_engine.hpp"
#include "support/running_tracker.hpp"
#include "sync/graph_loader.hpp"
#include "sync/graph_tracker.hpp"

namespace imagegc::test {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// An image of its own: one fresh layer on `parent` (or none), with `tags`.
FakeImage make_image(int serial, const std::string& parent_id, const std::vector<FakeLayer>& below,
                     std::vector<std::string> tags) {
  char hex[65];
  std::snprintf(hex, sizeof hex, "%064x", serial);
  char layer[65];
  std::snprintf(layer, sizeof layer, "%064x", serial + 0x100000);
  FakeImage image;
  image.id = std::string("sha256:") + hex;
  image.parent = parent_id;
  image.layers = below;
  image.layers.push_back({std::string("sha256:") + layer, 1000 + serial});
  image.tags = std::move(tags);
  image.created = 1'700'000'000 + serial;
  return image;
}

// Peak resident memory of this process, in bytes.
std::int64_t peak_rss_bytes() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.starts_with("VmHWM:")) {
      return std::stoll(line.substr(6)) * 1024;
    }
  }
  return 0;
}

class TrackerFaults : public ::testing::Test {
protected:
  void SetUp() override {
    m_log = std::make_shared<spdlog::sinks::ringbuffer_sink_mt>(1024);
    m_previous_logger = spdlog::default_logger();
    spdlog::set_default_logger(std::make_shared<spdlog::logger>("faults", m_log));
    spdlog::set_level(spdlog::level::debug);

    m_ids = m_fake.add_synthetic_images(60, 11);
    m_tracker.emplace(m_fake.endpoint(), options());
    ASSERT_TRUE(m_tracker->wait_for([](const sync::GraphTracker& t) { return t.ready(); }))
        << "never synced: " << last_error();
    expect_equal_to_fresh_sync();
  }

  void TearDown() override {
    m_tracker.reset();
    if (HasFailure()) {
      for (const auto& line : m_log->last_formatted()) {
        std::fprintf(stderr, "log: %s", line.c_str());
      }
    }
    spdlog::set_default_logger(m_previous_logger);
  }

  static sync::TrackerOptions options() {
    sync::TrackerOptions options;
    options.resync_interval = std::chrono::hours(24); // only the re-lists faults cause
    return options;
  }

  std::string last_error() {
    return m_tracker->read([](const sync::GraphTracker& t) { return t.last_error(); });
  }

  // Lines logged so far that contain `text`.
  std::size_t logged(std::string_view text) const {
    std::size_t count = 0;
    for (const auto& line : m_log->last_formatted()) {
      count += line.find(text) != std::string::npos ? 1 : 0;
    }
    return count;
  }

  // The tracker's graph becomes what a fresh sync reads (it may still be applying events).
  void expect_equal_to_fresh_sync(Clock::duration limit = 10s) {
    const graph::ImageGraph fresh = fresh_graph(m_fake.endpoint());
    const bool equal = m_tracker->wait_for(
        [&](const sync::GraphTracker& t) {
          return t.ready() && graph::ImageGraph::differences(fresh, t.graph()).empty();
        },
        limit);
    if (!equal) {
      const auto differences = m_tracker->read([&](const sync::GraphTracker& t) {
        return graph::ImageGraph::differences(fresh, t.graph());
      });
      ADD_FAILURE() << differences.size() << " difference(s) from a fresh sync, first: "
                    << (differences.empty() ? std::string("(none; not ready)")
                                            : differences.front())
                    << "; last error: " << last_error();
    }
  }

  // A new leaf image with one tag: deleting it by ID succeeds.
  std::string add_removable_image(bool announce = true) {
    const FakeImage image =
        make_image(++m_serial, "", {}, {"removable/x:" + std::to_string(m_serial)});
    m_fake.add_image(image, announce);
    return image.id;
  }

  // A change made now reaches the graph through the events stream.
  void expect_events_flow(const std::string& reference) {
    m_fake.tag(m_ids.front(), reference);
    EXPECT_TRUE(m_tracker->wait_for([&](const sync::GraphTracker& t) {
      const auto* image = t.graph().find_by_reference(reference);
      return image != nullptr && image->id == m_ids.front();
    })) << "the tag event for "
        << reference << " never reached the graph";
  }

  // The stream was lost: the tracker subscribed again and re-listed.
  void expect_reconnected(const sync::TrackerStats& before) {
    EXPECT_TRUE(m_tracker->wait_for([&](const sync::GraphTracker& t) {
      return t.ready() && t.stats().connections > before.connections &&
             t.stats().resyncs > before.resyncs;
    })) << "no reconnect and re-list; last error: "
        << last_error();
    EXPECT_GT(m_tracker->stats().engine_errors, before.engine_errors);
  }

  std::shared_ptr<spdlog::sinks::ringbuffer_sink_mt> m_log;
  std::shared_ptr<spdlog::logger> m_previous_logger;
  FakeEngine m_fake;
  std::vector<std::string> m_ids;
  std::optional<RunningTracker> m_tracker;
  int m_serial = 0;
};

TEST_F(TrackerFaults, events_keep_the_graph_equal_to_a_fresh_sync) {
  const auto before = m_tracker->stats();
  m_fake.tag(m_ids[0], "probe/a:1");
  m_fake.untag("probe/a:1");
  const auto removed = m_fake.remove_image(add_removable_image());
  FakeContainer container;
  container.id = std::string(64, 'c');
  container.image_id = m_ids[2];
  m_fake.add_container(container);
  expect_equal_to_fresh_sync();
  m_fake.remove_container(container.id);
  expect_equal_to_fresh_sync();
  const auto after = m_tracker->stats();
  EXPECT_EQ(after.connections, before.connections);
  EXPECT_GT(after.events_applied, before.events_applied);
  EXPECT_EQ(after.events_malformed, 0u);
  EXPECT_EQ(removed.status, 200);
}

TEST_F(TrackerFaults, malformed_lines_are_logged_counted_and_skipped) {
  const auto before = m_tracker->stats();
  m_fake.send_raw_event_line("this is not json");
  m_fake.send_raw_event_line(R"({"Type":"image","Action":)");
  m_fake.send_raw_event_line("[1,2,3]");
  m_fake.send_raw_event_line(R"({"Type":42,"Action":"tag"})");
  expect_events_flow("probe/after-malformed:1");
  const auto after = m_tracker->stats();
  EXPECT_EQ(after.events_malformed - before.events_malformed, 4u);
  EXPECT_EQ(after.connections, before.connections) << "a bad line must not cost the stream";
  EXPECT_EQ(logged("skipped a malformed event"), 4u);
  expect_equal_to_fresh_sync();
}

TEST_F(TrackerFaults, an_oversized_line_is_discarded_and_counted_once) {
  const auto before = m_tracker->stats();
  m_fake.send_oversized_event_line(4 << 20, true);
  expect_events_flow("probe/after-oversized:1");
  const auto after = m_tracker->stats();
  EXPECT_EQ(after.oversized_lines - before.oversized_lines, 1u);
  EXPECT_EQ(after.connections, before.connections);
  EXPECT_EQ(logged("discarded an events-stream line"), 1u);
  expect_equal_to_fresh_sync();
}

TEST_F(TrackerFaults, a_never_ending_line_does_not_grow_memory) {
  const std::int64_t peak_before = peak_rss_bytes();
  constexpr std::uint64_t k_line_bytes = std::uint64_t{96} << 20;
  m_fake.send_oversized_event_line(k_line_bytes, false);
  // An event sent while the line goes on ends up inside it: lost to the stream.
  m_fake.tag(m_ids[3], "probe/swallowed:1");
  ASSERT_TRUE(m_tracker->wait_for(
      [](const sync::GraphTracker& t) { return t.stats().oversized_lines == 1; }, 60s));
  const std::int64_t growth = peak_rss_bytes() - peak_before;
  EXPECT_LT(growth, std::int64_t{32} << 20)
      << "a " << (k_line_bytes >> 20) << " MiB line grew the peak RSS by " << (growth >> 20)
      << " MiB";
  // The event inside the line was lost: the graph must still come back to the engine's state.
  expect_equal_to_fresh_sync();
  expect_events_flow("probe/after-never-ending:1");
}

TEST_F(TrackerFaults, a_stream_closed_mid_object_is_reconnected_and_re_listed) {
  const auto before = m_tracker->stats();
  m_fake.close_event_streams_mid_object();
  expect_reconnected(before);
  EXPECT_EQ(m_tracker->stats().events_malformed, before.events_malformed)
      << "half an object is not an event";
  EXPECT_GE(logged("events stream lost"), 1u);
  expect_equal_to_fresh_sync();
  expect_events_flow("probe/after-mid-object:1");
}

TEST_F(TrackerFaults, a_truncated_chunk_is_reconnected_and_re_listed) {
  const auto before = m_tracker->stats();
  m_fake.send_truncated_event_chunk();
  expect_reconnected(before);
  EXPECT_EQ(m_tracker->stats().events_malformed, before.events_malformed);
  expect_equal_to_fresh_sync();
  expect_events_flow("probe/after-truncated:1");
}

TEST_F(TrackerFaults, a_cleanly_ended_stream_is_reconnected_and_re_listed) {
  const auto before = m_tracker->stats();
  m_fake.close_event_streams();
  expect_reconnected(before);
  expect_equal_to_fresh_sync();
  expect_events_flow("probe/after-end:1");
}

TEST_F(TrackerFaults, server_errors_on_the_re_list_are_retried_until_it_works) {
  const auto before = m_tracker->stats();
  FaultPlan plan;
  plan.requests.push_back(status_fault("GET", "/images/json", 500, 3));
  const std::string doomed = add_removable_image();
  ASSERT_TRUE(m_tracker->wait_for(
      [&](const sync::GraphTracker& t) { return t.graph().find_image(doomed) != nullptr; }));
  m_fake.set_faults(plan);
  EXPECT_EQ(m_fake.remove_image(doomed).status, 200); // a change the re-list must find
  m_fake.close_event_streams();
  expect_reconnected(before);
  const auto after = m_tracker->stats();
  EXPECT_GE(after.engine_errors - before.engine_errors, 3u);
  // Logged once with its context, not once per retry.
  EXPECT_EQ(logged("re-list failed: GET /images/json: HTTP 500"), 1u);
  expect_equal_to_fresh_sync();
}

TEST_F(TrackerFaults, unavailable_events_endpoint_is_retried_with_backoff) {
  const auto before = m_tracker->stats();
  FaultPlan plan;
  plan.requests.push_back(status_fault("GET", "/events", 503, 4));
  m_fake.set_faults(plan);
  m_fake.close_event_streams();
  EXPECT_TRUE(m_tracker->wait_for([](const sync::GraphTracker& t) { return !t.ready(); }, 5s))
      << "ready while the events endpoint answers 503";
  expect_reconnected(before);
  EXPECT_GE(m_tracker->stats().engine_errors - before.engine_errors, 4u);
  EXPECT_EQ(logged("GET /events: HTTP 503"), 1u);
  expect_equal_to_fresh_sync();
}

TEST_F(TrackerFaults, an_oversized_body_fails_the_re_list_without_reading_it) {
  const auto before = m_tracker->stats();
  FaultPlan plan;
  RequestFault oversized;
  oversized.method = "GET";
  oversized.path_contains = "/images/json";
  oversized.oversized_body_bytes = std::uint64_t{4} << 30;
  oversized.times = 2;
  plan.requests.push_back(oversized);
  m_fake.set_faults(plan);
  const std::int64_t peak_before = peak_rss_bytes();
  m_fake.close_event_streams();
  expect_reconnected(before);
  m_fake.clear_faults();
  EXPECT_LT(peak_rss_bytes() - peak_before, std::int64_t{64} << 20);
  EXPECT_EQ(logged("exceeds"), 1u);
  expect_equal_to_fresh_sync();
}

TEST_F(TrackerFaults, a_stalled_answer_delays_but_does_not_break_the_tracker) {
  const auto before = m_tracker->stats();
  FaultPlan plan;
  plan.requests.push_back(stall_fault("GET", "/images/json", 2s, 1));
  m_fake.set_faults(plan);
  m_fake.close_event_streams();
  EXPECT_TRUE(m_tracker->wait_for([](const sync::GraphTracker& t) { return !t.ready(); }, 5s));
  std::this_thread::sleep_for(1s);
  EXPECT_FALSE(m_tracker->ready()) << "ready before the stalled re-list answered";
  expect_reconnected(before);
  expect_equal_to_fresh_sync();
}

TEST_F(TrackerFaults, a_slow_trickle_is_read_to_the_end) {
  FakeContainer container;
  container.id = std::string(64, 'd');
  container.image_id = m_ids[5];
  container.running = true;
  FaultPlan plan;
  RequestFault trickle;
  trickle.path_contains = "/containers/" + container.id;
  trickle.trickle = 2ms;
  plan.requests.push_back(trickle);
  m_fake.set_faults(plan);
  const auto started = Clock::now();
  m_fake.add_container(container);
  EXPECT_TRUE(m_tracker->wait_for(
      [&](const sync::GraphTracker& t) {
        return t.graph().find_container(container.id) != nullptr;
      },
      30s));
  EXPECT_GT(Clock::now() - started, 500ms) << "the trickle did not apply";
  m_fake.clear_faults();
  expect_equal_to_fresh_sync();
}

TEST_F(TrackerFaults, a_restart_with_another_api_version_is_followed) {
  const std::string doomed = add_removable_image();
  ASSERT_TRUE(m_tracker->wait_for(
      [&](const sync::GraphTracker& t) { return t.graph().find_image(doomed) != nullptr; }));
  const auto before = m_tracker->stats();
  m_fake.go_down();
  EXPECT_TRUE(m_tracker->wait_for([](const sync::GraphTracker& t) { return !t.ready(); }, 5s))
      << "ready while the engine is down";
  // Changes while the engine is away: their events are lost with the restart.
  EXPECT_EQ(m_fake.remove_image(doomed).status, 200);
  m_fake.tag(m_ids[7], "probe/while-down:1");
  m_fake.add_image(make_image(++m_serial, "", {}, {"probe/new-while-down:1"}));
  m_fake.come_up(engine::ApiVersion{1, 44});
  expect_reconnected(before);
  EXPECT_EQ(m_tracker->read([](const sync::GraphTracker& t) { return t.api_version(); }),
            (engine::ApiVersion{1, 44}));
  expect_equal_to_fresh_sync();
  EXPECT_GT(m_tracker->stats().resync_corrections, before.resync_corrections);
  // And back down to 1.41: the tracker negotiates again rather than keep asking for 1.44.
  const auto before_second = m_tracker->stats();
  m_fake.restart(engine::ApiVersion{1, 41});
  expect_reconnected(before_second);
  EXPECT_EQ(m_tracker->read([](const sync::GraphTracker& t) { return t.api_version(); }),
            (engine::ApiVersion{1, 41}));
  expect_equal_to_fresh_sync();
  expect_events_flow("probe/after-restart:1");
}

TEST_F(TrackerFaults, ready_again_soon_after_the_engine_answers) {
  m_fake.go_down();
  ASSERT_TRUE(m_tracker->wait_for([](const sync::GraphTracker& t) { return !t.ready(); }, 5s));
  std::this_thread::sleep_for(3s); // long enough for the backoff to reach its cap
  m_fake.come_up();
  const auto started = Clock::now();
  ASSERT_TRUE(m_tracker->wait_for([](const sync::GraphTracker& t) { return t.ready(); }, 10s));
  const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started);
  std::printf("ready %lld ms after the engine came back\n", static_cast<long long>(took.count()));
  RecordProperty("reconnect_ms", static_cast<int>(took.count()));
  EXPECT_LT(took, 10s);
  expect_equal_to_fresh_sync();
}

TEST_F(TrackerFaults, a_resumed_stream_drops_the_replayed_boundary) {
  m_fake.tag(m_ids[8], "probe/before-resume:1");
  ASSERT_TRUE(m_tracker->wait_for([](const sync::GraphTracker& t) {
    return t.graph().find_by_reference("probe/before-resume:1") != nullptr;
  }));
  const auto before = m_tracker->stats();
  // The engine replays its last events from `since` (inclusive): the last one comes again.
  m_fake.close_event_streams();
  expect_reconnected(before);
  EXPECT_TRUE(m_tracker->wait_for([&](const sync::GraphTracker& t) {
    return t.stats().events_duplicate > before.events_duplicate;
  })) << "no replayed event was recognised";
  expect_equal_to_fresh_sync();
}

TEST_F(TrackerFaults, an_answer_cut_off_while_applying_an_event_costs_a_reconnect) {
  const auto before = m_tracker->stats();
  FaultPlan plan;
  RequestFault cut;
  cut.method = "GET";
  cut.path_contains = "/json";
  cut.close_without_answer = true;
  cut.times = 2; // the first try and the retry on a fresh connection
  plan.requests.push_back(cut);
  m_fake.set_faults(plan);
  m_fake.tag(m_ids[9], "probe/cut-off:1");
  expect_reconnected(before);
  expect_equal_to_fresh_sync();
  EXPECT_NE(m_tracker->read([](const sync::GraphTracker& t) {
    return t.graph().find_by_reference("probe/cut-off:1");
  }),
            nullptr);
}

TEST_F(TrackerFaults, podmans_500_for_a_container_already_removed_means_gone) {
  // Podman answers the inspect of a container removed since its event with a 500 that says so.
  const auto before = m_tracker->stats();
  FakeContainer container;
  container.id = std::string(64, 'd');
  container.image_id = m_ids[3];
  FaultPlan plan;
  RequestFault removed;
  removed.method = "GET";
  removed.path_contains = "/containers/" + container.id;
  removed.status = 500;
  removed.message = "container " + container.id + " does not exist in database: no such container";
  removed.times = 1;
  plan.requests.push_back(removed);
  m_fake.set_faults(plan);
  m_fake.add_container(container);
  m_fake.remove_container(container.id);
  expect_events_flow("probe/after-removal:1");
  expect_equal_to_fresh_sync();
  const auto after = m_tracker->stats();
  EXPECT_EQ(after.connections, before.connections) << "a missing object is not a broken engine";
  EXPECT_EQ(after.engine_errors, before.engine_errors);
}

TEST_F(TrackerFaults, dockers_500_for_an_image_being_deleted_means_gone) {
  // dockerd answers the inspect of an image whose delete is under way (the untag event comes
  // first) with a 500 "layer does not exist": its layers are already released.
  FakeImage image;
  image.id = "sha256:" + std::string(64, 'e');
  image.layers = {{"sha256:" + std::string(64, 'f'), 4096}};
  image.tags = {"probe/going:1"};
  m_fake.add_image(image);
  ASSERT_TRUE(m_tracker->wait_for([&](const sync::GraphTracker& t) {
    return t.graph().find_by_reference("probe/going:1") != nullptr;
  }));
  const auto before = m_tracker->stats();
  FaultPlan plan;
  RequestFault deleting;
  deleting.method = "GET";
  deleting.path_contains = "/images/" + image.id + "/json";
  deleting.status = 500;
  deleting.message = "layer does not exist";
  deleting.times = 1;
  plan.requests.push_back(deleting);
  m_fake.set_faults(plan);
  ASSERT_EQ(m_fake.remove_image(image.id).status, 200);
  expect_events_flow("probe/after-delete:1");
  expect_equal_to_fresh_sync();
  const auto after = m_tracker->stats();
  EXPECT_EQ(after.connections, before.connections) << "a missing object is not a broken engine";
  EXPECT_EQ(after.engine_errors, before.engine_errors);
}

TEST_F(TrackerFaults, a_burst_of_events_is_applied_without_losing_the_stream) {
  const auto before = m_tracker->stats();
  for (int i = 0; i < 500; ++i) {
    m_fake.tag(m_ids[static_cast<std::size_t>(i) % m_ids.size()],
               "probe/burst:" + std::to_string(i % 50));
  }
  EXPECT_TRUE(m_tracker->wait_for(
      [&](const sync::GraphTracker& t) {
        return t.stats().events_received - before.events_received >= 500;
      },
      30s));
  expect_equal_to_fresh_sync(30s);
  EXPECT_EQ(m_tracker->stats().connections, before.connections);
}

TEST_F(TrackerFaults, a_backlog_past_the_queue_bound_is_dropped_for_a_re_list) {
  m_tracker.reset();
  auto small = options();
  small.max_queued_events = 16;
  m_tracker.emplace(m_fake.endpoint(), small);
  ASSERT_TRUE(m_tracker->wait_for([](const sync::GraphTracker& t) { return t.ready(); }));
  const auto before = m_tracker->stats();
  // The engine answers the re-reads slowly while the stream brings 200 events.
  FaultPlan plan;
  plan.requests.push_back(stall_fault("GET", "/images/", 300ms, 3));
  m_fake.set_faults(plan);
  for (int i = 0; i < 200; ++i) {
    m_fake.tag(m_ids[static_cast<std::size_t>(i) % m_ids.size()],
               "probe/backlog:" + std::to_string(i % 20));
  }
  EXPECT_TRUE(m_tracker->wait_for(
      [&](const sync::GraphTracker& t) { return t.stats().events_dropped > 0; }, 30s));
  m_fake.clear_faults();
  expect_equal_to_fresh_sync(30s);
  const auto after = m_tracker->stats();
  EXPECT_GT(after.resyncs, before.resyncs);
  EXPECT_EQ(after.connections, before.connections) << "the stream itself was never dropped";
}

} // namespace
} // namespace imagegc::test
