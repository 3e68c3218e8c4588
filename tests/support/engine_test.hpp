#pragma once

#include <optional>

#include <gtest/gtest.h>

#include "support/engine_harness.hpp"

namespace imagegc::test {

// Base fixture for tests against the private engine: fails (under IMAGEGC_REQUIRE_ENGINE=1, as
// in CI) or skips when there is none, and starts every test from busybox:latest alone.
class EngineTest : public ::testing::Test {
protected:
  void SetUp() override {
    const auto host = EngineHarness::configured_host();
    if (!host) {
      if (EngineHarness::engine_required()) {
        FAIL() << "IMAGEGC_REQUIRE_ENGINE=1 but IMAGEGC_TEST_DOCKER_HOST is not set: run the "
                  "tests through scripts/test.sh, which starts a private engine";
      }
      GTEST_SKIP() << "no engine: set IMAGEGC_TEST_DOCKER_HOST (scripts/test.sh does)";
    }
    m_engine.emplace(*host);
    m_engine->reset();
  }

  EngineHarness& engine() { return *m_engine; }

private:
  std::optional<EngineHarness> m_engine;
};

} // namespace imagegc::test
