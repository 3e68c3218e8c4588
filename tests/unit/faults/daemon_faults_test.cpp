// The whole daemon (`imagegc run`) against the fake engine: while the engine is down it keeps
// serving /healthz and /metrics, says not ready on /readyz, and comes back ready, having counted
// the reconnect, when the engine does.

#include <chrono>
#include <csignal>
#include <filesystem>
#include <mutex>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include "support/fake_engine.hpp"

namespace imagegc::test {
namespace {

namespace asio = boost::asio;
namespace http = boost::beast::http;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// `imagegc run` as a child process, its log collected line by line.
class DaemonProcess {
public:
  explicit DaemonProcess(std::vector<std::string> arguments) {
    int pipe_fds[2];
    if (::pipe(pipe_fds) != 0) {
      throw std::runtime_error("pipe failed");
    }
    m_pid = ::fork();
    if (m_pid == 0) {
      ::dup2(pipe_fds[1], STDOUT_FILENO);
      ::dup2(pipe_fds[1], STDERR_FILENO);
      ::close(pipe_fds[0]);
      ::close(pipe_fds[1]);
      std::vector<char*> argv;
      static std::string binary = IMAGEGC_BINARY;
      argv.push_back(binary.data());
      for (auto& argument : arguments) {
        argv.push_back(argument.data());
      }
      argv.push_back(nullptr);
      ::execv(binary.c_str(), argv.data());
      ::_exit(127);
    }
    ::close(pipe_fds[1]);
    m_reader = std::thread([this, fd = pipe_fds[0]] {
      std::string pending;
      char buffer[4096];
      for (;;) {
        const auto n = ::read(fd, buffer, sizeof buffer);
        if (n <= 0) {
          break;
        }
        pending.append(buffer, static_cast<std::size_t>(n));
        for (auto newline = pending.find('\n'); newline != std::string::npos;
             newline = pending.find('\n')) {
          const std::lock_guard lock(m_mutex);
          m_lines.push_back(pending.substr(0, newline));
          pending.erase(0, newline + 1);
        }
      }
      ::close(fd);
    });
  }

  ~DaemonProcess() { stop(); }
  DaemonProcess(const DaemonProcess&) = delete;
  DaemonProcess& operator=(const DaemonProcess&) = delete;

  // SIGTERM, and the exit code.
  int stop() {
    if (m_pid > 0) {
      ::kill(m_pid, SIGTERM);
      int status = 0;
      ::waitpid(m_pid, &status, 0);
      m_exit = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      m_pid = -1;
    }
    if (m_reader.joinable()) {
      m_reader.join();
    }
    return m_exit;
  }

  std::vector<std::string> lines() {
    const std::lock_guard lock(m_mutex);
    return m_lines;
  }

  // The first capture of `pattern` in a log line, waiting for it up to `limit`.
  std::string wait_for_log(const std::regex& pattern, Clock::duration limit = 10s) {
    const auto deadline = Clock::now() + limit;
    while (Clock::now() < deadline) {
      for (const auto& line : lines()) {
        std::smatch match;
        if (std::regex_search(line, match, pattern)) {
          return match.size() > 1 ? match[1].str() : match[0].str();
        }
      }
      std::this_thread::sleep_for(20ms);
    }
    return {};
  }

  std::string log() {
    std::string all;
    for (const auto& line : lines()) {
      all += line + "\n";
    }
    return all;
  }

private:
  pid_t m_pid = -1;
  int m_exit = -1;
  std::thread m_reader;
  std::mutex m_mutex;
  std::vector<std::string> m_lines;
};

struct Answer {
  int status = 0;
  std::string body;
};

Answer get(const std::string& address, const std::string& target) {
  const auto colon = address.rfind(':');
  asio::io_context io;
  asio::ip::tcp::resolver resolver(io);
  asio::ip::tcp::socket socket(io);
  asio::connect(socket, resolver.resolve(address.substr(0, colon), address.substr(colon + 1)));
  http::request<http::empty_body> request{http::verb::get, target, 11};
  request.set(http::field::host, address);
  request.keep_alive(false);
  http::write(socket, request);
  boost::beast::flat_buffer buffer;
  http::response<http::string_body> response;
  http::read(socket, buffer, response);
  return {static_cast<int>(response.result_int()), response.body()};
}

template <class Condition> bool eventually(Condition condition, Clock::duration limit = 10s) {
  const auto deadline = Clock::now() + limit;
  while (Clock::now() < deadline) {
    if (condition()) {
      return true;
    }
    std::this_thread::sleep_for(20ms);
  }
  return condition();
}

double metric(const std::string& body, const std::string& name) {
  const std::regex pattern("(^|\n)" + name + " ([0-9.e+-]+)");
  std::smatch match;
  return std::regex_search(body, match, pattern) ? std::stod(match[2].str()) : -1;
}

TEST(DaemonFaults, keeps_serving_while_the_engine_is_down_and_recovers) {
  FakeEngine fake;
  fake.add_synthetic_images(50, 3);
  const std::string state_dir = fake.directory() + "/state";
  std::filesystem::create_directories(state_dir);
  DaemonProcess daemon({"--host", fake.url(), "--log-level", "info", "run", "--config",
                        std::string(IMAGEGC_SOURCE_DIR) + "/config/policy.yaml", "--state-dir",
                        state_dir, "--listen", "127.0.0.1:0"});
  const std::string address =
      daemon.wait_for_log(std::regex(R"(serving .* on (127\.0\.0\.1:[0-9]+))"));
  ASSERT_FALSE(address.empty()) << daemon.log();

  ASSERT_TRUE(eventually([&] { return get(address, "/readyz").status == 200; })) << daemon.log();
  EXPECT_EQ(metric(get(address, "/metrics").body, "imagegc_engine_up"), 1);
  // A bad line on the events stream is counted, and the stream goes on.
  fake.send_raw_event_line("not json");
  EXPECT_TRUE(eventually([&] {
    return metric(get(address, "/metrics").body,
                  R"(imagegc_engine_faults_total\{kind="malformed_event"\})") == 1;
  })) << daemon.log();

  fake.go_down();
  EXPECT_TRUE(eventually([&] { return get(address, "/readyz").status == 503; }, 5s))
      << daemon.log();
  EXPECT_EQ(get(address, "/healthz").status, 200);
  const Answer metrics = get(address, "/metrics");
  EXPECT_EQ(metrics.status, 200);
  EXPECT_TRUE(eventually(
      [&] { return metric(get(address, "/metrics").body, "imagegc_engine_up") == 0; }, 15s));
  EXPECT_EQ(get(address, "/plan").status, 503);
  EXPECT_TRUE(eventually([&] {
    return metric(get(address, "/metrics").body,
                  R"(imagegc_engine_faults_total\{kind="error"\})") >= 1;
  })) << get(address, "/metrics").body;

  std::this_thread::sleep_for(2s);
  fake.come_up();
  const auto came_up = Clock::now();
  EXPECT_TRUE(eventually([&] { return get(address, "/readyz").status == 200; })) << daemon.log();
  const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - came_up);
  std::printf("daemon ready %lld ms after the engine came back\n",
              static_cast<long long>(took.count()));
  EXPECT_TRUE(eventually(
      [&] { return metric(get(address, "/metrics").body, "imagegc_engine_reconnects_total") >= 1; },
      15s));
  EXPECT_EQ(get(address, "/plan").status, 200);
  EXPECT_EQ(daemon.stop(), 0) << daemon.log();
}

} // namespace
} // namespace imagegc::test
