#include <cstdint>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "engine/json_ingest.hpp"

namespace imagegc::engine {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

// Captured from dockerd 20.10 (API 1.41): a BuildKit image, an intermediate image of the
// legacy builder, its parent, and a `docker import` base image.
constexpr std::string_view k_image_list_1_41 = R"([
{"Containers":-1,"Created":1795992619,"Id":"sha256:417562b20707e7ff9275406fd2ea66a57a572dafd92380fc7c1b78193848e9b9","Labels":null,"ParentId":"","RepoDigests":null,"RepoTags":["bk2:latest"],"SharedSize":-1,"Size":1982300,"VirtualSize":1982300},
{"Containers":-1,"Created":1795992619,"Id":"sha256:b1429062b0a8fa6c8c6df2067f8485bf7c13633c96f495801aa05a0f38713c63","Labels":{"a":"b"},"ParentId":"sha256:d838f898ce4ddfe8133156bfb309ff80db840a1f4c9a828d1cb3b867044b6463","RepoDigests":["<none>@<none>"],"RepoTags":["<none>:<none>"],"SharedSize":-1,"Size":1982300,"VirtualSize":1982300},
{"Containers":-1,"Created":1795992618,"Id":"sha256:d838f898ce4ddfe8133156bfb309ff80db840a1f4c9a828d1cb3b867044b6463","Labels":null,"ParentId":"sha256:d3f1e591f9231ec147a3aaf1f5d254af39112779b80d921348438583788746ce","RepoDigests":["<none>@<none>"],"RepoTags":["<none>:<none>"],"SharedSize":-1,"Size":1982300,"VirtualSize":1982300},
{"Containers":-1,"Created":1795992531,"Id":"sha256:d3f1e591f9231ec147a3aaf1f5d254af39112779b80d921348438583788746ce","Labels":null,"ParentId":"","RepoDigests":null,"RepoTags":["busybox:latest"],"SharedSize":-1,"Size":1982298,"VirtualSize":1982298}
])";

// API 1.44: VirtualSize is gone and untagged images have [] instead of "<none>:<none>".
constexpr std::string_view k_image_list_1_44 = R"([
{"Containers":-1,"Created":1714558272,"Id":"sha256:4b1a8e1c5e2b8e4a7d6f0c3e9d1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c","Labels":{"org.opencontainers.image.version":"1.36.1"},"ParentId":"","RepoDigests":["busybox@sha256:9ae97d36d26566ff84e8893c64a6dc4fe8ca6d1144bf5b87b2b85a32def253c7"],"RepoTags":["busybox:1.36","busybox:latest"],"SharedSize":-1,"Size":4261550},
{"Containers":-1,"Created":1714558300,"Id":"sha256:0f0e0d0c0b0a09080706050403020100f0e0d0c0b0a09080706050403020100f","Labels":null,"ParentId":"","RepoDigests":[],"RepoTags":[],"SharedSize":-1,"Size":4261562}
])";

// API 1.51: Containers is counted; images from the containerd store also list Manifests.
constexpr std::string_view k_image_list_1_51 = R"([
{"Containers":2,"Created":1750000000,"Id":"sha256:9ae97d36d26566ff84e8893c64a6dc4fe8ca6d1144bf5b87b2b85a32def253c7","Labels":null,"ParentId":"","RepoDigests":["busybox@sha256:9ae97d36d26566ff84e8893c64a6dc4fe8ca6d1144bf5b87b2b85a32def253c7"],"RepoTags":["busybox:latest"],"SharedSize":-1,"Size":4261550,"Descriptor":{"mediaType":"application/vnd.oci.image.index.v1+json","digest":"sha256:9ae97d36d26566ff84e8893c64a6dc4fe8ca6d1144bf5b87b2b85a32def253c7","size":9541},"Manifests":[{"ID":"sha256:22f27168517de1f58dae0ad51eacf1527e7e7ccc47512d3946f56bdbe913f564","Descriptor":{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:22f27168517de1f58dae0ad51eacf1527e7e7ccc47512d3946f56bdbe913f564","size":610},"Available":true,"Size":{"Total":4261550,"Content":2156754},"Kind":"image","ImageData":{"Platform":{"architecture":"amd64","os":"linux"},"Containers":["2c3a9f0d1b5e"],"Size":{"Unpacked":4261550}}}]},
{"Containers":0,"Created":1750000100,"Id":"sha256:5c6a1f2e3d4b5a69788796a5b4c3d2e1f0a1b2c3d4e5f60718293a4b5c6d7e8f","Labels":null,"ParentId":"","RepoDigests":[],"RepoTags":["app:dev"],"SharedSize":-1,"Size":4263001}
])";

// Podman 4.3's compatible API: bare hex IDs and fully qualified tags.
constexpr std::string_view k_image_list_podman = R"([
{"Id":"a416a98b71e224a31ee99cff8e16063554498227d2b696152a9c3e0aa65e5824","ParentId":"","RepoTags":["docker.io/library/busybox:latest"],"RepoDigests":["docker.io/library/busybox@sha256:9ae97d36d26566ff84e8893c64a6dc4fe8ca6d1144bf5b87b2b85a32def253c7"],"Created":1714558272,"Size":4495365,"SharedSize":0,"VirtualSize":4495365,"Labels":null,"Containers":1,"Names":["docker.io/library/busybox:latest"],"Digest":"sha256:9ae97d36d26566ff84e8893c64a6dc4fe8ca6d1144bf5b87b2b85a32def253c7","History":["docker.io/library/busybox:latest"]},
{"Id":"7c1b2a3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f9","ParentId":"a416a98b71e224a31ee99cff8e16063554498227d2b696152a9c3e0aa65e5824","RepoTags":["localhost/app:dev"],"RepoDigests":[],"Created":1714558300,"Size":4495400,"SharedSize":0,"VirtualSize":4495400,"Labels":{"io.buildah.version":"1.28.2"},"Containers":0}
])";

// dockerd 20.10, `docker inspect` of a BuildKit image (complete, to show what is ignored).
constexpr std::string_view k_image_inspect_1_41 = R"({
  "Id": "sha256:417562b20707e7ff9275406fd2ea66a57a572dafd92380fc7c1b78193848e9b9",
  "RepoTags": ["bk2:latest"],
  "RepoDigests": [],
  "Parent": "",
  "Comment": "buildkit.dockerfile.v0",
  "Created": "2026-11-29T22:50:19.264514872Z",
  "Container": "",
  "ContainerConfig": {"Hostname": "", "Domainname": "", "User": "", "AttachStdin": false,
    "AttachStdout": false, "AttachStderr": false, "Tty": false, "OpenStdin": false,
    "StdinOnce": false, "Env": null, "Cmd": null, "Image": "", "Volumes": null,
    "WorkingDir": "", "Entrypoint": null, "OnBuild": null, "Labels": null},
  "DockerVersion": "",
  "Author": "",
  "Config": {"Hostname": "", "Domainname": "", "User": "", "AttachStdin": false,
    "AttachStdout": false, "AttachStderr": false, "Tty": false, "OpenStdin": false,
    "StdinOnce": false,
    "Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
    "Cmd": null, "Image": "", "Volumes": null, "WorkingDir": "", "Entrypoint": null,
    "OnBuild": null, "Labels": null},
  "Architecture": "amd64",
  "Os": "linux",
  "Size": 1982300,
  "VirtualSize": 1982300,
  "GraphDriver": {
    "Data": {
      "LowerDir": "/tmp/dk1/data/overlay2/c544b032b6cea32fc4a293513a8e32a95c2225090ad9c8856c7d090bdb79ef5a/diff",
      "MergedDir": "/tmp/dk1/data/overlay2/rjuqbyc9okal29v0po5i1j7zt/merged",
      "UpperDir": "/tmp/dk1/data/overlay2/rjuqbyc9okal29v0po5i1j7zt/diff",
      "WorkDir": "/tmp/dk1/data/overlay2/rjuqbyc9okal29v0po5i1j7zt/work"
    },
    "Name": "overlay2"
  },
  "RootFS": {
    "Type": "layers",
    "Layers": [
      "sha256:bc603ecbdf31dd3ba6d705546ca4d196c2a6f3a8db1c4e82fdd9122c0ba9c908",
      "sha256:66de45938a43047bf837af8fe83e4a262d3e321e02d8d970c89b28127b64d17e"
    ]
  },
  "Metadata": {"LastTagTime": "2026-11-29T22:50:19.449457739Z"}
})";

