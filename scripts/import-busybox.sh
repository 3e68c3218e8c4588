#!/usr/bin/env bash
# Imports busybox:latest into the engine at DOCKER_HOST from Debian's busybox-static: a base
# image without any registry. Does nothing when the engine already has it. REFERENCE names it
# otherwise (Podman's CLI would call plain busybox:latest localhost/busybox:latest).
set -euo pipefail
host=${1:?usage: import-busybox.sh DOCKER_HOST [REFERENCE]}
reference=${2:-busybox:latest}
docker_cli=${IMAGEGC_DOCKER_CLI:-/usr/bin/docker}
export DOCKER_HOST=$host

if "$docker_cli" image inspect "$reference" >/dev/null 2>&1; then
  exit 0
fi
rootfs=$(mktemp -d)
trap 'rm -rf "$rootfs"' EXIT
mkdir -p "$rootfs/bin" "$rootfs/tmp" "$rootfs/etc"
chmod 1777 "$rootfs/tmp"
cp /bin/busybox "$rootfs/bin/busybox"
for applet in $(/bin/busybox --list); do
  [[ $applet == busybox ]] || ln -sf busybox "$rootfs/bin/$applet"
done
echo 'root:x:0:0:root:/root:/bin/sh' >"$rootfs/etc/passwd"
tar -C "$rootfs" -c . | "$docker_cli" import - "$reference" >/dev/null
