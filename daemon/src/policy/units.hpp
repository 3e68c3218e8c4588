#pragma once
// Strict parsers for the quantities a policy file holds.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string_view>

namespace imagegc::policy {

// The longest duration accepted: far beyond any retention need, and small enough that
// `now - duration` cannot overflow a nanosecond system_clock.
inline constexpr std::chrono::seconds k_max_duration{100LL * 365 * 24 * 3600};

// "90s", "15m", "24h", "7d", "2w", and sums like "1h30m" (units largest first, each at most
// once). No bare numbers, no fractions, no negatives, nothing above k_max_duration.
std::optional<std::chrono::seconds> parse_duration(std::string_view text);
// "512MiB", "10GB", "1.5GiB", "4096" (bytes), "0". Decimal (kB, MB, GB, TB, PB) and binary
// (KiB, MiB, GiB, TiB, PiB) units; "B" allowed. Fractions need a unit above bytes and round down to
// whole bytes. Case matters ("mb" is rejected) except that "KB" is taken as "kB".
std::optional<std::int64_t> parse_size(std::string_view text);
// "85%" or "85.5%", 0 to 100 inclusive.
std::optional<double> parse_percent(std::string_view text);

} // namespace imagegc::policy
