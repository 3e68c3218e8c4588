// The fake engine of tests/support as a process of its own, so that a benchmark measures the
// daemon alone: serves a synthetic host on <dir>/docker.sock until SIGTERM or SIGINT, and can
// send a stream of events at a steady rate once a client subscribes.
//
//   imagegc_fake_engine_server --dir DIR --images N [--seed S] [--api 1.41]
//       [--events-rate PER_SECOND --events-total N] [--stats FILE]
//
// Prints "ready unix://DIR/docker.sock" once the state is built. On exit it writes its request
// counts and what the events generator did to the --stats file (JSON).

#include <chrono>
#include <csignal>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <string>
#include <unordered_map>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "engine/json_ingest.hpp"
#include "support/fake_engine.hpp"

namespace {

using Clock = std::chrono::steady_clock;

double unix_seconds_now() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

// "GET /images/sha256:ab../json" → "GET /images/{name}/json": one count per kind of request.
std::map<std::string, std::uint64_t>
by_kind(const std::unordered_map<std::string, std::uint64_t>& paths) {
  std::map<std::string, std::uint64_t> kinds;
  for (const auto& [path, count] : paths) {
    std::string kind = path;
    for (const std::string prefix : {"/images/", "/containers/"}) {
      const auto at = kind.find(prefix);
      if (at == std::string::npos) {
        continue;
      }
      const auto start = at + prefix.size();
      const auto end = kind.find('/', start);
      const std::string name = kind.substr(start, end == std::string::npos ? end : end - start);
      if (name != "json" && end != std::string::npos) {
        kind.replace(start, end - start, "{name}");
      }
    }
    kinds[kind] += count;
  }
  return kinds;
}

} // namespace

int main(int argc, char** argv) {
  CLI::App app{"A fake Docker engine serving a synthetic host, for benchmarks"};
  std::string directory;
  std::size_t images = 1000;
  std::uint64_t seed = 7;
  std::string api = "1.41";
  double events_rate = 0;
  std::size_t events_total = 0;
  std::string stats_path;
  app.add_option("--dir", directory, "Directory for docker.sock")->required();
  app.add_option("--images", images, "Synthetic images to serve");
  app.add_option("--seed", seed, "Seed of the synthetic state");
  app.add_option("--api", api, "API version to speak");
  app.add_option("--events-rate", events_rate, "Events per second once a client subscribes");
  app.add_option("--events-total", events_total, "Events to send in all");
  app.add_option("--stats", stats_path, "Where to write request and event counts on exit");
  CLI11_PARSE(app, argc, argv);

  const auto version = imagegc::engine::parse_api_version(api);
  if (!version) {
    std::cerr << "bad --api " << api << "\n";
    return 2;
  }

  // Blocked before any thread starts, so that only sigtimedwait below sees them.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  std::filesystem::create_directories(directory);
  imagegc::test::FakeEngineOptions options;
  options.api_version = *version;
  options.directory = directory;
  imagegc::test::FakeEngine fake(options);
  fake.add_synthetic_images(images, seed);
  fake.prepare_image_answers();
  std::cout << "ready " << fake.url() << std::endl;

  std::size_t sent = 0;
  std::size_t tracked = 0;
  double first_event = 0;
  double last_event = 0;
  // Written when the last event went out (for a benchmark to wait on) and again on exit.
  const auto write_stats = [&] {
    if (stats_path.empty()) {
      return;
    }
    const auto stats = fake.stats();
    const nlohmann::json out{{"requests", stats.requests},
                             {"connections_accepted", stats.connections_accepted},
                             {"subscriptions", stats.subscriptions},
                             {"requests_by_path", by_kind(stats.requests_by_path)},
                             {"events_sent", sent},
                             {"events_tracked", tracked},
                             {"first_event_unix", first_event},
                             {"last_event_unix", last_event}};
    const std::string temporary = stats_path + ".tmp";
    std::ofstream(temporary) << out.dump(2) << "\n";
    std::rename(temporary.c_str(), stats_path.c_str());
  };

  // Events go out in slices every few milliseconds, each as many as the rate has accrued.
  constexpr auto k_slice = std::chrono::milliseconds(2);
  Clock::time_point started{};
  for (;;) {
    if (events_rate <= 0 || sent >= events_total) {
      int signal_number = 0;
      sigwait(&stop_signals, &signal_number);
      break;
    }
    const timespec wait{0, std::chrono::nanoseconds(k_slice).count()};
    const int signal_number = sigtimedwait(&stop_signals, nullptr, &wait);
    if (signal_number == SIGTERM || signal_number == SIGINT) {
      break;
    }
    if (started == Clock::time_point{}) {
      if (fake.subscriber_count() == 0) {
        continue;
      }
      started = Clock::now();
      first_event = unix_seconds_now();
    }
    const double elapsed = std::chrono::duration<double>(Clock::now() - started).count();
    const auto due =
        std::min<std::size_t>(events_total, static_cast<std::size_t>(elapsed * events_rate) + 1);
    if (due > sent) {
      tracked += fake.emit_workload_events(due - sent);
      sent = due;
      last_event = unix_seconds_now();
      if (sent == events_total) {
        write_stats();
      }
    }
  }

  write_stats();
  return 0;
}
