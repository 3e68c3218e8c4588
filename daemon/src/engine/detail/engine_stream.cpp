#include "engine/detail/engine_stream.hpp"

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace imagegc::engine::detail {

namespace asio = boost::asio;
using boost::system::error_code;

asio::awaitable<Result<void>> connect(EngineStream& stream, const Endpoint& endpoint) {
  error_code ec;
  if (endpoint.kind == Endpoint::Kind::unix_socket) {
    const asio::local::stream_protocol::endpoint local(endpoint.socket_path);
    co_await stream.async_connect(asio::generic::stream_protocol::endpoint(local),
                                  asio::redirect_error(asio::use_awaitable, ec));
    if (ec) {
      co_return util::unexpected(connect_error(endpoint, ec));
    }
    co_return Result<void>{};
  }
  asio::ip::tcp::resolver resolver(stream.get_executor());
  const auto results = co_await resolver.async_resolve(
      endpoint.host, std::to_string(endpoint.port), asio::redirect_error(asio::use_awaitable, ec));
  if (ec) {
    co_return util::unexpected(connect_error(endpoint, ec));
  }
  for (const auto& entry : results) {
    co_await stream.async_connect(asio::generic::stream_protocol::endpoint(entry.endpoint()),
                                  asio::redirect_error(asio::use_awaitable, ec));
    if (!ec) {
      co_return Result<void>{};
    }
    stream.close();
  }
  co_return util::unexpected(connect_error(endpoint, ec));
}

Error connect_error(const Endpoint& endpoint, const error_code& ec) {
  std::string message =
      "cannot connect to the engine at " + endpoint.to_string() + ": " + ec.message();
  if (ec == asio::error::access_denied || ec == boost::system::errc::permission_denied) {
    message += " (the socket belongs to the docker group: add this user to it, or run as a "
               "member of it)";
  } else if (ec == boost::system::errc::no_such_file_or_directory ||
             ec == asio::error::connection_refused) {
    message += " (is the engine running? set --host or DOCKER_HOST to another address)";
  }
  return Error{ErrorKind::transport, 0, std::move(message)};
}

Error transport_error(const Endpoint& endpoint, std::string_view what, const error_code& ec) {
  return Error{ErrorKind::transport, 0,
               std::string(what) + " " + endpoint.to_string() + ": " + ec.message()};
}

std::string host_header(const Endpoint& endpoint) {
  return endpoint.kind == Endpoint::Kind::unix_socket
             ? "localhost"
             : endpoint.host + ":" + std::to_string(endpoint.port);
}

} // namespace imagegc::engine::detail
