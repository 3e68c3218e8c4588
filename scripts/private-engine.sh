#!/usr/bin/env bash
# A private Docker engine for tests and the demo, never the system one: its own socket, data
# root and exec root under DIR, no bridge and no iptables, so nothing leaves the machine.
#
#   scripts/private-engine.sh start DIR [SOCKET]  # prints the DOCKER_HOST to use
#   scripts/private-engine.sh stop DIR
#
# SOCKET (default docker.sock) names the socket in DIR: tests serve the same data root on a
# second socket to change images behind the back of a daemon watching the first.
#
# On start it imports busybox:latest from Debian's busybox-static (no registry is needed).
# The engine reaches no registry: its proxy is a closed port on loopback.
set -euo pipefail

command=${1:?usage: private-engine.sh start|stop DIR}
dir=${2:?usage: private-engine.sh start|stop DIR}
socket_name=${3:-docker.sock}
docker_cli=${IMAGEGC_DOCKER_CLI:-/usr/bin/docker}
# shellcheck source=scripts/private-service.sh
source "$(dirname "$0")/private-service.sh"

start() {
  mkdir -p "$dir"
  dir=$(cd "$dir" && pwd)
  local socket=$dir/${socket_name}
  if [[ -f $dir/docker.pid ]] && kill -0 "$(cat "$dir/docker.pid")" 2>/dev/null; then
    echo "unix://$socket"
    return
  fi
  # Registry traffic goes to a closed loopback port: tests never pull, and a mistake that would
  # pull fails at once instead of reaching out.
  HTTP_PROXY=http://127.0.0.1:9 HTTPS_PROXY=http://127.0.0.1:9 NO_PROXY= \
    dockerd --host "unix://$socket" --data-root "$dir/data" --exec-root "$dir/exec" \
    --pidfile "$dir/docker.pid" --bridge=none --iptables=false --ip6tables=false \
    >"$dir/dockerd.log" 2>&1 &
  local pid=$!
  engine_answers() { DOCKER_HOST=unix://$socket "$docker_cli" version >/dev/null 2>&1; }
  wait_until_answers dockerd "$pid" "$dir/dockerd.log" engine_answers
  "$(dirname "$0")/import-busybox.sh" "unix://$socket"
  echo "unix://$socket"
}

stop() {
  stop_by_pidfile "$dir/docker.pid"
}

case $command in
  start) start ;;
  stop) stop ;;
  *) echo "usage: private-engine.sh start|stop DIR" >&2; exit 2 ;;
esac
