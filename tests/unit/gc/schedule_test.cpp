#include <cstdlib>
#include <ctime>
#include <set>

#include <gtest/gtest.h>

#include "gc/schedule.hpp"

namespace imagegc::gc {
namespace {

using std::chrono::seconds;
using std::chrono::system_clock;

TEST(Schedule, interval_adds_up_to_the_jitter) {
  policy::Schedule schedule;
  schedule.interval = std::chrono::hours(1);
  schedule.jitter = std::chrono::minutes(5);
  std::mt19937_64 random(1);
  const auto start = system_clock::from_time_t(1'700'000'000);
  std::set<std::int64_t> delays;
  for (int i = 0; i < 200; ++i) {
    const auto delay =
        std::chrono::duration_cast<seconds>(next_pass_time(schedule, start, random) - start);
    EXPECT_GE(delay, std::chrono::hours(1));
    EXPECT_LE(delay, std::chrono::hours(1) + std::chrono::minutes(5));
    delays.insert(delay.count());
  }
  EXPECT_GT(delays.size(), 50u) << "the jitter spreads passes";
}

TEST(Schedule, without_jitter_the_interval_is_exact) {
  policy::Schedule schedule;
  schedule.interval = std::chrono::minutes(30);
  std::mt19937_64 random(1);
  const auto start = system_clock::from_time_t(1'700'000'000);
  EXPECT_EQ(next_pass_time(schedule, start, random), start + std::chrono::minutes(30));
}

TEST(Schedule, cron_takes_the_next_matching_minute) {
  ::setenv("TZ", "UTC", 1);
  ::tzset();
  std::string error;
  policy::Schedule schedule;
  schedule.cron = policy::CronExpression::parse("0 3 * * *", error);
  ASSERT_TRUE(schedule.cron.has_value()) << error;
  std::mt19937_64 random(1);
  // 2023-11-14T22:13:20Z → next 03:00 is 2023-11-15T03:00:00Z.
  const auto start = system_clock::from_time_t(1'700'000'000);
  EXPECT_EQ(system_clock::to_time_t(next_pass_time(schedule, start, random)), 1'700'017'200);
}

} // namespace
} // namespace imagegc::gc
