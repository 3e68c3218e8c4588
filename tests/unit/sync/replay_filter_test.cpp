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

} // namespace
} // namespace imagegc::sync
