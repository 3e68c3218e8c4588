#!/usr/bin/env bash
# Installs what imagegc needs to build, test and run on Debian (bookworm): compilers, the
# libraries it links, and the engine its tests start privately. Safe to run again.
set -euo pipefail

packages=(
  build-essential cmake pkg-config
  clang libclang-rt-14-dev clang-tidy clang-format
  libboost-dev libsimdjson-dev nlohmann-json3-dev libspdlog-dev libfmt-dev libcli11-dev
  libyaml-cpp-dev prometheus-cpp-dev libre2-dev libsystemd-dev
  libsqlite3-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  docker.io podman busybox-static curl
  lintian dpkg-dev systemd man-db adduser
  prometheus python3
)

missing=()
for package in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$package")
  fi
done
if ((${#missing[@]} == 0)); then
  exit 0
fi

sudo_cmd=()
if [[ $(id -u) -ne 0 ]]; then
  sudo_cmd=(sudo)
fi
echo "installing: ${missing[*]}" >&2
"${sudo_cmd[@]}" apt-get update -qq
DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends \
  "${missing[@]}" >/dev/null
