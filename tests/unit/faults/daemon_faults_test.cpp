// The whole daemon (`imagegc run`) against the fake engine: while the engine is down it keeps
// serving /healthz and /metrics, says not ready on /readyz, and comes back ready, having counted
// the reconnect, when the engine does.

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <regex>
#include <string>
#include <thread>

#include <gtest/gtest.h>

#include "support/daemon_process.hpp"
#include "support/fake_engine.hpp"

namespace imagegc::test {
namespace {

using namespace std::chrono_literals;
using Clock = SteadyClock;

TEST(DaemonFaults, keeps_serving_while_the_engine_is_down_and_recovers) {
  FakeEngine fake;
  fake.add_synthetic_images(50, 3);
  const std::string state_dir = fake.directory() + "/state";
  std::filesystem::create_directories(state_dir);
  DaemonProcess daemon({"--host", fake.url(), "--log-level", "info", "run", "--config",
                        std::string(IMAGEGC_SOURCE_DIR) + "/config/policy.yaml", "--state-dir",
                        state_dir, "--listen", "127.0.0.1:0"});
  const std::string address = daemon.wait_for_listen_address();
  ASSERT_FALSE(address.empty()) << daemon.log();

  ASSERT_TRUE(eventually([&] { return http_get(address, "/readyz").status == 200; }))
      << daemon.log();
  EXPECT_EQ(metric_value(http_get(address, "/metrics").body, "imagegc_engine_up"), 1);
  // A bad line on the events stream is counted, and the stream goes on.
  fake.send_raw_event_line("not json");
  EXPECT_TRUE(eventually([&] {
    return metric_value(http_get(address, "/metrics").body,
                        R"(imagegc_engine_faults_total\{kind="malformed_event"\})") == 1;
  })) << daemon.log();

  fake.go_down();
  EXPECT_TRUE(eventually([&] { return http_get(address, "/readyz").status == 503; }, 5s))
      << daemon.log();
  EXPECT_EQ(http_get(address, "/healthz").status, 200);
  const HttpAnswer metrics = http_get(address, "/metrics");
  EXPECT_EQ(metrics.status, 200);
  EXPECT_TRUE(eventually(
      [&] { return metric_value(http_get(address, "/metrics").body, "imagegc_engine_up") == 0; },
      15s));
  EXPECT_EQ(http_get(address, "/plan").status, 503);
  EXPECT_TRUE(eventually([&] {
    return metric_value(http_get(address, "/metrics").body,
                        R"(imagegc_engine_faults_total\{kind="error"\})") >= 1;
  })) << http_get(address, "/metrics").body;

  std::this_thread::sleep_for(2s);
  fake.come_up();
  const auto came_up = Clock::now();
  EXPECT_TRUE(eventually([&] { return http_get(address, "/readyz").status == 200; }))
      << daemon.log();
  const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - came_up);
  std::printf("daemon ready %lld ms after the engine came back\n",
              static_cast<long long>(took.count()));
  EXPECT_TRUE(eventually(
      [&] {
        return metric_value(http_get(address, "/metrics").body,
                            "imagegc_engine_reconnects_total") >= 1;
      },
      15s));
  EXPECT_EQ(http_get(address, "/plan").status, 200);
  EXPECT_EQ(daemon.stop(), 0) << daemon.log();
}

// The state store is opened beside the first connection to the engine; what it found is said at
// once, not when the daemon first reaches the engine.
TEST(DaemonFaults, a_state_directory_it_cannot_use_is_reported_while_the_engine_is_down) {
  FakeEngine fake;
  fake.go_down();
  const std::string not_a_directory = fake.directory() + "/state-file";
  std::FILE* file = std::fopen(not_a_directory.c_str(), "w");
  ASSERT_NE(file, nullptr);
  std::fclose(file);
  DaemonProcess daemon({"--host", fake.url(), "--log-level", "info", "run", "--config",
                        std::string(IMAGEGC_SOURCE_DIR) + "/config/policy.yaml", "--state-dir",
                        not_a_directory, "--listen", "127.0.0.1:0"});
  EXPECT_TRUE(daemon.wait_for_text("last-used times are kept in memory only", 10s)) << daemon.log();
  const std::string address = daemon.wait_for_listen_address();
  ASSERT_FALSE(address.empty()) << daemon.log();
  EXPECT_EQ(http_get(address, "/readyz").status, 503);
  EXPECT_EQ(daemon.stop(), 0) << daemon.log();
}

} // namespace
} // namespace imagegc::test
