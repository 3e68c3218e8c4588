#include "policy/units.hpp"

#include <array>
#include <charconv>
#include <limits>
#include <utility>

namespace imagegc::policy {
namespace {

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

// Reads a run of decimal digits at `pos` into `value`; false when there is none or it does not
// fit. Leading zeros are fine.
bool read_digits(std::string_view text, std::size_t& pos, std::uint64_t& value,
                 std::uint64_t limit) {
  const std::size_t start = pos;
  value = 0;
  while (pos < text.size() && is_digit(text[pos])) {
    const auto digit = static_cast<std::uint64_t>(text[pos] - '0');
    if (value > (limit - digit) / 10) {
      return false;
    }
    value = value * 10 + digit;
    ++pos;
  }
  return pos > start;
}

} // namespace

std::optional<std::chrono::seconds> parse_duration(std::string_view text) {
  struct Unit {
    char suffix;
    std::int64_t seconds;
  };
  // Largest first: a sum must name its units in this order, each once ("1h30m", not "30m1h").
  static constexpr std::array<Unit, 5> k_units = {{{'w', std::int64_t{7} * 24 * 3600},
                                                   {'d', std::int64_t{24} * 3600},
                                                   {'h', 3600},
                                                   {'m', 60},
                                                   {'s', 1}}};
  const auto limit = static_cast<std::uint64_t>(k_max_duration.count());

  if (text.empty()) {
    return std::nullopt;
  }
  std::uint64_t total = 0;
  std::size_t next_unit = 0; // index into k_units of the smallest unit still allowed
  std::size_t pos = 0;
  while (pos < text.size()) {
    std::uint64_t amount = 0;
    if (!read_digits(text, pos, amount, limit) || pos == text.size()) {
      return std::nullopt; // no number, too large, or a bare number without a unit
    }
    const char suffix = text[pos++];
    std::size_t unit = next_unit;
    while (unit < k_units.size() && k_units[unit].suffix != suffix) {
      ++unit;
    }
    if (unit == k_units.size()) {
      return std::nullopt; // unknown unit, or a unit out of order or repeated
    }
    next_unit = unit + 1;
    const auto unit_seconds = static_cast<std::uint64_t>(k_units[unit].seconds);
    if (amount > (limit - total) / unit_seconds) {
      return std::nullopt;
    }
    total += amount * unit_seconds;
  }
  return std::chrono::seconds{static_cast<std::int64_t>(total)};
}

std::optional<std::int64_t> parse_size(std::string_view text) {
  static constexpr std::int64_t k_kilo = 1000;
  static constexpr std::int64_t k_kibi = 1024;
  static constexpr std::array<std::pair<std::string_view, std::int64_t>, 12> k_units = {{
      {"B", 1},
      {"kB", k_kilo},
      {"KB", k_kilo},
      {"MB", k_kilo * k_kilo},
      {"GB", k_kilo * k_kilo * k_kilo},
      {"TB", k_kilo * k_kilo * k_kilo * k_kilo},
      {"PB", k_kilo * k_kilo * k_kilo * k_kilo * k_kilo},
      {"KiB", k_kibi},
      {"MiB", k_kibi * k_kibi},
      {"GiB", k_kibi * k_kibi * k_kibi},
      {"TiB", k_kibi * k_kibi * k_kibi * k_kibi},
      {"PiB", k_kibi * k_kibi * k_kibi * k_kibi * k_kibi},
  }};
  const auto limit = static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max());

  std::size_t pos = 0;
  std::uint64_t whole = 0;
  if (!read_digits(text, pos, whole, limit)) {
    return std::nullopt;
  }
  // The fraction is kept as digits over a power of ten so "1.5GiB" is exact, not a double.
  std::uint64_t fraction = 0;
  std::uint64_t fraction_scale = 1;
  if (pos < text.size() && text[pos] == '.') {
    ++pos;
    const std::size_t start = pos;
    while (pos < text.size() && is_digit(text[pos])) {
      if (pos - start >= 9) {
        return std::nullopt; // more precision than a byte count can use
      }
      fraction = fraction * 10 + static_cast<std::uint64_t>(text[pos] - '0');
      fraction_scale *= 10;
      ++pos;
    }
    if (pos == start) {
      return std::nullopt; // "5." or "5.GB"
    }
  }

  const std::string_view suffix = text.substr(pos);
  std::int64_t multiplier = 0;
  if (suffix.empty()) {
    multiplier = 1;
  }
  for (const auto& [name, bytes] : k_units) {
    if (suffix == name) {
      multiplier = bytes;
    }
  }
  if (multiplier == 0) {
    return std::nullopt;
  }
  if (multiplier == 1 && fraction_scale > 1) {
    return std::nullopt; // fractional bytes
  }

  const auto unit = static_cast<std::uint64_t>(multiplier);
  if (whole > limit / unit) {
    return std::nullopt;
  }
  const std::uint64_t whole_bytes = whole * unit;
  // floor(unit * fraction / scale) without overflow: with unit = q * scale + r, it is
  // q * fraction + floor(r * fraction / scale), and r, fraction < scale <= 10^9.
  const std::uint64_t fraction_bytes =
      unit / fraction_scale * fraction + unit % fraction_scale * fraction / fraction_scale;
  if (fraction_bytes > limit - whole_bytes) {
    return std::nullopt;
  }
  return static_cast<std::int64_t>(whole_bytes + fraction_bytes);
}

std::optional<double> parse_percent(std::string_view text) {
  // Digits, an optional fraction, then '%': this excludes signs, exponents, "nan" and "inf"
  // before any floating-point conversion happens.
  if (text.size() < 2 || text.back() != '%') {
    return std::nullopt;
  }
  const std::string_view number = text.substr(0, text.size() - 1);
  std::size_t pos = 0;
  std::uint64_t whole = 0;
  if (!read_digits(number, pos, whole, 1000)) {
    return std::nullopt;
  }
  if (pos < number.size()) {
    if (number[pos] != '.') {
      return std::nullopt;
    }
    ++pos;
    if (pos == number.size()) {
      return std::nullopt;
    }
    for (; pos < number.size(); ++pos) {
      if (!is_digit(number[pos])) {
        return std::nullopt;
      }
    }
  }
  double value = 0;
  const auto [end, error] = std::from_chars(number.data(), number.data() + number.size(), value);
  if (error != std::errc{} || end != number.data() + number.size() || value > 100.0) {
    return std::nullopt;
  }
  return value;
}

} // namespace imagegc::policy
