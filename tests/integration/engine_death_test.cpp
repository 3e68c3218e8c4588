// A real Docker engine that dies under imagegc: a private dockerd of the test's own, killed with
// SIGKILL while `imagegc run` watches it and while a pass is deleting. imagegc keeps serving,
// says it is not ready, follows the engine when it answers again (with what changed meanwhile),
// and a pass cut short deletes nothing twice and nothing it had not planned.

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "support/daemon_process.hpp"
#include "support/engine_harness.hpp"

namespace imagegc::test {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

std::string trimmed(std::string text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) {
    text.pop_back();
  }
  return text;
}

// A dockerd started by scripts/private-engine.sh in a directory of its own, which the test may
// kill. The directory name stays short: the engine's containerd socket lives below it.
class OwnedEngine {
public:
  OwnedEngine() {
    std::string pattern = (fs::temp_directory_path() / "igc-owned.XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) {
      throw std::runtime_error("mkdtemp failed");
    }
    m_dir = pattern;
    start();
  }
  ~OwnedEngine() {
    stop();
    end_leftovers();
    std::error_code ignored;
    fs::remove_all(m_dir, ignored);
  }
  OwnedEngine(const OwnedEngine&) = delete;
  OwnedEngine& operator=(const OwnedEngine&) = delete;

  [[nodiscard]] std::string host() const { return "unix://" + (m_dir / "docker.sock").string(); }

  // Starts dockerd on the data root, serving `socket`; returns once it answers, with its host.
  std::string start(const std::string& socket = "docker.sock") {
    const auto started = run_command(script() + " start " + m_dir.string() + " " + socket);
    if (started.exit_code != 0) {
      throw std::runtime_error("the engine did not start: " + started.output);
    }
    return trimmed(started.output);
  }

  void stop() { run_command(script() + " stop " + m_dir.string()); }

  // SIGKILL: no chance to close anything cleanly.
  void kill() {
    const pid_t pid = dockerd_pid();
    ASSERT_GT(pid, 0);
    ASSERT_EQ(::kill(pid, SIGKILL), 0);
    ASSERT_TRUE(eventually([&] { return ::kill(pid, 0) != 0 && errno == ESRCH; }, 10s));
  }

private:
  static std::string script() {
    return std::string(IMAGEGC_SOURCE_DIR) + "/scripts/private-engine.sh";
  }

  [[nodiscard]] pid_t dockerd_pid() const {
    std::ifstream file(m_dir / "docker.pid");
    pid_t pid = 0;
    file >> pid;
    return pid;
  }

  // A killed dockerd may leave its containerd running: that one, found by the state directory
  // under this engine's exec root, and no other process.
  void end_leftovers() const {
    const std::string mine = (m_dir / "exec").string();
    std::error_code ignored;
    for (const auto& entry : fs::directory_iterator("/proc", ignored)) {
      const auto name = entry.path().filename().string();
      if (name.find_first_not_of("0123456789") != std::string::npos) {
        continue;
      }
      std::ifstream file(entry.path() / "cmdline");
      std::string command_line((std::istreambuf_iterator<char>(file)),
                               std::istreambuf_iterator<char>());
      if (command_line.find(mine) != std::string::npos) {
        ::kill(std::stoi(name), SIGTERM);
      }
    }
  }

  fs::path m_dir;
};

class EngineDeath : public ::testing::Test {
protected:
  void SetUp() override {
    // The same switch as the shared engine: scripts/test.sh sets it up, and CI requires it.
    if (!EngineHarness::configured_host()) {
      if (EngineHarness::engine_required()) {
        FAIL() << "IMAGEGC_REQUIRE_ENGINE=1 but no engine was set up: run scripts/test.sh";
      }
      GTEST_SKIP() << "no engine: these tests start dockerd as scripts/test.sh does";
    }
    m_engine.emplace();
    m_docker.emplace(m_engine->host());
    std::string pattern = (fs::temp_directory_path() / "igc-daemon.XXXXXX").string();
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
    m_scratch = pattern;
  }

  void TearDown() override {
    m_daemon.reset();
    m_docker.reset();
    m_engine.reset();
    std::error_code ignored;
    fs::remove_all(m_scratch, ignored);
  }

  // `imagegc run` on the owned engine with `policy`, serving HTTP on a loopback port.
  std::string start_daemon(const std::string& policy) {
    const auto file = m_scratch / "policy.yaml";
    std::ofstream(file) << policy;
    fs::permissions(file, fs::perms::owner_read | fs::perms::owner_write);
    m_daemon.emplace(std::vector<std::string>{
        "--host", m_engine->host(), "--log-level", "info", "run", "--config", file.string(),
        "--state-dir", (m_scratch / "state").string(), "--listen", "127.0.0.1:0"});
    return m_daemon->wait_for_listen_address();
  }

  // Untagged images, each its own one-file layer: what a dangling rule removes.
  std::set<std::string> import_dangling(int count) {
    const auto made = run_command(
        "set -e; d=$(mktemp -d); for i in $(seq 1 " + std::to_string(count) +
        "); do echo \"$i $$\" > $d/f; tar -C $d -c f | DOCKER_HOST=" + m_engine->host() +
        " docker import - >/dev/null; done; rm -rf $d");
    EXPECT_EQ(made.exit_code, 0) << made.output;
    const auto ids = m_docker->engine_dangling_ids();
    return {ids.begin(), ids.end()};
  }

