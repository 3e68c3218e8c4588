#!/usr/bin/env bash
# Sets everything up and runs the imagegc daemon in the foreground (Ctrl-C stops it).
# It follows the local engine (DOCKER_HOST or /var/run/docker.sock) when one answers; otherwise
# it starts a private demo engine with a few images, and stops it again on exit. The policy is
# config/policy.yaml (or $IMAGEGC_POLICY), which is dry-run: passes say what they would delete.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build_dir=${IMAGEGC_BUILD_DIR:-$root/build}
docker_cli=${IMAGEGC_DOCKER_CLI:-/usr/bin/docker}

"$root/scripts/install-deps.sh"
"$root/scripts/build.sh"
imagegc=$build_dir/daemon/imagegc

host=${DOCKER_HOST:-unix:///var/run/docker.sock}
if DOCKER_HOST=$host "$docker_cli" version >/dev/null 2>&1; then
  echo "using the engine at $host" >&2
else
  demo_dir=${IMAGEGC_DEMO_DIR:-/tmp/imagegc-demo-engine}
  trap '"$root/scripts/private-engine.sh" stop "$demo_dir"' EXIT
  host=$("$root/scripts/private-engine.sh" start "$demo_dir")
  echo "no engine answers at ${DOCKER_HOST:-unix:///var/run/docker.sock}: started a demo engine at $host" >&2
  "$root/scripts/demo-images.sh" "$host"
fi

policy=${IMAGEGC_POLICY:-$root/config/policy.yaml}
state_dir=${IMAGEGC_STATE_DIR:-$build_dir/state}
"$imagegc" --host "$host" graph --format tree
"$imagegc" --host "$host" plan --config "$policy" --state-dir "$state_dir"
status=0
"$imagegc" --host "$host" run --config "$policy" --state-dir "$state_dir" "$@" || status=$?
exit $status
