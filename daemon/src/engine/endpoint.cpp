#include "engine/endpoint.hpp"

#include <charconv>
#include <cstdlib>

namespace imagegc::engine {

std::string Endpoint::to_string() const {
  if (kind == Kind::unix_socket) {
    return "unix://" + socket_path;
  }
  const bool ipv6 = host.find(':') != std::string::npos;
  return "tcp://" + (ipv6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

namespace {

util::Expected<Endpoint, std::string> parse_tcp(std::string_view url, std::string_view authority) {
  if (const auto slash = authority.find('/'); slash != std::string_view::npos) {
    if (authority.substr(slash) != "/") {
      return util::unexpected("engine address " + std::string(url) + " must not have a path");
    }
    authority = authority.substr(0, slash);
  }
  std::string_view host;
  std::string_view port_text;
  if (authority.starts_with('[')) {
    const auto close = authority.find(']');
    if (close == std::string_view::npos) {
      return util::unexpected("engine address " + std::string(url) + " has an unclosed '['");
    }
    host = authority.substr(1, close - 1);
    const auto rest = authority.substr(close + 1);
    if (!rest.empty() && !rest.starts_with(':')) {
      return util::unexpected("engine address " + std::string(url) + " is not host:port");
    }
    port_text = rest.empty() ? rest : rest.substr(1);
  } else {
    const auto colon = authority.rfind(':');
    host = authority.substr(0, colon);
    port_text = colon == std::string_view::npos ? std::string_view{} : authority.substr(colon + 1);
  }
  if (host.empty()) {
    return util::unexpected("engine address " + std::string(url) + " has no host");
  }
  unsigned port = 2375; // the engine's conventional plain-TCP port
  if (!port_text.empty()) {
    const auto [end, ec] =
        std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
    if (ec != std::errc{} || end != port_text.data() + port_text.size() || port == 0 ||
        port > 65535) {
      return util::unexpected("engine address " + std::string(url) + " has a bad port");
    }
  }
  Endpoint endpoint;
  endpoint.kind = Endpoint::Kind::tcp;
  endpoint.host = std::string(host);
  endpoint.port = static_cast<std::uint16_t>(port);
  return endpoint;
}

} // namespace

util::Expected<Endpoint, std::string> parse_endpoint(std::string_view url) {
  if (url.starts_with("unix://")) {
    const auto path = url.substr(7);
    if (path.empty() || !path.starts_with('/')) {
      return util::unexpected("engine socket " + std::string(url) +
                              " must be an absolute path (unix:///path/to/docker.sock)");
    }
    Endpoint endpoint;
    endpoint.socket_path = std::string(path);
    return endpoint;
  }
  for (const std::string_view scheme : {"tcp://", "http://"}) {
    if (url.starts_with(scheme)) {
      return parse_tcp(url, url.substr(scheme.size()));
    }
  }
  if (url.starts_with('/')) {
    Endpoint endpoint;
    endpoint.socket_path = std::string(url);
    return endpoint;
  }
  return util::unexpected("unsupported engine address " + std::string(url) +
                          " (expected unix:///path or tcp://host:port; TLS is not supported)");
}

util::Expected<Endpoint, std::string> resolve_endpoint(std::string_view host_option) {
  if (!host_option.empty()) {
    return parse_endpoint(host_option);
  }
  // Read once at start-up, before the daemon or a test starts a thread.
  // NOLINTNEXTLINE(concurrency-mt-unsafe)
  if (const char* docker_host = std::getenv("DOCKER_HOST"); docker_host && *docker_host) {
    return parse_endpoint(docker_host);
  }
  return parse_endpoint(k_default_engine_url);
}

} // namespace imagegc::engine