// dockerd 20.10, an intermediate image of the legacy builder: never tagged, so LastTagTime is
// Go's zero time.
constexpr std::string_view k_image_inspect_intermediate_1_41 = R"({
  "Id": "sha256:b1429062b0a8fa6c8c6df2067f8485bf7c13633c96f495801aa05a0f38713c63",
  "RepoTags": [],
  "RepoDigests": [],
  "Parent": "sha256:d838f898ce4ddfe8133156bfb309ff80db840a1f4c9a828d1cb3b867044b6463",
  "Comment": "",
  "Created": "2026-11-29T22:50:19.084125387Z",
  "Container": "af1a91627fa8e2635864962b3d195d22509cc86b7101251c1a36bd82700f88a4",
  "Config": {"Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
    "Cmd": null, "Image": "sha256:d838f898ce4ddfe8133156bfb309ff80db840a1f4c9a828d1cb3b867044b6463",
    "Labels": {"a": "b"}},
  "Size": 1982300,
  "VirtualSize": 1982300,
  "RootFS": {
    "Type": "layers",
    "Layers": [
      "sha256:bc603ecbdf31dd3ba6d705546ca4d196c2a6f3a8db1c4e82fdd9122c0ba9c908",
      "sha256:b068b144d8d57776744cf76a1d8b376274e042b7a2e1fb0f888ec767672e1e22"
    ]
  },
  "Metadata": {"LastTagTime": "0001-01-01T00:00:00Z"}
})";

// API 1.52: no Parent, no VirtualSize, no ContainerConfig; Created with an offset.
constexpr std::string_view k_image_inspect_1_52 = R"({
  "Id": "sha256:9ae97d36d26566ff84e8893c64a6dc4fe8ca6d1144bf5b87b2b85a32def253c7",
  "RepoTags": ["busybox:latest"],
  "RepoDigests": ["busybox@sha256:9ae97d36d26566ff84e8893c64a6dc4fe8ca6d1144bf5b87b2b85a32def253c7"],
  "Comment": "",
  "Created": "2024-05-01T10:11:12.5+02:00",
  "Config": {"Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
    "Cmd": ["sh"], "Labels": {"maintainer": "ops@example.com"}},
  "Architecture": "amd64",
  "Os": "linux",
  "Size": 4261550,
  "RootFS": {"Type": "layers",
    "Layers": ["sha256:65014c70e84b6817fac42bb201ec5c1ea460a8da246cac0e481f5c9a9491eba0"]},
  "Metadata": {"LastTagTime": "2024-05-01T08:11:20Z"},
  "Descriptor": {"mediaType": "application/vnd.oci.image.index.v1+json",
    "digest": "sha256:9ae97d36d26566ff84e8893c64a6dc4fe8ca6d1144bf5b87b2b85a32def253c7",
    "size": 9541}
})";

constexpr std::string_view k_image_inspect_podman = R"({
  "Id": "sha256:a416a98b71e224a31ee99cff8e16063554498227d2b696152a9c3e0aa65e5824",
  "RepoTags": ["docker.io/library/busybox:latest"],
  "RepoDigests": ["docker.io/library/busybox@sha256:9ae97d36d26566ff84e8893c64a6dc4fe8ca6d1144bf5b87b2b85a32def253c7"],
  "Parent": "",
  "Comment": "",
  "Created": "2024-05-01T10:11:12Z",
  "Config": {"Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
    "Cmd": ["sh"]},
  "Size": 4495365,
  "VirtualSize": 4495365,
  "GraphDriver": {"Data": {"UpperDir": "/var/lib/containers/storage/overlay/65014c70/diff"},
    "Name": "overlay"},
  "RootFS": {"Type": "layers",
    "Layers": ["sha256:65014c70e84b6817fac42bb201ec5c1ea460a8da246cac0e481f5c9a9491eba0"]},
  "Metadata": {"LastTagTime": "0001-01-01T00:00:00Z"}
})";

// dockerd 20.10: history of the intermediate image above (legacy builder, newest first).
constexpr std::string_view k_history_legacy_1_41 = R"([
{"Comment":"","Created":1795992619,"CreatedBy":"/bin/sh -c #(nop)  LABEL a=b","Id":"sha256:b1429062b0a8fa6c8c6df2067f8485bf7c13633c96f495801aa05a0f38713c63","Size":0,"Tags":null},
{"Comment":"","Created":1795992618,"CreatedBy":"/bin/sh -c echo 1 > /x","Id":"sha256:d838f898ce4ddfe8133156bfb309ff80db840a1f4c9a828d1cb3b867044b6463","Size":2,"Tags":null},
{"Comment":"Imported from -","Created":1795992531,"CreatedBy":"","Id":"sha256:d3f1e591f9231ec147a3aaf1f5d254af39112779b80d921348438583788746ce","Size":1982298,"Tags":["busybox:latest"]}
])";

// dockerd 20.10: history of a BuildKit image; steps that are not images are "<missing>".
constexpr std::string_view k_history_buildkit_1_41 = R"([
{"Comment":"buildkit.dockerfile.v0","Created":1795992532,"CreatedBy":"RUN /bin/sh -c echo bk > /bk # buildkit","Id":"sha256:f286a3d2875f9f97cf9704ea8823386cd6f666db80f8a51f7f11a43743eb083d","Size":3,"Tags":["bk:latest"]},
{"Comment":"buildkit.dockerfile.v0","Created":1795992532,"CreatedBy":"COPY f /f # buildkit","Id":"<missing>","Size":2,"Tags":null},
{"Comment":"Imported from -","Created":1795992531,"CreatedBy":"","Id":"<missing>","Size":1982298,"Tags":null}
])";

constexpr std::string_view k_history_podman = R"([
{"Id":"7c1b2a3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f9","Created":1714558300,"CreatedBy":"/bin/sh -c #(nop) CMD [\"sh\"]","Tags":["localhost/app:dev"],"Size":0,"Comment":"FROM docker.io/library/busybox:latest"},
{"Id":"a416a98b71e224a31ee99cff8e16063554498227d2b696152a9c3e0aa65e5824","Created":1714558272,"CreatedBy":"/bin/sh -c #(nop) ADD file:7e9002edaafd4e4579b65c8f0aaabde1aeb7fd3f8d95579f7fd3443cef785fd1 in / ","Tags":null,"Size":4495365,"Comment":""}
])";

constexpr std::string_view k_container_list_docker = R"([
{"Id":"2c3a9f0d1b5e7a8c9d0e1f2a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e","Names":["/web"],"Image":"busybox:latest","ImageID":"sha256:d3f1e591f9231ec147a3aaf1f5d254af39112779b80d921348438583788746ce","Command":"sh","Created":1795992600,"Ports":[],"Labels":{},"State":"running","Status":"Up 2 minutes","HostConfig":{"NetworkMode":"none"},"NetworkSettings":{"Networks":{"none":{"IPAMConfig":null,"Links":null,"Aliases":null,"NetworkID":"ccf03674e7af","EndpointID":"","Gateway":"","IPAddress":"","IPPrefixLen":0,"IPv6Gateway":"","GlobalIPv6Address":"","GlobalIPv6PrefixLen":0,"MacAddress":"","DriverOpts":null}}},"Mounts":[]},
{"Id":"9bfe7bb65695929661fcc9fc26c28504d6d04bfd62638d9db35453e72e9287f7","Names":["/vigilant_kowalevski"],"Image":"sha256:09e2446255c3ceecb7678c20d2d1ac62ab06b8d3f5c19e3a2332a535a773cf57","ImageID":"sha256:09e2446255c3ceecb7678c20d2d1ac62ab06b8d3f5c19e3a2332a535a773cf57","Command":"/bin/sh -c 'echo a > /a'","Created":1795992531,"Ports":[],"Labels":{},"State":"exited","Status":"Exited (0) 3 minutes ago","HostConfig":{"NetworkMode":"none"},"NetworkSettings":{"Networks":{}},"Mounts":[]}
])";

constexpr std::string_view k_container_list_podman = R"([
{"Id":"5e0d1f2a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6","Names":["/db"],"Image":"docker.io/library/busybox:latest","ImageID":"a416a98b71e224a31ee99cff8e16063554498227d2b696152a9c3e0aa65e5824","Command":"sh","Created":1714558400,"Ports":[],"Labels":{},"State":"created","Status":"Created","SizeRw":0,"SizeRootFs":0,"HostConfig":{"NetworkMode":"none"},"NetworkSettings":{"Networks":null},"Mounts":[]}
])";

constexpr std::string_view k_container_inspect = R"({
  "Id": "2c3a9f0d1b5e7a8c9d0e1f2a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e",
  "Created": "2026-11-29T22:50:00.123456789Z",
  "Path": "sh",
  "Args": [],
  "State": {"Status": "running", "Running": true, "Paused": false, "Restarting": false,
    "OOMKilled": false, "Dead": false, "Pid": 4242, "ExitCode": 0, "Error": "",
    "StartedAt": "2026-11-29T22:50:00.5Z", "FinishedAt": "0001-01-01T00:00:00Z"},
  "Image": "sha256:d3f1e591f9231ec147a3aaf1f5d254af39112779b80d921348438583788746ce",
  "Name": "/web",
  "Config": {"Image": "busybox:latest", "Labels": {}}
})";

