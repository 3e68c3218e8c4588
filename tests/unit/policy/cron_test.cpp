#include <cstdlib>
#include <ctime>
#include <iomanip>
#include <sstream>
#include <string>
#include <string_view>

#include <gtest/gtest.h>

#include "policy/cron.hpp"

namespace imagegc::policy {
namespace {

using Clock = std::chrono::system_clock;

// Runs every test in a fixed time zone and puts the previous one back afterwards.
class CronTest : public testing::Test {
protected:
  void SetUp() override {
    if (const char* zone = std::getenv("TZ")) {
      m_saved_zone = zone;
    }
    use_zone("UTC");
  }

  void TearDown() override {
    if (m_saved_zone) {
      use_zone(m_saved_zone->c_str());
    } else {
      unsetenv("TZ");
      tzset();
    }
  }

  static void use_zone(const char* zone) {
    setenv("TZ", zone, 1);
    tzset();
  }

  static CronExpression cron(std::string_view text) {
    std::string error;
    auto expression = CronExpression::parse(text, error);
    EXPECT_TRUE(expression.has_value()) << text << ": " << error;
    return expression.value_or(CronExpression{});
  }

  static std::string error_of(std::string_view text) {
    std::string error;
    EXPECT_FALSE(CronExpression::parse(text, error).has_value()) << text;
    return error;
  }

  // A local time, "2026-01-31 12:00" or "2026-01-31 12:00:30".
  static Clock::time_point at(const char* text) {
    const std::string_view view(text);
    std::tm parts{};
    std::istringstream in{std::string(view)};
    in >> std::get_time(&parts, view.size() > 16 ? "%Y-%m-%d %H:%M:%S" : "%Y-%m-%d %H:%M");
    EXPECT_FALSE(in.fail()) << text;
    parts.tm_isdst = -1;
    return Clock::from_time_t(std::mktime(&parts));
  }

  static std::string local(Clock::time_point time) {
    if (time == Clock::time_point::max()) {
      return "never";
    }
    const std::time_t seconds = Clock::to_time_t(time);
    std::tm parts{};
    localtime_r(&seconds, &parts);
    char text[64];
    std::strftime(text, sizeof text, "%Y-%m-%d %H:%M %a", &parts);
    return text;
  }

