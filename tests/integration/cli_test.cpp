// The imagegc binary as a person runs it: `imagegc graph` in each format, and its errors.

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "support/engine_test.hpp"

namespace imagegc::test {
namespace {

CommandResult imagegc(const std::string& arguments) {
  return run_command(std::string(IMAGEGC_BINARY) + " " + arguments);
}

class GraphCommand : public EngineTest {};

TEST_F(GraphCommand, json_lists_every_image_with_its_state_and_the_totals) {
  engine().build("FROM busybox:latest\nRUN head -c 64000 /dev/urandom > /x\nRUN echo y > /y\n",
                 "cli/app:1", false);
  engine().build("FROM busybox:latest\nRUN head -c 32000 /dev/urandom > /z\n", "", false);

  const auto result = imagegc("--host " + engine().host() + " graph --format json");
  ASSERT_EQ(result.exit_code, 0) << result.output;
  const auto document = nlohmann::json::parse(result.output);

  EXPECT_EQ(document["engine"]["api_version"], "1.41");
  EXPECT_EQ(document["engine"]["storage_driver"], "overlay2");
  const auto engine_ids = engine().engine_image_ids();
  ASSERT_EQ(document["images"].size(), engine_ids.size());
  std::map<std::string, int> states;
  for (const auto& image : document["images"]) {
    ++states[image["state"].get<std::string>()];
    EXPECT_TRUE(image.contains("unique_bytes"));
    EXPECT_TRUE(image.contains("digests"));
  }
  EXPECT_EQ(states["tagged"], 2);       // busybox, cli/app:1
  EXPECT_EQ(states["intermediate"], 1); // the first RUN of cli/app:1
  EXPECT_EQ(states["dangling"], 1);     // the untagged build
  EXPECT_EQ(document["totals"]["images"], engine_ids.size());
  EXPECT_EQ(document["totals"]["layers_bytes"], engine().layers_size());
  EXPECT_GE(document["totals"]["reclaimable_bytes"]["dangling"].get<std::int64_t>(), 32'000);
  EXPECT_GT(document["totals"]["reclaimable_bytes"]["unused"].get<std::int64_t>(),
            document["totals"]["reclaimable_bytes"]["dangling"].get<std::int64_t>());
}

TEST_F(GraphCommand, tree_draws_the_parent_chain_under_the_base_image) {
  engine().build("FROM busybox:latest\nRUN echo 1 > /1\nRUN echo 2 > /2\n", "cli/tree:1", false);
  const auto result = imagegc("--host " + engine().host() + " graph --format tree");
  ASSERT_EQ(result.exit_code, 0) << result.output;
  EXPECT_NE(result.output.find("busybox:latest"), std::string::npos) << result.output;
  EXPECT_NE(result.output.find("└── "), std::string::npos) << result.output;
  EXPECT_NE(result.output.find("    └── "), std::string::npos) << "a nested level" << result.output;
  EXPECT_NE(result.output.find("intermediate"), std::string::npos) << result.output;
  EXPECT_NE(result.output.find("cli/tree:1"), std::string::npos) << result.output;
}

TEST(GraphCommandErrors, an_unreachable_socket_is_named_with_the_reason) {
  const auto result = imagegc("--host unix:///nonexistent/imagegc-test.sock graph");
  EXPECT_NE(result.exit_code, 0);
  EXPECT_NE(result.output.find("/nonexistent/imagegc-test.sock"), std::string::npos)
      << result.output;
  EXPECT_NE(result.output.find("No such file or directory"), std::string::npos) << result.output;
}

TEST(GraphCommandErrors, a_bad_address_is_refused_before_connecting) {
  const auto result = imagegc("--host ftp://example graph");
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_NE(result.output.find("unsupported engine address"), std::string::npos) << result.output;
}

TEST(GraphCommandErrors, version_and_help_answer_without_an_engine) {
  const auto version = imagegc("--version");
  EXPECT_EQ(version.exit_code, 0);
  EXPECT_NE(version.output.find("imagegc " IMAGEGC_VERSION), std::string::npos) << version.output;
  const auto help = imagegc("graph --help");
  EXPECT_EQ(help.exit_code, 0);
  EXPECT_NE(help.output.find("--format"), std::string::npos) << help.output;
}

} // namespace
} // namespace imagegc::test
