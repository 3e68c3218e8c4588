#include "sync/replay_filter.hpp"

namespace imagegc::sync {

bool ReplayFilter::seen(const engine::Event& event) {
  if (event.time_nano < m_last_nano) {
    return true;
  }
  if (event.time_nano > m_last_nano) {
    m_last_nano = event.time_nano;
    m_keys_at_last.clear();
  }
  std::string key = event.type + '\n' + event.action + '\n' + event.actor_id;
  return !m_keys_at_last.insert(std::move(key)).second;
}

std::optional<std::int64_t> ReplayFilter::resume_from() const {
  return m_last_nano > 0 ? std::optional<std::int64_t>{m_last_nano} : std::nullopt;
}

} // namespace imagegc::sync
