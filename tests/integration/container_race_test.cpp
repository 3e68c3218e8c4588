// Containers created from images while an enforce pass deletes them, on a real engine: however
// the two interleave, no image a container uses is deleted. The pass works from a graph read
// before the race (it cannot see the container coming), so only imagegc never forcing and
// treating the engine's conflict as "keep" stand between the container and its image.

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "gc/executor.hpp"
#include "policy/planner.hpp"
#include "policy/policy_loader.hpp"
#include "support/engine_test.hpp"

namespace imagegc::test {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using Kind = gc::ExecutionReport::Outcome::Kind;

constexpr int k_iterations = 100;

class ContainerRace : public EngineTest {};

TEST_F(ContainerRace, a_container_created_during_the_delete_keeps_its_image) {
  const auto imported =
      run_command("set -e; d=$(mktemp -d); for i in $(seq 0 " + std::to_string(k_iterations - 1) +
                  "); do echo \"race $i\" > $d/f; tar -C $d -c f | DOCKER_HOST=" + engine().host() +
                  " docker import - race/img:$i >/dev/null; done; rm -rf $d");
  ASSERT_EQ(imported.exit_code, 0) << imported.output;

  const auto policy = policy::parse_policy(R"(mode: enforce
rules:
  - name: race
    select: {repository: "race/**", state: unused}
)",
                                           "race.yaml");
  ASSERT_TRUE(policy) << policy.error().front().to_string();
  const auto graph = engine().load_graph();
  const auto plan = policy::make_plan({graph, *policy, std::time(nullptr), std::nullopt, {}});
  ASSERT_EQ(plan.deletions.size(), static_cast<std::size_t>(k_iterations));

  std::mt19937 random(20261130);
  int kept_for_the_container = 0;
  int deleted_before_the_container = 0;
  int in_use_deletions = 0;
  // Passes of ten deletions, as a pass deletes: each image has a `docker create` of it started
  // at a random point within the first quarter second, while the pass releases the tags.
  constexpr std::size_t k_batch = 10;
  for (std::size_t first = 0; first < plan.deletions.size(); first += k_batch) {
    policy::Plan batch;
    batch.deletions.assign(plan.deletions.begin() + static_cast<std::ptrdiff_t>(first),
                           plan.deletions.begin() + static_cast<std::ptrdiff_t>(first + k_batch));
    std::vector<CommandResult> created(k_batch);
    std::vector<std::thread> creators;
    for (std::size_t i = 0; i < k_batch; ++i) {
      ASSERT_EQ(batch.deletions[i].image.tag_count(), 1u);
      const auto delay = std::chrono::milliseconds(std::uniform_int_distribution(0, 250)(random));
      creators.emplace_back([&, i, delay] {
        std::this_thread::sleep_for(delay);
        created[i] = run_command(
            "DOCKER_HOST=" + engine().host() + " docker create --pull never --network none " +
            std::string(batch.deletions[i].image.tags().front()) + " true 2>&1");
      });
    }
    const auto report = engine().call<gc::ExecutionReport>(
        [&](engine::EngineClient& client) -> asio::awaitable<gc::ExecutionReport> {
          co_return co_await gc::execute_plan(client, graph, batch,
                                              gc::ExecutionOptions::enforcing());
        });
    for (auto& creator : creators) {
      creator.join();
    }
    ASSERT_EQ(report.outcomes.size(), k_batch);
    for (std::size_t i = 0; i < k_batch; ++i) {
      const auto& deletion = batch.deletions[i];
      const auto& outcome = report.outcomes[i];
      ASSERT_NE(outcome.kind, Kind::failed) << outcome.detail;
      const bool image_exists =
          engine().try_docker("image inspect " + std::string(deletion.image.id())).exit_code == 0;
      if (created[i].exit_code != 0) {
        EXPECT_FALSE(image_exists) << "the create failed for another reason: " << created[i].output;
        EXPECT_EQ(outcome.kind, Kind::deleted) << outcome.detail;
        ++deleted_before_the_container;
        continue;
      }
      const auto container = created[i].output.substr(0, 64);
      if (!image_exists) {
        ++in_use_deletions;
        ADD_FAILURE() << "the image " << deletion.image.id() << " of container " << container
                      << " was deleted; the pass said: " << outcome.detail;
      } else {
        ++kept_for_the_container;
        EXPECT_TRUE(outcome.kind == Kind::conflict || outcome.kind == Kind::skipped)
            << outcome.detail;
        EXPECT_EQ(engine()
                      .try_docker("image inspect " + std::string(deletion.image.tags().front()))
                      .exit_code,
                  0)
            << "a kept image has its tag back";
      }
      engine().try_docker("rm " + container);
    }
  }
  std::printf("%d iterations: %d images kept for the container (409), %d deleted before it, "
              "%d in-use deletions\n",
              k_iterations, kept_for_the_container, deleted_before_the_container, in_use_deletions);
  EXPECT_EQ(in_use_deletions, 0);
}

} // namespace
} // namespace imagegc::test
