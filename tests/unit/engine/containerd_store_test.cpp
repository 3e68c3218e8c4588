// The containerd image store's answers, as moby's daemon/containerd/ writes them (Engine 29, API
// 1.52). No engine with that store runs here: the bodies are put together from the code that
// writes them (image_list.go imageSummary/singlePlatformImage, image_inspect.go ImageInspect and
// collectRepoTagsAndDigests, image_history.go ImageHistory, image_events.go logImageEvent,
// service.go LayerStoreStatus) and the Engine API's swagger (ImageSummary.Manifests from 1.47,
// Descriptor from 1.48), not recorded.

#include <string>
#include <string_view>

#include <gtest/gtest.h>

#include "engine/json_ingest.hpp"
#include "engine/layer_sizes.hpp"
#include "sync/event_applier.hpp"
#include "sync/image_reader.hpp"

namespace imagegc::engine {
namespace {

// An index digest (the image ID), its amd64 manifest, and a builder parent.
constexpr std::string_view k_index =
    "sha256:4f1ec8d7e54e8bd8ba9e1b1d1cdbeb1a6a1d2ac19d0f1b6c3ea2b6d1b7bfc201";
constexpr std::string_view k_dangling =
    "sha256:9a0c2e3f4b5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f7";

// GET /v1.52/images/json on the containerd store: a multi-platform tagged image (Size sums both
// platforms' content and the host's snapshots, Containers counted, RepoDigests repo@<index>),
// and an untagged image, whose only record is "moby-dangling@<digest>": no RepoTags, no
// RepoDigests, and ParentId from the record label org.mobyproject.image.parent.
constexpr std::string_view k_image_list = R"([
{"Containers":1,"Created":1764028800,
 "Descriptor":{"mediaType":"application/vnd.oci.image.index.v1+json","digest":"sha256:4f1ec8d7e54e8bd8ba9e1b1d1cdbeb1a6a1d2ac19d0f1b6c3ea2b6d1b7bfc201","size":9218},
 "Id":"sha256:4f1ec8d7e54e8bd8ba9e1b1d1cdbeb1a6a1d2ac19d0f1b6c3ea2b6d1b7bfc201",
 "Labels":{},
 "Manifests":[
  {"ID":"sha256:1b2c3d4e5f60718293a4b5c6d7e8f90112233445566778899aabbccddeeff001",
   "Descriptor":{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:1b2c3d4e5f60718293a4b5c6d7e8f90112233445566778899aabbccddeeff001","size":1022,"platform":{"architecture":"amd64","os":"linux"}},
   "Available":true,"Size":{"Total":13063772,"Content":3642520},"Kind":"image",
   "ImageData":{"Platform":{"architecture":"amd64","os":"linux"},"Containers":["d1e2"],"Size":{"Unpacked":9421252}}},
  {"ID":"sha256:2c3d4e5f60718293a4b5c6d7e8f90112233445566778899aabbccddeeff0012a",
   "Descriptor":{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:2c3d4e5f60718293a4b5c6d7e8f90112233445566778899aabbccddeeff0012a","size":1022,"platform":{"architecture":"arm64","os":"linux"}},
   "Available":true,"Size":{"Total":3421866,"Content":3421866},"Kind":"image",
   "ImageData":{"Platform":{"architecture":"arm64","os":"linux"},"Containers":[],"Size":{"Unpacked":0}}}],
 "ParentId":"","RepoDigests":["alpine@sha256:4f1ec8d7e54e8bd8ba9e1b1d1cdbeb1a6a1d2ac19d0f1b6c3ea2b6d1b7bfc201"],
 "RepoTags":["alpine:3.20","alpine:latest"],"SharedSize":-1,"Size":16485638},
{"Containers":0,"Created":1764032400,
 "Id":"sha256:9a0c2e3f4b5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f7",
 "Labels":{},"ParentId":"sha256:4f1ec8d7e54e8bd8ba9e1b1d1cdbeb1a6a1d2ac19d0f1b6c3ea2b6d1b7bfc201",
 "RepoDigests":[],"RepoTags":[],"SharedSize":-1,"Size":9425871}
])";

// GET /v1.51/images/{id}/json for the untagged image: Size is the host platform's packed
// content, LastTagTime the latest UpdatedAt of its records (here its moby-dangling@ record, made
// when its last tag went), Created the config's, RootFS the host platform's diff IDs.
constexpr std::string_view k_inspect_dangling = R"({
 "Id":"sha256:9a0c2e3f4b5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f7",
 "Descriptor":{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:9a0c2e3f4b5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f7","size":1115},
 "RepoTags":[],"RepoDigests":[],
 "Parent":"sha256:4f1ec8d7e54e8bd8ba9e1b1d1cdbeb1a6a1d2ac19d0f1b6c3ea2b6d1b7bfc201",
 "Comment":"","Created":"2025-11-25T01:00:00.123456789Z","DockerVersion":"",
 "Author":"","Config":{"Cmd":["sh"],"Labels":null},"Architecture":"amd64","Os":"linux",
 "Size":3646139,
 "GraphDriver":{"Name":"overlayfs","Data":null},
 "RootFS":{"Type":"layers","Layers":[
   "sha256:75654b8eeebd3beae97271a102f57cdeb794cc91e442648544963a7e951e9558",
   "sha256:b1f2c3d4e5f60718293a4b5c6d7e8f90112233445566778899aabbccddeeff00"]},
 "Metadata":{"LastTagTime":"2025-11-30T00:40:00.5Z"}
})";

// GET /v1.51/images/{id}/history: each layer step's Size is the unpacked snapshot of its chain.
constexpr std::string_view k_history = R"([
 {"Comment":"","Created":1764032400,"CreatedBy":"RUN /bin/sh -c head -c 4619 /dev/urandom > /x # buildkit","Id":"sha256:9a0c2e3f4b5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f7","Size":4619,"Tags":null},
 {"Comment":"","Created":1764028800,"CreatedBy":"CMD [\"/bin/sh\"]","Id":"sha256:4f1ec8d7e54e8bd8ba9e1b1d1cdbeb1a6a1d2ac19d0f1b6c3ea2b6d1b7bfc201","Size":0,"Tags":["alpine:3.20","alpine:latest"]},
 {"Comment":"","Created":1764028800,"CreatedBy":"ADD alpine-minirootfs-3.20.3-x86_64.tar.gz / # buildkit","Id":"<missing>","Size":9421252,"Tags":null}
])";

