#include "app/cli.hpp"

#include <iostream>
#include <map>

#include <CLI/CLI.hpp>
#include <spdlog/spdlog.h>

#include "app/commands.hpp"
#include "app/logging.hpp"

namespace imagegc::app {

int run_cli(int argc, char** argv) {
  CLI::App cli{"imagegc: keeps Docker hosts from filling up with images", "imagegc"};
  cli.set_version_flag("--version", "imagegc " IMAGEGC_VERSION);
  cli.require_subcommand(1);

  GlobalOptions global;
  LogOptions logging;
  cli.add_option("--host,-H", global.host,
                 "Engine address: unix:///path/to/docker.sock or tcp://host:port "
                 "(default: $DOCKER_HOST, then unix:///var/run/docker.sock)");
  cli.add_option("--log-level", logging.level, "trace, debug, info, warn, error")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "critical", "off"}));
  cli.add_option("--log-format", logging.format, "text or json")
      ->check(CLI::IsMember({"text", "json"}));

  GraphFormat format = GraphFormat::table;
  const std::map<std::string, GraphFormat> formats{
      {"table", GraphFormat::table}, {"json", GraphFormat::json}, {"tree", GraphFormat::tree}};
  auto* graph = cli.add_subcommand("graph", "Sync with the engine once and print every image");
  graph->add_option("--format", format, "table, json or tree")
      ->transform(CLI::CheckedTransformer(formats, CLI::ignore_case));

  auto* run = cli.add_subcommand(
      "run", "Follow the engine's events and keep the image graph current (the daemon)");

  try {
    cli.parse(argc, argv);
  } catch (const CLI::ParseError& error) {
    return cli.exit(error);
  }

  configure_logging(logging);
  try {
    if (graph->parsed()) {
      return graph_command(global, format);
    }
    if (run->parsed()) {
      return run_command(global);
    }
  } catch (const std::exception& error) {
    spdlog::critical("{}", error.what());
    return 1;
  }
  return 2;
}

} // namespace imagegc::app