// dockerd 20.10, /system/df (trimmed to two images and two build cache records).
constexpr std::string_view k_system_df_1_41 = R"({
  "LayersSize": 1982317,
  "Images": [
    {"Containers":0,"Created":1795992619,"Id":"sha256:417562b20707e7ff9275406fd2ea66a57a572dafd92380fc7c1b78193848e9b9","Labels":null,"ParentId":"","RepoDigests":null,"RepoTags":["bk2:latest"],"SharedSize":1982298,"Size":1982300,"VirtualSize":1982300},
    {"Containers":0,"Created":1795992531,"Id":"sha256:d3f1e591f9231ec147a3aaf1f5d254af39112779b80d921348438583788746ce","Labels":null,"ParentId":"","RepoDigests":null,"RepoTags":["busybox:latest"],"SharedSize":1982298,"Size":1982298,"VirtualSize":1982298}
  ],
  "Containers": [],
  "Volumes": [],
  "BuildCache": [
    {"ID":"s4tu6ony6zdxh4w47va9q9flf","Parent":"0swg48hamanyu5y4cvvhcd1v7","Type":"regular","Description":"mount / from exec /bin/sh -c echo bk > /bk","InUse":false,"Shared":true,"Size":3,"CreatedAt":"2026-11-29T22:48:52.891000311Z","LastUsedAt":"2026-11-29T22:48:52.907231879Z","UsageCount":1},
    {"ID":"qxjv4ndfxkatfn0rwuqge069s","Parent":"","Type":"source.local","Description":"local source for context","InUse":true,"Shared":false,"Size":0,"CreatedAt":"2026-11-29T22:48:52.797856025Z","LastUsedAt":null,"UsageCount":3}
  ],
  "BuilderSize": 57
})";

constexpr std::string_view k_version_1_41 =
    R"({"Platform":{"Name":""},"Components":[{"Name":"Engine","Version":"20.10.24+dfsg1","Details":{"ApiVersion":"1.41","Arch":"amd64","MinAPIVersion":"1.12","Os":"linux"}},{"Name":"containerd","Version":"1.6.20~ds1","Details":{"GitCommit":"1.6.20~ds1-1+deb12u3"}}],"Version":"20.10.24+dfsg1","ApiVersion":"1.41","MinAPIVersion":"1.12","GitCommit":"5d6db84","GoVersion":"go1.19.8","Os":"linux","Arch":"amd64","KernelVersion":"6.1.0","BuildTime":"2026-05-07T21:09:36.000000000+00:00"})";

constexpr std::string_view k_version_podman =
    R"({"Platform":{"Name":"linux/amd64/debian-12"},"Components":[{"Name":"Podman Engine","Version":"4.3.1","Details":{"APIVersion":"4.3.1","Arch":"amd64","BuildTime":"1970-01-01T00:00:00Z","Experimental":"false","GitCommit":"","GoVersion":"go1.19.8","KernelVersion":"6.1.0","MinAPIVersion":"4.0.0","Os":"linux"}},{"Name":"Conmon","Version":"conmon version 2.1.6","Details":{"Package":"conmon_2.1.6+ds1-1_amd64"}}],"Version":"4.3.1","ApiVersion":"1.41","MinAPIVersion":"1.24","GitCommit":"","GoVersion":"go1.19.8","Os":"linux","Arch":"amd64","KernelVersion":"6.1.0","BuildTime":"1970-01-01T00:00:00Z"})";

constexpr std::string_view k_info_overlay2_1_41 =
    R"({"ID":"B3QB:O75Z:XHZ5:SEPM:A2F3:K6DA:2WNP:WQHU:46DV:MABZ:DD2P:EHCV","Containers":0,"Images":10,"Driver":"overlay2","DriverStatus":[["Backing Filesystem","extfs"],["Supports d_type","true"],["Native Overlay Diff","true"],["userxattr","false"]],"Plugins":{"Volume":["local"],"Authorization":null},"DockerRootDir":"/tmp/dk1/data","ServerVersion":"20.10.24+dfsg1","Swarm":{"NodeID":"","LocalNodeState":"inactive","RemoteManagers":null},"Warnings":null})";

constexpr std::string_view k_info_containerd_store =
    R"({"Driver":"overlayfs","DriverStatus":[["driver-type","io.containerd.snapshotter.v1"]],"DockerRootDir":"/var/lib/docker","ServerVersion":"29.1.0"})";

// Every sample, for the robustness tests.
const std::vector<std::string_view> k_all_samples = {
    k_image_list_1_41,       k_image_list_1_44,      k_image_list_1_51,
    k_image_list_podman,     k_image_inspect_1_41,   k_image_inspect_intermediate_1_41,
    k_image_inspect_1_52,    k_image_inspect_podman, k_history_legacy_1_41,
    k_history_buildkit_1_41, k_history_podman,       k_container_list_docker,
    k_container_list_podman, k_container_inspect,    k_system_df_1_41,
    k_version_1_41,          k_version_podman,       k_info_overlay2_1_41,
    k_info_containerd_store};

template <class T> void expect_malformed(const Result<T>& result, std::string_view mention) {
  ASSERT_FALSE(result.has_value());
  EXPECT_EQ(result.error().kind, ErrorKind::malformed);
  EXPECT_THAT(result.error().message, HasSubstr(std::string(mention)));
}

// Runs every parser on `body`; they must return (a value or an error) without throwing.
void parse_with_every_parser(std::string_view body) {
  EXPECT_NO_THROW({
    (void)parse_image_list(body);
    (void)parse_image_details(body);
    (void)parse_image_history(body);
    (void)parse_container_list(body);
    (void)parse_container_details(body);
    (void)parse_event(body);
    (void)parse_delete_response(body);
    (void)parse_disk_usage(body);
    (void)parse_build_prune_response(body);
    (void)parse_version(body);
    (void)parse_info(body);
    (void)parse_error_message(body);
  });
}

// --- image list --------------------------------------------------------------------------

TEST(ImageList, api_1_41_drops_none_placeholders) {
  const auto images = parse_image_list(k_image_list_1_41);
  ASSERT_TRUE(images.has_value()) << images.error().message;
  ASSERT_EQ(images->size(), 4U);

  const ImageSummary& tagged = (*images)[0];
  EXPECT_EQ(tagged.id, "sha256:417562b20707e7ff9275406fd2ea66a57a572dafd92380fc7c1b78193848e9b9");
  EXPECT_EQ(tagged.parent_id, "");
  EXPECT_THAT(tagged.repo_tags, ElementsAre("bk2:latest"));
  EXPECT_THAT(tagged.repo_digests, IsEmpty());
  EXPECT_EQ(tagged.created, 1795992619);
  EXPECT_EQ(tagged.size, 1982300);
  EXPECT_EQ(tagged.shared_size, -1);
  EXPECT_EQ(tagged.containers, -1);
  EXPECT_THAT(tagged.labels, IsEmpty());

  const ImageSummary& intermediate = (*images)[1];
  EXPECT_EQ(intermediate.parent_id,
            "sha256:d838f898ce4ddfe8133156bfb309ff80db840a1f4c9a828d1cb3b867044b6463");
  EXPECT_THAT(intermediate.repo_tags, IsEmpty());
  EXPECT_THAT(intermediate.repo_digests, IsEmpty());
  EXPECT_EQ(intermediate.labels, (Labels{{"a", "b"}}));
}

TEST(ImageList, api_1_44_reads_tags_digests_and_empty_lists) {
  const auto images = parse_image_list(k_image_list_1_44);
  ASSERT_TRUE(images.has_value()) << images.error().message;
  ASSERT_EQ(images->size(), 2U);
  EXPECT_THAT((*images)[0].repo_tags, ElementsAre("busybox:1.36", "busybox:latest"));
  EXPECT_THAT((*images)[0].repo_digests,
              ElementsAre("busybox@sha256:9ae97d36d26566ff84e8893c64a6dc4fe8ca6d1144bf5b87b2b85a"
                          "32def253c7"));
  EXPECT_EQ((*images)[0].labels.at("org.opencontainers.image.version"), "1.36.1");
  EXPECT_EQ((*images)[0].size, 4261550);
  EXPECT_THAT((*images)[1].repo_tags, IsEmpty());
  EXPECT_THAT((*images)[1].repo_digests, IsEmpty());
}

TEST(ImageList, api_1_51_reads_container_counts_and_ignores_manifests) {
  const auto images = parse_image_list(k_image_list_1_51);
  ASSERT_TRUE(images.has_value()) << images.error().message;
  ASSERT_EQ(images->size(), 2U);
  EXPECT_EQ((*images)[0].containers, 2);
  EXPECT_EQ((*images)[0].size, 4261550);
  EXPECT_EQ((*images)[1].containers, 0);
}

TEST(ImageList, podman_bare_hex_ids_are_normalized_and_docker_hub_tags_made_familiar) {
  const auto images = parse_image_list(k_image_list_podman);
  ASSERT_TRUE(images.has_value()) << images.error().message;
  ASSERT_EQ(images->size(), 2U);
  EXPECT_EQ((*images)[0].id,
            "sha256:a416a98b71e224a31ee99cff8e16063554498227d2b696152a9c3e0aa65e5824");
  EXPECT_THAT((*images)[0].repo_tags, ElementsAre("busybox:latest"));
  EXPECT_THAT((*images)[0].repo_digests,
              ElementsAre("busybox@sha256:9ae97d36d26566ff84e8893c64a6dc4fe8ca6d1144bf5b87b2b85a32d"
                          "ef253c7"));
  EXPECT_EQ((*images)[0].shared_size, 0);
  EXPECT_EQ((*images)[1].parent_id,
            "sha256:a416a98b71e224a31ee99cff8e16063554498227d2b696152a9c3e0aa65e5824");
  EXPECT_THAT((*images)[1].repo_tags, ElementsAre("localhost/app:dev"));
}