  std::optional<OwnedEngine> m_engine;
  std::optional<EngineHarness> m_docker;
  std::optional<DaemonProcess> m_daemon;
  fs::path m_scratch;
};

constexpr const char* k_dry_run_dangling = R"(mode: dry-run
schedule:
  interval: 24h
rules:
  - name: dangling
    select: {state: dangling}
)";

TEST_F(EngineDeath, a_killed_engine_is_followed_with_what_changed_while_it_was_away) {
  m_docker->docker("tag busybox:latest before/kept:1");
  const auto doomed =
      m_docker->build("FROM busybox:latest\nRUN echo doomed > /doomed\n", "before/doomed:1", false);
  const auto address = start_daemon(k_dry_run_dangling);
  ASSERT_FALSE(address.empty()) << m_daemon->log();
  ASSERT_TRUE(eventually([&] { return http_get(address, "/readyz").status == 200; }, 30s))
      << m_daemon->log();

  m_engine->kill();
  EXPECT_TRUE(eventually([&] { return http_get(address, "/readyz").status == 503; }, 15s))
      << m_daemon->log();
  EXPECT_EQ(http_get(address, "/healthz").status, 200);
  EXPECT_TRUE(eventually(
      [&] { return metric_value(http_get(address, "/metrics").body, "imagegc_engine_up") == 0; },
      15s));

  // Changed while imagegc cannot see: the same data root served on another socket, so no event
  // of it reaches the socket imagegc watches.
  std::string dangling;
  {
    EngineHarness behind(m_engine->start("side.sock"));
    behind.docker("rmi before/doomed:1");
    behind.docker("tag busybox:latest during/new:1");
    dangling = behind.build("FROM busybox:latest\nRUN echo dangling > /dangling\n", "", false);
    m_engine->stop();
  }

  m_engine->start();
  const auto answered = SteadyClock::now();
  ASSERT_TRUE(eventually([&] { return http_get(address, "/readyz").status == 200; }, 30s))
      << m_daemon->log();
  const auto took =
      std::chrono::duration_cast<std::chrono::milliseconds>(SteadyClock::now() - answered);
  std::printf("ready again %lld ms after the engine answered\n",
              static_cast<long long>(took.count()));

  const auto metrics = http_get(address, "/metrics").body;
  EXPECT_EQ(metric_value(metrics, "imagegc_engine_up"), 1);
  EXPECT_GE(metric_value(metrics, "imagegc_engine_reconnects_total"), 1) << metrics;
  // The plan is made on the re-listed graph: the build made meanwhile is in it, the image
  // removed meanwhile nowhere.
  const auto plan = http_get(address, "/plan");
  ASSERT_EQ(plan.status, 200) << plan.body;
  EXPECT_NE(plan.body.find(dangling), std::string::npos) << plan.body;
  EXPECT_EQ(plan.body.find(doomed), std::string::npos) << plan.body;
  EXPECT_NE(plan.body.find("during/new:1"), std::string::npos) << plan.body;
}

TEST_F(EngineDeath, a_pass_cut_short_by_the_engine_deletes_nothing_twice_or_unplanned) {
  // Enough deletions that the engine dies in the middle of them.
  const auto planned = import_dangling(60);
  ASSERT_EQ(planned.size(), 60u);
  m_docker->docker("tag busybox:latest kept/base:1");
  const auto address = start_daemon(R"(mode: enforce
schedule:
  interval: 24h
rules:
  - name: dangling
    select: {state: dangling}
)");
  ASSERT_FALSE(address.empty()) << m_daemon->log();
  ASSERT_TRUE(m_daemon->wait_for_text("deleted sha256:", 60s)) << m_daemon->log();
  m_engine->kill();
  ASSERT_TRUE(m_daemon->wait_for_text("failed, stopping this pass", 30s)) << m_daemon->log();

  m_engine->start();
  ASSERT_TRUE(eventually([&] { return http_get(address, "/readyz").status == 200; }, 30s))
      << m_daemon->log();
  m_daemon->signal(SIGUSR1);
  ASSERT_TRUE(m_daemon->wait_for_text("pass (signal, enforce)", 60s)) << m_daemon->log();

  std::multiset<std::string> deleted;
  for (const auto& line : m_daemon->lines()) {
    const std::string marker = " deleted ";
    const auto at = line.find(marker + "sha256:");
    if (at != std::string::npos) {
      deleted.insert(line.substr(at + marker.size(), 71)); // "sha256:" and 64 hex digits
    }
  }
  std::set<std::string> once(deleted.begin(), deleted.end());
  EXPECT_EQ(once.size(), deleted.size()) << "an image was deleted twice\n" << m_daemon->log();
  for (const auto& id : once) {
    EXPECT_EQ(planned.count(id), 1u) << id << " was deleted without being planned";
  }
  // The delete in flight when the engine died may have happened without an answer: the second
  // pass, planned on a fresh re-list, does not see it, and nobody can say it deleted it.
  EXPECT_GE(once.size() + 1, planned.size())
      << m_daemon->log() << "the second pass finishes the first's work";
  EXPECT_TRUE(m_docker->engine_dangling_ids().empty()) << "the second pass finishes the work";
  EXPECT_EQ(m_docker->try_docker("image inspect kept/base:1").exit_code, 0);
  EXPECT_EQ(m_docker->try_docker("image inspect busybox:latest").exit_code, 0);
}

} // namespace
} // namespace imagegc::test
