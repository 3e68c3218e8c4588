#include "http/http_server.hpp"

#include <charconv>
#include <cstring>
#include <filesystem>
#include <map>
#include <set>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/generic/stream_protocol.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <spdlog/spdlog.h>
#include <sys/stat.h>

#include "engine/endpoint.hpp"

namespace imagegc::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using boost::system::error_code;
using Protocol = asio::generic::stream_protocol;
using Stream = beast::basic_stream<Protocol, asio::any_io_executor>;

namespace {

// "unix:///path" or "host:port" → a bindable endpoint, and its display form.
util::Expected<Protocol::endpoint, std::string> listen_endpoint(const std::string& listen,
                                                                asio::any_io_executor executor) {
  if (listen.starts_with("unix://")) {
    const auto parsed = engine::parse_endpoint(listen);
    if (!parsed) {
      return util::unexpected(parsed.error());
    }
    return Protocol::endpoint(asio::local::stream_protocol::endpoint(parsed->socket_path));
  }
  // host:port or [v6]:port; port 0 asks the system for a free one.
  const auto colon = listen.rfind(':');
  std::string host = colon == std::string::npos ? std::string{} : listen.substr(0, colon);
  if (host.starts_with('[') && host.ends_with(']')) {
    host = host.substr(1, host.size() - 2);
  }
  unsigned port = 0;
  const std::string port_text =
      colon == std::string::npos ? std::string{} : listen.substr(colon + 1);
  const auto [end, parse_error] =
      std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (host.empty() || port_text.empty() || parse_error != std::errc{} ||
      end != port_text.data() + port_text.size() || port > 65535) {
    return util::unexpected("listen address " + listen +
                            " is not host:port, [ipv6]:port or unix:///path");
  }
  error_code ec;
  const auto address = asio::ip::make_address(host, ec);
  if (!ec) {
    return Protocol::endpoint(asio::ip::tcp::endpoint(address, static_cast<unsigned short>(port)));
  }
  asio::ip::tcp::resolver resolver(executor);
  const auto results = resolver.resolve(host, std::to_string(port), ec);
  if (ec || results.empty()) {
    return util::unexpected("cannot resolve listen host " + host + ": " + ec.message());
  }
  return Protocol::endpoint(results.begin()->endpoint());
}

std::string describe(const Protocol::endpoint& endpoint) {
  if (endpoint.protocol().family() == AF_UNIX) {
    asio::local::stream_protocol::endpoint local;
    local.resize(endpoint.size());
    std::memcpy(local.data(), endpoint.data(), endpoint.size());
    return "unix://" + local.path();
  }
  asio::ip::tcp::endpoint tcp;
  std::memcpy(tcp.data(), endpoint.data(), endpoint.size());
  tcp.resize(endpoint.size());
  const auto address = tcp.address();
  return (address.is_v6() ? "[" + address.to_string() + "]" : address.to_string()) + ":" +
         std::to_string(tcp.port());
}

} // namespace

struct Server::Impl : std::enable_shared_from_this<Impl> {
  Impl(asio::any_io_executor server_executor, ServerOptions server_options)
      : executor(std::move(server_executor)), options(std::move(server_options)),
        acceptor(executor) {}

  asio::any_io_executor executor;
  ServerOptions options;
  asio::basic_socket_acceptor<Protocol, asio::any_io_executor> acceptor;
  std::map<std::string, Route, std::less<>> routes;
  std::set<std::shared_ptr<Stream>> sessions;
  std::string address;
  std::string unix_path;
  bool stopping = false;

  bhttp::response<bhttp::string_body> dispatch(const bhttp::request<bhttp::empty_body>& request) {
    std::string_view target = request.target();
    target = target.substr(0, target.find('?'));
    bhttp::response<bhttp::string_body> response{bhttp::status::ok, request.version()};
    response.set(bhttp::field::server, "imagegc");
    const auto route = routes.find(target);
    if (route == routes.end()) {
      response.result(bhttp::status::not_found);
      response.body() = "not found\n";
    } else if (request.method() != bhttp::verb::get && request.method() != bhttp::verb::head) {
      response.result(bhttp::status::method_not_allowed);
      response.set(bhttp::field::allow, "GET, HEAD");
      response.body() = "only GET and HEAD\n";
    } else {
      Reply reply = route->second();
      response.result(static_cast<unsigned>(reply.status));
      response.set(bhttp::field::content_type, reply.content_type);
      response.body() = std::move(reply.body);
    }
    if (!response.has_content_length() && response.count(bhttp::field::content_type) == 0) {
      response.set(bhttp::field::content_type, "text/plain; charset=utf-8");
    }
    response.keep_alive(request.keep_alive() && !stopping);
    response.prepare_payload();
    if (request.method() == bhttp::verb::head) {
      const auto length = response.body().size();
      response.body().clear();
      response.content_length(length);
    }
    return response;
  }