TEST(ImageList, missing_optional_fields_take_defaults) {
  const auto images = parse_image_list(R"([{"Id":"sha256:abc"}])");
  ASSERT_TRUE(images.has_value()) << images.error().message;
  ASSERT_EQ(images->size(), 1U);
  const ImageSummary& image = images->front();
  EXPECT_EQ(image.id, "sha256:abc");
  EXPECT_EQ(image.parent_id, "");
  EXPECT_EQ(image.created, 0);
  EXPECT_EQ(image.size, 0);
  EXPECT_EQ(image.shared_size, -1);
  EXPECT_EQ(image.containers, -1);
}

TEST(ImageList, empty_array_and_null_are_empty_lists) {
  EXPECT_THAT(parse_image_list("[]").value(), IsEmpty());
  EXPECT_THAT(parse_image_list(" null\n").value(), IsEmpty());
}

TEST(ImageList, id_of_wrong_type_is_malformed_naming_the_field) {
  expect_malformed(parse_image_list(R"([{"Id":"sha256:a"},{"Id":42}])"), "[1].Id");
}

constexpr std::size_t k_count_none = static_cast<std::size_t>(-1);

// A listing of `count` images, each padded with labels to about 600 bytes: from a few
// hundred images on, a listing is parsed an element at a time. Labels hold the characters that
// could confuse finding where an element ends: quotes, escapes and brackets in strings.
std::string large_image_list(std::size_t count, std::size_t bad_index = k_count_none) {
  std::string body = "[\n";
  for (std::size_t i = 0; i < count; ++i) {
    if (i > 0) {
      body += " ,\n ";
    }
    if (i == bad_index) {
      body += R"({"Id":"sha256:bad","Size":})";
      continue;
    }
    body +=
        R"({"Id":"sha256:)" + std::to_string(i) + R"(","ParentId":"","RepoTags":["app:)" +
        std::to_string(i) + R"("],"Size":)" + std::to_string(i * 10) +
        R"(,"Labels":{"quote":"a \"]} [{ quoted\" string","slash":"ends in \\","brackets":"}]}],[","escapes":"\\\"]},\\\\","pad":")" +
        std::string(400, 'x') + R"("}})";
  }
  return body + "\n]\n";
}

TEST(ImageList, a_large_listing_reads_every_element_with_strings_holding_brackets_and_quotes) {
  const auto images = parse_image_list(large_image_list(2000));
  ASSERT_TRUE(images.has_value()) << images.error().message;
  ASSERT_EQ(images->size(), 2000U);
  EXPECT_EQ((*images)[1234].id, "sha256:1234");
  EXPECT_THAT((*images)[1234].repo_tags, ElementsAre("app:1234"));
  EXPECT_EQ((*images)[1234].size, 12340);
  EXPECT_EQ((*images)[1999].labels.at("quote"), "a \"]} [{ quoted\" string");
  EXPECT_EQ((*images)[1999].labels.at("slash"), "ends in \\");
  EXPECT_EQ((*images)[1999].labels.at("brackets"), "}]}],[");
  EXPECT_EQ((*images)[1999].labels.at("escapes"), "\\\"]},\\\\");
}

TEST(ImageList, a_large_listing_with_a_broken_element_is_malformed_naming_it) {
  expect_malformed(parse_image_list(large_image_list(2000, 1500)), "[1500]");
}

TEST(ImageList, a_large_listing_with_a_wrong_field_names_element_and_field) {
  std::string body = large_image_list(2000);
  const std::string second = R"({"Id":"sha256:1",)";
  body.replace(body.find(second), second.size(), R"({"Id":1,)");
  expect_malformed(parse_image_list(body), "[1].Id");
}

TEST(ImageList, a_large_body_that_is_not_a_well_formed_array_is_malformed) {
  const std::string listing = large_image_list(2000);
  expect_malformed(parse_image_list(listing.substr(0, listing.size() - 3)), "invalid JSON");
  expect_malformed(parse_image_list(listing + "]"), "invalid JSON");
  expect_malformed(parse_image_list(listing.substr(0, 2) + "," + listing.substr(2)),
                   "invalid JSON");
  expect_malformed(parse_image_list(R"({"a":")" + std::string(300000, 'x') + R"("})"),
                   "expected an array");
}

TEST(ImageList, missing_id_is_malformed) {
  expect_malformed(parse_image_list(R"([{"Size":1}])"), "Id is missing");
  expect_malformed(parse_image_list(R"([{"Id":null}])"), "Id is missing");
}

TEST(ImageList, wrong_types_of_optional_fields_are_malformed) {
  expect_malformed(parse_image_list(R"([{"Id":"a","Size":"12"}])"), "[0].Size");
  expect_malformed(parse_image_list(R"([{"Id":"a","RepoTags":"x:y"}])"), "[0].RepoTags");
  expect_malformed(parse_image_list(R"([{"Id":"a","RepoTags":["x",1]}])"), "RepoTags[1]");
  expect_malformed(parse_image_list(R"([{"Id":"a","Labels":{"k":1}}])"), "Labels.k");
}

TEST(ImageList, integral_numbers_of_any_encoding_are_accepted) {
  const auto images = parse_image_list(R"([{"Id":"a","Size":1.5e3,"Created":1714558272.0}])");
  ASSERT_TRUE(images.has_value()) << images.error().message;
  EXPECT_EQ(images->front().size, 1500);
  EXPECT_EQ(images->front().created, 1714558272);
}

TEST(ImageList, fractional_or_out_of_range_numbers_are_malformed) {
  expect_malformed(parse_image_list(R"([{"Id":"a","Size":1.5}])"), "[0].Size");
  expect_malformed(parse_image_list(R"([{"Id":"a","Size":9223372036854775808}])"), "[0].Size");
  expect_malformed(parse_image_list(R"([{"Id":"a","Size":1e19}])"), "[0].Size");
}

TEST(ImageList, largest_int64_is_accepted) {
  const auto images = parse_image_list(R"([{"Id":"a","Size":9223372036854775807}])");
  ASSERT_TRUE(images.has_value()) << images.error().message;
  EXPECT_EQ(images->front().size, INT64_MAX);
}

TEST(ImageList, body_that_is_not_an_array_is_malformed) {
  expect_malformed(parse_image_list(R"({"message":"page not found"})"), "expected an array");
  expect_malformed(parse_image_list(R"(["sha256:abc"])"), "[0] is a string");
}

// --- image inspect -----------------------------------------------------------------------

TEST(ImageDetails, api_1_41_buildkit_image) {
  const auto image = parse_image_details(k_image_inspect_1_41);
  ASSERT_TRUE(image.has_value()) << image.error().message;
  EXPECT_EQ(image->id, "sha256:417562b20707e7ff9275406fd2ea66a57a572dafd92380fc7c1b78193848e9b9");
  EXPECT_EQ(image->parent, "");
  EXPECT_THAT(image->repo_tags, ElementsAre("bk2:latest"));
  EXPECT_THAT(image->repo_digests, IsEmpty());
  EXPECT_EQ(image->created, 1795992619);
  EXPECT_EQ(image->last_tag_time, 1795992619);
  EXPECT_EQ(image->size, 1982300);
  EXPECT_THAT(
      image->diff_ids,
      ElementsAre("sha256:bc603ecbdf31dd3ba6d705546ca4d196c2a6f3a8db1c4e82fdd9122c0ba9c908",
                  "sha256:66de45938a43047bf837af8fe83e4a262d3e321e02d8d970c89b28127b64d17e"));
  EXPECT_THAT(image->labels, IsEmpty());
}

TEST(ImageDetails, zero_last_tag_time_is_nullopt) {
  const auto image = parse_image_details(k_image_inspect_intermediate_1_41);
  ASSERT_TRUE(image.has_value()) << image.error().message;
  EXPECT_EQ(image->parent,
            "sha256:d838f898ce4ddfe8133156bfb309ff80db840a1f4c9a828d1cb3b867044b6463");
  EXPECT_EQ(image->last_tag_time, std::nullopt);
  EXPECT_EQ(image->created, 1795992619);
  EXPECT_EQ(image->labels, (Labels{{"a", "b"}}));
  EXPECT_EQ(image->diff_ids.size(), 2U);
}

TEST(ImageDetails, api_1_52_without_parent) {
  const auto image = parse_image_details(k_image_inspect_1_52);
  ASSERT_TRUE(image.has_value()) << image.error().message;
  EXPECT_EQ(image->parent, "");
  EXPECT_EQ(image->created, 1714558272 - 2 * 3600);
  EXPECT_EQ(image->last_tag_time, 1714551080);
  EXPECT_EQ(image->labels, (Labels{{"maintainer", "ops@example.com"}}));
  EXPECT_THAT(image->diff_ids, ElementsAre("sha256:65014c70e84b6817fac42bb201ec5c1ea460a8da246cac"
                                           "0e481f5c9a9491eba0"));
}

