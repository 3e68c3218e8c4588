#include "support/engine_harness.hpp"

#include <algorithm>
#include <array>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <sys/wait.h>

#include "engine/json_ingest.hpp"
#include "sync/graph_loader.hpp"

namespace imagegc::test {

namespace asio = boost::asio;

CommandResult run_command(const std::string& command_line) {
  CommandResult result;
  FILE* pipe = ::popen((command_line + " 2>&1").c_str(), "r");
  if (pipe == nullptr) {
    result.exit_code = -1;
    result.output = "popen failed";
    return result;
  }
  std::array<char, 4096> buffer{};
  while (const std::size_t read = std::fread(buffer.data(), 1, buffer.size(), pipe)) {
    result.output.append(buffer.data(), read);
  }
  const int status = ::pclose(pipe);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

std::optional<std::string> EngineHarness::configured_host() {
  const char* host = std::getenv("IMAGEGC_TEST_DOCKER_HOST");
  if (host == nullptr || *host == '\0') {
    return std::nullopt;
  }
  return std::string(host);
}

std::optional<std::string> EngineHarness::configured_podman_host() {
  const char* host = std::getenv("IMAGEGC_TEST_PODMAN_HOST");
  if (host == nullptr || *host == '\0') {
    return std::nullopt;
  }
  return std::string(host);
}

bool EngineHarness::engine_required() {
  const char* required = std::getenv("IMAGEGC_REQUIRE_ENGINE");
  return required != nullptr && std::string_view(required) == "1";
}

EngineHarness::EngineHarness(std::string host, EngineKind kind)
    : m_host(std::move(host)), m_kind(kind) {
  const bool podman = kind == EngineKind::podman;
  const char* cli = std::getenv(podman ? "IMAGEGC_TEST_PODMAN_CLI" : "IMAGEGC_TEST_DOCKER_CLI");
  m_cli = (cli != nullptr && *cli != '\0') ? cli : (podman ? "podman" : "/usr/bin/docker");
}

engine::Endpoint EngineHarness::endpoint() const {
  auto parsed = engine::parse_endpoint(m_host);
  if (!parsed) {
    throw std::runtime_error(parsed.error());
  }
  return *parsed;
}

CommandResult EngineHarness::try_cli(const std::string& arguments, const std::string& environment) {
  // The Podman CLI reaches its storage directly (IMAGEGC_TEST_PODMAN_CLI names the same root as
  // the service's), not through DOCKER_HOST.
  return run_command("env DOCKER_HOST='" + m_host + "' " + environment + " " + m_cli + " " +
                     arguments);
}

std::string EngineHarness::cli(const std::string& arguments, const std::string& environment) {
  auto result = try_cli(arguments, environment);
  if (result.exit_code != 0) {
    ADD_FAILURE() << m_cli << " " << arguments << " exited " << result.exit_code << ":\n"
                  << result.output;
  }
  return result.output;
}

CommandResult EngineHarness::try_docker(const std::string& arguments,
                                        const std::string& environment) {
  return try_cli(arguments, environment);
}

std::string EngineHarness::docker(const std::string& arguments, const std::string& environment) {
  return cli(arguments, environment);
}

void EngineHarness::reset() {
  const bool podman = m_kind == EngineKind::podman;
  // Podman imports the base image under the name a pull would give it.
  const std::string base = podman ? "docker.io/library/busybox:latest" : "busybox:latest";
  const auto containers = try_cli("ps -aq").output;
  if (containers.find_first_not_of(" \n") != std::string::npos) {
    std::string ids = containers;
    std::replace(ids.begin(), ids.end(), '\n', ' ');
    // Podman stops a running container with SIGTERM and a 10 s grace first; busybox's sleep
    // as PID 1 ignores it.
    cli((podman ? "rm -f -t 0 " : "rm -f ") + ids);
  }
  // Delete references first, then whatever images are left, children before parents (the
  // engine refuses a parent while a child exists; repeating the pass reaches the roots).
  for (int pass = 0; pass < 20; ++pass) {
    const auto listing =
        try_docker("image ls -a --no-trunc --format '{{.ID}} {{.Repository}}:{{.Tag}}'").output;
    std::istringstream lines(listing);
    std::string id;
    std::string reference;
    bool any = false;
    while (lines >> id >> reference) {
      if (reference == base) {
        continue;
      }
      any = true;
      if (reference != "<none>:<none>") {
        try_docker("rmi " + reference);
      } else {
        try_docker("rmi " + id);
      }
    }
    if (!any) {
      break;
    }
  }
  if (!podman) {
    try_docker("builder prune -af"); // Podman keeps no build cache but its images
  }
  // A test's `prune -a` takes the base image too: bring it back without any registry.
  const auto imported = run_command("env IMAGEGC_DOCKER_CLI='" + m_cli +
                                    "' " IMAGEGC_SOURCE_DIR "/scripts/import-busybox.sh '" +
                                    m_host + "' '" + base + "'");
  if (imported.exit_code != 0) {
    ADD_FAILURE() << "cannot import busybox:latest: " << imported.output;
  }
}

std::string EngineHarness::build(const std::string& dockerfile, const std::string& tag,
                                 bool buildkit) {
  // A context of its own per build: the process ID and a count of this process's builds.
  static std::atomic<unsigned> builds{0};
  const auto context =
      std::filesystem::temp_directory_path() /
      ("imagegc-build-" + std::to_string(::getpid()) + "-" + std::to_string(builds.fetch_add(1)));
  std::filesystem::create_directories(context);
  std::ofstream(context / "Dockerfile") << dockerfile;
  std::string arguments = "build -q --network none ";
  if (!tag.empty()) {
    arguments += "-t " + tag + " ";
  }
  auto output =
      cli(arguments + context.string(), std::string("DOCKER_BUILDKIT=") + (buildkit ? "1" : "0"));
  std::filesystem::remove_all(context);
  // -q prints the image ID last.
  while (!output.empty() && (output.back() == '\n' || output.back() == ' ')) {
    output.pop_back();
  }
  const auto start = output.find_last_of('\n');
  // Podman prints the bare hex ID.
  return engine::normalize_image_id(start == std::string::npos ? output : output.substr(start + 1));
}

graph::ImageGraph EngineHarness::load_graph() {
  return call<graph::ImageGraph>(
      [](engine::EngineClient& client) -> asio::awaitable<graph::ImageGraph> {
        auto loaded = co_await sync::load_graph(client, graph::ImageGraph{});
        if (!loaded) {
          throw std::runtime_error(loaded.error().message);
        }
        co_return std::move(*loaded);
      });
}

std::int64_t EngineHarness::layers_size() {
  return call<std::int64_t>([](engine::EngineClient& client) -> asio::awaitable<std::int64_t> {
    auto usage = co_await client.disk_usage();
    if (!usage) {
      throw std::runtime_error(usage.error().message);
    }
    co_return usage->layers_size;
  });
}

namespace {

std::vector<std::string> sorted_ids(const std::vector<engine::ImageSummary>& images) {
  std::vector<std::string> ids;
  ids.reserve(images.size());
  for (const auto& image : images) {
    ids.push_back(image.id);
  }
  std::sort(ids.begin(), ids.end());
  return ids;
}

} // namespace

std::vector<std::string> EngineHarness::engine_dangling_ids() {
  return call<std::vector<std::string>>(
      [](engine::EngineClient& client) -> asio::awaitable<std::vector<std::string>> {
        auto images = co_await client.list_images(engine::ImageListFilter::dangling_only);
        if (!images) {
          throw std::runtime_error(images.error().message);
        }
        co_return sorted_ids(*images);
      });
}

std::vector<std::string> EngineHarness::cli_image_ids() {
  std::istringstream lines(cli("image ls -a --no-trunc --format '{{.ID}}'"));
  std::vector<std::string> ids;
  for (std::string id; lines >> id;) {
    ids.push_back(engine::normalize_image_id(id));
  }
  std::sort(ids.begin(), ids.end());
  ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
  return ids;
}

std::int64_t EngineHarness::podman_layer_store_bytes() {
  std::istringstream store(cli("info --format '{{.Store.GraphRoot}} {{.Store.GraphDriverName}}'"));
  std::string root;
  std::string driver;
  store >> root >> driver;
  const auto path = std::filesystem::path(root) / (driver + "-layers") / "layers.json";
  std::ifstream file(path);
  if (!file) {
    throw std::runtime_error("cannot read " + path.string());
  }
  // Container layers have no diff-size; image layers record their uncompressed tar size.
  std::int64_t bytes = 0;
  for (const auto& layer : nlohmann::json::parse(file)) {
    bytes += layer.value("diff-size", std::int64_t{0});
  }
  return bytes;
}

std::vector<std::string> EngineHarness::engine_image_ids() {
  return call<std::vector<std::string>>(
      [](engine::EngineClient& client) -> asio::awaitable<std::vector<std::string>> {
        auto images = co_await client.list_images();
        if (!images) {
          throw std::runtime_error(images.error().message);
        }
        co_return sorted_ids(*images);
      });
}

} // namespace imagegc::test
