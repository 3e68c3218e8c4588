#pragma once
// Calls to an engine from a test's own thread, each on an io_context of its own, with a client
// prepared as the tracker prepares one: API negotiated, image store read from /info.

#include <stdexcept>
#include <utility>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>

#include "engine/engine_client.hpp"
#include "graph/image_graph.hpp"
#include "sync/graph_loader.hpp"

namespace imagegc::test {

// What `use(client)` returns; throws what negotiation or /info failed with.
template <class Result, class Use> Result with_client(const engine::Endpoint& endpoint, Use use) {
  boost::asio::io_context io;
  auto future = boost::asio::co_spawn(
      io,
      [&]() -> boost::asio::awaitable<Result> {
        engine::EngineClient client(io.get_executor(), endpoint);
        if (auto negotiated = co_await client.negotiate(); !negotiated) {
          throw std::runtime_error(negotiated.error().message);
        }
        if (auto info = co_await client.info(); !info) {
          throw std::runtime_error(info.error().message);
        }
        co_return co_await use(client);
      },
      boost::asio::use_future);
  io.run();
  return future.get();
}

// The graph a re-list makes of the engine now (what `imagegc graph` reads).
inline graph::ImageGraph fresh_graph(const engine::Endpoint& endpoint,
                                     const sync::RememberedLayers& remembered = {}) {
  return with_client<graph::ImageGraph>(
      endpoint, [&](engine::EngineClient& client) -> boost::asio::awaitable<graph::ImageGraph> {
        auto loaded = co_await sync::load_graph(client, graph::ImageGraph{}, remembered);
        if (!loaded) {
          throw std::runtime_error(loaded.error().message);
        }
        co_return std::move(*loaded);
      });
}

} // namespace imagegc::test