TEST(ImageDetails, podman_familiar_tags_and_no_labels) {
  const auto image = parse_image_details(k_image_inspect_podman);
  ASSERT_TRUE(image.has_value()) << image.error().message;
  EXPECT_THAT(image->repo_tags, ElementsAre("busybox:latest"));
  EXPECT_THAT(image->labels, IsEmpty());
  EXPECT_EQ(image->last_tag_time, std::nullopt);
  EXPECT_EQ(image->size, 4495365);
}

TEST(ImageDetails, null_config_and_missing_layers_are_empty) {
  const auto image = parse_image_details(
      R"({"Id":"sha256:abc","Config":null,"RootFS":{"Type":"layers"},"Metadata":{}})");
  ASSERT_TRUE(image.has_value()) << image.error().message;
  EXPECT_THAT(image->diff_ids, IsEmpty());
  EXPECT_THAT(image->labels, IsEmpty());
  EXPECT_EQ(image->last_tag_time, std::nullopt);
  EXPECT_EQ(image->created, 0);
}

TEST(ImageDetails, config_with_null_labels_is_empty) {
  const auto image = parse_image_details(R"({"Id":"sha256:abc","Config":{"Labels":null}})");
  ASSERT_TRUE(image.has_value()) << image.error().message;
  EXPECT_THAT(image->labels, IsEmpty());
}

TEST(ImageDetails, created_that_is_not_a_time_is_malformed) {
  expect_malformed(parse_image_details(R"({"Id":"sha256:abc","Created":"yesterday"})"),
                   "Created is not an RFC 3339 time");
  expect_malformed(parse_image_details(R"({"Id":"sha256:abc","Created":1714558272})"),
                   "Created is a number");
}

TEST(ImageDetails, nested_wrong_types_name_the_path) {
  expect_malformed(parse_image_details(R"({"Id":"sha256:abc","RootFS":{"Layers":[1]}})"),
                   "RootFS.Layers[0]");
  expect_malformed(parse_image_details(R"({"Id":"sha256:abc","Metadata":{"LastTagTime":5}})"),
                   "Metadata.LastTagTime");
  expect_malformed(parse_image_details(R"({"Id":"sha256:abc","Config":[]})"), "Config is an array");
}

TEST(ImageDetails, body_that_is_not_an_object_is_malformed) {
  expect_malformed(parse_image_details("[]"), "expected an object");
  expect_malformed(parse_image_details("null"), "expected an object");
}

// --- image history -----------------------------------------------------------------------

TEST(ImageHistory, legacy_builder_history_newest_first) {
  const auto history = parse_image_history(k_history_legacy_1_41);
  ASSERT_TRUE(history.has_value()) << history.error().message;
  ASSERT_EQ(history->size(), 3U);
  EXPECT_EQ((*history)[0].created_by, "/bin/sh -c #(nop)  LABEL a=b");
  EXPECT_EQ((*history)[0].size, 0);
  EXPECT_EQ((*history)[0].created, 1795992619);
  EXPECT_EQ((*history)[1].size, 2);
  EXPECT_EQ((*history)[2].comment, "Imported from -");
  EXPECT_EQ((*history)[2].size, 1982298);
  EXPECT_EQ((*history)[2].id,
            "sha256:d3f1e591f9231ec147a3aaf1f5d254af39112779b80d921348438583788746ce");
}

TEST(ImageHistory, buildkit_steps_keep_missing_ids) {
  const auto history = parse_image_history(k_history_buildkit_1_41);
  ASSERT_TRUE(history.has_value()) << history.error().message;
  ASSERT_EQ(history->size(), 3U);
  EXPECT_EQ((*history)[1].id, "<missing>");
  EXPECT_EQ((*history)[1].created_by, "COPY f /f # buildkit");
  EXPECT_EQ((*history)[1].comment, "buildkit.dockerfile.v0");
}

TEST(ImageHistory, podman_ids_are_normalized) {
  const auto history = parse_image_history(k_history_podman);
  ASSERT_TRUE(history.has_value()) << history.error().message;
  ASSERT_EQ(history->size(), 2U);
  EXPECT_EQ((*history)[0].id,
            "sha256:7c1b2a3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f9");
  EXPECT_EQ((*history)[0].created_by, R"(/bin/sh -c #(nop) CMD ["sh"])");
}

TEST(ImageHistory, element_that_is_not_an_object_is_malformed) {
  expect_malformed(parse_image_history(R"([{"Size":1},[]])"), "[1] is an array");
}

// --- containers --------------------------------------------------------------------------

TEST(ContainerList, docker_list_reads_image_ids_and_states) {
  const auto containers = parse_container_list(k_container_list_docker);
  ASSERT_TRUE(containers.has_value()) << containers.error().message;
  ASSERT_EQ(containers->size(), 2U);
  const ContainerSummary& web = (*containers)[0];
  EXPECT_EQ(web.id, "2c3a9f0d1b5e7a8c9d0e1f2a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e");
  EXPECT_EQ(web.image, "busybox:latest");
  EXPECT_EQ(web.image_id,
            "sha256:d3f1e591f9231ec147a3aaf1f5d254af39112779b80d921348438583788746ce");
  EXPECT_EQ(web.state, "running");
  EXPECT_THAT(web.names, ElementsAre("/web"));
  EXPECT_EQ((*containers)[1].state, "exited");
}

TEST(ContainerList, podman_bare_image_id_is_normalized_but_container_id_is_not) {
  const auto containers = parse_container_list(k_container_list_podman);
  ASSERT_TRUE(containers.has_value()) << containers.error().message;
  ASSERT_EQ(containers->size(), 1U);
  EXPECT_EQ(containers->front().id,
            "5e0d1f2a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6");
  EXPECT_EQ(containers->front().image_id,
            "sha256:a416a98b71e224a31ee99cff8e16063554498227d2b696152a9c3e0aa65e5824");
  EXPECT_EQ(containers->front().state, "created");
}

TEST(ContainerList, missing_id_is_malformed) {
  expect_malformed(parse_container_list(R"([{"Image":"busybox"}])"), "[0].Id is missing");
}

TEST(ContainerDetails, reads_real_image_and_running_flag) {
  const auto container = parse_container_details(k_container_inspect);
  ASSERT_TRUE(container.has_value()) << container.error().message;
  EXPECT_EQ(container->id, "2c3a9f0d1b5e7a8c9d0e1f2a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e");
  EXPECT_EQ(container->image_id,
            "sha256:d3f1e591f9231ec147a3aaf1f5d254af39112779b80d921348438583788746ce");
  EXPECT_EQ(container->name, "/web");
  EXPECT_TRUE(container->running);
}

TEST(ContainerDetails, missing_state_means_not_running) {
  const auto container = parse_container_details(R"({"Id":"c1","Image":"sha256:abc"})");
  ASSERT_TRUE(container.has_value()) << container.error().message;
  EXPECT_FALSE(container->running);
}

TEST(ContainerDetails, running_of_wrong_type_is_malformed) {
  expect_malformed(parse_container_details(R"({"Id":"c1","State":{"Running":"yes"}})"),
                   "State.Running is a string");
}

// --- events ------------------------------------------------------------------------------

TEST(Event, api_1_41_event_with_legacy_fields) {
  const auto event = parse_event(
      R"({"status":"die","id":"c9899c09a27ecbc4b546f1f232cf85238c5cd9bfaee52ab2852309d10c42f099","from":"sha256:d3f1e591f9231ec147a3aaf1f5d254af39112779b80d921348438583788746ce","Type":"container","Action":"die","Actor":{"ID":"c9899c09a27ecbc4b546f1f232cf85238c5cd9bfaee52ab2852309d10c42f099","Attributes":{"exitCode":"0","image":"sha256:d3f1e591f9231ec147a3aaf1f5d254af39112779b80d921348438583788746ce","name":"brave_wilson"}},"scope":"local","time":1795992531,"timeNano":1795992531383321838})");
  ASSERT_TRUE(event.has_value()) << event.error().message;
  EXPECT_EQ(event->type, "container");
  EXPECT_EQ(event->action, "die");
  EXPECT_EQ(event->actor_id, "c9899c09a27ecbc4b546f1f232cf85238c5cd9bfaee52ab2852309d10c42f099");
  EXPECT_EQ(event->attributes.at("exitCode"), "0");
  EXPECT_EQ(event->attributes.at("name"), "brave_wilson");
  EXPECT_EQ(event->scope, "local");
  EXPECT_EQ(event->time_nano, 1795992531383321838);
}

