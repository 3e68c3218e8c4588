#!/usr/bin/env bash
# Runs clang-tidy (.clang-tidy) over every source of the daemon and its tests with the compile
# commands of a configured tree in ./build-tidy (or $IMAGEGC_TIDY_BUILD_DIR); nothing is built.
# Any finding fails the script. Extra arguments go to run-clang-tidy, e.g. a file regex:
#   scripts/tidy.sh 'daemon/src/policy/'
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build_dir=${IMAGEGC_TIDY_BUILD_DIR:-$root/build-tidy}
cmake -S "$root" -B "$build_dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DIMAGEGC_BUILD_FUZZERS=OFF \
  >/dev/null
files=("$@")
if ((${#files[@]} == 0)); then
  files=("$root/(daemon|tests)/")
fi
# Boost 1.74 enables co_await for clang only with libc++'s <experimental/coroutine>; clang 14
# with libstdc++'s <coroutine> works, so say so (as it is for g++).
run-clang-tidy -p "$build_dir" -j "${IMAGEGC_JOBS:-2}" -quiet \
  -extra-arg=-DBOOST_ASIO_HAS_CO_AWAIT=1 "${files[@]}"