  static bhttp::response<bhttp::string_body> refusal(bhttp::status status, std::string text) {
    bhttp::response<bhttp::string_body> response{status, 11};
    response.set(bhttp::field::server, "imagegc");
    response.set(bhttp::field::content_type, "text/plain; charset=utf-8");
    response.body() = std::move(text);
    response.keep_alive(false);
    response.prepare_payload();
    return response;
  }

  asio::awaitable<void> session(std::shared_ptr<Stream> stream) {
    beast::flat_buffer buffer;
    error_code ec;
    while (!stopping) {
      bhttp::request_parser<bhttp::empty_body> parser;
      parser.header_limit(static_cast<std::uint32_t>(options.header_limit));
      stream->expires_after(options.read_timeout);
      co_await bhttp::async_read(*stream, buffer, parser,
                                 asio::redirect_error(asio::use_awaitable, ec));
      if (ec == bhttp::error::end_of_stream || ec == asio::error::operation_aborted ||
          ec == beast::error::timeout) {
        break;
      }
      if (ec) {
        // A request we will not read: say why when we can, then close.
        const auto status = ec == bhttp::error::header_limit
                                ? bhttp::status::request_header_fields_too_large
                            : ec == bhttp::error::unexpected_body ? bhttp::status::payload_too_large
                                                                  : bhttp::status::bad_request;
        auto response = refusal(status, ec.message() + "\n");
        stream->expires_after(options.read_timeout);
        co_await bhttp::async_write(*stream, response,
                                    asio::redirect_error(asio::use_awaitable, ec));
        break;
      }
      auto response = dispatch(parser.get());
      const bool keep_alive = response.keep_alive();
      stream->expires_after(options.read_timeout);
      co_await bhttp::async_write(*stream, response, asio::redirect_error(asio::use_awaitable, ec));
      if (ec || !keep_alive) {
        break;
      }
    }
    stream->socket().shutdown(asio::socket_base::shutdown_send, ec);
    stream->close();
    sessions.erase(stream);
  }

  asio::awaitable<void> accept_loop() {
    auto self = shared_from_this();
    while (!stopping) {
      error_code ec;
      Protocol::socket socket(executor);
      co_await acceptor.async_accept(socket, asio::redirect_error(asio::use_awaitable, ec));
      if (ec) {
        if (stopping || ec == asio::error::operation_aborted) {
          break;
        }
        spdlog::warn("http: accept failed: {}", ec.message());
        continue;
      }
      if (sessions.size() >= options.max_connections) {
        // Over the cap: refuse at once rather than hold a slot for a slow client.
        socket.close(ec);
        continue;
      }
      auto stream = std::make_shared<Stream>(std::move(socket));
      sessions.insert(stream);
      // The session holds the server state alive for as long as it runs.
      asio::co_spawn(
          executor, [self, stream]() -> asio::awaitable<void> { co_await self->session(stream); },
          asio::detached);
    }
  }
};

Server::Server(asio::any_io_executor executor, ServerOptions options)
    : m_impl(std::make_shared<Impl>(std::move(executor), std::move(options))) {}

Server::~Server() {
  stop();
}

void Server::route(std::string path, Route handler) {
  m_impl->routes.insert_or_assign(std::move(path), std::move(handler));
}

util::Expected<void, std::string> Server::start() {
  Impl& impl = *m_impl;
  auto endpoint = listen_endpoint(impl.options.listen, impl.executor);
  if (!endpoint) {
    return util::unexpected(endpoint.error());
  }
  error_code ec;
  if (endpoint->protocol().family() == AF_UNIX) {
    impl.unix_path = impl.options.listen.substr(7);
    // A socket left by an earlier run would make bind fail; anything else is not ours to remove.
    struct stat info {};
    if (::lstat(impl.unix_path.c_str(), &info) == 0 && S_ISSOCK(info.st_mode)) {
      std::error_code ignored;
      std::filesystem::remove(impl.unix_path, ignored);
    }
  }
  impl.acceptor.open(endpoint->protocol(), ec);
  if (!ec && endpoint->protocol().family() != AF_UNIX) {
    impl.acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  }
  if (!ec) {
    impl.acceptor.bind(*endpoint, ec);
  }
  if (!ec) {
    impl.acceptor.listen(asio::socket_base::max_listen_connections, ec);
  }
  if (ec) {
    impl.acceptor.close();
    return util::unexpected("cannot listen on " + impl.options.listen + ": " + ec.message());
  }
  impl.address = describe(impl.acceptor.local_endpoint());
  asio::co_spawn(impl.executor, impl.accept_loop(), asio::detached);
  return {};
}

void Server::stop() {
  Impl& impl = *m_impl;
  if (impl.stopping) {
    return;
  }
  impl.stopping = true;
  error_code ec;
  impl.acceptor.close(ec);
  for (const auto& stream : impl.sessions) {
    stream->socket().cancel(ec);
  }
  if (!impl.unix_path.empty()) {
    std::error_code ignored;
    std::filesystem::remove(impl.unix_path, ignored);
  }
}

std::string Server::local_address() const {
  return m_impl->address;
}

std::size_t Server::open_connections() const {
  return m_impl->sessions.size();
}

} // namespace imagegc::http
