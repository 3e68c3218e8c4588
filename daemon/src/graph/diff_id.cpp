#include "graph/diff_id.hpp"

namespace imagegc::graph {

DiffId::DiffId(std::string_view text) {
  if (const auto digest = util::parse_sha256_digest(text)) {
    m_value = *digest;
  } else {
    m_value = std::string(text);
  }
}

std::string_view DiffId::other_text() const {
  const std::string* text = std::get_if<std::string>(&m_value);
  return text == nullptr ? std::string_view() : std::string_view(*text);
}

std::string DiffId::text() const {
  if (const util::Sha256Bytes* bytes = digest()) {
    std::string text;
    util::append_sha256_digest(text, *bytes);
    return text;
  }
  return std::string(other_text());
}

} // namespace imagegc::graph
