#include "app/commands.hpp"

#include "util/asio.hpp"

#include <csignal>
#include <iostream>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <spdlog/spdlog.h>

#include "app/graph_report.hpp"
#include "engine/endpoint.hpp"
#include "engine/engine_client.hpp"
#include "sync/graph_loader.hpp"
#include "sync/graph_tracker.hpp"
#include "util/format.hpp"

namespace imagegc::app {

namespace asio = boost::asio;

namespace {

// Completion for co_spawn: an exception escaping a coroutine leaves io_context::run() and
// reaches main's single catch, instead of being dropped.
void rethrow(std::exception_ptr error) {
  if (error) {
    std::rethrow_exception(error);
  }
}

std::string graph_summary(const graph::ImageGraph& graph) {
  std::size_t counts[3] = {0, 0, 0};
  std::size_t in_use = 0;
  for (const auto& id : graph.image_ids()) {
    ++counts[static_cast<int>(graph.state(id))];
    in_use += graph.in_use(id) ? 1 : 0;
  }
  return fmt::format("{} images ({} tagged, {} dangling, {} intermediate; {} in use), layers {}; "
                     "reclaimable: dangling {}, unused {}",
                     graph.image_count(), counts[static_cast<int>(graph::ImageState::tagged)],
                     counts[static_cast<int>(graph::ImageState::dangling)],
                     counts[static_cast<int>(graph::ImageState::intermediate)], in_use,
                     util::human_bytes(graph.layers_bytes()),
                     util::human_bytes(graph.dangling_reclaimable_bytes()),
                     util::human_bytes(graph.unused_reclaimable_bytes()));
}

} // namespace

int graph_command(const GlobalOptions& global, GraphFormat format) {
  const auto endpoint = engine::resolve_endpoint(global.host);
  if (!endpoint) {
    std::cerr << "imagegc: " << endpoint.error() << '\n';
    return 2;
  }
  asio::io_context io;
  int exit_code = 0;
  std::string output;
  auto sync_and_render = [&]() -> asio::awaitable<void> {
    engine::EngineClient client(io.get_executor(), *endpoint);
    auto fail = [&](const engine::Error& error) {
      std::cerr << "imagegc: " << error.message << '\n';
      exit_code = 1;
    };
    auto version = co_await client.negotiate();
    if (!version) {
      co_return fail(version.error());
    }
    auto info = co_await client.info();
    if (!info) {
      co_return fail(info.error());
    }
    auto graph = co_await sync::load_graph(client, graph::ImageGraph{});
    if (!graph) {
      co_return fail(graph.error());
    }
    switch (format) {
    case GraphFormat::table:
      output = render_table(*graph);
      break;
    case GraphFormat::json:
      output = render_json(*graph, {*version, info->storage_driver});
      break;
    case GraphFormat::tree:
      output = render_tree(*graph);
      break;
    }
  };
  asio::co_spawn(io, sync_and_render(), rethrow);
  io.run();
  std::cout << output << std::flush;
  return exit_code;
}

int run_command(const GlobalOptions& global) {
  const auto endpoint = engine::resolve_endpoint(global.host);
  if (!endpoint) {
    std::cerr << "imagegc: " << endpoint.error() << '\n';
    return 2;
  }
  asio::io_context io;
  sync::GraphTracker tracker(io.get_executor(), *endpoint);
  spdlog::info("imagegc {} following the engine at {}", IMAGEGC_VERSION, endpoint->to_string());

  // Changes arrive in bursts (a build sends dozens of events): log one summary per second.
  asio::steady_timer summary_timer(io);
  bool summary_pending = false;
  tracker.on_graph_changed([&] {
    if (summary_pending) {
      return;
    }
    summary_pending = true;
    summary_timer.expires_after(std::chrono::seconds(1));
    summary_timer.async_wait([&](boost::system::error_code ec) {
      summary_pending = false;
      if (!ec) {
        spdlog::info("{}", graph_summary(tracker.graph()));
      }
    });
  });

  asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](boost::system::error_code ec, int signal_number) {
    if (!ec) {
      spdlog::info("received signal {}, stopping", signal_number);
      tracker.stop();
    }
  });
  asio::co_spawn(io, tracker.run(), [&](std::exception_ptr error) {
    signals.cancel();
    summary_timer.cancel();
    rethrow(error);
  });
  io.run();
  spdlog::info("stopped");
  return 0;
}

} // namespace imagegc::app
