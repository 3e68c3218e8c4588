#!/usr/bin/env bash
# Sets everything up and runs every test: installs the packages, builds, starts a private
# Docker engine and a private Podman service (never the system ones), runs unit and
# integration tests, runs them again built with sanitizers, fuzzes the parsers briefly, runs
# clang-tidy over the sources, and stops the engines.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build_dir=${IMAGEGC_BUILD_DIR:-$root/build}

"$root/scripts/install-deps.sh"
IMAGEGC_WERROR=${IMAGEGC_WERROR:-ON} "$root/scripts/build.sh"

engine_dir=$(mktemp -d /tmp/imagegc-test-engine.XXXXXX)
podman_dir=$(mktemp -d /tmp/imagegc-test-podman.XXXXXX)
cleanup() {
  "$root/scripts/private-engine.sh" stop "$engine_dir" || true
  "$root/scripts/private-podman.sh" stop "$podman_dir" || true
  if [[ -n ${tidy_pid:-} ]]; then
    kill -- -"$tidy_pid" 2>/dev/null || true
  fi
  rm -f "${tidy_log:-}"
  # The engine's data root holds overlay mounts and root-owned files: remove only once stopped.
  rm -rf "$engine_dir" "$podman_dir" 2>/dev/null || true
}
trap cleanup EXIT

# clang-tidy over daemon/ and tests/ (scripts/tidy.sh; any finding fails), on one core beside
# the tests below: they run one at a time and mostly wait on the engines. In a process group of
# its own, so that cleanup can stop it; its result is checked at the end.
tidy_log=$(mktemp /tmp/imagegc-tidy.XXXXXX)
IMAGEGC_JOBS=1 setsid "$root/scripts/tidy.sh" >"$tidy_log" 2>&1 &
tidy_pid=$!

export IMAGEGC_TEST_DOCKER_HOST
IMAGEGC_TEST_DOCKER_HOST=$("$root/scripts/private-engine.sh" start "$engine_dir")
export IMAGEGC_TEST_DOCKER_CLI=${IMAGEGC_DOCKER_CLI:-/usr/bin/docker}
# A private Podman service beside it, for the same scenarios on Podman's compatible API.
export IMAGEGC_TEST_PODMAN_HOST
IMAGEGC_TEST_PODMAN_HOST=$("$root/scripts/private-podman.sh" start "$podman_dir")
export IMAGEGC_TEST_PODMAN_CLI=$podman_dir/podman
# Integration tests fail, never skip, when the engine they need is missing.
export IMAGEGC_REQUIRE_ENGINE=1

(cd "$build_dir" && ctest --output-on-failure --timeout 900 "$@")

# The same tests again, built with AddressSanitizer and UndefinedBehaviorSanitizer, against the
# same engines: any report fails the test that caused it. The package is built and installed
# from the normal build only. At -O0: it builds in half the time and the tests wait on engines.
asan_dir=${IMAGEGC_ASAN_BUILD_DIR:-$root/build-asan}
IMAGEGC_BUILD_DIR=$asan_dir CMAKE_BUILD_TYPE=Debug IMAGEGC_SANITIZE=address,undefined \
  IMAGEGC_WERROR=OFF "$root/scripts/build.sh"
(
  cd "$asan_dir"
  export ASAN_OPTIONS=detect_leaks=1:strict_string_checks=1:detect_stack_use_after_return=0
  export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
  # Not the 96 MiB never-ending events line: its bound is on peak RSS, which ASan's shadow
  # memory and quarantine decide, and at -O0 the line takes longer than the test's minute.
  ctest --output-on-failure --timeout 900 -LE packaging \
    -E 'TrackerFaults\.a_never_ending_line_does_not_grow_memory' "$@"
)

# Short runs of the fuzz targets: a crash or hang fails.
"$root/scripts/fuzz.sh"

# The clang-tidy run started before the tests.
if ! wait "$tidy_pid"; then
  cat "$tidy_log" >&2
  echo "clang-tidy: findings above (scripts/tidy.sh)" >&2
  exit 1
fi
tidy_pid=
