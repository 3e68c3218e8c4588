#include "policy/cron.hpp"

#include <array>
#include <cctype>
#include <ctime>
#include <optional>
#include <vector>

namespace imagegc::policy {
namespace {

struct FieldSpec {
  const char* name;
  int min;
  int max;
  // Names accepted in place of numbers, index i meaning min + i ("jan" = 1, "sun" = 0).
  const std::array<const char*, 12>* names;
  std::size_t name_count;
};

constexpr std::array<const char*, 12> k_month_names = {"jan", "feb", "mar", "apr", "may", "jun",
                                                       "jul", "aug", "sep", "oct", "nov", "dec"};
constexpr std::array<const char*, 12> k_day_names = {"sun", "mon", "tue", "wed", "thu", "fri",
                                                     "sat", "",    "",    "",    "",    ""};

// Day of week takes 0-7 so that 7 can mean Sunday; it is folded onto 0 after parsing.
constexpr std::array<FieldSpec, 5> k_fields = {{
    {"minute", 0, 59, nullptr, 0},
    {"hour", 0, 23, nullptr, 0},
    {"day of month", 1, 31, nullptr, 0},
    {"month", 1, 12, &k_month_names, 12},
    {"day of week", 0, 7, &k_day_names, 7},
}};

std::string lower(std::string_view text) {
  std::string result(text);
  for (char& c : result) {
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return result;
}

std::vector<std::string_view> split(std::string_view text, char separator) {
  std::vector<std::string_view> parts;
  std::size_t start = 0;
  while (true) {
    const std::size_t end = text.find(separator, start);
    parts.push_back(text.substr(start, end == std::string_view::npos ? end : end - start));
    if (end == std::string_view::npos) {
      return parts;
    }
    start = end + 1;
  }
}

class FieldParser {
public:
  FieldParser(const FieldSpec& spec, int index, std::string& error)
      : m_spec(spec), m_index(index), m_error(error) {}

  // Sets one bit per allowed value (bit v for value v).
  bool parse(std::string_view field, std::uint64_t& bits) {
    bits = 0;
    for (const std::string_view item : split(field, ',')) {
      if (!parse_item(item, bits)) {
        return false;
      }
    }
    return true;
  }

private:
  bool parse_item(std::string_view item, std::uint64_t& bits) {
    if (item.empty()) {
      return fail("empty list item");
    }
    std::string_view range = item;
    int step = 1;
    if (const std::size_t slash = item.find('/'); slash != std::string_view::npos) {
      range = item.substr(0, slash);
      const std::string_view step_text = item.substr(slash + 1);
      if (!parse_number(step_text, step)) {
        return fail("step \"" + std::string(step_text) + "\" is not a number");
      }
      if (step == 0) {
        return fail("step must be at least 1");
      }
    }
    int first = m_spec.min;
    int last = m_spec.max;
    if (range != "*") {
      const std::size_t dash = range.find('-');
      if (!parse_value(range.substr(0, dash), first)) {
        return false;
      }
      if (dash != std::string_view::npos) {
        if (!parse_value(range.substr(dash + 1), last)) {
          return false;
        }
        if (last < first) {
          return fail("range " + std::string(range) + " goes backwards");
        }
      } else if (range.size() == item.size()) {
        last = first; // a single value; "5/15" (no dash) runs from 5 to the maximum
      }
    }
    for (int value = first; value <= last; value += step) {
      bits |= std::uint64_t{1} << value;
    }
    return true;
  }

  bool parse_value(std::string_view text, int& value) {
    if (m_spec.names != nullptr) {
      const std::string name = lower(text);
      for (std::size_t i = 0; i < m_spec.name_count; ++i) {
        if (name == (*m_spec.names)[i]) {
          value = m_spec.min + static_cast<int>(i);
          return true;
        }
      }
    }
    if (!parse_number(text, value)) {
      return fail("\"" + std::string(text) + "\" is not a number" +
                  (m_spec.names != nullptr ? " or a name" : ""));
    }
    if (value < m_spec.min || value > m_spec.max) {
      return fail(std::string(text) + " is out of range " + std::to_string(m_spec.min) + "-" +
                  std::to_string(m_spec.max));
    }
    return true;
  }

  static bool parse_number(std::string_view text, int& value) {
    if (text.empty() || text.size() > 3) {
      return false;
    }
    value = 0;
    for (const char c : text) {
      if (c < '0' || c > '9') {
        return false;
      }
      value = value * 10 + (c - '0');
    }
    return true;
  }

  bool fail(const std::string& what) {
    m_error = "field " + std::to_string(m_index + 1) + " (" + m_spec.name + "): " + what;
    return false;
  }

  const FieldSpec& m_spec;
  int m_index;
  std::string& m_error;
};

constexpr std::time_t k_minute = 60;
constexpr std::time_t k_hour = 3600;
// A schedule with no match this far ahead never fires ("0 0 30 2 *"). Feb 29 can be eight years
// away (2096 to 2104) and a date that must also be a given weekday eleven, so this bound is safe
// and still only a few hundred steps for a schedule that never fires.
constexpr int k_search_years = 12;

// nullopt when the time is beyond what the C library can represent.
std::optional<std::tm> local_time(std::time_t time) {
  std::tm parts{};
  if (localtime_r(&time, &parts) == nullptr) {
    return std::nullopt;
  }
  return parts;
}

// Local midnight starting the given day; the day may overflow its month (mktime normalizes).
std::time_t local_midnight(int year, int month, int day) {
  std::tm parts{};
  parts.tm_year = year;
  parts.tm_mon = month;
  parts.tm_mday = day;
  parts.tm_isdst = -1;
  return std::mktime(&parts);
}

// Whether this local time already occurred earlier because the clock went back.
bool is_repeated_wall_time(std::time_t time, const std::tm& parts) {
  // Clock changes are at most a few hours, so three hours back shows the offset before one.
  const auto earlier = local_time(time - 3 * k_hour);
  if (!earlier || earlier->tm_gmtoff <= parts.tm_gmtoff) {
    return false;
  }
  const auto first = local_time(time - (earlier->tm_gmtoff - parts.tm_gmtoff));
  return first && first->tm_gmtoff == earlier->tm_gmtoff && first->tm_hour == parts.tm_hour &&
         first->tm_min == parts.tm_min && first->tm_mday == parts.tm_mday;
}

} // namespace

std::optional<CronExpression> CronExpression::parse(std::string_view text, std::string& error) {
  std::vector<std::string_view> fields;
  std::size_t pos = 0;
  while (pos < text.size()) {
    while (pos < text.size() && (text[pos] == ' ' || text[pos] == '\t')) {
      ++pos;
    }
    const std::size_t start = pos;
    while (pos < text.size() && text[pos] != ' ' && text[pos] != '\t') {
      ++pos;
    }
    if (pos > start) {
      fields.push_back(text.substr(start, pos - start));
    }
  }
  if (fields.size() != k_fields.size()) {
    error = "expected 5 fields (minute hour day-of-month month day-of-week), got " +
            std::to_string(fields.size());
    return std::nullopt;
  }

  std::array<std::uint64_t, 5> bits{};
  for (std::size_t i = 0; i < k_fields.size(); ++i) {
    FieldParser parser(k_fields[i], static_cast<int>(i), error);
    if (!parser.parse(fields[i], bits[i])) {
      return std::nullopt;
    }
  }
  // Sunday may be written 7; fold it onto 0.
  if ((bits[4] & (std::uint64_t{1} << 7)) != 0) {
    bits[4] = (bits[4] & 0x7F) | 1;
  }

  CronExpression expression;
  expression.m_text = std::string(text);
  expression.m_minutes = bits[0];
  expression.m_hours = static_cast<std::uint32_t>(bits[1]);
  expression.m_days_of_month = static_cast<std::uint32_t>(bits[2]);
  expression.m_months = static_cast<std::uint16_t>(bits[3]);
  expression.m_days_of_week = static_cast<std::uint8_t>(bits[4]);
  // As in Vixie cron: a day field counts as restricted unless it starts with '*', so
  // "0 0 1 * mon" runs on the 1st and on Mondays, while "0 0 */2 * mon" needs both.
  expression.m_day_of_month_restricted = fields[2].front() != '*';
  expression.m_day_of_week_restricted = fields[4].front() != '*';
  return expression;
}

std::chrono::system_clock::time_point
CronExpression::next_after(std::chrono::system_clock::time_point after) const {
  using Clock = std::chrono::system_clock;
  const auto never = Clock::time_point::max();
  if (m_minutes == 0) {
    return never; // a default-constructed expression
  }
  // Stay where time_t converts back to a time_point without overflow (a nanosecond clock ends in
  // 2262).
  const std::time_t horizon = Clock::to_time_t(never) - k_hour * 24 * 366 * k_search_years;
  std::time_t time = Clock::to_time_t(after);
  if (time >= horizon) {
    return never;
  }
  if (Clock::from_time_t(time) > after) {
    time -= 1; // to_time_t may round up
  }
  // The next whole minute strictly after `after`.
  time = time - (time % k_minute + k_minute) % k_minute + k_minute;
  const auto start = local_time(time);
  if (!start) {
    return never;
  }
  const int last_year = start->tm_year + k_search_years;

  const auto day_matches = [this](const std::tm& parts) {
    const bool day_of_month = (m_days_of_month & (1U << parts.tm_mday)) != 0;
    const bool day_of_week = (m_days_of_week & (1U << parts.tm_wday)) != 0;
    if (m_day_of_month_restricted && m_day_of_week_restricted) {
      return day_of_month || day_of_week;
    }
    return day_of_month && day_of_week;
  };

  // When clocks go back an hour repeats. Like Vixie cron, a schedule for fixed hours runs at the
  // first occurrence only, while one for every hour keeps running through both. When clocks go
  // forward, fixed times inside the skipped hour do not run that day.
  const bool every_hour = m_hours == (1U << 24) - 1;

  // Advance field by field, largest first: a month that does not match skips to the next month,
  // a day to the next midnight, an hour to the next hour, so even rare schedules take a few
  // thousand steps. A schedule that never fires ("0 0 30 2 *") ends at the year bound.
  while (true) {
    const auto parts = local_time(time);
    if (!parts || parts->tm_year > last_year) {
      return never;
    }
    std::time_t next = 0;
    if ((m_months & (1U << (parts->tm_mon + 1))) == 0) {
      next = local_midnight(parts->tm_year, parts->tm_mon + 1, 1);
    } else if (!day_matches(*parts)) {
      next = local_midnight(parts->tm_year, parts->tm_mon, parts->tm_mday + 1);
    } else if ((m_hours & (1U << parts->tm_hour)) == 0) {
      next = time - parts->tm_min * k_minute + k_hour;
    } else if ((m_minutes & (std::uint64_t{1} << parts->tm_min)) == 0 ||
               (!every_hour && is_repeated_wall_time(time, *parts))) {
      next = time + k_minute;
    } else {
      return Clock::from_time_t(time);
    }
    // mktime around a clock change may land at or before where we were; always move forward.
    time = next > time ? next : time + k_minute;
  }
}

} // namespace imagegc::policy