TEST(ContainerdStore, info_names_the_store) {
  const auto info = parse_info(
      R"({"Driver":"overlayfs","DriverStatus":[["driver-type","io.containerd.snapshotter.v1"]],"ServerVersion":"29.1.0"})");
  ASSERT_TRUE(info) << info.error().message;
  EXPECT_EQ(info->image_store(), ImageStore::containerd);
  EXPECT_EQ(to_string(info->image_store()), "containerd");
  const auto classic = parse_info(
      R"({"Driver":"overlay2","DriverStatus":[["Backing Filesystem","extfs"],["Supports d_type","true"]]})");
  ASSERT_TRUE(classic);
  EXPECT_EQ(classic->image_store(), ImageStore::graphdriver);
}

TEST(ContainerdStore, listing_reads_index_ids_label_parents_and_untagged_records) {
  const auto images = parse_image_list(k_image_list);
  ASSERT_TRUE(images) << images.error().message;
  ASSERT_EQ(images->size(), 2u);
  const ImageSummary& tagged = (*images)[0];
  EXPECT_EQ(tagged.id, k_index);
  EXPECT_EQ(tagged.repo_tags, (std::vector<std::string>{"alpine:3.20", "alpine:latest"}));
  EXPECT_EQ(tagged.repo_digests, (std::vector<std::string>{"alpine@" + std::string(k_index)}));
  EXPECT_EQ(tagged.size, 16485638) << "both platforms' content and the host's snapshots";
  EXPECT_EQ(tagged.containers, 1);
  const ImageSummary& dangling = (*images)[1];
  EXPECT_EQ(dangling.id, k_dangling);
  EXPECT_TRUE(dangling.repo_tags.empty());
  EXPECT_TRUE(dangling.repo_digests.empty());
  EXPECT_EQ(dangling.parent_id, k_index) << "the record label org.mobyproject.image.parent";
}