  static std::string next(std::string_view expression, const char* after) {
    return local(cron(expression).next_after(at(after)));
  }

private:
  std::optional<std::string> m_saved_zone;
};

TEST_F(CronTest, next_is_the_following_whole_minute_strictly_after) {
  EXPECT_EQ(next("* * * * *", "2026-05-01 10:00:30"), "2026-05-01 10:01 Fri");
  EXPECT_EQ(next("* * * * *", "2026-05-01 10:00:00"), "2026-05-01 10:01 Fri");
  EXPECT_EQ(next("* * * * *", "2026-05-01 10:00:59"), "2026-05-01 10:01 Fri");
  const auto just_before = at("2026-05-01 10:01:00") - std::chrono::nanoseconds{1};
  EXPECT_EQ(local(cron("* * * * *").next_after(just_before)), "2026-05-01 10:01 Fri");
}

TEST_F(CronTest, steps_ranges_and_lists) {
  EXPECT_EQ(next("*/15 * * * *", "2026-05-01 10:01"), "2026-05-01 10:15 Fri");
  EXPECT_EQ(next("*/15 * * * *", "2026-05-01 10:45"), "2026-05-01 11:00 Fri");
  EXPECT_EQ(next("0 9-17/4 * * *", "2026-05-01 09:00"), "2026-05-01 13:00 Fri");
  EXPECT_EQ(next("0 9-17/4 * * *", "2026-05-01 13:00"), "2026-05-01 17:00 Fri");
  EXPECT_EQ(next("0 9-17/4 * * *", "2026-05-01 17:00"), "2026-05-02 09:00 Sat");
  EXPECT_EQ(next("5,10,50-52 * * * *", "2026-05-01 10:10"), "2026-05-01 10:50 Fri");
  EXPECT_EQ(next("5,10,50-52 * * * *", "2026-05-01 10:52"), "2026-05-01 11:05 Fri");
  // "5/15" runs from 5 to the end of the range.
  EXPECT_EQ(next("5/15 * * * *", "2026-05-01 10:36"), "2026-05-01 10:50 Fri");
  EXPECT_EQ(next("5/15 * * * *", "2026-05-01 10:50"), "2026-05-01 11:05 Fri");
}

TEST_F(CronTest, crosses_day_month_and_year_ends) {
  EXPECT_EQ(next("30 3 * * *", "2026-05-01 23:00"), "2026-05-02 03:30 Sat");
  EXPECT_EQ(next("0 0 1 * *", "2026-01-31 12:00"), "2026-02-01 00:00 Sun");
  EXPECT_EQ(next("0 0 31 * *", "2026-01-31 12:00"), "2026-03-31 00:00 Tue");
  EXPECT_EQ(next("0 0 1 1 *", "2025-12-31 23:59"), "2026-01-01 00:00 Thu");
  EXPECT_EQ(next("59 23 31 12 *", "2026-01-01 00:00"), "2026-12-31 23:59 Thu");
}

TEST_F(CronTest, february_29_waits_for_a_leap_year) {
  EXPECT_EQ(next("0 0 29 2 *", "2025-03-01 00:00"), "2028-02-29 00:00 Tue");
  EXPECT_EQ(next("0 0 29 2 *", "2028-02-29 00:00"), "2032-02-29 00:00 Sun");
  // 2100 is not a leap year: eight years from 2096 to 2104.
  EXPECT_EQ(next("0 0 29 2 *", "2096-03-01 00:00"), "2104-02-29 00:00 Fri");
  // The 1st of February that is also a Monday: eleven years from 2027 to 2038.
  EXPECT_EQ(next("0 0 */31 2 mon", "2027-02-02 00:00"), "2038-02-01 00:00 Mon");
}

TEST_F(CronTest, a_schedule_that_never_fires_ends_at_the_search_bound) {
  EXPECT_EQ(next("0 0 30 2 *", "2026-01-01 00:00"), "never");
  EXPECT_EQ(next("0 0 31 4,6,9,11 *", "2026-01-01 00:00"), "never");
  EXPECT_EQ(local(cron("* * * * *").next_after(Clock::time_point::max())), "never");
  EXPECT_EQ(local(CronExpression{}.next_after(at("2026-01-01 00:00"))), "never");
}

TEST_F(CronTest, names_are_accepted_in_any_case) {
  EXPECT_EQ(next("0 12 * jan,jul mon-fri", "2026-05-01 00:00"), "2026-07-01 12:00 Wed");
  EXPECT_EQ(next("0 12 * JAN-Mar SAT", "2026-05-01 00:00"), "2027-01-02 12:00 Sat");
  EXPECT_EQ(next("0 12 * * Sun", "2026-05-01 00:00"), "2026-05-03 12:00 Sun");
}

TEST_F(CronTest, seven_is_sunday) {
  EXPECT_EQ(next("0 0 * * 7", "2026-05-01 00:00"), "2026-05-03 00:00 Sun");
  EXPECT_EQ(next("0 0 * * 0", "2026-05-01 00:00"), "2026-05-03 00:00 Sun");
  EXPECT_EQ(next("0 0 * * 6-7", "2026-05-02 00:00"), "2026-05-03 00:00 Sun");
}

TEST_F(CronTest, either_restricted_day_field_may_match) {
  // 2026-01-01 is a Thursday: Friday the 2nd comes before the 13th.
  EXPECT_EQ(next("0 0 13 * fri", "2026-01-01 00:00"), "2026-01-02 00:00 Fri");
  EXPECT_EQ(next("0 0 13 * fri", "2026-01-09 00:00"), "2026-01-13 00:00 Tue");
  // A day field starting with '*' does not count as restricted: both must match.
  EXPECT_EQ(next("0 0 */2 * mon", "2026-01-01 00:00"), "2026-01-05 00:00 Mon");
  EXPECT_EQ(next("0 0 */2 * mon", "2026-01-05 00:00"), "2026-01-19 00:00 Mon");
  EXPECT_EQ(next("0 0 1 * *", "2026-01-01 00:00"), "2026-02-01 00:00 Sun");
  EXPECT_EQ(next("0 0 * * mon", "2026-01-01 00:00"), "2026-01-05 00:00 Mon");
}

TEST_F(CronTest, keeps_its_text) {
  EXPECT_EQ(cron("30  3 * * *").text(), "30  3 * * *");
}

TEST_F(CronTest, accepts_tabs_and_surrounding_space) {
  EXPECT_EQ(next(" 30\t3 * * * ", "2026-05-01 00:00"), "2026-05-01 03:30 Fri");
}

TEST_F(CronTest, reports_which_field_is_wrong) {
  EXPECT_EQ(error_of(""), "expected 5 fields (minute hour day-of-month month day-of-week), got 0");
  EXPECT_EQ(error_of("* * * *"),
            "expected 5 fields (minute hour day-of-month month day-of-week), got 4");
  EXPECT_EQ(error_of("* * * * * *"),
            "expected 5 fields (minute hour day-of-month month day-of-week), got 6");
  EXPECT_EQ(error_of("60 * * * *"), "field 1 (minute): 60 is out of range 0-59");
  EXPECT_EQ(error_of("* 25 * * *"), "field 2 (hour): 25 is out of range 0-23");
  EXPECT_EQ(error_of("* * 0 * *"), "field 3 (day of month): 0 is out of range 1-31");
  EXPECT_EQ(error_of("* * * 13 *"), "field 4 (month): 13 is out of range 1-12");
  EXPECT_EQ(error_of("* * * * 8"), "field 5 (day of week): 8 is out of range 0-7");
  EXPECT_EQ(error_of("*/0 * * * *"), "field 1 (minute): step must be at least 1");
  EXPECT_EQ(error_of("*/x * * * *"), "field 1 (minute): step \"x\" is not a number");
  EXPECT_EQ(error_of("5-1 * * * *"), "field 1 (minute): range 5-1 goes backwards");
  EXPECT_EQ(error_of("a * * * *"), "field 1 (minute): \"a\" is not a number");
  EXPECT_EQ(error_of("* * * foo *"), "field 4 (month): \"foo\" is not a number or a name");
  EXPECT_EQ(error_of("1,,2 * * * *"), "field 1 (minute): empty list item");
  EXPECT_EQ(error_of("-1 * * * *"), "field 1 (minute): \"\" is not a number");
  EXPECT_EQ(error_of("1- * * * *"), "field 1 (minute): \"\" is not a number");
  EXPECT_EQ(error_of("99999999999 * * * *"), "field 1 (minute): \"99999999999\" is not a number");
  EXPECT_EQ(error_of("* * * * mon-sun"), "field 5 (day of week): range mon-sun goes backwards");
  EXPECT_FALSE(error_of("@daily").empty());
}

TEST_F(CronTest, fixed_times_run_once_when_clocks_go_back) {
  // US Eastern without tzdata: clocks go back from 02:00 EDT to 01:00 EST on 2026-11-01.
  use_zone("EST5EDT,M3.2.0,M11.1.0");
  const auto first = cron("30 1 * * *").next_after(at("2026-11-01 00:00"));
  EXPECT_EQ(Clock::to_time_t(first), 1'793'511'000); // 05:30 UTC, 01:30 EDT
  EXPECT_EQ(local(cron("30 1 * * *").next_after(first)), "2026-11-02 01:30 Mon");
  // A schedule for every hour runs through the repeated hour.
  const auto hourly = cron("0 * * * *");
  const auto one_edt = hourly.next_after(at("2026-11-01 00:30"));
  const auto one_est = hourly.next_after(one_edt);
  EXPECT_EQ(one_est - one_edt, std::chrono::hours{1});
  EXPECT_EQ(local(hourly.next_after(one_est)), "2026-11-01 02:00 Sun");
}

TEST_F(CronTest, fixed_times_in_a_skipped_hour_wait_for_the_next_day) {
  // Clocks go forward from 02:00 EST to 03:00 EDT on 2026-03-08.
  use_zone("EST5EDT,M3.2.0,M11.1.0");
  EXPECT_EQ(next("30 2 * * *", "2026-03-07 12:00"), "2026-03-09 02:30 Mon");
  EXPECT_EQ(next("0 * * * *", "2026-03-08 01:30"), "2026-03-08 03:00 Sun");
  EXPECT_EQ(next("0 0 * * *", "2026-03-07 12:00"), "2026-03-08 00:00 Sun");
}

} // namespace
} // namespace imagegc::policy
