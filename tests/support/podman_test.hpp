#pragma once

#include <optional>

#include <gtest/gtest.h>

#include "support/engine_harness.hpp"

namespace imagegc::test {

// Base fixture for tests against the private Podman service (scripts/private-podman.sh): fails
// (under IMAGEGC_REQUIRE_ENGINE=1, as in CI) or skips when there is none, and starts every test
// from busybox:latest alone. Changes are made with the podman CLI on the service's storage.
class PodmanTest : public ::testing::Test {
protected:
  void SetUp() override {
    const auto host = EngineHarness::configured_podman_host();
    if (!host) {
      if (EngineHarness::engine_required()) {
        FAIL() << "IMAGEGC_REQUIRE_ENGINE=1 but IMAGEGC_TEST_PODMAN_HOST is not set: run the "
                  "tests through scripts/test.sh, which starts a private Podman service";
      }
      GTEST_SKIP() << "no Podman service: set IMAGEGC_TEST_PODMAN_HOST and "
                      "IMAGEGC_TEST_PODMAN_CLI (scripts/test.sh does)";
    }
    m_podman.emplace(*host, EngineKind::podman);
    m_podman->reset();
  }

  EngineHarness& podman() { return *m_podman; }

private:
  std::optional<EngineHarness> m_podman;
};

} // namespace imagegc::test
