#include "support/engine_harness.hpp"

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include <gtest/gtest.h>
#include <sys/wait.h>

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

bool EngineHarness::engine_required() {
  const char* required = std::getenv("IMAGEGC_REQUIRE_ENGINE");
  return required != nullptr && std::string_view(required) == "1";
}

EngineHarness::EngineHarness(std::string host) : m_host(std::move(host)) {
  const char* cli = std::getenv("IMAGEGC_TEST_DOCKER_CLI");
  m_cli = (cli != nullptr && *cli != '\0') ? cli : "/usr/bin/docker";
}

engine::Endpoint EngineHarness::endpoint() const {
  auto parsed = engine::parse_endpoint(m_host);
  if (!parsed) {
    throw std::runtime_error(parsed.error());
  }
  return *parsed;
}

CommandResult EngineHarness::try_docker(const std::string& arguments,
                                        const std::string& environment) {
  return run_command("env DOCKER_HOST='" + m_host + "' " + environment + " " + m_cli + " " +
                     arguments);
}

std::string EngineHarness::docker(const std::string& arguments, const std::string& environment) {
  auto result = try_docker(arguments, environment);
  if (result.exit_code != 0) {
    ADD_FAILURE() << "docker " << arguments << " exited " << result.exit_code << ":\n"
                  << result.output;
  }
  return result.output;
}

void EngineHarness::reset() {
  const auto containers = try_docker("ps -aq").output;
  if (containers.find_first_not_of(" \n") != std::string::npos) {
    std::string ids = containers;
    std::replace(ids.begin(), ids.end(), '\n', ' ');
    docker("rm -f " + ids);
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
      if (reference == "busybox:latest") {
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
  try_docker("builder prune -af");
  // A test's `prune -a` takes the base image too: bring it back without any registry.
  const auto imported =
      run_command("env IMAGEGC_DOCKER_CLI='" + m_cli +
                  "' " IMAGEGC_SOURCE_DIR "/scripts/import-busybox.sh '" + m_host + "'");
  if (imported.exit_code != 0) {
    ADD_FAILURE() << "cannot import busybox:latest: " << imported.output;
  }
}

std::string EngineHarness::build(const std::string& dockerfile, const std::string& tag,
                                 bool buildkit) {
  const auto context =
      std::filesystem::temp_directory_path() /
      ("imagegc-build-" + std::to_string(::getpid()) + "-" + std::to_string(std::rand()));
  std::filesystem::create_directories(context);
  std::ofstream(context / "Dockerfile") << dockerfile;
  std::string arguments = "build -q --network none ";
  if (!tag.empty()) {
    arguments += "-t " + tag + " ";
  }
  auto output = docker(arguments + context.string(),
                       std::string("DOCKER_BUILDKIT=") + (buildkit ? "1" : "0"));
  std::filesystem::remove_all(context);
  // -q prints the image ID last.
  while (!output.empty() && (output.back() == '\n' || output.back() == ' ')) {
    output.pop_back();
  }
  const auto start = output.find_last_of('\n');
  return start == std::string::npos ? output : output.substr(start + 1);
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
