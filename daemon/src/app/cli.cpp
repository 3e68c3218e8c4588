#include "app/cli.hpp"

#include <iostream>
#include <map>

#include <CLI/CLI.hpp>
#include <spdlog/spdlog.h>

#include "app/commands.hpp"
#include "app/daemon.hpp"
#include "app/logging.hpp"
#include "app/policy_file.hpp"
#include "http/http_server.hpp"

namespace imagegc::app {

namespace {

void add_format_option(CLI::App& command, OutputFormat& format, bool with_tree) {
  std::map<std::string, OutputFormat> formats{{"table", OutputFormat::table},
                                              {"json", OutputFormat::json}};
  if (with_tree) {
    formats.emplace("tree", OutputFormat::tree);
  }
  command.add_option("--format", format, with_tree ? "table, json or tree" : "table or json")
      ->transform(CLI::CheckedTransformer(formats, CLI::ignore_case));
}

} // namespace

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

  std::string config_path = k_default_policy_path;
  std::string state_dir = k_default_state_dir;
  const auto add_policy_options = [&](CLI::App& command) {
    command.add_option("--config,-c", config_path, "Policy file")->capture_default_str();
    command.add_option("--state-dir", state_dir, "Where last-used times are kept")
        ->capture_default_str();
  };

  OutputFormat format = OutputFormat::table;
  auto* graph = cli.add_subcommand("graph", "Sync with the engine once and print every image");
  add_format_option(*graph, format, true);

  auto* plan = cli.add_subcommand(
      "plan", "Print what a pass would delete and keep now, and why (deletes nothing)");
  add_policy_options(*plan);
  add_format_option(*plan, format, false);

  auto* once = cli.add_subcommand("once", "Run one garbage-collection pass and exit");
  add_policy_options(*once);

  auto* run = cli.add_subcommand(
      "run", "The daemon: follow the engine and run passes on the policy's schedule");
  add_policy_options(*run);
  std::string listen{http::k_default_listen};
  run->add_option("--listen", listen,
                  "Serve /metrics, /healthz, /readyz and /plan on host:port or unix:///path "
                  "(\"none\": not at all)")
      ->capture_default_str();

  std::string check_path;
  auto* check = cli.add_subcommand("check-config", "Validate a policy file");
  check->add_option("file", check_path, "Policy file")->required();

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
    if (plan->parsed()) {
      return plan_command(global, config_path, state_dir, format);
    }
    if (check->parsed()) {
      return check_config_command(check_path);
    }
    if (once->parsed() || run->parsed()) {
      return run_daemon(global, DaemonOptions{config_path, state_dir, once->parsed(),
                                              once->parsed() || listen == "none" ? "" : listen});
    }
  } catch (const std::exception& error) {
    spdlog::critical("{}", error.what());
    return 1;
  }
  return 2;
}

} // namespace imagegc::app
