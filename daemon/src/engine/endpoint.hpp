#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "util/expected.hpp"

namespace imagegc::engine {

// Where the engine listens: a Unix socket or a plain TCP address.
struct Endpoint {
  enum class Kind { unix_socket, tcp };

  Kind kind = Kind::unix_socket;
  std::string socket_path; // Kind::unix_socket
  std::string host;        // Kind::tcp
  std::uint16_t port = 0;  // Kind::tcp

  // "unix:///var/run/docker.sock" or "tcp://127.0.0.1:2375".
  [[nodiscard]] std::string to_string() const;
};

inline constexpr std::string_view k_default_engine_url = "unix:///var/run/docker.sock";

// Accepts unix:///path, tcp://host:port (IPv6 as tcp://[::1]:2375) and http://host:port.
util::Expected<Endpoint, std::string> parse_endpoint(std::string_view url);

// --host when given, else DOCKER_HOST, else the default socket.
util::Expected<Endpoint, std::string> resolve_endpoint(std::string_view host_option);

} // namespace imagegc::engine
