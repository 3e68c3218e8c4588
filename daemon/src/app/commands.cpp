#include "app/commands.hpp"

#include <filesystem>
#include <iostream>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <spdlog/spdlog.h>

#include "app/graph_report.hpp"
#include "app/plan_report.hpp"
#include "app/policy_file.hpp"
#include "engine/endpoint.hpp"
#include "engine/engine_client.hpp"
#include "gc/disk_stats.hpp"
#include "gc/gc_pass.hpp"
#include "gc/state_store.hpp"
#include "policy/policy_loader.hpp"
#include "sync/graph_loader.hpp"
#include "util/asio.hpp"

namespace imagegc::app {

namespace asio = boost::asio;

namespace {

// What a one-shot command reads from the engine.
struct Snapshot {
  engine::ApiVersion api_version;
  engine::EngineInfo info;
  graph::ImageGraph graph;
  bool build_prune_available = true;
};

// Connects, syncs once and hands the snapshot to `use`. Errors go to stderr; returns the exit
// code (1 when the engine could not be read, 2 for a bad address).
template <class Use> int with_snapshot(const GlobalOptions& global, Use use) {
  const auto endpoint = engine::resolve_endpoint(global.host);
  if (!endpoint) {
    std::cerr << "imagegc: " << endpoint.error() << '\n';
    return 2;
  }
  asio::io_context io;
  std::optional<Snapshot> snapshot;
  std::string error;
  auto read = [&]() -> asio::awaitable<void> {
    engine::EngineClient client(io.get_executor(), *endpoint);
    auto version = co_await client.negotiate();
    if (!version) {
      error = version.error().message;
      co_return;
    }
    auto info = co_await client.info();
    if (!info) {
      error = info.error().message;
      co_return;
    }
    auto graph = co_await sync::load_graph(client, graph::ImageGraph{});
    if (!graph) {
      error = graph.error().message;
      co_return;
    }
    snapshot =
        Snapshot{*version, std::move(*info), std::move(*graph), gc::build_prune_available(client)};
  };
  asio::co_spawn(io, read(), [](const std::exception_ptr& thrown) {
    if (thrown) {
      std::rethrow_exception(thrown);
    }
  });
  io.run();
  if (!snapshot) {
    std::cerr << "imagegc: " << error << '\n';
    return 1;
  }
  return use(*snapshot);
}

} // namespace

int graph_command(const GlobalOptions& global, OutputFormat format) {
  return with_snapshot(global, [&](const Snapshot& snapshot) {
    const EngineSummary engine{snapshot.api_version, snapshot.info.storage_driver,
                               snapshot.info.image_store()};
    switch (format) {
    case OutputFormat::table:
      std::cout << render_table(snapshot.graph, engine);
      break;
    case OutputFormat::json:
      std::cout << render_json(snapshot.graph, engine);
      break;
    case OutputFormat::tree:
      std::cout << render_tree(snapshot.graph, engine);
      break;
    }
    return 0;
  });
}

int plan_command(const GlobalOptions& global, const std::string& config_path,
                 const std::string& state_dir, OutputFormat format) {
  const auto policy = load_policy_or_log(config_path);
  if (!policy) {
    return 2;
  }
  return with_snapshot(global, [&](const Snapshot& snapshot) {
    // A plan changes nothing on disk: without the daemon's database, no last-used times.
    gc::StateStoreOpenReport report;
    const bool have_state = std::filesystem::exists(std::filesystem::path(state_dir) / "state.db");
    const auto state =
        have_state ? gc::StateStore::open(state_dir, report) : gc::StateStore::in_memory();
    const gc::PassInput input{*policy, snapshot.graph,
                              [&](std::string_view id) { return state->last_used(id); },
                              snapshot.info.docker_root_dir, snapshot.build_prune_available};
    const auto plan = gc::plan_now(input, gc::disk_stats(snapshot.info.docker_root_dir));
    std::cout << (format == OutputFormat::json ? render_plan_json(plan) : render_plan_table(plan));
    return 0;
  });
}

int check_config_command(const std::string& config_path) {
  auto loaded = policy::load_policy_file(config_path);
  if (!loaded) {
    for (const auto& error : loaded.error()) {
      std::cerr << error.to_string() << '\n';
    }
    std::cerr << config_path << ": " << loaded.error().size() << " error"
              << (loaded.error().size() == 1 ? "" : "s") << '\n';
    return 1;
  }
  std::cout << config_path << ": OK (mode "
            << (loaded->mode == policy::Mode::enforce ? "enforce" : "dry-run") << ", "
            << loaded->rules.size() << " rule" << (loaded->rules.size() == 1 ? "" : "s") << ")\n";
  return 0;
}

} // namespace imagegc::app
