#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <unordered_set>

#include "engine/records.hpp"

namespace imagegc::sync {

// Recognises events already seen. A reconnect resumes with since=<last timestamp seen>, and the
// engine replays that timestamp inclusively, so the boundary's events arrive twice; they are told
// apart by their identity (type, action, actor) at that timestamp.
class ReplayFilter {
public:
  // True when the event was already seen; otherwise remembers it.
  bool seen(const engine::Event& event);
  // The `since` to resume from, nullopt before the first event.
  [[nodiscard]] std::optional<std::int64_t> resume_from() const;

private:
  std::int64_t m_last_nano = 0;
  std::unordered_set<std::string> m_keys_at_last;
};

} // namespace imagegc::sync
