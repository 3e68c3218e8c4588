#!/usr/bin/env bash
# Sets everything up and runs every test: installs the packages, builds, starts a private
# Docker engine (never the system one), runs unit and integration tests, stops the engine.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build_dir=${IMAGEGC_BUILD_DIR:-$root/build}

"$root/scripts/install-deps.sh"
IMAGEGC_WERROR=${IMAGEGC_WERROR:-ON} "$root/scripts/build.sh"

engine_dir=$(mktemp -d /tmp/imagegc-test-engine.XXXXXX)
cleanup() {
  "$root/scripts/private-engine.sh" stop "$engine_dir" || true
  # The engine's data root holds overlay mounts and root-owned files: remove only once stopped.
  rm -rf "$engine_dir" 2>/dev/null || true
}
trap cleanup EXIT

export IMAGEGC_TEST_DOCKER_HOST
IMAGEGC_TEST_DOCKER_HOST=$("$root/scripts/private-engine.sh" start "$engine_dir")
export IMAGEGC_TEST_DOCKER_CLI=${IMAGEGC_DOCKER_CLI:-/usr/bin/docker}
# Integration tests fail, never skip, when the engine they need is missing.
export IMAGEGC_REQUIRE_ENGINE=1

cd "$build_dir"
ctest --output-on-failure --timeout 900 "$@"
