#pragma once

#include <chrono>
#include <random>

#include "policy/policy.hpp"

namespace imagegc::gc {

// When the next scheduled pass runs: the next cron match, or `after` plus the interval; either
// plus a random delay up to the jitter, so a fleet does not hit its registry-fed hosts at once.
std::chrono::system_clock::time_point next_pass_time(const policy::Schedule& schedule,
                                                     std::chrono::system_clock::time_point after,
                                                     std::mt19937_64& random);

} // namespace imagegc::gc
