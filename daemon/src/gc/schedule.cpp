#include "gc/schedule.hpp"

namespace imagegc::gc {

std::chrono::system_clock::time_point next_pass_time(const policy::Schedule& schedule,
                                                     std::chrono::system_clock::time_point after,
                                                     std::mt19937_64& random) {
  std::chrono::system_clock::time_point next;
  if (schedule.cron) {
    next = schedule.cron->next_after(after);
  } else {
    next = after + schedule.interval.value_or(std::chrono::hours(1));
  }
  if (next == std::chrono::system_clock::time_point::max() || schedule.jitter.count() <= 0) {
    return next;
  }
  std::uniform_int_distribution<std::int64_t> delay(0, schedule.jitter.count());
  return next + std::chrono::seconds(delay(random));
}

} // namespace imagegc::gc
