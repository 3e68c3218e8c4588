// Bodies recorded from a real Podman 4.3.1 service (`podman system service`, API 1.41) in
// tests/data/podman-4.3/: a Buildah build `FROM busybox:latest` with two RUN steps and a LABEL,
// tagged five:latest and five:two by the podman CLI and team/app:1 through the compatible API,
// a created and a running container, and the deletes and events that followed.

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "engine/json_ingest.hpp"
#include "engine/layer_sizes.hpp"

namespace imagegc::engine {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

std::string recorded(const std::string& name) {
  const auto path = std::filesystem::path(IMAGEGC_TEST_DATA_DIR) / "podman-4.3" / name;
  std::ifstream file(path);
  EXPECT_TRUE(file.good()) << "missing " << path;
  std::ostringstream text;
  text << file.rdbuf();
  return text.str();
}

std::vector<Event> recorded_events() {
  std::istringstream lines(recorded("events.jsonl"));
  std::vector<Event> events;
  for (std::string line; std::getline(lines, line);) {
    auto event = parse_event(line);
    EXPECT_TRUE(event.has_value()) << event.error().message << ": " << line;
    if (event) {
      events.push_back(std::move(*event));
    }
  }
  return events;
}

const std::string k_busybox =
    "sha256:cd3971784f7bf6b878ec85ad8c99727c414d0cdd0acc5f8a4d0ef578c07614a3";
const std::string k_step_one =
    "sha256:45b3dc3c9068b47af517c0294e535c6e2dcc81b9ec7e74bc612502128265534e";
const std::string k_step_two =
    "sha256:23c652aa1f1f933537915ce946758a0a2354125790beb465f07c76be9ff5ee8a";
const std::string k_five =
    "sha256:b61afd130832e64859eb9555cb670ddb7f2475ccc18b177b534fd67f50061d22";

TEST(FamiliarReference, docker_hub_names_lose_the_registry_and_official_images_library) {
  EXPECT_EQ(familiar_reference("docker.io/library/busybox:latest"), "busybox:latest");
  EXPECT_EQ(familiar_reference("docker.io/team/app:1"), "team/app:1");
  EXPECT_EQ(familiar_reference("docker.io/library/busybox@sha256:9745"), "busybox@sha256:9745");
  EXPECT_EQ(familiar_reference("docker.io/library/a/b:1"), "library/a/b:1")
      << "library/ only names official images";
}

TEST(FamiliarReference, other_registries_and_podman_localhost_are_kept) {
  EXPECT_EQ(familiar_reference("localhost/five:latest"), "localhost/five:latest");
  EXPECT_EQ(familiar_reference("quay.io/team/app:1"), "quay.io/team/app:1");
  EXPECT_EQ(familiar_reference("registry:5000/docker.io/x:1"), "registry:5000/docker.io/x:1");
  EXPECT_EQ(familiar_reference("busybox:latest"), "busybox:latest") << "Docker's form already";
}

TEST(PodmanImageList, ids_parents_and_references_in_docker_form) {
  const auto images = parse_image_list(recorded("images_json.json"));
  ASSERT_TRUE(images.has_value()) << images.error().message;
  ASSERT_EQ(images->size(), 4U);
  const ImageSummary& base = (*images)[0];
  EXPECT_EQ(base.id, k_busybox);
  EXPECT_THAT(base.repo_tags, ElementsAre("busybox:latest"));
  EXPECT_THAT(base.repo_digests, ElementsAre("busybox@sha256:9745d750525067ee8bb92ada32a04f6adcf73"
                                             "04518900b2eb87df198722635d4"));
  // Buildah's step images: RepoTags null, ParentId bare hex.
  EXPECT_EQ((*images)[1].id, k_step_one);
  EXPECT_EQ((*images)[1].parent_id, k_busybox);
  EXPECT_THAT((*images)[1].repo_tags, IsEmpty());
  EXPECT_EQ((*images)[2].parent_id, k_step_one);
  const ImageSummary& five = (*images)[3];
  EXPECT_EQ(five.parent_id, k_step_two);
  EXPECT_THAT(five.repo_tags,
              ElementsAre("localhost/five:latest", "localhost/five:two", "team/app:1"));
  EXPECT_THAT(five.repo_digests,
              ElementsAre("team/app@sha256:08dd77e77330df4dbfcdf54f9d549bbac85e0bcd01b541e23eebd"
                          "9b039d0fec0",
                          "localhost/five@sha256:08dd77e77330df4dbfcdf54f9d549bbac85e0bcd01b541e2"
                          "3eebd9b039d0fec0"));
  // Podman counts containers on 1.41 (Docker sends -1) and sends SharedSize 0, never computed.
  EXPECT_EQ(base.containers, 1);
  EXPECT_EQ(five.containers, 1);
  EXPECT_EQ(five.shared_size, 0);
}

TEST(PodmanImageDetails, parent_layers_and_familiar_references) {
  const auto image = parse_image_details(recorded("image_inspect.json"));
  ASSERT_TRUE(image.has_value()) << image.error().message;
  EXPECT_EQ(image->id, k_five);
  EXPECT_EQ(image->parent, k_step_two);
  EXPECT_THAT(image->repo_tags,
              ElementsAre("localhost/five:latest", "localhost/five:two", "team/app:1"));
  EXPECT_EQ(image->diff_ids.size(), 3U);
  EXPECT_EQ(image->size, 2440040);
  EXPECT_EQ(image->last_tag_time, std::nullopt) << "Podman sends Go's zero time";
  EXPECT_EQ(image->labels.at("x"), "y");
}

TEST(PodmanLayerSizes, history_gives_each_layer_and_size_adds_the_image_metadata) {
  const auto image = parse_image_details(recorded("image_inspect.json"));
  const auto history = parse_image_history(recorded("image_history.json"));
  ASSERT_TRUE(image.has_value() && history.has_value());
  ASSERT_EQ(history->size(), 4U) << "the LABEL step made no layer";

  const auto sizes = layer_sizes_from_history(image->diff_ids.size(), *history, image->size,
                                              ImageSizeMeaning::layers_and_metadata);
  // The uncompressed tar size of each layer, as containers-storage records it.
  EXPECT_THAT(sizes.sizes, ElementsAre(2129920, 104960, 202240));
  EXPECT_TRUE(sizes.consistent);
  // Size is 2440040: 3120 bytes more than the layers, the image's config and manifest.
  EXPECT_FALSE(layer_sizes_from_history(image->diff_ids.size(), *history, image->size).consistent)
      << "Docker's meaning of Size does not hold on Podman";
  EXPECT_FALSE(layer_sizes_from_history(image->diff_ids.size(), *history, 2437119,
                                        ImageSizeMeaning::layers_and_metadata)
                   .consistent)
      << "layers larger than the image are still wrong";
}

TEST(PodmanContainers, list_and_inspect_name_the_image_by_id) {
  const auto containers = parse_container_list(recorded("containers_json.json"));
  ASSERT_TRUE(containers.has_value()) << containers.error().message;
  ASSERT_EQ(containers->size(), 2U);
  EXPECT_EQ((*containers)[0].image_id, k_five);
  EXPECT_EQ((*containers)[0].state, "created");
  EXPECT_EQ((*containers)[1].image_id, k_busybox);
  EXPECT_EQ((*containers)[1].state, "running");

  const auto runner = parse_container_details(recorded("container_inspect.json"));
  ASSERT_TRUE(runner.has_value()) << runner.error().message;
  EXPECT_EQ(runner->image_id, k_busybox);
  EXPECT_TRUE(runner->running);
  EXPECT_TRUE(runner->started_at.has_value());
  EXPECT_EQ(runner->finished_at, std::nullopt);
}

TEST(PodmanDiskUsage, layers_size_is_zero_and_there_is_no_build_cache) {
  const auto usage = parse_disk_usage(recorded("system_df.json"));
  ASSERT_TRUE(usage.has_value()) << usage.error().message;
  EXPECT_EQ(usage->layers_size, 0) << "not computed: imagegc's own layers_bytes stands alone";
  EXPECT_TRUE(usage->build_cache.empty());
  // One entry per tag, and SharedSize equal to Size: neither is Docker's meaning.
  EXPECT_EQ(usage->images.size(), 6U);
}

TEST(PodmanDelete, untagged_references_are_familiar_and_deleted_ids_normalised) {
  const auto untag = parse_delete_response(recorded("delete_untag.json"));
  ASSERT_TRUE(untag.has_value()) << untag.error().message;
  EXPECT_THAT(untag->untagged, ElementsAre("team/app:1"));
  EXPECT_THAT(untag->deleted, IsEmpty());

  const auto deleted = parse_delete_response(recorded("delete_deleted.json"));
  ASSERT_TRUE(deleted.has_value()) << deleted.error().message;
  EXPECT_THAT(deleted->deleted, ElementsAre(k_five, k_step_two, k_step_one))
      << "the untagged parents go with their last child, as on Docker";
  EXPECT_THAT(deleted->untagged, ElementsAre("localhost/five:two"));

  EXPECT_EQ(parse_error_message(recorded("delete_conflict_409.json"))
                .rfind("image busybox:latest is in use", 0),
            0U);
}

TEST(PodmanEvents, every_recorded_event_parses_with_an_actor) {
  const auto events = recorded_events();
  ASSERT_EQ(events.size(), 24U);
  for (const Event& event : events) {
    EXPECT_FALSE(event.actor_id.empty()) << event.type << " " << event.action;
    EXPECT_GT(event.time_nano, 0);
  }
}

TEST(PodmanEvents, build_and_pull_name_the_image_in_attributes) {
  const auto events = recorded_events();
  ASSERT_FALSE(events.empty());
  // Actor.ID is empty; Attributes.name holds the built image's bare ID.
  EXPECT_EQ(events[0].action, "build");
  EXPECT_EQ(events[0].actor_id, k_five);
  // `podman create five:latest` looks the image up and reports it as a pull of the name typed.
  EXPECT_EQ(events[3].action, "pull");
  EXPECT_EQ(events[3].actor_id, "five:latest");
}

TEST(PodmanEvents, image_actors_are_normalised_and_containers_are_removed) {
  const auto events = recorded_events();
  ASSERT_EQ(events.size(), 24U);
  EXPECT_EQ(events[1].action, "tag");
  EXPECT_EQ(events[1].actor_id, k_five);
  EXPECT_EQ(events[13].type, "container");
  EXPECT_EQ(events[13].action, "remove");
  EXPECT_EQ(events[13].actor_id,
            "0f72d8db9b8ca02540eba6977176b3037e3a717d36e2635d7c8684ab95c5e77e");
  // A delete the engine refused (409, a container holds busybox) is announced all the same:
  // only re-reading the image tells that it stayed.
  EXPECT_EQ(events[22].action, "delete");
  EXPECT_EQ(events[22].actor_id, k_busybox);
}

TEST(PodmanEvents, timestamps_do_not_arrive_in_order) {
  const auto events = recorded_events();
  std::size_t earlier_than_before = 0;
  std::int64_t latest = 0;
  for (const Event& event : events) {
    earlier_than_before += event.time_nano < latest ? 1 : 0;
    latest = std::max(latest, event.time_nano);
  }
  EXPECT_GE(earlier_than_before, 5U) << "a replay filter must not take these for replays";
}

} // namespace
} // namespace imagegc::engine