TEST(Event, api_1_52_event_without_legacy_fields) {
  const auto event = parse_event(
      R"({"Type":"image","Action":"tag","Actor":{"ID":"sha256:d3f1e591f9231ec147a3aaf1f5d254af39112779b80d921348438583788746ce","Attributes":{"name":"busybox:latest"}},"scope":"local","time":1795992531,"timeNano":1795992531021695788})");
  ASSERT_TRUE(event.has_value()) << event.error().message;
  EXPECT_EQ(event->type, "image");
  EXPECT_EQ(event->action, "tag");
  EXPECT_EQ(event->actor_id,
            "sha256:d3f1e591f9231ec147a3aaf1f5d254af39112779b80d921348438583788746ce");
  EXPECT_EQ(event->attributes, (std::map<std::string, std::string>{{"name", "busybox:latest"}}));
  EXPECT_EQ(event->time_nano, 1795992531021695788);
}

TEST(Event, pull_event_keeps_reference_as_actor) {
  const auto event = parse_event(
      R"({"Type":"image","Action":"pull","Actor":{"ID":"alpine:latest","Attributes":{"name":"alpine"}},"scope":"local","time":1714558272,"timeNano":1714558272000000001})");
  ASSERT_TRUE(event.has_value()) << event.error().message;
  EXPECT_EQ(event->actor_id, "alpine:latest");
}

TEST(Event, very_old_form_is_a_container_event) {
  const auto event = parse_event(
      R"({"status":"start","id":"9bfe7bb65695","from":"busybox:latest","time":1414000000})");
  ASSERT_TRUE(event.has_value()) << event.error().message;
  EXPECT_EQ(event->type, "container");
  EXPECT_EQ(event->action, "start");
  EXPECT_EQ(event->actor_id, "9bfe7bb65695");
  EXPECT_EQ(event->attributes.at("image"), "busybox:latest");
  EXPECT_EQ(event->time_nano, 1414000000LL * 1000000000LL);
}

TEST(Event, time_alone_is_scaled_to_nanoseconds) {
  const auto event = parse_event(R"({"Type":"container","Action":"destroy","time":1795992531})");
  ASSERT_TRUE(event.has_value()) << event.error().message;
  EXPECT_EQ(event->time_nano, 1795992531000000000);
  EXPECT_EQ(event->actor_id, "");
  EXPECT_THAT(event->attributes, IsEmpty());
}

TEST(Event, time_too_large_for_nanoseconds_is_malformed) {
  expect_malformed(parse_event(R"({"Type":"container","Action":"die","time":9223372037})"),
                   "time is out of range");
}

TEST(Event, podman_image_actor_is_normalized_but_container_actor_is_not) {
  const auto image = parse_event(
      R"({"status":"pull","id":"a416a98b71e224a31ee99cff8e16063554498227d2b696152a9c3e0aa65e5824","from":"docker.io/library/busybox:latest","Type":"image","Action":"pull","Actor":{"ID":"a416a98b71e224a31ee99cff8e16063554498227d2b696152a9c3e0aa65e5824","Attributes":{"name":"docker.io/library/busybox:latest"}},"scope":"local","time":1714558272,"timeNano":1714558272123456789})");
  ASSERT_TRUE(image.has_value()) << image.error().message;
  EXPECT_EQ(image->actor_id,
            "sha256:a416a98b71e224a31ee99cff8e16063554498227d2b696152a9c3e0aa65e5824");

  const auto container = parse_event(
      R"({"status":"remove","id":"5e0d1f2a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6","from":"docker.io/library/busybox:latest","Type":"container","Action":"remove","Actor":{"ID":"5e0d1f2a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6","Attributes":{"containerExitCode":"0","image":"docker.io/library/busybox:latest","name":"db","podId":""}},"scope":"local","time":1714558400,"timeNano":1714558400987654321})");
  ASSERT_TRUE(container.has_value()) << container.error().message;
  EXPECT_EQ(container->action, "remove");
  EXPECT_EQ(container->actor_id,
            "5e0d1f2a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6");
  EXPECT_EQ(container->attributes.at("image"), "docker.io/library/busybox:latest");
}

TEST(Event, unknown_fields_and_types_are_accepted) {
  const auto event = parse_event(
      R"({"Type":"network","Action":"connect","Actor":{"ID":"ccf03674e7af","Attributes":{"container":"c9899c09a27e","type":"null"}},"scope":"local","time":1,"timeNano":1000000001,"future":{"nested":[1,2,3]}})");
  ASSERT_TRUE(event.has_value()) << event.error().message;
  EXPECT_EQ(event->type, "network");
  EXPECT_EQ(event->attributes.at("type"), "null");
}

TEST(Event, missing_type_or_action_is_malformed) {
  expect_malformed(parse_event(R"({"Action":"die","Actor":{"ID":"c1"}})"), "Type is missing");
  expect_malformed(parse_event(R"({"Type":"container","status":"die"})"), "Action is missing");
  expect_malformed(parse_event(R"({"time":1})"), "Type is missing");
  expect_malformed(parse_event("{}"), "is missing");
}

TEST(Event, non_object_line_is_malformed) {
  expect_malformed(parse_event("[]"), "expected an object");
  expect_malformed(parse_event("\"die\""), "expected an object");
  expect_malformed(parse_event(""), "empty body");
}

TEST(Event, attribute_of_wrong_type_is_malformed) {
  expect_malformed(
      parse_event(
          R"({"Type":"container","Action":"die","Actor":{"ID":"c1","Attributes":{"exitCode":0}}})"),
      "Actor.Attributes.exitCode");
}

// --- delete, df, build prune -------------------------------------------------------------

TEST(DeleteResponse, separates_untagged_and_deleted) {
  const auto response = parse_delete_response(
      R"([{"Untagged":"five:latest"},{"Deleted":"sha256:6cbf5ef767efa12119bd9e87d07dd680663597937437aaffc4573e2c153f9b99"},{"Deleted":"sha256:e857dbb202f9b0c27bdca5e5cb054173e1c5829db61ce50a0fbdf846de47951f"}])");
  ASSERT_TRUE(response.has_value()) << response.error().message;
  EXPECT_THAT(response->untagged, ElementsAre("five:latest"));
  EXPECT_THAT(
      response->deleted,
      ElementsAre("sha256:6cbf5ef767efa12119bd9e87d07dd680663597937437aaffc4573e2c153f9b99",
                  "sha256:e857dbb202f9b0c27bdca5e5cb054173e1c5829db61ce50a0fbdf846de47951f"));
}

TEST(DeleteResponse, podman_bare_deleted_ids_are_normalized) {
  const auto response = parse_delete_response(
      R"([{"Untagged":"docker.io/library/busybox:latest"},{"Deleted":"a416a98b71e224a31ee99cff8e16063554498227d2b696152a9c3e0aa65e5824"}])");
  ASSERT_TRUE(response.has_value()) << response.error().message;
  EXPECT_THAT(
      response->deleted,
      ElementsAre("sha256:a416a98b71e224a31ee99cff8e16063554498227d2b696152a9c3e0aa65e5824"));
}

TEST(DeleteResponse, empty_and_malformed_bodies) {
  const auto empty = parse_delete_response("[]");
  ASSERT_TRUE(empty.has_value());
  EXPECT_THAT(empty->untagged, IsEmpty());
  EXPECT_THAT(empty->deleted, IsEmpty());
  expect_malformed(parse_delete_response(R"(["five:latest"])"), "[0] is a string");
  expect_malformed(parse_delete_response(R"([{"Deleted":7}])"), "[0].Deleted");
}

TEST(DiskUsage, api_1_41_layers_images_and_build_cache) {
  const auto usage = parse_disk_usage(k_system_df_1_41);
  ASSERT_TRUE(usage.has_value()) << usage.error().message;
  EXPECT_EQ(usage->layers_size, 1982317);
  ASSERT_EQ(usage->images.size(), 2U);
  EXPECT_EQ(usage->images[0].id,
            "sha256:417562b20707e7ff9275406fd2ea66a57a572dafd92380fc7c1b78193848e9b9");
  EXPECT_EQ(usage->images[0].size, 1982300);
  EXPECT_EQ(usage->images[0].shared_size, 1982298);
  EXPECT_EQ(usage->images[0].containers, 0);
  ASSERT_EQ(usage->build_cache.size(), 2U);
  const BuildCacheRecord& regular = usage->build_cache[0];
  EXPECT_EQ(regular.id, "s4tu6ony6zdxh4w47va9q9flf");
  EXPECT_EQ(regular.type, "regular");
  EXPECT_FALSE(regular.in_use);
  EXPECT_TRUE(regular.shared);
  EXPECT_EQ(regular.size, 3);
  EXPECT_EQ(regular.last_used_at, 1795992532);
  EXPECT_EQ(regular.usage_count, 1);
  EXPECT_TRUE(usage->build_cache[1].in_use);
  EXPECT_EQ(usage->build_cache[1].last_used_at, std::nullopt);
}

TEST(DiskUsage, null_images_and_build_cache_are_empty) {
  const auto usage = parse_disk_usage(R"({"LayersSize":0,"Images":null,"BuildCache":null})");
  ASSERT_TRUE(usage.has_value()) << usage.error().message;
  EXPECT_THAT(usage->images, IsEmpty());
  EXPECT_THAT(usage->build_cache, IsEmpty());
}

