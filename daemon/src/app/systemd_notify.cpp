#include "app/systemd_notify.hpp"

#include <chrono>

#include <boost/asio/steady_timer.hpp>
#include <systemd/sd-daemon.h>

namespace imagegc::app {

struct SystemdNotifier::Impl {
  explicit Impl(boost::asio::any_io_executor executor) : timer(executor) {}

  boost::asio::steady_timer timer;
  std::chrono::microseconds interval{0};

  void ping() {
    sd_notify(0, "WATCHDOG=1");
    timer.expires_after(interval);
    timer.async_wait([this](boost::system::error_code ec) {
      if (!ec) {
        ping();
      }
    });
  }
};

SystemdNotifier::SystemdNotifier(boost::asio::any_io_executor executor)
    : m_impl(std::make_unique<Impl>(std::move(executor))) {}

// Destroying the timer cancels its wait, whose handler then touches nothing.
SystemdNotifier::~SystemdNotifier() = default;

void SystemdNotifier::ready() {
  sd_notify(0, "READY=1");
}

void SystemdNotifier::reloading() {
  sd_notify(0, "RELOADING=1");
}

void SystemdNotifier::stopping() {
  sd_notify(0, "STOPPING=1");
}

void SystemdNotifier::status(const std::string& text) {
  sd_notify(0, ("STATUS=" + text).c_str());
}

void SystemdNotifier::start_watchdog() {
  std::uint64_t usec = 0;
  if (sd_watchdog_enabled(0, &usec) > 0 && usec > 0) {
    m_impl->interval = std::chrono::microseconds(usec / 2);
    m_impl->ping();
  }
}

void SystemdNotifier::stop_watchdog() {
  m_impl->timer.cancel();
}

} // namespace imagegc::app