TEST(ContainerdStore, record_names_and_bare_digests_are_never_references) {
  // A moby-dangling@ name never reaches the API by design; were one to, it is no tag. An image
  // whose platform content is missing lists its bare digest as its only RepoDigests entry.
  const auto images = parse_image_list(
      R"([{"Id":"sha256:9a0c2e3f4b5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f7",
           "RepoTags":["moby-dangling@sha256:9a0c2e3f4b5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f7"],
           "RepoDigests":["sha256:9a0c2e3f4b5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f7"],
           "Created":0,"Size":1022,"SharedSize":-1,"Containers":-1}])");
  ASSERT_TRUE(images) << images.error().message;
  EXPECT_TRUE(images->front().repo_tags.empty());
  EXPECT_TRUE(images->front().repo_digests.empty());
  EXPECT_EQ(normalize_image_id("moby-dangling@" + std::string(k_dangling)), k_dangling);
  EXPECT_TRUE(is_dangling_record_name("moby-dangling@" + std::string(k_dangling)));
  EXPECT_FALSE(is_dangling_record_name("alpine:latest"));
}

TEST(ContainerdStore, an_untagged_image_ages_from_its_dangling_record) {
  const auto details = parse_image_details(k_inspect_dangling);
  ASSERT_TRUE(details) << details.error().message;
  EXPECT_EQ(details->parent, k_index);
  EXPECT_EQ(details->size, 3646139);
  ASSERT_EQ(details->diff_ids.size(), 2u) << "RootFS still lists the host platform's diff IDs";

  const graph::Image stored = sync::to_graph_image(*details, {}, ImageStore::containerd);
  EXPECT_EQ(stored.created, 1764032400) << "the config's Created";
  ASSERT_TRUE(stored.stored_at.has_value());
  EXPECT_EQ(*stored.stored_at, 1764463200) << "Metadata.LastTagTime: 2025-11-30T00:40:00Z";

  const graph::Image classic = sync::to_graph_image(*details, {}, ImageStore::graphdriver);
  EXPECT_FALSE(classic.stored_at.has_value());
}

TEST(ContainerdStore, history_gives_each_layer_its_snapshot_and_size_is_not_checked) {
  const auto details = parse_image_details(k_inspect_dangling);
  const auto history = parse_image_history(k_history);
  ASSERT_TRUE(details && history);
  const auto sizes = layer_sizes_from_history(details->diff_ids.size(), *history, details->size,
                                              ImageSizeMeaning::packed_content);
  EXPECT_EQ(sizes.sizes, (std::vector<std::int64_t>{9421252, 4619}));
  EXPECT_TRUE(sizes.consistent) << "inspect's Size is packed content: nothing to compare";
  EXPECT_FALSE(layer_sizes_from_history(details->diff_ids.size(), *history, details->size,
                                        ImageSizeMeaning::layers)
                   .consistent);
}

TEST(ContainerdStore, an_untag_event_names_the_image_by_its_digest) {
  // daemon/containerd/image_events.go logImageEvent: Actor.ID is the target digest, the name
  // attribute the familiar reference that went.
  const auto event = parse_event(
      R"({"Type":"image","Action":"untag","Actor":{"ID":"sha256:4f1ec8d7e54e8bd8ba9e1b1d1cdbeb1a6a1d2ac19d0f1b6c3ea2b6d1b7bfc201","Attributes":{"name":"alpine:3.20"}},"scope":"local","time":1764463200,"timeNano":1764463200000000000})");
  ASSERT_TRUE(event) << event.error().message;
  EXPECT_EQ(sync::effect_of(*event),
            (sync::EventEffect{sync::EventEffect::Kind::refresh_image, std::string(k_index)}));
}

} // namespace
} // namespace imagegc::engine
