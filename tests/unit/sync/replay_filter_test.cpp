#include <gtest/gtest.h>

#include "sync/replay_filter.hpp"

namespace imagegc::sync {
namespace {

engine::Event event(std::string action, std::string actor, std::int64_t time_nano) {
  engine::Event result;
  result.type = "image";
  result.action = std::move(action);
  result.actor_id = std::move(actor);
  result.time_nano = time_nano;
  return result;
}

TEST(ReplayFilter, resumes_from_the_last_timestamp_seen) {
  ReplayFilter filter;
  EXPECT_FALSE(filter.resume_from().has_value());
  EXPECT_FALSE(filter.seen(event("tag", "a", 100)));
  EXPECT_FALSE(filter.seen(event("tag", "b", 250)));
  EXPECT_EQ(filter.resume_from(), 250);
}

TEST(ReplayFilter, the_inclusive_boundary_replayed_after_a_reconnect_is_recognised) {
  ReplayFilter filter;
  EXPECT_FALSE(filter.seen(event("tag", "a", 100)));
  EXPECT_FALSE(filter.seen(event("untag", "b", 200)));
  EXPECT_FALSE(filter.seen(event("tag", "c", 200)));
  // Reconnected with since=200: the engine sends both events at 200 again, then new ones.
  EXPECT_TRUE(filter.seen(event("untag", "b", 200)));
  EXPECT_TRUE(filter.seen(event("tag", "c", 200)));
  EXPECT_FALSE(filter.seen(event("delete", "c", 200))) << "a different event at the same time";
  EXPECT_FALSE(filter.seen(event("tag", "d", 300)));
  EXPECT_TRUE(filter.seen(event("tag", "a", 100))) << "older than the boundary";
}

// Recorded from Podman 4.3: `podman rmi -f` of an image a running container used. The delete is
// stamped when the removal started and written after the container's die and remove, which are
// stamped later; a compatible-API delete is also stamped 13 µs before its untag.
TEST(ReplayFilter, podman_events_stamped_out_of_order_are_new_not_replays) {
  ReplayFilter filter;
  EXPECT_FALSE(filter.seen(event("untag", "i", 1795997204168547390)));
  EXPECT_FALSE(filter.seen(event("delete", "i", 1795997204168534396)));
  EXPECT_FALSE(filter.seen(event("untag", "j", 1795997209441655421)));
  EXPECT_FALSE(filter.seen(event("delete", "j", 1795997204370231341)));
  EXPECT_EQ(filter.resume_from(), 1795997209441655421) << "resumes from the latest stamp";
  // Podman replays from its events file by stamp: the same events again are duplicates.
  EXPECT_TRUE(filter.seen(event("untag", "j", 1795997209441655421)));
  EXPECT_TRUE(filter.seen(event("delete", "j", 1795997204370231341)));
}

TEST(ReplayFilter, forgets_the_oldest_identities_beyond_its_bound) {
  ReplayFilter filter;
  for (std::int64_t i = 1; i <= static_cast<std::int64_t>(ReplayFilter::k_remembered) + 1; ++i) {
    EXPECT_FALSE(filter.seen(event("tag", "a", i)));
  }
  EXPECT_FALSE(filter.seen(event("tag", "a", 1))) << "the first one was forgotten";
  EXPECT_TRUE(filter.seen(event("tag", "a", 3)));
}

} // namespace
} // namespace imagegc::sync
