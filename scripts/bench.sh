#!/usr/bin/env bash
# Builds imagegc with its benchmarks (Release, into build-bench/) and runs them all: the daemon
# against a fake engine in a process of its own at 1k, 10k and 100k images (cold start, warm
# restart, idle, /metrics, an events stream), the docker CLI doing the same listing, and the
# in-process Google Benchmark figures. Writes a markdown table of medians.
#
#   scripts/bench.sh [--output FILE] [--real-engine] [any option of bench/run_bench.py]
#
# --real-engine also starts a private dockerd (scripts/private-engine.sh, root), loads 1000 images
# into it and compares imagegc's cold sync with the engine's own time and the docker CLI
# (bench/real_engine.py); its table goes to FILE.engine.md.
set -euo pipefail

source_dir=$(cd "$(dirname "$0")/.." && pwd)
build_dir=${IMAGEGC_BENCH_BUILD_DIR:-$source_dir/build-bench}
output=$build_dir/bench-results.md
args=()
real_engine=0
while (($#)); do
  case $1 in
  --real-engine)
    real_engine=1
    shift
    ;;
  --output)
    output=$2
    shift 2
    ;;
  *)
    args+=("$1")
    shift
    ;;
  esac
done

"$source_dir/scripts/install-deps.sh"
cmake -S "$source_dir" -B "$build_dir" -DCMAKE_BUILD_TYPE=Release -DIMAGEGC_BUILD_BENCHMARKS=ON \
  >/dev/null
cmake --build "$build_dir" -j2 --target imagegc imagegc_fake_engine_server imagegc_bench

python3 "$source_dir/bench/run_bench.py" --build-dir "$build_dir" --source-dir "$source_dir" \
  --output "$output" "${args[@]}"
if ((real_engine)); then
  python3 "$source_dir/bench/real_engine.py" --build-dir "$build_dir" --source-dir "$source_dir" \
    --output "$output.engine.md"
fi
echo "results: $output" >&2
