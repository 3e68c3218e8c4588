#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace imagegc::policy {

// A standard 5-field cron expression: minute hour day-of-month month day-of-week, with lists
// (1,5), ranges (1-5), steps (*/15, 1-30/5), names (jan-dec, sun-sat), 7 as Sunday, and the
// classic rule that when both day fields are restricted either may match.
class CronExpression {
public:
  // nullopt and `error` set ("field 2 (hour): 25 is out of range 0-23") when invalid.
  static std::optional<CronExpression> parse(std::string_view text, std::string& error);

  // The first matching minute strictly after `after`, in the machine's local time zone.
  [[nodiscard]] std::chrono::system_clock::time_point
  next_after(std::chrono::system_clock::time_point after) const;

  [[nodiscard]] const std::string& text() const { return m_text; }

private:
  std::string m_text;
  std::uint64_t m_minutes = 0;       // bit per minute 0-59
  std::uint32_t m_hours = 0;         // bit per hour 0-23
  std::uint32_t m_days_of_month = 0; // bit per day 1-31
  std::uint16_t m_months = 0;        // bit per month 1-12
  std::uint8_t m_days_of_week = 0;   // bit per day 0-6, Sunday = 0
  bool m_day_of_month_restricted = false;
  bool m_day_of_week_restricted = false;
};

} // namespace imagegc::policy
