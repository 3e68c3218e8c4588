#include "engine/line_splitter.hpp"

namespace imagegc::engine {

LineSplitter::LineSplitter(std::size_t max_line_bytes, LineHandler on_line,
                           OversizedHandler on_oversized)
    : m_max_line_bytes(max_line_bytes), m_on_line(std::move(on_line)),
      m_on_oversized(std::move(on_oversized)) {}

void LineSplitter::feed(std::string_view data) {
  while (!data.empty()) {
    const auto newline = data.find('\n');
    const auto piece = data.substr(0, newline);
    if (m_discarding) {
      m_discarded += piece.size();
    } else if (m_line.size() + piece.size() > m_max_line_bytes) {
      m_discarding = true;
      m_discarded = m_line.size() + piece.size();
      m_line.clear();
      m_line.shrink_to_fit();
    } else {
      m_line.append(piece);
    }
    if (newline == std::string_view::npos) {
      return;
    }
    end_line();
    data.remove_prefix(newline + 1);
  }
}

void LineSplitter::end_line() {
  if (m_discarding) {
    if (m_on_oversized) {
      m_on_oversized(m_discarded);
    }
    m_discarding = false;
    m_discarded = 0;
    return;
  }
  std::string_view line = m_line;
  if (line.ends_with('\r')) {
    line.remove_suffix(1);
  }
  if (!line.empty()) {
    m_on_line(line);
  }
  m_line.clear();
}

} // namespace imagegc::engine
