#pragma once
// Drives the private engines that scripts/test.sh starts: the engine's CLI (docker, or podman)
// for changes, as a person would make them, and imagegc's own client for reading, synchronously.

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>

#include "engine/endpoint.hpp"
#include "engine/engine_client.hpp"
#include "graph/image_graph.hpp"
#include "util/asio.hpp"

namespace imagegc::test {

struct CommandResult {
  int exit_code = 0;
  std::string output; // stdout and stderr together
};

// Runs a shell command line and captures its output.
CommandResult run_command(const std::string& command_line);

enum class EngineKind { docker, podman };

class EngineHarness {
public:
  // The engine's address from IMAGEGC_TEST_DOCKER_HOST, or nullopt when none was given.
  static std::optional<std::string> configured_host();
  // The Podman service's address from IMAGEGC_TEST_PODMAN_HOST, or nullopt.
  static std::optional<std::string> configured_podman_host();
  // Whether a missing engine must fail the tests (IMAGEGC_REQUIRE_ENGINE=1, as in CI).
  static bool engine_required();

  // The CLI is IMAGEGC_TEST_DOCKER_CLI (default /usr/bin/docker) for Docker, and
  // IMAGEGC_TEST_PODMAN_CLI (default podman) for Podman.
  explicit EngineHarness(std::string host, EngineKind kind = EngineKind::docker);

  [[nodiscard]] const std::string& host() const { return m_host; }
  [[nodiscard]] EngineKind kind() const { return m_kind; }
  [[nodiscard]] engine::Endpoint endpoint() const;

  // `<cli> <arguments>` against the private engine; fails the test on a non-zero exit.
  std::string cli(const std::string& arguments, const std::string& environment = {});
  // Same, but returns the result instead of failing.
  CommandResult try_cli(const std::string& arguments, const std::string& environment = {});
  // The same as cli() and try_cli(), under the names the Docker tests use.
  std::string docker(const std::string& arguments, const std::string& environment = {});
  CommandResult try_docker(const std::string& arguments, const std::string& environment = {});

  // Every container and image removed but busybox:latest, and the build cache emptied.
  void reset();

  // Builds `dockerfile` (its text) and returns the image ID ("sha256:…"). `tag` may be empty.
  // `buildkit` picks Docker's builder; Podman has one (Buildah, which keeps a parent image per
  // step).
  std::string build(const std::string& dockerfile, const std::string& tag, bool buildkit);

  // Calls imagegc's client synchronously on a private io_context.
  template <class T> T call(std::function<boost::asio::awaitable<T>(engine::EngineClient&)> body) {
    boost::asio::io_context io;
    auto future = boost::asio::co_spawn(
        io,
        [&]() -> boost::asio::awaitable<T> {
          engine::EngineClient client(io.get_executor(), endpoint());
          auto negotiated = co_await client.negotiate();
          if (!negotiated) {
            throw std::runtime_error(negotiated.error().message);
          }
          co_return co_await body(client);
        },
        boost::asio::use_future);
    io.run();
    return future.get();
  }

  // A fresh full sync, as `imagegc graph` makes it.
  graph::ImageGraph load_graph();
  // GET /system/df LayersSize.
  std::int64_t layers_size();
  // The engine's own dangling=true filter, sorted IDs.
  std::vector<std::string> engine_dangling_ids();
  // IDs of `docker image ls -a`, sorted.
  std::vector<std::string> engine_image_ids();
  // IDs the CLI lists (`image ls -a`), sorted and unique, as "sha256:…".
  std::vector<std::string> cli_image_ids();
  // Podman: the bytes of every image layer in its containers-storage (the diff sizes its
  // layers.json records), the figure Docker gives as /system/df LayersSize, which Podman
  // leaves 0.
  std::int64_t podman_layer_store_bytes();

private:
  std::string m_host;
  EngineKind m_kind = EngineKind::docker;
  std::string m_cli;
};

} // namespace imagegc::test
