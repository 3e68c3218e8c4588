#include "sync/replay_filter.hpp"

#include <algorithm>

namespace imagegc::sync {

bool ReplayFilter::seen(const engine::Event& event) {
  std::string key = std::to_string(event.time_nano) + '\n' + event.type + '\n' + event.action +
                    '\n' + event.actor_id;
  if (!m_recent.insert(key).second) {
    return true;
  }
  m_order.push_back(std::move(key));
  if (m_order.size() > k_remembered) {
    m_recent.erase(m_order.front());
    m_order.pop_front();
  }
  m_latest_nano = std::max(m_latest_nano, event.time_nano);
  return false;
}

std::optional<std::int64_t> ReplayFilter::resume_from() const {
  return m_latest_nano > 0 ? std::optional<std::int64_t>{m_latest_nano} : std::nullopt;
}

} // namespace imagegc::sync
