#include "engine/http_connection.hpp"

#include <algorithm>
#include <cstdint>
#include <iterator>
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
  const std::string_view all = m_headers;
  for (std::size_t at = 0; at < all.size();) {
    const std::size_t name_end = all.find('\0', at);
    const std::size_t value_end = all.find('\0', name_end + 1);
    if (value_end == std::string_view::npos) {
      break; // add_header writes both ends: not reached
    }
    if (all.substr(at, name_end - at) == lower_case_name) {
      return std::string(all.substr(name_end + 1, value_end - name_end - 1));
    }
    at = value_end + 1;
  }
  return {};
}

void HttpResponse::add_header(std::string_view name, std::string_view value) {
  // Neither holds a NUL in an answer Beast parsed; any other is cut there.
  name = name.substr(0, name.find('\0'));
  value = value.substr(0, value.find('\0'));
  // A header name is an ASCII token: no locale needed.
  std::transform(name.begin(), name.end(), std::back_inserter(m_headers), [](char c) {
    return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
  });
  m_headers.push_back('\0');
  m_headers.append(value).push_back('\0');
}

namespace {

// Reads an answer straight into an HttpResponse, with Beast's parser: its own message type keeps
// each header in an allocation of its own first.
class ResponseReader : public http::basic_parser<false> {
public:
  HttpResponse& response() { return m_response; }

private:
  void on_request_impl(http::verb /*method*/, beast::string_view /*method_text*/,
                       beast::string_view /*target*/, int /*version*/,
                       error_code& /*ec*/) override {}
  void on_response_impl(int code, beast::string_view /*reason*/, int /*version*/,
                        error_code& /*ec*/) override {
    m_response.status = code;
  }
  void on_field_impl(http::field /*name*/, beast::string_view name, beast::string_view value,
                     error_code& /*ec*/) override {
    m_response.add_header({name.data(), name.size()}, {value.data(), value.size()});
  }
  void on_header_impl(error_code& /*ec*/) override {}
  void on_body_init_impl(const boost::optional<std::uint64_t>& content_length,
                         error_code& /*ec*/) override {
    // The parser has held the length to its body limit by now.
    if (content_length) {
      m_response.body.reserve(static_cast<std::size_t>(*content_length));
    }
  }
  std::size_t on_body_impl(beast::string_view body, error_code& /*ec*/) override {
    m_response.body.append(body.data(), body.size());
    return body.size();
  }
  void on_chunk_header_impl(std::uint64_t /*size*/, beast::string_view /*extensions*/,
                            error_code& /*ec*/) override {}
  std::size_t on_chunk_body_impl(std::uint64_t /*remain*/, beast::string_view body,
                                 error_code& /*ec*/) override {
    m_response.body.append(body.data(), body.size());
    return body.size();
  }
  void on_finish_impl(error_code& /*ec*/) override {}

  HttpResponse m_response;
};

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
    ResponseReader parser;
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

    if (!parser.keep_alive()) {
      drop();
    }
    co_return std::move(parser.response());
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
