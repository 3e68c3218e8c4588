#pragma once
// A "sha256:<64 lower-case hex digits>" reference (an image or layer digest) as the 32 bytes it
// spells, and back. The graph keys layer chains by these bytes and the state file stores them:
// half the size of the text, and no heap string.

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace imagegc::util {

using Sha256Bytes = std::array<std::uint8_t, 32>;

// The bytes of `text`; nullopt for anything but "sha256:" and 64 lower-case hex digits.
std::optional<Sha256Bytes> parse_sha256_digest(std::string_view text);

// Appends "sha256:" and the 64 lower-case hex digits of `bytes` to `out`.
void append_sha256_digest(std::string& out, const Sha256Bytes& bytes);

} // namespace imagegc::util
