#!/usr/bin/env bash
# Configures and builds imagegc into ./build (or $IMAGEGC_BUILD_DIR), with the sanitizers in
# $IMAGEGC_SANITIZE (address,undefined or thread) when set.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build_dir=${IMAGEGC_BUILD_DIR:-$root/build}
cmake -S "$root" -B "$build_dir" -DCMAKE_BUILD_TYPE=${CMAKE_BUILD_TYPE:-RelWithDebInfo} \
  -DIMAGEGC_WERROR=${IMAGEGC_WERROR:-OFF} -DIMAGEGC_SANITIZE=${IMAGEGC_SANITIZE:-} >/dev/null
cmake --build "$build_dir" -j"${IMAGEGC_JOBS:-2}"
