#pragma once
// A layer's diff ID. Engines give "sha256:" and 64 lower-case hex digits, kept here as the 32
// bytes they spell: while a large host is read, millions of them are in flight, and the layer
// trie and the state file key chains by those bytes anyway. Any other text (test data, unusual
// engines) is kept as it is.

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>
#include <variant>

#include "util/sha256_digest.hpp"

namespace imagegc::graph {

class DiffId {
public:
  DiffId() = default;
  // Implicit, as engines hand diff IDs over as text.
  DiffId(std::string_view text);
  DiffId(const std::string& text) : DiffId(std::string_view(text)) {} // NOLINT
  DiffId(const char* text) : DiffId(std::string_view(text)) {}
  explicit DiffId(const util::Sha256Bytes& digest) : m_value(digest) {}

  // The digest's bytes, or nullptr for a diff ID kept as text.
  [[nodiscard]] const util::Sha256Bytes* digest() const {
    return std::get_if<util::Sha256Bytes>(&m_value);
  }
  // The text of a diff ID that is not a digest; empty for a digest.
  [[nodiscard]] std::string_view other_text() const;
  // The diff ID as the engine spells it.
  [[nodiscard]] std::string text() const;

  bool operator==(const DiffId&) const = default;

private:
  std::variant<std::string, util::Sha256Bytes> m_value;
};

} // namespace imagegc::graph

// So that diff IDs can key hash sets (the bases a loader looks for, say).
template <> struct std::hash<imagegc::graph::DiffId> {
  std::size_t operator()(const imagegc::graph::DiffId& id) const noexcept;
};
