#include "engine/layer_sizes.hpp"

#include <algorithm>
#include <array>
#include <iterator>
#include <numeric>
#include <string_view>

namespace imagegc::engine {

namespace {

// How likely a history entry is to have made a layer, most likely first. The engine hides the
// EmptyLayer flag, so this is read from the size, the comment and the build step.
enum class Likelihood {
  certain,  // a nonzero size, or the base layer of a `docker import`
  probable, // a zero-size step that writes files (RUN, ADD, COPY): a layer of empty files,
            // directories or whiteouts, or no layer when nothing changed
  workdir,  // WORKDIR: metadata, but both builders commit a directory-only layer (size 0)
            // when the directory is new
  metadata, // ENV, LABEL, CMD, ...: never a layer
};

constexpr std::array k_tiers = {Likelihood::certain, Likelihood::probable, Likelihood::workdir,
                                Likelihood::metadata};

// Dockerfile instructions that only change the image config. BuildKit records them as
// "ENV A=b", the legacy builder as "/bin/sh -c #(nop)  ENV A=b".
constexpr std::array<std::string_view, 13> k_metadata_instructions = {
    "ENV",    "CMD",        "LABEL",       "EXPOSE", "ENTRYPOINT", "USER",      "ARG",
    "VOLUME", "STOPSIGNAL", "HEALTHCHECK", "SHELL",  "ONBUILD",    "MAINTAINER"};

constexpr std::string_view k_workdir_instruction = "WORKDIR";
constexpr std::string_view k_legacy_metadata_marker = "#(nop) ";
constexpr std::string_view k_import_comment = "Imported from";

std::string_view trim_leading_space(std::string_view text) {
  const auto first = text.find_first_not_of(" \t");
  return first == std::string_view::npos ? std::string_view{} : text.substr(first);
}

// `text` starts with the whole word `keyword` ("ENV A=b" has ENV, "ENVIRONMENT" has not).
bool starts_with_instruction(std::string_view text, std::string_view keyword) {
  return text.starts_with(keyword) && (text.size() == keyword.size() ||
                                       text[keyword.size()] == ' ' || text[keyword.size()] == '\t');
}

bool is_metadata_instruction(std::string_view text) {
  return std::any_of(
      k_metadata_instructions.begin(), k_metadata_instructions.end(),
      [text](std::string_view keyword) { return starts_with_instruction(text, keyword); });
}

Likelihood classify(const HistoryEntry& entry) {
  if (entry.size > 0 || std::string_view(entry.comment).starts_with(k_import_comment)) {
    return Likelihood::certain;
  }
  std::string_view created_by = entry.created_by;
  if (const auto marker = created_by.find(k_legacy_metadata_marker);
      marker != std::string_view::npos) {
    // The legacy builder marks every step that runs no command with "#(nop)"; of those only
    // ADD and COPY write files.
    const auto instruction =
        trim_leading_space(created_by.substr(marker + k_legacy_metadata_marker.size()));
    if (starts_with_instruction(instruction, "ADD") ||
        starts_with_instruction(instruction, "COPY")) {
      return Likelihood::probable;
    }
    return starts_with_instruction(instruction, k_workdir_instruction) ? Likelihood::workdir
                                                                       : Likelihood::metadata;
  }
  const auto instruction = trim_leading_space(created_by);
  if (starts_with_instruction(instruction, k_workdir_instruction)) {
    return Likelihood::workdir;
  }
  return is_metadata_instruction(instruction) ? Likelihood::metadata : Likelihood::probable;
}

// Marks which entries (oldest first) made the `layer_count` layers. Every tier is taken whole
// while it fits; in the tier that overflows, the newest entries are taken, which is the greedy
// rule "take an entry once the layers left to fill equal the entries left to take from".
// Nonzero entries beyond the layer count (an inconsistent history) keep the oldest, since base
// layers are the ones other images share.
std::vector<bool> choose_layer_entries(const std::vector<Likelihood>& likelihoods,
                                       std::size_t layer_count) {
  std::vector<bool> chosen(likelihoods.size(), false);
  std::size_t remaining = layer_count;
  for (const Likelihood tier : k_tiers) {
    if (remaining == 0) {
      break;
    }
    std::vector<std::size_t> members;
    for (std::size_t i = 0; i < likelihoods.size(); ++i) {
      if (likelihoods[i] == tier) {
        members.push_back(i);
      }
    }
    const std::size_t take = std::min(remaining, members.size());
    const auto count = static_cast<std::ptrdiff_t>(take);
    const auto first = tier == Likelihood::certain ? members.begin() : members.end() - count;
    std::for_each(first, first + count, [&chosen](std::size_t i) { chosen[i] = true; });
    remaining -= take;
  }
  return chosen;
}

} // namespace

LayerSizes layer_sizes_from_history(std::size_t layer_count,
                                    const std::vector<HistoryEntry>& history_newest_first,
                                    std::int64_t total_size, ImageSizeMeaning meaning) {
  // Read oldest first, without copying the entries: entry i is history_newest_first[count-1-i].
  const std::size_t count = history_newest_first.size();
  LayerSizes result;
  result.sizes.assign(layer_count, 0);

  std::vector<bool> chosen(count, true);
  if (count != layer_count) {
    std::vector<Likelihood> likelihoods;
    likelihoods.reserve(count);
    std::transform(history_newest_first.rbegin(), history_newest_first.rend(),
                   std::back_inserter(likelihoods), classify);
    chosen = choose_layer_entries(likelihoods, layer_count);
  }

  // Layers without an entry (a history shorter than the layer list) keep size 0.
  std::size_t layer = 0;
  for (std::size_t i = 0; i < count && layer < result.sizes.size(); ++i) {
    if (chosen[i]) {
      result.sizes[layer++] = history_newest_first[count - 1 - i].size;
    }
  }

  const std::int64_t sum =
      std::accumulate(result.sizes.begin(), result.sizes.end(), std::int64_t{0});
  switch (meaning) {
  case ImageSizeMeaning::layers:
    result.consistent = sum == total_size;
    break;
  case ImageSizeMeaning::layers_and_metadata:
    result.consistent = sum <= total_size;
    break;
  case ImageSizeMeaning::packed_content:
    result.consistent = true;
    break;
  }
  return result;
}

} // namespace imagegc::engine
