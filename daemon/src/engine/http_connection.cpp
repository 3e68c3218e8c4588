#include "engine/http_connection.hpp"

#include <algorithm>
#include <optional>
#include <string>

#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include "engine/detail/engine_stream.hpp"

namespace imagegc::engine {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = boost::beast::http;
using boost::system::error_code;

std::string HttpResponse::header(std::string_view lower_case_name) const {
  const auto it = std::find_if(headers.begin(), headers.end(),
                               [&](const auto& header) { return header.first == lower_case_name; });
  return it == headers.end() ? std::string{} : it->second;
}

namespace {

constexpr std::size_t k_read_buffer_bytes = std::size_t{64} * 1024;

// The request as it goes on the wire. Written out rather than through Beast's serializer, which
// cost several times the rest of a small request's handling: a cold start makes two per image.
// The target comes from the client's own URL building, which percent-encodes names.
std::string request_text(http::verb method, std::string_view target, std::string_view body,
                         std::string_view host) {
  std::string text;
  text.reserve(128 + target.size() + body.size());
  text.append(http::to_string(method)).append(" ").append(target).append(" HTTP/1.1\r\n");
  text.append("Host: ").append(host).append("\r\n");
  text.append("User-Agent: imagegc/" IMAGEGC_VERSION "\r\n");
  if (!body.empty()) {
    text.append("Content-Type: application/json\r\n");
  }
  // A POST or PUT says its length even when empty, as curl and Go's client do.
  if (!body.empty() || method == http::verb::post || method == http::verb::put) {
    text.append("Content-Length: ").append(std::to_string(body.size())).append("\r\n");
  }
  text.append("\r\n").append(body);
  return text;
}

bool valid_target(std::string_view target) {
  return !target.empty() && std::none_of(target.begin(), target.end(), [](char c) {
    return static_cast<unsigned char>(c) <= 0x20 || static_cast<unsigned char>(c) == 0x7f;
  });
}

Error invalid_target() {
  return Error{ErrorKind::malformed, 0, "request target with a space or control character"};
}

} // namespace

struct HttpConnection::Impl {
  Impl(asio::any_io_executor executor, Endpoint engine_endpoint, HttpLimits connection_limits)
      : stream(std::move(executor)), endpoint(std::move(engine_endpoint)),
        limits(connection_limits), host(detail::host_header(endpoint)) {
    // Beast reads as much as the buffer has room for, and at least 512 bytes: a buffer that
    // starts empty never grows, and every answer is read 512 bytes a system call (a 100k-image
    // listing, 60,000 of them).
    buffer.reserve(k_read_buffer_bytes);
  }

  detail::EngineStream stream;
  Endpoint endpoint;
  HttpLimits limits;
  std::string host; // the Host header's value
  beast::flat_buffer buffer;
  bool connected = false;
  std::size_t connections_opened = 0;

  void drop() {
    error_code ignored;
    stream.socket().shutdown(asio::socket_base::shutdown_both, ignored);
    stream.close();
    buffer.clear();
    connected = false;
  }

  // Opens the connection unless it is open.
  asio::awaitable<Result<void>> open() {
    if (connected) {
      co_return Result<void>{};
    }
    stream.expires_after(limits.timeout);
    if (auto result = co_await detail::connect(stream, endpoint); !result) {
      stream.close();
      co_return util::unexpected(result.error());
    }
    connected = true;
    ++connections_opened;
    co_return Result<void>{};
  }

  asio::awaitable<Result<void>> send(const std::string& requests) {
    error_code ec;
    stream.expires_after(limits.timeout);
    co_await asio::async_write(stream, asio::buffer(requests),
                               asio::redirect_error(asio::use_awaitable, ec));
    if (ec) {
      drop();
      co_return util::unexpected(detail::transport_error(endpoint, "cannot send to", ec));
    }
    co_return Result<void>{};
  }

