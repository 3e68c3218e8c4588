// The events stream: bytes as the engine sends them, cut into lines and parsed as events.
// The input is fed in pieces whose sizes come from the input itself, and the lines must be the
// same as when it is fed whole: a line never depends on how the socket read split it.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "engine/json_ingest.hpp"
#include "engine/line_splitter.hpp"

namespace {

constexpr std::size_t k_max_line_bytes = 4096;

struct Collected {
  std::vector<std::string> lines;
  std::vector<std::size_t> oversized;
};

imagegc::engine::LineSplitter splitter_into(Collected& collected) {
  return imagegc::engine::LineSplitter(
      k_max_line_bytes,
      [&collected](std::string_view line) {
        if (line.empty() || line.size() > k_max_line_bytes ||
            line.find('\n') != std::string_view::npos) {
          std::abort();
        }
        collected.lines.emplace_back(line);
      },
      [&collected](std::size_t discarded) {
        if (discarded <= k_max_line_bytes) {
          std::abort();
        }
        collected.oversized.push_back(discarded);
      });
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) {
    return 0;
  }
  // The first byte chooses the size of the pieces (1 to 256 bytes); the rest is the stream.
  const std::size_t piece = std::size_t{data[0]} + 1;
  const std::string_view stream(reinterpret_cast<const char*>(data + 1), size - 1);

  Collected whole;
  auto whole_splitter = splitter_into(whole);
  whole_splitter.feed(stream);

  Collected pieces;
  auto piece_splitter = splitter_into(pieces);
  for (std::size_t offset = 0; offset < stream.size(); offset += piece) {
    piece_splitter.feed(stream.substr(offset, piece));
  }
  if (whole.lines != pieces.lines || whole.oversized != pieces.oversized ||
      whole_splitter.pending_bytes() != piece_splitter.pending_bytes() ||
      whole_splitter.pending_bytes() > k_max_line_bytes) {
    std::abort();
  }

  for (const auto& line : whole.lines) {
    (void)imagegc::engine::parse_event(line);
  }
  return 0;
}
