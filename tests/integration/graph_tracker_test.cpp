// The graph kept current from the events stream alone equals a fresh sync after a sequence of
// changes made with the docker CLI.

#include <chrono>
#include <future>
#include <thread>

#include <boost/asio/post.hpp>
#include <gtest/gtest.h>

#include "support/engine_test.hpp"
#include "support/running_tracker.hpp"
#include "sync/graph_tracker.hpp"

namespace imagegc::test {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;

std::string one_layer(int bytes, const std::string& name) {
  return "FROM busybox:latest\nRUN head -c " + std::to_string(bytes) + " /dev/urandom > /" + name +
         "\n";
}

class GraphTracking : public EngineTest {};

TEST_F(GraphTracking, events_alone_keep_the_graph_equal_to_a_fresh_sync) {
  sync::TrackerOptions options;
  options.resync_interval = std::chrono::hours(24); // only the initial re-list may happen
  RunningTracker tracker(engine().endpoint(), options);
  ASSERT_TRUE(tracker.wait_for([](const sync::GraphTracker& t) { return t.ready(); }))
      << "the tracker never synced";

  // tag / untag / rmi / build / create / rm, as people and CI jobs do them.
  engine().build(one_layer(30'000, "a") + "RUN head -c 20000 /dev/urandom > /a2\n", "seq/a:1",
                 false);
  engine().docker("tag seq/a:1 seq/a:2");
  engine().docker("tag seq/a:1 seq/other:latest");
  engine().docker("rmi seq/a:2");
  engine().build(one_layer(40'000, "b"), "seq/b:1", true);
  engine().build(one_layer(41'000, "b"), "seq/b:1", true); // moves the tag: no untag event
  engine().build(one_layer(50'000, "c") + "RUN echo c > /c2\n", "seq/c:1", false);
  engine().docker("create --network none --name seq-user seq/c:1 true");
  engine().docker("run -d --network none --name seq-runner seq/a:1 sleep 600");
  engine().docker("rm seq-user");
  engine().docker("rmi seq/other:latest");
  engine().build(one_layer(60'000, "d"), "seq/d:1", false);
  engine().docker("rmi seq/d:1");
  engine().docker("tag busybox:latest seq/marker:done");

  ASSERT_TRUE(tracker.wait_for([](const sync::GraphTracker& t) {
    return t.graph().find_by_reference("seq/marker:done") != nullptr;
  })) << "the marker tag never arrived through the events";

  const auto fresh = engine().load_graph();
  const auto differences = tracker.read([&](const sync::GraphTracker& t) {
    return graph::ImageGraph::differences(fresh, t.graph());
  });
  EXPECT_TRUE(differences.empty())
      << differences.size()
      << " difference(s), first: " << (differences.empty() ? "" : differences.front());
  const auto stats = tracker.read([](const sync::GraphTracker& t) { return t.stats(); });
  EXPECT_EQ(stats.resyncs, 1u) << "only the initial re-list: everything else came from events";
  EXPECT_GT(stats.events_applied, 10u);
  EXPECT_EQ(stats.events_malformed, 0u);
}

TEST_F(GraphTracking, an_untagged_legacy_build_is_found_although_no_event_names_it) {
  sync::TrackerOptions options;
  options.resync_interval = std::chrono::hours(24);
  RunningTracker tracker(engine().endpoint(), options);
  ASSERT_TRUE(tracker.wait_for([](const sync::GraphTracker& t) { return t.ready(); }));

  // The legacy builder commits its images without events, and an untagged build sends no tag:
  // the only trace is its containers going away.
  const auto silent = engine().build(one_layer(20'000, "s") + "LABEL silent=yes\n", "", false);
  ASSERT_TRUE(tracker.wait_for([&](const sync::GraphTracker& t) {
    return t.graph().find_image(silent) != nullptr;
  })) << "the untagged build never showed up";
  const auto stats = tracker.read([](const sync::GraphTracker& t) { return t.stats(); });
  EXPECT_EQ(stats.resyncs, 1u) << "found without a re-list";
  EXPECT_GE(stats.silent_images_found, 1u);
  EXPECT_EQ(tracker.read([&](const sync::GraphTracker& t) { return t.graph().state(silent); }),
            graph::ImageState::dangling);

  // A re-list now finds nothing to correct.
  tracker.read([](sync::GraphTracker& t) {
    t.request_resync();
    return 0;
  });
  ASSERT_TRUE(tracker.wait_for([](const sync::GraphTracker& t) { return t.stats().resyncs >= 2; }));
  EXPECT_EQ(tracker.read([](const sync::GraphTracker& t) { return t.stats().resync_corrections; }),
            0u);
  const auto fresh = engine().load_graph();
  EXPECT_TRUE(tracker.read([&](const sync::GraphTracker& t) {
    return graph::ImageGraph::differences(fresh, t.graph()).empty();
  }));
}

} // namespace
} // namespace imagegc::test
