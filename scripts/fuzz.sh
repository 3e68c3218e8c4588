#!/usr/bin/env bash
# Builds the libFuzzer targets of fuzz/ with clang into ./build-fuzz (or $IMAGEGC_FUZZ_BUILD_DIR)
# and runs each for a while: $IMAGEGC_FUZZ_SECONDS seconds (default 10), starting from the
# committed seeds in fuzz/corpus/<target>/. New inputs go to a scratch directory, never into the
# committed corpus; a crash or hang is written to $IMAGEGC_FUZZ_ARTIFACTS (default
# build-fuzz/artifacts) and fails the script. Prints each target's executions.
#   scripts/fuzz.sh                 # every target, 10 s each
#   IMAGEGC_FUZZ_SECONDS=600 scripts/fuzz.sh policy
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build_dir=${IMAGEGC_FUZZ_BUILD_DIR:-$root/build-fuzz}
seconds=${IMAGEGC_FUZZ_SECONDS:-10}
artifacts=${IMAGEGC_FUZZ_ARTIFACTS:-$build_dir/artifacts}
targets=("$@")
if ((${#targets[@]} == 0)); then
  targets=(events json_ingest policy units)
fi

CC=clang CXX=clang++ cmake -S "$root" -B "$build_dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DIMAGEGC_BUILD_FUZZERS=ON -DIMAGEGC_BUILD_TESTS=OFF >/dev/null
cmake --build "$build_dir" -j"${IMAGEGC_JOBS:-2}" --target imagegc_fuzzers

mkdir -p "$artifacts"
scratch=$(mktemp -d /tmp/imagegc-fuzz.XXXXXX)
trap 'rm -rf "$scratch"' EXIT
for target in "${targets[@]}"; do
  mkdir -p "$scratch/$target"
  log=$scratch/$target.log
  if ! "$build_dir/fuzz/fuzz_$target" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
    -print_final_stats=1 -artifact_prefix="$artifacts/$target-" \
    "$scratch/$target" "$root/fuzz/corpus/$target" >"$log" 2>&1; then
    tail -n 60 "$log" >&2
    echo "fuzz_$target failed; reproducer in $artifacts/" >&2
    exit 1
  fi
  executions=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
  echo "fuzz_$target: $executions executions in ${seconds}s, no crash"
done