TEST(DiskUsage, podman_without_shared_size_and_build_cache) {
  const auto usage = parse_disk_usage(
      R"({"LayersSize":4495365,"Images":[{"Id":"a416a98b71e224a31ee99cff8e16063554498227d2b696152a9c3e0aa65e5824","Size":4495365,"Containers":1}],"Containers":[],"Volumes":[]})");
  ASSERT_TRUE(usage.has_value()) << usage.error().message;
  ASSERT_EQ(usage->images.size(), 1U);
  EXPECT_EQ(usage->images[0].id,
            "sha256:a416a98b71e224a31ee99cff8e16063554498227d2b696152a9c3e0aa65e5824");
  EXPECT_EQ(usage->images[0].shared_size, -1);
  EXPECT_EQ(usage->images[0].containers, 1);
}

// An API 1.41 /system/df of a large host: every image listed (large_image_list) before the build
// cache, with a key of the same name inside an image's labels.
std::string large_system_df(const std::string& images) {
  return R"({"LayersSize":1982317,"Images":)" + images +
         R"(,"Containers":[{"Id":"c","Labels":{"BuildCache":"[]"}}],"Volumes":null,)" +
         R"("BuildCache":[{"ID":"s4tu6ony6zdxh4w47va9q9flf","Type":"regular","InUse":false,)" +
         R"("Shared":true,"Size":3,"LastUsedAt":"2026-11-30T07:28:52Z","UsageCount":1}],)" +
         R"("BuilderSize":3})";
}

TEST(DiskUsage, the_build_cache_of_a_large_answer_is_read_without_its_images) {
  const std::string body = large_system_df(large_image_list(2000));
  const auto usage = parse_build_cache_usage(body);
  ASSERT_TRUE(usage.has_value()) << usage.error().message;
  EXPECT_EQ(usage->layers_size, 1982317);
  EXPECT_THAT(usage->images, IsEmpty());
  const auto whole = parse_disk_usage(body);
  ASSERT_TRUE(whole.has_value()) << whole.error().message;
  EXPECT_EQ(whole->images.size(), 2000U);
  ASSERT_EQ(usage->build_cache.size(), 1U);
  EXPECT_EQ(usage->build_cache, whole->build_cache);
  EXPECT_EQ(usage->build_cache[0].id, "s4tu6ony6zdxh4w47va9q9flf");
  EXPECT_EQ(usage->build_cache[0].size, 3);
}

TEST(DiskUsage, the_build_cache_of_a_small_answer_is_read_the_same) {
  const auto usage = parse_build_cache_usage(k_system_df_1_41);
  const auto whole = parse_disk_usage(k_system_df_1_41);
  ASSERT_TRUE(usage.has_value()) << usage.error().message;
  ASSERT_TRUE(whole.has_value()) << whole.error().message;
  EXPECT_THAT(usage->images, IsEmpty());
  EXPECT_EQ(usage->layers_size, whole->layers_size);
  EXPECT_EQ(usage->build_cache, whole->build_cache);
  EXPECT_EQ(usage->build_cache.size(), 2U);
}

TEST(DiskUsage, a_large_answer_that_is_broken_is_malformed) {
  const std::string body = large_system_df(large_image_list(2000));
  expect_malformed(parse_build_cache_usage(body.substr(0, body.size() - 1)), "invalid JSON");
  std::string wrong_record = body;
  const std::string id = R"("ID":"s4tu6ony6zdxh4w47va9q9flf")";
  wrong_record.replace(wrong_record.find(id), id.size(), R"("ID":7)");
  expect_malformed(parse_build_cache_usage(wrong_record), "BuildCache[0].ID");
  // A broken image is not read, so not seen: the answer's own parts are what is checked.
  EXPECT_TRUE(parse_build_cache_usage(large_system_df(large_image_list(2000, 10))).has_value());
}

TEST(DiskUsage, build_cache_record_without_id_is_malformed) {
  expect_malformed(parse_disk_usage(R"({"BuildCache":[{"Size":1}]})"), "BuildCache[0].ID");
  expect_malformed(parse_disk_usage(R"({"Images":{}})"), "Images is an object");
}

TEST(BuildPruneResponse, reads_deleted_caches_and_space) {
  const auto response = parse_build_prune_response(
      R"({"CachesDeleted":["s4tu6ony6zdxh4w47va9q9flf","jh2n8eqfkqixoecayp9v4kx2y"],"SpaceReclaimed":5})");
  ASSERT_TRUE(response.has_value()) << response.error().message;
  EXPECT_THAT(response->caches_deleted,
              ElementsAre("s4tu6ony6zdxh4w47va9q9flf", "jh2n8eqfkqixoecayp9v4kx2y"));
  EXPECT_EQ(response->space_reclaimed, 5);
}

TEST(BuildPruneResponse, null_caches_deleted_is_empty) {
  const auto response = parse_build_prune_response(R"({"CachesDeleted":null,"SpaceReclaimed":0})");
  ASSERT_TRUE(response.has_value()) << response.error().message;
  EXPECT_THAT(response->caches_deleted, IsEmpty());
  EXPECT_EQ(response->space_reclaimed, 0);
}

// --- version, info, errors ---------------------------------------------------------------

TEST(Version, docker_engine) {
  const auto version = parse_version(k_version_1_41);
  ASSERT_TRUE(version.has_value()) << version.error().message;
  EXPECT_EQ(version->version, "20.10.24+dfsg1");
  EXPECT_EQ(version->api_version, (ApiVersion{1, 41}));
  EXPECT_EQ(version->min_api_version, (ApiVersion{1, 12}));
  EXPECT_FALSE(version->is_podman);
}

TEST(Version, podman_is_recognized_by_its_component) {
  const auto version = parse_version(k_version_podman);
  ASSERT_TRUE(version.has_value()) << version.error().message;
  EXPECT_EQ(version->version, "4.3.1");
  EXPECT_EQ(version->api_version, (ApiVersion{1, 41}));
  EXPECT_EQ(version->min_api_version, (ApiVersion{1, 24}));
  EXPECT_TRUE(version->is_podman);
}

TEST(Version, missing_min_api_version_defaults_to_1_12) {
  const auto version = parse_version(R"({"Version":"29.1.0","ApiVersion":"1.52"})");
  ASSERT_TRUE(version.has_value()) << version.error().message;
  EXPECT_EQ(version->api_version, (ApiVersion{1, 52}));
  EXPECT_EQ(version->min_api_version, (ApiVersion{1, 12}));
}

TEST(Version, missing_or_bad_api_version_is_malformed) {
  expect_malformed(parse_version(R"({"Version":"20.10"})"), "ApiVersion is missing");
  expect_malformed(parse_version(R"({"ApiVersion":"one"})"), "ApiVersion is not an API version");
  expect_malformed(parse_version(R"({"ApiVersion":1.41})"), "ApiVersion is a number");
  expect_malformed(parse_version(R"({"ApiVersion":"1.41","MinAPIVersion":"x"})"), "MinAPIVersion");
}

TEST(Info, overlay2_engine) {
  const auto info = parse_info(k_info_overlay2_1_41);
  ASSERT_TRUE(info.has_value()) << info.error().message;
  EXPECT_EQ(info->server_version, "20.10.24+dfsg1");
  EXPECT_EQ(info->storage_driver, "overlay2");
  EXPECT_EQ(info->docker_root_dir, "/tmp/dk1/data");
  EXPECT_FALSE(info->containerd_snapshotter);
}

TEST(Info, containerd_image_store_is_detected) {
  const auto info = parse_info(k_info_containerd_store);
  ASSERT_TRUE(info.has_value()) << info.error().message;
  EXPECT_EQ(info->storage_driver, "overlayfs");
  EXPECT_TRUE(info->containerd_snapshotter);
}

TEST(Info, null_driver_status_and_odd_pairs) {
  const auto null_status = parse_info(R"({"Driver":"vfs","DriverStatus":null})");
  ASSERT_TRUE(null_status.has_value()) << null_status.error().message;
  EXPECT_FALSE(null_status->containerd_snapshotter);

  // Pairs of another shape are ignored; only a pair that is not an array is malformed.
  const auto odd = parse_info(R"({"DriverStatus":[["driver-type"],[1,2],[]]})");
  ASSERT_TRUE(odd.has_value()) << odd.error().message;
  EXPECT_FALSE(odd->containerd_snapshotter);
  expect_malformed(parse_info(R"({"DriverStatus":["driver-type"]})"), "DriverStatus[0]");
}

TEST(ErrorMessage, message_field_or_trimmed_body) {
  EXPECT_EQ(
      parse_error_message(
          R"({"message":"conflict: unable to remove repository reference \"busybox\" (must force) - container 2c3a9f0d1b5e is using its referenced image d3f1e591f923"})"),
      "conflict: unable to remove repository reference \"busybox\" (must force) - "
      "container 2c3a9f0d1b5e is using its referenced image d3f1e591f923");
  EXPECT_EQ(parse_error_message("  404 page not found\n"), "404 page not found");
  EXPECT_EQ(parse_error_message(R"({"cause":"x"})"), R"({"cause":"x"})");
  EXPECT_EQ(parse_error_message(R"({"message":""} )"), R"({"message":""})");
  EXPECT_EQ(parse_error_message(""), "");
  EXPECT_EQ(parse_error_message(" \r\n"), "");
}

