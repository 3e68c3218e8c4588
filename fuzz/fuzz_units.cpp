// The small parsers of policy values. The first line of the input names the parser
// ("duration", "size", "percent", "cron", "glob", "regex", "reference"); the rest is its text.
// For the patterns, the text is "<pattern>\n<subject>" and the subject is matched.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "policy/cron.hpp"
#include "policy/policy.hpp"
#include "policy/units.hpp"

namespace {

namespace policy = imagegc::policy;

void match_pattern(std::string_view kind, std::string_view text) {
  const auto newline = text.find('\n');
  const auto pattern_text = text.substr(0, newline);
  const auto subject =
      newline == std::string_view::npos ? std::string_view{} : text.substr(newline + 1);
  std::string error;
  const auto pattern = kind == "glob" ? policy::Pattern::glob(pattern_text, error)
                                      : policy::Pattern::regex(pattern_text, error);
  if (!pattern) {
    if (error.empty()) {
      std::abort();
    }
    return;
  }
  (void)pattern->matches(subject);
}

void next_times(const policy::CronExpression& cron) {
  // A fixed start, so that a run is reproducible; a few steps, as a schedule takes them.
  auto time = std::chrono::system_clock::time_point{std::chrono::seconds{1700000000}};
  for (int step = 0; step < 3; ++step) {
    const auto next = cron.next_after(time);
    if (next <= time) {
      return; // no further match (an expression such as Feb 30)
    }
    time = next;
  }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const auto newline = input.find('\n');
  if (newline == std::string_view::npos) {
    return 0;
  }
  const auto kind = input.substr(0, newline);
  const auto text = input.substr(newline + 1);
  if (kind == "duration") {
    const auto duration = policy::parse_duration(text);
    if (duration && (*duration < std::chrono::seconds{0} || *duration > policy::k_max_duration)) {
      std::abort();
    }
  } else if (kind == "size") {
    const auto bytes = policy::parse_size(text);
    if (bytes && *bytes < 0) {
      std::abort();
    }
  } else if (kind == "percent") {
    const auto percent = policy::parse_percent(text);
    if (percent && !(*percent >= 0.0 && *percent <= 100.0)) {
      std::abort();
    }
  } else if (kind == "cron") {
    std::string error;
    const auto cron = policy::CronExpression::parse(text, error);
    if (!cron) {
      if (error.empty()) {
        std::abort();
      }
      return 0;
    }
    next_times(*cron);
  } else if (kind == "glob" || kind == "regex") {
    match_pattern(kind, text);
  } else if (kind == "reference") {
    (void)policy::repository_of(text);
    (void)policy::tag_of(text);
  }
  return 0;
}
