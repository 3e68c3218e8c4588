#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "engine/line_splitter.hpp"

namespace imagegc::engine {
namespace {

struct Collected {
  std::vector<std::string> lines;
  std::vector<std::size_t> oversized;
};

LineSplitter splitter_into(Collected& collected, std::size_t limit) {
  return {limit, [&](std::string_view line) { collected.lines.emplace_back(line); },
          [&](std::size_t bytes) { collected.oversized.push_back(bytes); }};
}

TEST(LineSplitter, joins_lines_split_across_chunks) {
  Collected collected;
  auto splitter = splitter_into(collected, 1024);
  splitter.feed(R"({"a":)");
  splitter.feed("1}\n{\"b\"");
  splitter.feed(":2}\n");
  EXPECT_EQ(collected.lines, (std::vector<std::string>{R"({"a":1})", R"({"b":2})"}));
  EXPECT_EQ(splitter.pending_bytes(), 0u);
}

TEST(LineSplitter, skips_empty_lines_and_carriage_returns) {
  Collected collected;
  auto splitter = splitter_into(collected, 1024);
  splitter.feed("\n\r\n{}\r\n\n");
  EXPECT_EQ(collected.lines, std::vector<std::string>{"{}"});
}

TEST(LineSplitter, drops_an_oversized_line_without_holding_it) {
  Collected collected;
  auto splitter = splitter_into(collected, 16);
  splitter.feed("{\"ok\":1}\n");
  for (int i = 0; i < 1000; ++i) {
    splitter.feed(std::string(100, 'x'));
    EXPECT_LE(splitter.pending_bytes(), 16u);
  }
  splitter.feed("tail\n{\"ok\":2}\n");
  EXPECT_EQ(collected.lines, (std::vector<std::string>{"{\"ok\":1}", "{\"ok\":2}"}));
  EXPECT_EQ(collected.oversized, std::vector<std::size_t>{100'004});
}

} // namespace
} // namespace imagegc::engine
