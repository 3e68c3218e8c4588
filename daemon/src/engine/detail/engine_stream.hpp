#pragma once
// Beast stream plumbing shared by engine/*.cpp. Heavy headers: include only from .cpp files.

#include <boost/asio/generic/stream_protocol.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "engine/endpoint.hpp"
#include "engine/error.hpp"
#include "util/asio.hpp"

namespace imagegc::engine::detail {

// One stream type for both Unix and TCP sockets: the generic protocol carries either endpoint.
using EngineStream =
    boost::beast::basic_stream<boost::asio::generic::stream_protocol, boost::asio::any_io_executor>;

// Connects `stream` to `endpoint` (resolving a TCP host name first) within the stream's expiry.
boost::asio::awaitable<Result<void>> connect(EngineStream& stream, const Endpoint& endpoint);

// "cannot connect to the engine at unix:///x.sock: Permission denied (...hint...)".
Error connect_error(const Endpoint& endpoint, const boost::system::error_code& ec);
Error transport_error(const Endpoint& endpoint, std::string_view what,
                      const boost::system::error_code& ec);

// The Host header: the engine ignores it on a Unix socket, but HTTP/1.1 requires one.
std::string host_header(const Endpoint& endpoint);

} // namespace imagegc::engine::detail
