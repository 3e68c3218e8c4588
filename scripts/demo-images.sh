#!/usr/bin/env bash
# Fills a (demo) engine with the kinds of images imagegc tells apart: a legacy build with
# intermediate images, a rebuild that leaves the old image dangling, an untagged build, two tags
# on one image, a BuildKit build, and images held by a stopped and a running container.
set -euo pipefail
host=${1:?usage: demo-images.sh DOCKER_HOST}
docker_cli=${IMAGEGC_DOCKER_CLI:-/usr/bin/docker}
export DOCKER_HOST=$host
"$(dirname "$0")/import-busybox.sh" "$host"
if "$docker_cli" image inspect demo/app:latest >/dev/null 2>&1; then
  exit 0 # filled on an earlier run
fi
context=$(mktemp -d)
trap 'rm -rf "$context"' EXIT

write_dockerfile() { # name, then one RUN payload per argument
  local file=$context/$1
  shift
  echo 'FROM busybox:latest' >"$file"
  for step in "$@"; do
    echo "RUN $step" >>"$file"
  done
}

write_dockerfile app.v1 'head -c 300000 /dev/urandom > /a' 'head -c 200000 /dev/urandom > /b' \
  'echo v1 > /version'
DOCKER_BUILDKIT=0 "$docker_cli" build -q --network none -f "$context/app.v1" -t demo/app:latest "$context" >/dev/null
write_dockerfile app.v2 'head -c 300000 /dev/urandom > /a' 'head -c 200000 /dev/urandom > /b' \
  'echo v2 > /version'
DOCKER_BUILDKIT=0 "$docker_cli" build -q --network none -f "$context/app.v2" -t demo/app:latest "$context" >/dev/null
"$docker_cli" tag demo/app:latest demo/app:stable
write_dockerfile scratchpad 'head -c 100000 /dev/urandom > /scratch'
DOCKER_BUILDKIT=0 "$docker_cli" build -q --network none -f "$context/scratchpad" "$context" >/dev/null
write_dockerfile tool 'head -c 400000 /dev/urandom > /tool'
DOCKER_BUILDKIT=1 "$docker_cli" build -q --network none -f "$context/tool" -t demo/tool:1.0 "$context" >/dev/null
"$docker_cli" create --network none --name demo-stopped demo/tool:1.0 true >/dev/null
"$docker_cli" run -d --network none --name demo-running demo/app:stable sleep 86400 >/dev/null
