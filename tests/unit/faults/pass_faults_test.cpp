// An enforce pass against the fake engine while deletes go wrong: 409 is "kept", 404 "gone", a
// 500 stops the pass before anything else is deleted, and an image a container uses is
// never deleted.

#include <cstdio>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <gtest/gtest.h>

#include "engine/engine_client.hpp"
#include "gc/executor.hpp"
#include "gc/gc_pass.hpp"
#include "policy/policy_loader.hpp"
#include "support/engine_call.hpp"
#include "support/fake_engine.hpp"
#include "sync/graph_loader.hpp"

namespace imagegc::test {
namespace {

namespace asio = boost::asio;
using Kind = gc::ExecutionReport::Outcome::Kind;

constexpr std::string_view k_policy = R"(version: 1
mode: enforce
schedule: {interval: 1h}
rules:
  - name: dangling
    select: {state: dangling}
)";

std::string id_of(int serial) {
  char hex[65];
  std::snprintf(hex, sizeof hex, "%064x", serial);
  return std::string("sha256:") + hex;
}

// Four dangling images, and a fifth a stopped container uses.
class PassFaults : public ::testing::Test {
protected:
  void SetUp() override {
    for (int serial = 1; serial <= 5; ++serial) {
      FakeImage image;
      image.id = id_of(serial);
      image.layers.push_back({id_of(serial + 0x1000), std::int64_t{1000} * serial});
      image.created = 1'600'000'000 + serial;
      m_fake.add_image(image);
    }
    FakeContainer container;
    container.id = std::string(64, 'e');
    container.image_id = id_of(5);
    m_fake.add_container(container);
    auto policy = policy::parse_policy(k_policy, "policy.yaml");
    ASSERT_TRUE(policy) << policy.error().front().to_string();
    m_policy = std::move(*policy);
  }

  gc::PassReport pass() {
    return with_client<gc::PassReport>(
        m_fake.endpoint(), [&](engine::EngineClient& client) -> asio::awaitable<gc::PassReport> {
          auto graph = co_await sync::load_graph(client, graph::ImageGraph{});
          if (!graph) {
            throw std::runtime_error(graph.error().message);
          }
          const gc::PassInput input{m_policy, *graph, {}, m_fake.directory()};
          co_return co_await gc::run_pass(client, input);
        });
  }

  // The deletion of `deletion` on `live`, enforced.
  gc::ExecutionReport execute(const graph::ImageGraph& live, policy::PlannedDeletion deletion) {
    policy::Plan plan;
    plan.deletions.push_back(std::move(deletion));
    return with_client<gc::ExecutionReport>(m_fake.endpoint(), [&](engine::EngineClient& client) {
      return gc::execute_plan(client, live, plan, gc::ExecutionOptions::enforcing());
    });
  }

  graph::ImageGraph load() { return fresh_graph(m_fake.endpoint()); }

  FakeEngine m_fake;
  policy::Policy m_policy;
};

TEST_F(PassFaults, refused_and_missing_deletes_are_outcomes_and_a_failure_stops_the_pass) {
  FaultPlan plan;
  plan.requests.push_back(status_fault("DELETE", "/images/", 409, 1));
  plan.requests.push_back(status_fault("DELETE", "/images/", 404, 1));
  plan.requests.push_back(status_fault("DELETE", "/images/", 500, 1));
  m_fake.set_faults(plan);
  const auto report = pass();
  const auto& execution = report.execution;
  EXPECT_EQ(execution.count(Kind::conflict), 1u);
  // A 404 by ID: the image is gone, but not by this pass; its bytes are not counted.
  EXPECT_EQ(execution.count(Kind::deleted), 0u);
  EXPECT_EQ(execution.count(Kind::skipped), 1u);
  EXPECT_EQ(execution.count(Kind::failed), 1u);
  EXPECT_EQ(execution.count(Kind::not_reached), 1u);
  EXPECT_TRUE(execution.stopped_early);
  EXPECT_EQ(m_fake.image_count(), 5u);
  EXPECT_EQ(m_fake.stats().requests_by_path["DELETE /images/" + id_of(5)], 0u)
      << "the image a container uses was asked for";

  m_fake.clear_faults();
  const auto second = pass();
  EXPECT_EQ(second.execution.count(Kind::deleted), 4u);
  EXPECT_FALSE(second.execution.stopped_early);
  const auto left = m_fake.images();
  ASSERT_EQ(left.size(), 1u);
  EXPECT_EQ(left.front().id, id_of(5));
}

TEST_F(PassFaults, a_tag_a_rebuild_moved_after_planning_keeps_the_new_image) {
  // app:1 on image 1 is planned for deletion; a rebuild finishing then points app:1 at image 2.
  m_fake.tag(id_of(1), "app:1");
  const auto planned_on = load();
  policy::PlannedDeletion old_app{{id_of(1), {"app:1"}}, "old", {}, 1000, false, {}};
  m_fake.tag(id_of(2), "app:1");

  // The live graph has not seen the move yet: the engine, asked just before, says.
  const auto stale = execute(planned_on, old_app);
  ASSERT_EQ(stale.outcomes.size(), 1u);
  EXPECT_EQ(stale.outcomes.front().kind, Kind::skipped) << stale.outcomes.front().detail;
  EXPECT_NE(stale.outcomes.front().detail.find("now names " + id_of(2)), std::string::npos)
      << stale.outcomes.front().detail;
  // And once it has, the plan's tags no longer match the image.
  const auto caught_up = execute(load(), old_app);
  ASSERT_EQ(caught_up.outcomes.size(), 1u);
  EXPECT_EQ(caught_up.outcomes.front().kind, Kind::skipped);
  EXPECT_NE(caught_up.outcomes.front().detail.find("moved"), std::string::npos)
      << caught_up.outcomes.front().detail;

  EXPECT_EQ(m_fake.stats().requests_by_path["DELETE /images/app:1"], 0u);
  const auto now = load();
  ASSERT_NE(now.find_by_reference("app:1"), nullptr);
  EXPECT_EQ(now.find_by_reference("app:1")->id, id_of(2));
  EXPECT_NE(now.find_image(id_of(1)), nullptr);
}

} // namespace
} // namespace imagegc::test
