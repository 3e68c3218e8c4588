#pragma once
// `imagegc` as a child process for tests: its log collected line by line, its HTTP endpoints
// read over loopback, signalled and stopped by its own pid.

#include <chrono>
#include <mutex>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include <sys/types.h>

namespace imagegc::test {

using SteadyClock = std::chrono::steady_clock;

class DaemonProcess {
public:
  // Runs IMAGEGC_BINARY with `arguments` (without the program name).
  explicit DaemonProcess(std::vector<std::string> arguments);
  ~DaemonProcess();
  DaemonProcess(const DaemonProcess&) = delete;
  DaemonProcess& operator=(const DaemonProcess&) = delete;

  // SIGTERM, and the exit code (128 + signal when killed by one).
  int stop();
  void signal(int number) const;

  std::vector<std::string> lines();
  std::string log();
  // The first capture of `pattern` in a log line (the whole match without a group), waiting for
  // it up to `limit`; empty when it never came.
  std::string wait_for_log(const std::regex& pattern,
                           SteadyClock::duration limit = std::chrono::seconds(20));
  // Whether a line holding `text` came within `limit`.
  bool wait_for_text(const std::string& text,
                     SteadyClock::duration limit = std::chrono::seconds(20));
  // Started with `--listen 127.0.0.1:0`: the address it says it serves on.
  std::string wait_for_listen_address();

private:
  pid_t m_pid = -1;
  int m_exit = -1;
  std::thread m_reader;
  std::mutex m_mutex;
  std::vector<std::string> m_lines;
};

struct HttpAnswer {
  int status = 0;
  std::string body;
};

// One GET to "host:port", on a fresh connection.
HttpAnswer http_get(const std::string& address, const std::string& target);

// The value of an unlabelled (or fully spelled out, regex-escaped) series in a Prometheus text
// body; -1 when it is not there.
double metric_value(const std::string& body, const std::string& series);

// Polls `condition` every 20 ms until it holds or `limit` passes; the last answer.
template <class Condition>
bool eventually(Condition condition, SteadyClock::duration limit = std::chrono::seconds(10)) {
  const auto deadline = SteadyClock::now() + limit;
  while (SteadyClock::now() < deadline) {
    if (condition()) {
      return true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return condition();
}

} // namespace imagegc::test
