#include <algorithm>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "engine/layer_sizes.hpp"

namespace imagegc::engine {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

// A build step as the history endpoint reports it.
struct Step {
  Step(std::string step_created_by, std::int64_t step_size, std::string step_comment = {})
      : created_by(std::move(step_created_by)), size(step_size), comment(std::move(step_comment)) {}

  std::string created_by;
  std::int64_t size = 0;
  std::string comment;
};

// Tests list steps oldest first, as a Dockerfile reads; the engine sends them newest first.
std::vector<HistoryEntry> history_from_oldest(const std::vector<Step>& steps) {
  std::vector<HistoryEntry> history;
  for (const Step& step : steps) {
    HistoryEntry entry;
    entry.id = "<missing>";
    entry.created_by = step.created_by;
    entry.size = step.size;
    entry.comment = step.comment;
    history.push_back(entry);
  }
  std::reverse(history.begin(), history.end());
  return history;
}

const Step k_imported_base{"", 1982298, "Imported from -"};

TEST(LayerSizes, entries_map_one_to_one_when_counts_match) {
  // dockerd 20.10, legacy builder: five RUN steps on an imported busybox.
  const auto history = history_from_oldest({k_imported_base,
                                            {"/bin/sh -c echo a > /a", 2},
                                            {"/bin/sh -c echo b > /b", 2},
                                            {"/bin/sh -c echo c > /c", 2},
                                            {"/bin/sh -c echo d > /d", 2},
                                            {"/bin/sh -c echo e > /e", 2}});
  const LayerSizes sizes = layer_sizes_from_history(6, history, 1982308);
  EXPECT_THAT(sizes.sizes, ElementsAre(1982298, 2, 2, 2, 2, 2));
  EXPECT_TRUE(sizes.consistent);
}

TEST(LayerSizes, imported_image_has_one_layer) {
  const LayerSizes sizes =
      layer_sizes_from_history(1, history_from_oldest({k_imported_base}), 1982298);
  EXPECT_THAT(sizes.sizes, ElementsAre(1982298));
  EXPECT_TRUE(sizes.consistent);
}

TEST(LayerSizes, empty_import_is_still_a_layer) {
  const auto history = history_from_oldest({{"", 0, "Imported from -"},
                                            {"/bin/sh -c #(nop)  CMD [\"sh\"]", 0},
                                            {"/bin/sh -c echo x > /x", 2}});
  const LayerSizes sizes = layer_sizes_from_history(2, history, 2);
  EXPECT_THAT(sizes.sizes, ElementsAre(0, 2));
  EXPECT_TRUE(sizes.consistent);
}

TEST(LayerSizes, legacy_nop_metadata_steps_are_not_layers) {
  // dockerd 20.10: `RUN echo 1 > /x` then `LABEL a=b` on the imported busybox.
  const auto history = history_from_oldest(
      {k_imported_base, {"/bin/sh -c echo 1 > /x", 2}, {"/bin/sh -c #(nop)  LABEL a=b", 0}});
  const LayerSizes sizes = layer_sizes_from_history(2, history, 1982300);
  EXPECT_THAT(sizes.sizes, ElementsAre(1982298, 2));
  EXPECT_TRUE(sizes.consistent);
}

TEST(LayerSizes, legacy_nop_add_and_copy_of_empty_files_are_layers) {
  const auto history =
      history_from_oldest({{"/bin/sh -c #(nop) ADD file:abc in / ", 5000},
                           {"/bin/sh -c #(nop)  CMD [\"/bin/sh\"]", 0},
                           {"/bin/sh -c #(nop) COPY file:0123 in /etc/empty.conf ", 0},
                           {"/bin/sh -c #(nop)  ENV A=1", 0},
                           {"/bin/sh -c #(nop) ADD file:def in /opt/ ", 0},
                           {"/bin/sh -c make install", 300},
                           {"/bin/sh -c #(nop)  EXPOSE 80", 0}});
  const LayerSizes sizes = layer_sizes_from_history(4, history, 5300);
  EXPECT_THAT(sizes.sizes, ElementsAre(5000, 0, 0, 300));
  EXPECT_TRUE(sizes.consistent);
}

TEST(LayerSizes, buildkit_metadata_instructions_are_not_layers) {
  const auto history = history_from_oldest({{"/bin/sh -c #(nop) ADD file:abc in / ", 5000},
                                            {"ARG VERSION=1.0", 0},
                                            {"ENV PATH=/usr/local/bin:/usr/bin", 0},
                                            {"LABEL org.opencontainers.image.title=app", 0},
                                            {"RUN /bin/sh -c mkdir -p /data # buildkit", 0},
                                            {"USER 1000:1000", 0},
                                            {"EXPOSE map[8080/tcp:{}]", 0},
                                            {"VOLUME [/data]", 0},
                                            {"COPY app /usr/local/bin/app # buildkit", 700},
                                            {"STOPSIGNAL SIGINT", 0},
                                            {R"(HEALTHCHECK &{["CMD" "app" "-check"]})", 0},
                                            {"SHELL [/bin/bash -c]", 0},
                                            {"ONBUILD RUN echo child", 0},
                                            {"MAINTAINER ops@example.com", 0},
                                            {"ENTRYPOINT [\"app\"]", 0},
                                            {"CMD [\"serve\"]", 0}});
  const LayerSizes sizes = layer_sizes_from_history(3, history, 5700);
  EXPECT_THAT(sizes.sizes, ElementsAre(5000, 0, 700));
  EXPECT_TRUE(sizes.consistent);
}

TEST(LayerSizes, buildkit_image_from_real_engine) {
  // dockerd 20.10 with BuildKit: `COPY f /f` and `RUN echo bk > /bk` on the imported busybox.
  const auto history = history_from_oldest(
      {k_imported_base,
       {"COPY f /f # buildkit", 2, "buildkit.dockerfile.v0"},
       {"RUN /bin/sh -c echo bk > /bk # buildkit", 3, "buildkit.dockerfile.v0"}});
  const LayerSizes sizes = layer_sizes_from_history(3, history, 1982303);
  EXPECT_THAT(sizes.sizes, ElementsAre(1982298, 2, 3));
  EXPECT_TRUE(sizes.consistent);
}

TEST(LayerSizes, zero_size_workdir_layer_is_found_by_the_fallback) {
  // WORKDIR of a new directory commits a layer that holds only the directory, whose size the
  // engine counts as 0. Taking the newest empty step (CMD) instead would shift COPY and RUN.
  const auto history = history_from_oldest({{"/bin/sh -c #(nop) ADD file:abc in / ", 5000},
                                            {"WORKDIR /app", 0},
                                            {"COPY . . # buildkit", 40},
                                            {"RUN /bin/sh -c make # buildkit", 900},
                                            {"CMD [\"./app\"]", 0}});
  const LayerSizes sizes = layer_sizes_from_history(4, history, 5940);
  EXPECT_THAT(sizes.sizes, ElementsAre(5000, 0, 40, 900));
  EXPECT_TRUE(sizes.consistent);
}

TEST(LayerSizes, legacy_workdir_layer_is_found_by_the_fallback) {
  const auto history = history_from_oldest({k_imported_base,
                                            {"/bin/sh -c #(nop) WORKDIR /srv", 0},
                                            {"/bin/sh -c #(nop)  ENV MODE=prod", 0},
                                            {"/bin/sh -c echo hi > /srv/hi", 3}});
  const LayerSizes sizes = layer_sizes_from_history(3, history, 1982301);
  EXPECT_THAT(sizes.sizes, ElementsAre(1982298, 0, 3));
  EXPECT_TRUE(sizes.consistent);
}

TEST(LayerSizes, metadata_steps_fill_in_when_still_short) {
  // Three layers but only two candidate steps and no WORKDIR: the newest metadata step is taken.
  const auto history = history_from_oldest({{"/bin/sh -c #(nop) ADD file:abc in / ", 100},
                                            {"ENV A=1", 0},
                                            {"COPY x /x", 5},
                                            {"LABEL b=2", 0}});
  const LayerSizes sizes = layer_sizes_from_history(3, history, 105);
  EXPECT_THAT(sizes.sizes, ElementsAre(100, 5, 0));
  EXPECT_TRUE(sizes.consistent);
}

TEST(LayerSizes, surplus_zero_size_steps_keep_the_newest) {
  // A RUN that changed nothing makes no layer, but looks like one that created only a
  // directory. With one too many candidates, the greedy rule keeps the newest.
  const auto history = history_from_oldest({{"/bin/sh -c #(nop) ADD file:abc in / ", 100},
                                            {"RUN /bin/sh -c true # buildkit", 0},
                                            {"COPY x /x # buildkit", 7},
                                            {"RUN /bin/sh -c mkdir /d # buildkit", 0},
                                            {"RUN /bin/sh -c make # buildkit", 5}});
  const LayerSizes sizes = layer_sizes_from_history(4, history, 112);
  EXPECT_THAT(sizes.sizes, ElementsAre(100, 7, 0, 5));
  EXPECT_TRUE(sizes.consistent);
}

TEST(LayerSizes, build_args_run_steps_are_candidates) {
  // The legacy builder prefixes RUN with the build args ("|2 A=1 B=2 /bin/sh -c ...").
  const auto history = history_from_oldest({{"/bin/sh -c #(nop) ADD file:abc in / ", 100},
                                            {"/bin/sh -c #(nop)  ARG A", 0},
                                            {"|1 A=1 /bin/sh -c mkdir /empty", 0},
                                            {"|1 A=1 /bin/sh -c echo x > /x", 2}});
  const LayerSizes sizes = layer_sizes_from_history(3, history, 102);
  EXPECT_THAT(sizes.sizes, ElementsAre(100, 0, 2));
  EXPECT_TRUE(sizes.consistent);
}

TEST(LayerSizes, instruction_keywords_match_whole_words_only) {
  // "ENVIRONMENT" is not ENV and "USERADD" is not USER: such zero-size steps are candidates,
  // so they (and not the newer CMD) take the second layer.
  for (const std::string created_by : {"ENVIRONMENT setup", "USERADD app"}) {
    const auto history = history_from_oldest(
        {{"", 100, "Imported from -"}, {created_by, 0}, {"COPY a /a", 5}, {"CMD x", 0}});
    const LayerSizes sizes = layer_sizes_from_history(3, history, 105);
    EXPECT_THAT(sizes.sizes, ElementsAre(100, 0, 5)) << created_by;
  }
}

TEST(LayerSizes, squashed_build_keeps_only_the_sized_steps) {
  // `docker build --squash` marks every new step empty except the last, which holds the
  // squashed layer.
  const auto history = history_from_oldest({k_imported_base,
                                            {"/bin/sh -c echo a > /a", 0},
                                            {"/bin/sh -c rm /a", 0},
                                            {"/bin/sh -c echo b > /b", 2}});
  const LayerSizes sizes = layer_sizes_from_history(2, history, 1982300);
  EXPECT_THAT(sizes.sizes, ElementsAre(1982298, 2));
  EXPECT_TRUE(sizes.consistent);
}

TEST(LayerSizes, empty_history_gives_zero_sizes) {
  const LayerSizes sizes = layer_sizes_from_history(2, {}, 500);
  EXPECT_THAT(sizes.sizes, ElementsAre(0, 0));
  EXPECT_FALSE(sizes.consistent);

  const LayerSizes empty_image = layer_sizes_from_history(1, {}, 0);
  EXPECT_THAT(empty_image.sizes, ElementsAre(0));
  EXPECT_TRUE(empty_image.consistent);
}

TEST(LayerSizes, fewer_steps_than_layers_assigns_what_it_can) {
  const auto history = history_from_oldest({{"", 100, "Imported from -"}, {"COPY a /a", 5}});
  const LayerSizes sizes = layer_sizes_from_history(3, history, 105);
  EXPECT_THAT(sizes.sizes, ElementsAre(100, 5, 0));
  EXPECT_TRUE(sizes.consistent);
}

TEST(LayerSizes, more_sized_steps_than_layers_keeps_the_oldest) {
  const auto history =
      history_from_oldest({{"", 100, "Imported from -"}, {"COPY a /a", 5}, {"COPY b /b", 7}});
  const LayerSizes sizes = layer_sizes_from_history(2, history, 112);
  EXPECT_THAT(sizes.sizes, ElementsAre(100, 5));
  EXPECT_FALSE(sizes.consistent);
}

TEST(LayerSizes, inconsistent_when_sizes_do_not_add_up) {
  const auto history = history_from_oldest({k_imported_base, {"/bin/sh -c echo a > /a", 2}});
  const LayerSizes sizes = layer_sizes_from_history(2, history, 1982301);
  EXPECT_THAT(sizes.sizes, ElementsAre(1982298, 2));
  EXPECT_FALSE(sizes.consistent);
}

TEST(LayerSizes, image_without_layers) {
  const auto history = history_from_oldest({{"CMD [\"true\"]", 0}});
  const LayerSizes sizes = layer_sizes_from_history(0, history, 0);
  EXPECT_THAT(sizes.sizes, IsEmpty());
  EXPECT_TRUE(sizes.consistent);
}

} // namespace
} // namespace imagegc::engine