  // Reads the next answer, the one to `target`. Drops the connection on an error, and after an
  // answer that closes it.
  asio::awaitable<Result<HttpResponse>> receive(const std::string& target) {
    error_code ec;
    stream.expires_after(limits.timeout);
    http::response_parser<http::string_body> parser;
    parser.body_limit(limits.max_body_bytes);
    // The header first: Beast 1.74's async_read does not hold a Content-Length body to
    // body_limit, and would read (and hold) whatever length the engine announces.
    co_await http::async_read_header(stream, buffer, parser,
                                     asio::redirect_error(asio::use_awaitable, ec));
    if (!ec && parser.content_length() && *parser.content_length() > limits.max_body_bytes) {
      ec = http::error::body_limit;
    }
    if (!ec && !parser.is_done()) {
      co_await http::async_read(stream, buffer, parser,
                                asio::redirect_error(asio::use_awaitable, ec));
    }
    if (ec) {
      drop();
      if (ec == http::error::body_limit) {
        co_return util::unexpected(Error{ErrorKind::malformed, 0,
                                         "response to " + target + " exceeds " +
                                             std::to_string(limits.max_body_bytes) + " bytes"});
      }
      co_return util::unexpected(detail::transport_error(endpoint, "no answer from", ec));
    }

    auto message = parser.release();
    HttpResponse response;
    response.status = static_cast<int>(message.result_int());
    for (const auto& field : message) {
      std::string name(field.name_string());
      // A header name is an ASCII token: no locale needed.
      std::transform(name.begin(), name.end(), name.begin(), [](char c) {
        return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
      });
      response.headers.emplace_back(std::move(name), std::string(field.value()));
    }
    response.body = std::move(message.body());
    if (!message.keep_alive()) {
      drop();
    }
    co_return response;
  }

  // One attempt. `reused` tells the caller whether it went over a connection opened for an
  // earlier request: such a connection may have been closed by the engine while idle.
  asio::awaitable<Result<HttpResponse>> attempt(http::verb method, const std::string& target,
                                                const std::string& body, bool& reused) {
    reused = connected;
    // Refused before any connection is opened for it.
    if (!valid_target(target)) {
      co_return util::unexpected(invalid_target());
    }
    if (auto opened = co_await open(); !opened) {
      co_return util::unexpected(std::move(opened).error());
    }
    if (auto sent = co_await send(request_text(method, target, body, host)); !sent) {
      co_return util::unexpected(std::move(sent).error());
    }
    co_return co_await receive(target);
  }
};

HttpConnection::HttpConnection(asio::any_io_executor executor, Endpoint endpoint, HttpLimits limits)
    : m_impl(std::make_unique<Impl>(std::move(executor), std::move(endpoint), limits)) {}

HttpConnection::~HttpConnection() = default;

asio::awaitable<Result<HttpResponse>>
HttpConnection::request(std::string method, std::string target, std::string body) {
  const http::verb verb = http::string_to_verb(method);
  bool reused = false;
  auto result = co_await m_impl->attempt(verb, target, body, reused);
  // An idle keep-alive connection the engine closed fails on first use: try once on a new one.
  if (!result && result.error().kind == ErrorKind::transport && reused) {
    result = co_await m_impl->attempt(verb, target, body, reused);
  }
  co_return result;
}

asio::awaitable<std::vector<Result<HttpResponse>>>
HttpConnection::get_pipelined(std::vector<std::string> targets) {
  Impl& impl = *m_impl;
  std::vector<Result<HttpResponse>> answers;
  answers.reserve(targets.size());
  // Only the targets before an invalid one are sent; it ends the list.
  const auto invalid =
      std::find_if_not(targets.begin(), targets.end(),
                       [](const std::string& target) { return valid_target(target); });
  const auto sendable = static_cast<std::size_t>(invalid - targets.begin());
  std::size_t next = 0; // the first target without an answer
  while (next < sendable) {
    const bool reused = impl.connected;
    if (auto opened = co_await impl.open(); !opened) {
      answers.emplace_back(util::unexpected(std::move(opened).error()));
      co_return answers;
    }
    std::string requests;
    for (std::size_t i = next; i < sendable; ++i) {
      requests += request_text(http::verb::get, targets[i], {}, impl.host);
    }
    std::optional<Error> failed;
    std::size_t answered = 0;
    if (auto sent = co_await impl.send(requests); !sent) {
      failed = std::move(sent).error();
    }
    while (!failed && next < sendable) {
      auto response = co_await impl.receive(targets[next]);
      if (!response) {
        failed = std::move(response).error();
        break;
      }
      answers.emplace_back(std::move(response));
      ++next;
      ++answered;
      if (!impl.connected) {
        break; // the engine closed the connection after that answer: the rest go again
      }
    }
    if (!failed) {
      continue;
    }
    // As request() does, an idle keep-alive connection the engine closed is tried again once;
    // so is the rest of a batch after an engine that closed the connection part way through.
    // Each new try either gets an answer or is the last.
    if (failed->kind == ErrorKind::transport && (answered > 0 || reused)) {
      continue;
    }
    answers.emplace_back(util::unexpected(std::move(*failed)));
    co_return answers;
  }
  if (sendable < targets.size()) {
    answers.emplace_back(util::unexpected(invalid_target()));
  }
  co_return answers;
}

void HttpConnection::close() {
  if (m_impl->connected) {
    m_impl->drop();
  }
}

const Endpoint& HttpConnection::endpoint() const {
  return m_impl->endpoint;
}

std::size_t HttpConnection::connections_opened() const {
  return m_impl->connections_opened;
}

} // namespace imagegc::engine
