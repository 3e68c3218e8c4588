#include "support/daemon_process.hpp"

#include <algorithm>
#include <csignal>
#include <stdexcept>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <sys/wait.h>
#include <unistd.h>

namespace imagegc::test {

namespace asio = boost::asio;
namespace http = boost::beast::http;

DaemonProcess::DaemonProcess(std::vector<std::string> arguments) {
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

DaemonProcess::~DaemonProcess() {
  stop();
}

int DaemonProcess::stop() {
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

void DaemonProcess::signal(int number) const {
  if (m_pid > 0) {
    ::kill(m_pid, number);
  }
}

std::vector<std::string> DaemonProcess::lines() {
  const std::lock_guard lock(m_mutex);
  return m_lines;
}

std::string DaemonProcess::log() {
  std::string all;
  for (const auto& line : lines()) {
    all += line + "\n";
  }
  return all;
}

std::string DaemonProcess::wait_for_log(const std::regex& pattern, SteadyClock::duration limit) {
  std::string found;
  eventually(
      [&] {
        for (const auto& line : lines()) {
          std::smatch match;
          if (std::regex_search(line, match, pattern)) {
            found = match.size() > 1 ? match[1].str() : match[0].str();
            return true;
          }
        }
        return false;
      },
      limit);
  return found;
}

bool DaemonProcess::wait_for_text(const std::string& text, SteadyClock::duration limit) {
  return eventually(
      [&] {
        return std::ranges::any_of(
            lines(), [&](const std::string& line) { return line.find(text) != std::string::npos; });
      },
      limit);
}

std::string DaemonProcess::wait_for_listen_address() {
  return wait_for_log(std::regex(R"(serving .* on (127\.0\.0\.1:[0-9]+))"));
}

HttpAnswer http_get(const std::string& address, const std::string& target) {
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
  http::response_parser<http::string_body> parser;
  parser.body_limit(64U << 20U);
  http::read(socket, buffer, parser);
  return {static_cast<int>(parser.get().result_int()), parser.get().body()};
}

double metric_value(const std::string& body, const std::string& series) {
  const std::regex pattern("(^|\n)" + series + " ([0-9.e+-]+)");
  std::smatch match;
  return std::regex_search(body, match, pattern) ? std::stod(match[2].str()) : -1;
}

} // namespace imagegc::test
