#pragma once
// Hash maps keyed by std::string that can be searched with a std::string_view, so that lookups
// from the graph's string_view arguments do not allocate a temporary string.

#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>

namespace imagegc::graph {

struct StringHash {
  using is_transparent = void;

  // The keys are mostly image IDs ("sha256:" and 64 hex digits) and references, and a re-list of
  // a large host hashes millions of them: std::hash spent some 170 instructions on an ID. This
  // takes every byte too, eight at a time, each word multiplied in, for a fraction of that.
  // (Keys come from the engine, which anyone who could flood it already controls.)
  std::size_t operator()(std::string_view text) const noexcept {
    constexpr std::uint64_t k_multiplier = 0x9e3779b97f4a7c15ULL;
    std::uint64_t hash = text.size() * k_multiplier;
    std::size_t at = 0;
    for (; at + sizeof(std::uint64_t) <= text.size(); at += sizeof(std::uint64_t)) {
      std::uint64_t word = 0;
      std::memcpy(&word, text.data() + at, sizeof(word));
      hash = std::rotl((hash ^ word) * k_multiplier, 29);
    }
    std::uint64_t tail = 0;
    if (at < text.size()) {
      std::memcpy(&tail, text.data() + at, text.size() - at);
    }
    // MurmurHash3's finalizer: every input bit reaches the low bits that pick a bucket.
    hash ^= tail;
    hash = (hash ^ (hash >> 33)) * 0xff51afd7ed558ccdULL;
    hash = (hash ^ (hash >> 33)) * 0xc4ceb9fe1a85ec53ULL;
    return static_cast<std::size_t>(hash ^ (hash >> 33));
  }
};

template <typename Value>
using StringMap = std::unordered_map<std::string, Value, StringHash, std::equal_to<>>;

} // namespace imagegc::graph
