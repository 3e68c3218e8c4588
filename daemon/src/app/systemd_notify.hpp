#pragma once
// Tells systemd how the daemon is doing (Type=notify): READY=1 after the first sync, STATUS=
// lines, RELOADING=1 around a reload, WATCHDOG=1 pings while the event loop turns. Every call
// does nothing when not started by systemd (no NOTIFY_SOCKET).

#include <memory>
#include <string>

#include "util/asio.hpp"

namespace imagegc::app {

class SystemdNotifier {
public:
  explicit SystemdNotifier(boost::asio::any_io_executor executor);
  ~SystemdNotifier();

  // After the first sync, and again when a reload is done.
  void ready();
  void reloading();
  void stopping();
  void status(const std::string& text);
  // Pings at half the unit's WatchdogSec from a timer on the daemon's own executor, so a stuck
  // event loop stops the pings and systemd restarts the daemon.
  void start_watchdog();
  void stop_watchdog();

private:
  struct Impl;
  std::unique_ptr<Impl> m_impl;
};

} // namespace imagegc::app
