// refresh_image against recorded Podman 4.3.1 answers (tests/data/podman-4.3/moved_tag_*), served
// over a Unix socket: `podman build -t seq/b:1` twice, the second build taking the tag.

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <gtest/gtest.h>
#include <unistd.h>

#include "engine/json_ingest.hpp"
#include "sync/event_applier.hpp"
#include "sync/image_reader.hpp"
#include "util/asio.hpp"

namespace imagegc::sync {
namespace {

namespace asio = boost::asio;
namespace http = boost::beast::http;
using Socket = asio::local::stream_protocol::socket;

const std::string k_old = "312053fd8acb74b9c0047b11b38c917344e0a20379ae093240c449f4c8ffad8b";
const std::string k_new = "7ed91a5649d9c33befb47f72b469070319514643b1f6fb5889f26a0e453c7c23";
const std::string k_base = "246719541dd9df955c3e0e4eb07e3d50a222b4eb2ee95242f8ef5929a78ded2a";

std::string recorded(const std::string& name) {
  std::ifstream file(std::filesystem::path(IMAGEGC_TEST_DATA_DIR) / "podman-4.3" / name);
  EXPECT_TRUE(file.good()) << name;
  std::ostringstream text;
  text << file.rdbuf();
  return text.str();
}

// Answers like the Podman service did after the second build: each path that names an image by
// its hex ID gets the recorded body; anything else is 404.
class RecordedPodman {
public:
  explicit RecordedPodman(asio::io_context& io)
      : m_path((std::filesystem::temp_directory_path() /
                ("imagegc-recorded-podman-" + std::to_string(::getpid()) + ".sock"))
                   .string()),
        m_acceptor(io) {
    std::filesystem::remove(m_path);
    m_acceptor.open();
    m_acceptor.bind(asio::local::stream_protocol::endpoint(m_path));
    m_acceptor.listen();
    m_routes = {{k_new + "/json", recorded("moved_tag_new.json")},
                {k_new + "/history", recorded("moved_tag_new_history.json")},
                {k_old + "/json", recorded("moved_tag_old_after.json")},
                {k_old + "/history", recorded("moved_tag_old_history.json")}};
    asio::co_spawn(io, serve(), asio::detached);
  }
  ~RecordedPodman() { std::filesystem::remove(m_path); }

  [[nodiscard]] engine::Endpoint endpoint() const {
    return *engine::parse_endpoint("unix://" + m_path);
  }
  [[nodiscard]] const std::vector<std::string>& requests() const { return m_requests; }
  void close() { m_acceptor.close(); }

private:
  asio::awaitable<void> serve() {
    boost::system::error_code error;
    Socket socket =
        co_await m_acceptor.async_accept(asio::redirect_error(asio::use_awaitable, error));
    if (error) {
      co_return;
    }
    boost::beast::flat_buffer buffer;
    for (;;) {
      http::request<http::string_body> request;
      co_await http::async_read(socket, buffer, request,
                                asio::redirect_error(asio::use_awaitable, error));
      if (error) {
        co_return;
      }
      const std::string target(request.target());
      m_requests.push_back(target);
      http::response<http::string_body> response{http::status::not_found, request.version()};
      response.set(http::field::content_type, "application/json");
      response.body() = R"({"cause":"image not known","message":"no such image","response":404})";
      if (target == "/_ping") {
        response.result(http::status::ok);
        response.set("Api-Version", "1.41");
        response.set("Libpod-Api-Version", "4.3.1");
        response.body() = "OK";
      }
      for (const auto& [suffix, body] : m_routes) {
        if (target.ends_with(suffix)) {
          response.result(http::status::ok);
          response.body() = body;
        }
      }
      response.keep_alive(true);
      response.prepare_payload();
      co_await http::async_write(socket, response,
                                 asio::redirect_error(asio::use_awaitable, error));
      if (error) {
        co_return;
      }
    }
  }

  std::string m_path;
  asio::local::stream_protocol::acceptor m_acceptor;
  std::map<std::string, std::string> m_routes;
  std::vector<std::string> m_requests;
};

graph::Image from_recorded(const std::string& name) {
  const auto details = engine::parse_image_details(recorded(name));
  EXPECT_TRUE(details.has_value()) << details.error().message;
  std::vector<graph::Layer> layers;
  for (const auto& diff_id : details->diff_ids) {
    layers.push_back({diff_id, 1000});
  }
  return to_graph_image(*details, std::move(layers));
}

TEST(RefreshImage, a_rebuild_that_takes_a_tag_re_reads_the_image_it_left) {
  graph::ImageGraph graph;
  graph::Image base;
  base.id = "sha256:" + k_base;
  base.tags = {"busybox:latest"};
  base.layers = {{"sha256:base", 2129920}};
  graph.upsert_image(base);
  // What the events had shown after the first build: the tag and, on Podman, a digest reference
  // for each repository the image has a tag in.
  graph.upsert_image(from_recorded("moved_tag_old_before.json"));
  ASSERT_EQ(graph.find_image("sha256:" + k_old)->digests.size(), 1u);

  asio::io_context io;
  RecordedPodman podman(io);
  auto done = asio::co_spawn(
      io,
      [&]() -> asio::awaitable<engine::Result<void>> {
        engine::EngineClient client(io.get_executor(), podman.endpoint());
        auto negotiated = co_await client.negotiate();
        EXPECT_TRUE(negotiated.has_value());
        EXPECT_TRUE(client.is_podman());
        // The build event names only the new image.
        auto refreshed = co_await refresh_image(client, graph, "sha256:" + k_new);
        podman.close();
        co_return refreshed;
      },
      asio::use_future);
  io.run();
  const auto result = done.get();
  ASSERT_TRUE(result.has_value()) << result.error().message;

  const graph::Image* rebuilt = graph.find_image("sha256:" + k_new);
  ASSERT_NE(rebuilt, nullptr);
  EXPECT_EQ(rebuilt->tags, std::vector<std::string>{"localhost/seq/b:1"});
  const graph::Image* left = graph.find_image("sha256:" + k_old);
  ASSERT_NE(left, nullptr);
  EXPECT_TRUE(left->tags.empty());
  EXPECT_TRUE(left->digests.empty()) << "Podman dropped its digest reference with the tag";
  EXPECT_EQ(graph.state("sha256:" + k_old), graph::ImageState::dangling);
  EXPECT_NE(std::find(podman.requests().begin(), podman.requests().end(),
                      "/v1.41/images/sha256%3A" + k_old + "/json"),
            podman.requests().end())
      << "the image the tag left was re-read";
  EXPECT_EQ(std::count_if(
                podman.requests().begin(), podman.requests().end(),
                [](const std::string& target) { return target.find(k_base) != std::string::npos; }),
            0)
      << "the parent was known: not read again";
}

} // namespace
} // namespace imagegc::sync
