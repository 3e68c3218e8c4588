#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <unordered_set>

#include "engine/records.hpp"

namespace imagegc::sync {

// Recognises events already seen. A reconnect resumes with since=<latest timestamp seen>, and the
// engine replays that timestamp inclusively, so the boundary's events arrive twice; they are told
// apart by their identity (time, type, action, actor). Timestamps are not assumed to arrive in
// order: Podman stamps an event when the operation starts and writes it when it ends, so a
// `delete` can follow events stamped after it. Such an event is new, not a replay.
class ReplayFilter {
public:
  // True when the event was already seen; otherwise remembers it.
  bool seen(const engine::Event& event);
  // The `since` to resume from, nullopt before the first event.
  [[nodiscard]] std::optional<std::int64_t> resume_from() const;

  // How many identities are remembered; far more than the events an engine replays at one
  // timestamp.
  static constexpr std::size_t k_remembered = 4096;

private:
  std::int64_t m_latest_nano = 0;
  std::unordered_set<std::string> m_recent;
  std::deque<std::string> m_order; // oldest first, for forgetting
};

} // namespace imagegc::sync
