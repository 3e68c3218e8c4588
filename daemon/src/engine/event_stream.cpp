#include "engine/event_stream.hpp"

#include <array>
#include <cstdio>
#include <limits>
#include <string>

#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "engine/detail/engine_stream.hpp"
#include "engine/json_ingest.hpp"
#include "engine/line_splitter.hpp"
#include "util/url.hpp"

namespace imagegc::engine {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = boost::beast::http;
using boost::system::error_code;

std::string format_since(std::int64_t time_nano) {
  std::array<char, 48> text{};
  std::snprintf(text.data(), text.size(), "%lld.%09lld",
                static_cast<long long>(time_nano / 1'000'000'000),
                static_cast<long long>(time_nano % 1'000'000'000));
  return text.data();
}

struct EventStream::Impl {
  Impl(asio::any_io_executor executor, Endpoint engine_endpoint)
      : stream(std::move(executor)), endpoint(std::move(engine_endpoint)) {}

  detail::EngineStream stream;
  Endpoint endpoint;
};

EventStream::EventStream(asio::any_io_executor executor, Endpoint endpoint)
    : m_impl(std::make_unique<Impl>(std::move(executor), std::move(endpoint))) {}

EventStream::~EventStream() = default;

void EventStream::cancel() {
  error_code ignored;
  m_impl->stream.socket().shutdown(asio::socket_base::shutdown_both, ignored);
  m_impl->stream.close();
}

asio::awaitable<Result<void>> EventStream::run(EventSubscription subscription, EventSink& sink) {
  auto& stream = m_impl->stream;
  const auto& endpoint = m_impl->endpoint;
  constexpr std::chrono::seconds k_connect_timeout{30};

  stream.expires_after(k_connect_timeout);
  if (auto connected = co_await detail::connect(stream, endpoint); !connected) {
    stream.close();
    co_return connected;
  }

  std::string target = "/v" + subscription.api_version.to_string() + "/events?filters=" +
                       util::percent_encode(R"({"type":["image","container"]})");
  if (subscription.since_nano) {
    target += "&since=" + format_since(*subscription.since_nano);
  }
  http::request<http::empty_body> request{http::verb::get, target, 11};
  request.set(http::field::host, detail::host_header(endpoint));
  request.set(http::field::user_agent, "imagegc/" IMAGEGC_VERSION);

  error_code ec;
  co_await http::async_write(stream, request, asio::redirect_error(asio::use_awaitable, ec));
  if (ec) {
    stream.close();
    co_return util::unexpected(
        detail::transport_error(endpoint, "cannot subscribe to events at", ec));
  }

  beast::flat_buffer buffer;
  // Room to read a busy stream's events many at a time: an empty buffer reads 512 bytes a call.
  buffer.reserve(std::size_t{64} * 1024);
  http::response_parser<http::buffer_body> parser;
  // The stream never ends on its own. Not boost::none: Beast 1.74 then refuses any answer with a
  // Content-Length (an error body) as over the limit, and the engine's message is lost.
  parser.body_limit(std::numeric_limits<std::uint64_t>::max());
  co_await http::async_read_header(stream, buffer, parser,
                                   asio::redirect_error(asio::use_awaitable, ec));
  if (ec) {
    stream.close();
    co_return util::unexpected(detail::transport_error(endpoint, "no events answer from", ec));
  }
  // The engine sends nothing while nothing happens: no read timeout once subscribed.
  stream.expires_never();

  const int status = static_cast<int>(parser.get().result_int());
  LineSplitter splitter(subscription.max_line_bytes, sink.on_line, sink.on_oversized_line);
  std::string error_body;
  if (status == 200 && sink.on_subscribed) {
    sink.on_subscribed();
  }

  std::array<char, std::size_t{64} * 1024> chunk{};
  while (!parser.is_done()) {
    parser.get().body().data = chunk.data();
    parser.get().body().size = chunk.size();
    // read_some: hand over each event as it arrives, not when 64 KiB have piled up.
    co_await http::async_read_some(stream, buffer, parser,
                                   asio::redirect_error(asio::use_awaitable, ec));
    if (ec == http::error::need_buffer) {
      ec = {};
    }
    const std::size_t received = chunk.size() - parser.get().body().size;
    const std::string_view data(chunk.data(), received);
    if (status == 200) {
      splitter.feed(data);
    } else if (error_body.size() < std::size_t{64} * 1024) {
      error_body.append(data);
    }
    if (ec) {
      break;
    }
  }
  stream.close();

  if (status != 200) {
    co_return util::unexpected(Error{ErrorKind::http_status, status,
                                     "GET /events: HTTP " + std::to_string(status) + ": " +
                                         parse_error_message(error_body)});
  }
  if (ec && ec != http::error::end_of_stream) {
    co_return util::unexpected(detail::transport_error(endpoint, "events stream from", ec));
  }
  co_return util::unexpected(
      Error{ErrorKind::transport, 0,
            "the engine at " + endpoint.to_string() + " ended the events stream"});
}

} // namespace imagegc::engine
