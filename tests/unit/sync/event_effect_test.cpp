#include <gtest/gtest.h>

#include "engine/json_ingest.hpp"
#include "sync/event_applier.hpp"

namespace imagegc::sync {
namespace {

engine::Event event(std::string type, std::string action, std::string actor,
                    std::map<std::string, std::string> attributes = {}) {
  engine::Event result;
  result.type = std::move(type);
  result.action = std::move(action);
  result.actor_id = std::move(actor);
  result.attributes = std::move(attributes);
  return result;
}

const std::string k_id = "sha256:" + std::string(64, 'a');
const std::string k_hex = std::string(64, 'b');

TEST(EventEffect, image_changes_re_read_the_image) {
  for (const char* action : {"tag", "untag", "delete", "import", "load", "create", "pull"}) {
    EXPECT_EQ(effect_of(event("image", action, k_id)),
              (EventEffect{EventEffect::Kind::refresh_image, k_id}))
        << action;
  }
}

TEST(EventEffect, pull_names_a_reference_which_is_re_read_by_name) {
  EXPECT_EQ(effect_of(event("image", "pull", "alpine:latest")),
            (EventEffect{EventEffect::Kind::refresh_image, "alpine:latest"}));
}

TEST(EventEffect, podman_bare_hex_ids_are_normalised) {
  EXPECT_EQ(effect_of(event("image", "remove", k_hex)),
            (EventEffect{EventEffect::Kind::refresh_image, "sha256:" + k_hex}));
}

TEST(EventEffect, podman_build_re_reads_the_image_its_attributes_name) {
  // Recorded from Podman 4.3.1: Actor.ID is empty, Attributes.name is the image's bare ID.
  const auto build = engine::parse_event(
      R"({"status":"build","Type":"image","Action":"build","Actor":{"ID":"","Attributes":{"containerExitCode":"0","image":"","name":"b61afd130832e64859eb9555cb670ddb7f2475ccc18b177b534fd67f50061d22","podId":""}},"scope":"local","time":1795998489,"timeNano":1795998489497406515})");
  ASSERT_TRUE(build.has_value()) << build.error().message;
  EXPECT_EQ(
      effect_of(*build),
      (EventEffect{EventEffect::Kind::refresh_image,
                   "sha256:b61afd130832e64859eb9555cb670ddb7f2475ccc18b177b534fd67f50061d22"}));
}

TEST(EventEffect, push_save_and_prune_change_nothing) {
  for (const char* action : {"push", "save", "prune"}) {
    EXPECT_EQ(effect_of(event("image", action, k_id)).kind, EventEffect::Kind::none) << action;
  }
}

TEST(EventEffect, container_lifecycle_re_reads_or_forgets_the_container) {
  for (const char* action : {"create", "start", "die"}) {
    EXPECT_EQ(effect_of(event("container", action, "c1")),
              (EventEffect{EventEffect::Kind::refresh_container, "c1"}))
        << action;
  }
  EXPECT_EQ(effect_of(event("container", "destroy", "c1")),
            (EventEffect{EventEffect::Kind::forget_container, "c1"}));
  EXPECT_EQ(effect_of(event("container", "remove", "c1")),
            (EventEffect{EventEffect::Kind::forget_container, "c1"}))
      << "Podman says remove";
}

TEST(EventEffect, container_commit_re_reads_the_image_it_made) {
  EXPECT_EQ(effect_of(event("container", "commit", "c1", {{"imageID", k_id}})),
            (EventEffect{EventEffect::Kind::refresh_image, k_id}));
  EXPECT_EQ(effect_of(event("container", "commit", "c1")).kind, EventEffect::Kind::none);
}

TEST(EventEffect, other_actions_and_types_are_ignored) {
  EXPECT_EQ(effect_of(event("container", "attach", "c1")).kind, EventEffect::Kind::none);
  EXPECT_EQ(effect_of(event("container", "exec_start: sh", "c1")).kind, EventEffect::Kind::none);
  EXPECT_EQ(effect_of(event("network", "connect", "n1")).kind, EventEffect::Kind::none);
  EXPECT_EQ(effect_of(event("image", "tag", "")).kind, EventEffect::Kind::none);
  EXPECT_EQ(effect_of(event("image", "frobnicate", k_id)).kind, EventEffect::Kind::none);
}

} // namespace
} // namespace imagegc::sync
