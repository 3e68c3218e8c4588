#!/usr/bin/env bash
# A private Podman service (its Docker-compatible API) for tests, never the system's storage:
# its own root, runroot, configuration, events log and socket under DIR.
#
#   scripts/private-podman.sh start DIR   # prints the socket URL (unix://DIR/podman.sock)
#   scripts/private-podman.sh stop DIR
#   DIR/podman ARGS...                    # the podman CLI against the same storage
#
# On start it imports busybox:latest from Debian's busybox-static (no registry is needed).
# Nothing reaches a registry: no unqualified-search registries, and the proxy is a closed port on
# loopback, so a mistake that would pull fails at once. Containers get no network by default.
set -euo pipefail

command=${1:?usage: private-podman.sh start|stop DIR}
dir=${2:?usage: private-podman.sh start|stop DIR}
# shellcheck source=scripts/private-service.sh
source "$(dirname "$0")/private-service.sh"

write_config() {
  mkdir -p "$dir/root" "$dir/run" "$dir/tmp" "$dir/volumes" "$dir/networks"
  cat >"$dir/registries.conf" <<'EOF'
unqualified-search-registries = []
short-name-mode = "disabled"
EOF
  cat >"$dir/containers.conf" <<EOF
[containers]
netns = "none"
# Podman gives a root container open-files and process limits of 1048576 and 4194304, which a
# host without CAP_SYS_RESOURCE (a sandbox) refuses at start; lowering a limit always works.
default_ulimits = ["nofile=1024:1024", "nproc=4096:4096"]

[network]
network_config_dir = "$dir/networks"

[engine]
pull_policy = "never"
cgroup_manager = "cgroupfs"
events_logger = "file"
events_logfile_path = "$dir/events.log"
tmp_dir = "$dir/tmp"
volume_path = "$dir/volumes"
EOF
  # The storage driver is set explicitly: overlay where the kernel mounts it, vfs otherwise.
  local driver=${IMAGEGC_PODMAN_STORAGE_DRIVER:-}
  if [[ -z $driver ]]; then
    driver=vfs
    local probe
    probe=$(mktemp -d "$dir/tmp/overlay-probe.XXXXXX")
    mkdir -p "$probe/lower" "$probe/upper" "$probe/work" "$probe/merged"
    if mount -t overlay overlay \
      -o "lowerdir=$probe/lower,upperdir=$probe/upper,workdir=$probe/work" "$probe/merged" \
      2>/dev/null; then
      umount "$probe/merged"
      driver=overlay
    fi
    rm -rf "$probe"
  fi
  echo "$driver" >"$dir/storage-driver"
  # The CLI wrapper: the same storage, configuration and environment as the service.
  cat >"$dir/podman" <<EOF
#!/bin/sh
export CONTAINERS_CONF='$dir/containers.conf'
export CONTAINERS_REGISTRIES_CONF='$dir/registries.conf'
export HTTP_PROXY=http://127.0.0.1:9 HTTPS_PROXY=http://127.0.0.1:9 NO_PROXY=
export TMPDIR='$dir/tmp'
exec podman --root '$dir/root' --runroot '$dir/run' --storage-driver '$driver' "\$@"
EOF
  chmod +x "$dir/podman"
}

answers() {
  curl -fsS --max-time 2 --unix-socket "$1" http://d/_ping >/dev/null 2>&1
}

start() {
  mkdir -p "$dir"
  dir=$(cd "$dir" && pwd)
  local socket=$dir/podman.sock
  if [[ -f $dir/podman.pid ]] && kill -0 "$(cat "$dir/podman.pid")" 2>/dev/null; then
    echo "unix://$socket"
    return
  fi
  [[ -x $dir/podman ]] || write_config
  rm -f "$socket"
  "$dir/podman" system service --time=0 "unix://$socket" >"$dir/podman.log" 2>&1 &
  local pid=$!
  echo "$pid" >"$dir/podman.pid"
  if ! wait_until_answers "podman system service" "$pid" "$dir/podman.log" answers "$socket"; then
    rm -f "$dir/podman.pid"
    exit 1
  fi
  # Named as a pull would name it: the compatible API reads busybox:latest as that.
  if ! IMAGEGC_DOCKER_CLI=$dir/podman "$(dirname "$0")/import-busybox.sh" "unix://$socket" \
    docker.io/library/busybox:latest 2>"$dir/import.log"; then
    cat "$dir/import.log" >&2
    exit 1
  fi
  echo "unix://$socket"
}

stop() {
  [[ -f $dir/podman.pid ]] || return 0
  # Containers run under conmon, not under the service: stop them as dockerd would on its way
  # down, so that nothing is left running and no overlay stays mounted.
  if [[ -x $dir/podman ]]; then
    "$dir/podman" stop --all --time 0 >/dev/null 2>&1 || true
  fi
  stop_by_pidfile "$dir/podman.pid"
}

case $command in
  start) start ;;
  stop) stop ;;
  *) echo "usage: private-podman.sh start|stop DIR" >&2; exit 2 ;;
esac
