#include "graph/diff_id.hpp"

#include <cstring>

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

std::size_t
std::hash<imagegc::graph::DiffId>::operator()(const imagegc::graph::DiffId& id) const noexcept {
  if (const imagegc::util::Sha256Bytes* digest = id.digest()) {
    // A digest's bytes are as good as any hash of them.
    std::size_t bits = 0;
    std::memcpy(&bits, digest->data(), sizeof bits);
    return bits;
  }
  return std::hash<std::string_view>{}(id.other_text());
}
