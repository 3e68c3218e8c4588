#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>

namespace imagegc::engine {

// Cuts a byte stream into lines (the events stream sends one JSON object per line). A line
// longer than the limit is dropped as it arrives and reported once, so memory stays bounded
// whatever the peer sends. Empty lines are skipped; a trailing '\r' is removed.
class LineSplitter {
public:
  using LineHandler = std::function<void(std::string_view)>;
  using OversizedHandler = std::function<void(std::size_t discarded_bytes)>;

  LineSplitter(std::size_t max_line_bytes, LineHandler on_line, OversizedHandler on_oversized);

  void feed(std::string_view data);
  // Bytes held for a line not yet ended.
  [[nodiscard]] std::size_t pending_bytes() const { return m_line.size(); }

private:
  void end_line();

  std::size_t m_max_line_bytes;
  LineHandler m_on_line;
  OversizedHandler m_on_oversized;
  std::string m_line;
  bool m_discarding = false;
  std::size_t m_discarded = 0;
};

} // namespace imagegc::engine
