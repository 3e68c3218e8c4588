#include <cstdlib>

#include <gtest/gtest.h>

#include "engine/endpoint.hpp"

namespace imagegc::engine {
namespace {

TEST(Endpoint, unix_socket_urls_need_an_absolute_path) {
  const auto parsed = parse_endpoint("unix:///var/run/docker.sock");
  ASSERT_TRUE(parsed.has_value()) << parsed.error();
  EXPECT_EQ(parsed->kind, Endpoint::Kind::unix_socket);
  EXPECT_EQ(parsed->socket_path, "/var/run/docker.sock");
  EXPECT_EQ(parsed->to_string(), "unix:///var/run/docker.sock");
  EXPECT_FALSE(parse_endpoint("unix://relative.sock").has_value());
  EXPECT_FALSE(parse_endpoint("unix://").has_value());
}

TEST(Endpoint, tcp_urls_take_host_and_port) {
  const auto parsed = parse_endpoint("tcp://127.0.0.1:2376");
  ASSERT_TRUE(parsed.has_value()) << parsed.error();
  EXPECT_EQ(parsed->kind, Endpoint::Kind::tcp);
  EXPECT_EQ(parsed->host, "127.0.0.1");
  EXPECT_EQ(parsed->port, 2376);
  EXPECT_EQ(parse_endpoint("tcp://localhost")->port, 2375) << "the engine's plain-TCP port";
  EXPECT_EQ(parse_endpoint("http://localhost:80/")->port, 80);
  const auto ipv6 = parse_endpoint("tcp://[::1]:2375");
  ASSERT_TRUE(ipv6.has_value()) << ipv6.error();
  EXPECT_EQ(ipv6->host, "::1");
  EXPECT_EQ(ipv6->to_string(), "tcp://[::1]:2375");
}

TEST(Endpoint, bad_addresses_say_what_is_wrong) {
  EXPECT_NE(parse_endpoint("tcp://host:99999").error().find("bad port"), std::string::npos);
  EXPECT_NE(parse_endpoint("tcp://:2375").error().find("no host"), std::string::npos);
  EXPECT_NE(parse_endpoint("tcp://host:2375/v1").error().find("path"), std::string::npos);
  EXPECT_NE(parse_endpoint("ssh://user@host").error().find("unsupported"), std::string::npos);
  EXPECT_NE(parse_endpoint("tcp://[::1:2375").error().find("unclosed"), std::string::npos);
}

TEST(Endpoint, host_option_wins_over_docker_host_which_wins_over_the_default) {
  ::setenv("DOCKER_HOST", "unix:///from/env.sock", 1);
  EXPECT_EQ(resolve_endpoint("unix:///from/option.sock")->socket_path, "/from/option.sock");
  EXPECT_EQ(resolve_endpoint("")->socket_path, "/from/env.sock");
  ::unsetenv("DOCKER_HOST");
  EXPECT_EQ(resolve_endpoint("")->socket_path, "/var/run/docker.sock");
}

} // namespace
} // namespace imagegc::engine