// --- small parsers -----------------------------------------------------------------------

TEST(ApiVersionText, parses_major_and_minor) {
  EXPECT_EQ(parse_api_version("1.41"), (ApiVersion{1, 41}));
  EXPECT_EQ(parse_api_version("1.52"), (ApiVersion{1, 52}));
  EXPECT_EQ(parse_api_version("2.0"), (ApiVersion{2, 0}));
}

TEST(ApiVersionText, rejects_junk) {
  for (const std::string_view junk :
       {"", "1.", ".41", "abc", "1.41x", "1.41.0", "1", "-1.41", "+1.41", "1.-4", " 1.41", "1.41 ",
        "1..41", "99999999999.1"}) {
    EXPECT_EQ(parse_api_version(junk), std::nullopt) << junk;
  }
}

TEST(NormalizeImageId, adds_prefix_to_bare_hex_only) {
  EXPECT_EQ(normalize_image_id("a416a98b71e224a31ee99cff8e16063554498227d2b696152a9c3e0aa65e5824"),
            "sha256:a416a98b71e224a31ee99cff8e16063554498227d2b696152a9c3e0aa65e5824");
  EXPECT_EQ(
      normalize_image_id("sha256:a416a98b71e224a31ee99cff8e16063554498227d2b696152a9c3e0aa65e5824"),
      "sha256:a416a98b71e224a31ee99cff8e16063554498227d2b696152a9c3e0aa65e5824");
  EXPECT_EQ(normalize_image_id("a416a98b71e2"), "a416a98b71e2");
  EXPECT_EQ(normalize_image_id("A416A98B71E224A31EE99CFF8E16063554498227D2B696152A9C3E0AA65E5824"),
            "A416A98B71E224A31EE99CFF8E16063554498227D2B696152A9C3E0AA65E5824");
  EXPECT_EQ(normalize_image_id("<missing>"), "<missing>");
  EXPECT_EQ(normalize_image_id(""), "");
}

TEST(Rfc3339, utc_with_and_without_fraction) {
  EXPECT_EQ(parse_rfc3339("1970-01-01T00:00:00Z"), 0);
  EXPECT_EQ(parse_rfc3339("2024-05-01T10:11:12Z"), 1714558272);
  EXPECT_EQ(parse_rfc3339("2026-11-29T22:50:19.449457739Z"), 1795992619);
  EXPECT_EQ(parse_rfc3339("2026-11-29T22:48:52.9067363Z"), 1795992532);
  EXPECT_EQ(parse_rfc3339("2024-05-01T10:11:12.5Z"), 1714558272);
  EXPECT_EQ(parse_rfc3339("2024-05-01T10:11:12.123456789012Z"), 1714558272);
  EXPECT_EQ(parse_rfc3339("2024-05-01t10:11:12z"), 1714558272);
}

TEST(Rfc3339, offsets_are_applied) {
  EXPECT_EQ(parse_rfc3339("2024-05-01T10:11:12+02:00"), 1714551072);
  EXPECT_EQ(parse_rfc3339("2024-05-01T10:11:12-05:30"), 1714578072);
  EXPECT_EQ(parse_rfc3339("2026-05-07T21:09:36.000000000+00:00"),
            parse_rfc3339("2026-05-07T21:09:36Z"));
}

TEST(Rfc3339, calendar_edges) {
  EXPECT_EQ(parse_rfc3339("2024-02-29T00:00:00Z"), 1709164800);
  EXPECT_EQ(parse_rfc3339("1969-12-31T23:59:59Z"), -1);
  EXPECT_EQ(parse_rfc3339("9999-12-31T23:59:59Z"), 253402300799);
  EXPECT_EQ(parse_rfc3339("0002-01-01T00:00:00Z"), -62104060800);
  EXPECT_EQ(parse_rfc3339("2023-02-29T00:00:00Z"), std::nullopt);
  EXPECT_EQ(parse_rfc3339("2100-02-29T00:00:00Z"), std::nullopt);
  EXPECT_EQ(parse_rfc3339("2000-02-29T00:00:00Z"), 951782400);
  EXPECT_EQ(parse_rfc3339("2024-04-31T00:00:00Z"), std::nullopt);
}

TEST(Rfc3339, zero_time_is_nullopt) {
  EXPECT_EQ(parse_rfc3339("0001-01-01T00:00:00Z"), std::nullopt);
  EXPECT_EQ(parse_rfc3339("0001-01-01T00:00:00.000000000Z"), std::nullopt);
  EXPECT_EQ(parse_rfc3339("0001-01-01T00:00:00+00:00"), std::nullopt);
}

TEST(Rfc3339, garbage_is_nullopt) {
  for (const std::string_view garbage : {"",
                                         "Z",
                                         "2024",
                                         "2024-05-01",
                                         "2024-05-01T10:11:12",
                                         "2024-05-01T10:11Z",
                                         "2024-05-01 10:11:12Z",
                                         "2024-13-01T10:11:12Z",
                                         "2024-00-01T10:11:12Z",
                                         "2024-05-00T10:11:12Z",
                                         "2024-05-01T24:00:00Z",
                                         "2024-05-01T10:60:00Z",
                                         "2024-05-01T10:11:61Z",
                                         "2024-05-01T10:11:12.Z",
                                         "2024-05-01T10:11:12+0200",
                                         "2024-05-01T10:11:12+24:00",
                                         "2024-05-01T10:11:12+02:60",
                                         "2024-05-01T10:11:12Zjunk",
                                         "+2024-05-01T10:11:12Z",
                                         "2024-5-01T10:11:12Z",
                                         "yesterday",
                                         "2024-05-01T10:11:12 Z"}) {
    EXPECT_EQ(parse_rfc3339(garbage), std::nullopt) << garbage;
  }
}

// --- robustness --------------------------------------------------------------------------

TEST(Robustness, every_prefix_of_every_sample_is_handled) {
  for (const std::string_view sample : k_all_samples) {
    for (std::size_t length = 0; length <= sample.size(); ++length) {
      parse_with_every_parser(sample.substr(0, length));
    }
  }
}

TEST(Robustness, truncated_bodies_are_malformed) {
  expect_malformed(parse_image_list(k_image_list_1_41.substr(0, 200)), "invalid JSON");
  expect_malformed(parse_image_details(k_image_inspect_1_41.substr(0, 100)), "invalid JSON");
  expect_malformed(parse_disk_usage("{"), "invalid JSON");
}

TEST(Robustness, random_bytes_and_mutations_are_handled) {
  std::mt19937 random(20240501); // fixed seed: failures must reproduce
  std::uniform_int_distribution<int> byte(0, 255);
  for (int round = 0; round < 300; ++round) {
    std::string garbage(static_cast<std::size_t>(byte(random)), '\0');
    for (char& c : garbage) {
      c = static_cast<char>(byte(random));
    }
    parse_with_every_parser(garbage);
  }
  // Flipping single bytes of valid bodies reaches deeper into the readers than pure noise.
  for (const std::string_view sample : k_all_samples) {
    std::uniform_int_distribution<std::size_t> position(0, sample.size() - 1);
    for (int round = 0; round < 40; ++round) {
      std::string mutated(sample);
      mutated[position(random)] = static_cast<char>(byte(random));
      parse_with_every_parser(mutated);
    }
  }
}

TEST(Robustness, deep_nesting_is_malformed) {
  const std::string deep_array = std::string(100000, '[') + std::string(100000, ']');
  expect_malformed(parse_image_list(deep_array), "invalid JSON");
  std::string deep_object;
  for (int i = 0; i < 5000; ++i) {
    deep_object += R"({"Type":)";
  }
  deep_object += "1";
  deep_object += std::string(5000, '}');
  expect_malformed(parse_event(deep_object), "invalid JSON");
}

TEST(Robustness, invalid_utf8_and_embedded_nul_are_malformed) {
  expect_malformed(parse_image_list("[{\"Id\":\"\xff\xfe\"}]"), "invalid JSON");
  expect_malformed(parse_image_list(std::string_view("[{\"Id\":\"a\"}\0]", 13)), "invalid JSON");
}

TEST(Robustness, parsers_are_independent_between_calls) {
  // The parser is reused between calls; values must not depend on an earlier body.
  const auto first = parse_image_details(k_image_inspect_1_41);
  const auto second = parse_image_details(k_image_inspect_1_52);
  ASSERT_TRUE(first.has_value());
  ASSERT_TRUE(second.has_value());
  EXPECT_EQ(first->diff_ids.size(), 2U);
  EXPECT_EQ(first->id, "sha256:417562b20707e7ff9275406fd2ea66a57a572dafd92380fc7c1b78193848e9b9");
  EXPECT_EQ(second->diff_ids.size(), 1U);
}

} // namespace
} // namespace imagegc::engine
