#!/usr/bin/env bash
# Builds the Debian package from a build tree, checks it with lintian, installs it on this
# machine with dpkg, checks the installed binary, conffile, user and unit, and purges it again.
#
#   package_test.sh BUILD_DIR
#
# It changes the machine (root, dpkg), so it takes a machine-wide lock and purges the package on
# any exit. Without a prerequisite it skips (exit 77), unless IMAGEGC_REQUIRE_ENGINE=1 (set by
# scripts/test.sh and CI), where everything the suite needs is required and a skip is a failure.
set -euo pipefail

# dpkg, adduser and deluser live in sbin, which a non-login root shell may lack.
export PATH=$PATH:/usr/sbin:/sbin

readonly max_exposure=2.5
readonly unit=imagegc.service
readonly lock_file=/run/lock/imagegc-package-test.lock

build_dir=$(cd "${1:?usage: package_test.sh BUILD_DIR}" && pwd)
source_dir=$(cd "$(dirname "$0")/../.." && pwd)
work_dir=$build_dir/packaging-test

say() { printf 'package_test: %s\n' "$*"; }
fail() {
  printf 'package_test: FAIL: %s\n' "$*" >&2
  exit 1
}
# A missing prerequisite: a skip for a developer, a failure where everything is required.
unavailable() {
  if [[ ${IMAGEGC_REQUIRE_ENGINE:-0} == 1 ]]; then
    fail "$* (required: IMAGEGC_REQUIRE_ENGINE=1)"
  fi
  printf 'package_test: SKIP: %s\n' "$*" >&2
  exit 77
}

# --- prerequisites ----------------------------------------------------------------------------
[[ $(id -u) -eq 0 ]] || unavailable "installing a package needs root"
declare -A tool_package=(
  [cmake]=cmake [cpack]=cmake [dpkg-deb]=dpkg [dpkg-shlibdeps]=dpkg-dev [lintian]=lintian
  [systemd-analyze]=systemd [man]=man-db [adduser]=adduser [deb-systemd-helper]=init-system-helpers
  [flock]=util-linux
)
missing=()
for tool in "${!tool_package[@]}"; do
  command -v "$tool" >/dev/null || missing+=("$tool (Debian package ${tool_package[$tool]})")
done
((${#missing[@]} == 0)) || unavailable "missing tools: ${missing[*]}; run scripts/install-deps.sh"
[[ -f $build_dir/CPackConfig.cmake ]] || fail "$build_dir is not a configured build tree"

# --- build ------------------------------------------------------------------------------------
say "bringing the imagegc binary up to date in $build_dir"
cmake --build "$build_dir" --target imagegc -j2 >/dev/null ||
  fail "building the imagegc target failed (cmake --build $build_dir --target imagegc)"

say "building the package with cpack"
rm -rf "$work_dir"
mkdir -p "$work_dir"
# cpack's own output goes to a log that is printed only when it fails.
if ! (cd "$build_dir" && cpack -G DEB -B "$work_dir" >"$work_dir/cpack.log" 2>&1); then
  cat "$work_dir/cpack.log" >&2
  fail "cpack -G DEB failed"
fi
debs=("$work_dir"/*.deb)
[[ ${#debs[@]} -eq 1 && -f ${debs[0]} ]] || fail "expected one .deb in $work_dir, found: ${debs[*]}"
deb=${debs[0]}
version=$(dpkg-deb -f "$deb" Version)
arch=$(dpkg --print-architecture)
[[ $(basename "$deb") == "imagegc_${version}_${arch}.deb" ]] ||
  fail "$(basename "$deb") does not follow the Debian name imagegc_${version}_${arch}.deb"
say "built $(basename "$deb")"

# --- contents ---------------------------------------------------------------------------------
contents=$(dpkg-deb -c "$deb" | awk '{print $NF}' | sed 's#^\./#/#')
expected=(
  /usr/bin/imagegc
  "/lib/systemd/system/$unit"
  /etc/imagegc/policy.yaml
  /usr/share/man/man8/imagegc.8.gz
  /usr/share/doc/imagegc/copyright
  /usr/share/doc/imagegc/changelog.gz
)
for example in "$source_dir"/config/examples/*.yaml; do
  expected+=("/usr/share/doc/imagegc/examples/$(basename "$example")")
done
# The dashboard and the rules are shipped once they exist in the tree.
[[ -f $source_dir/packaging/grafana/imagegc.json ]] &&
  expected+=(/usr/share/imagegc/grafana/imagegc.json)
[[ -f $source_dir/packaging/prometheus/imagegc-rules.yaml ]] &&
  expected+=(/usr/share/imagegc/prometheus/imagegc-rules.yaml)
for path in "${expected[@]}"; do
  grep -qxF "$path" <<<"$contents" || fail "the package lacks $path"
done
depends=$(dpkg-deb -f "$deb" Depends)
[[ $depends == *adduser* && $depends == *libc6* ]] ||
  fail "Depends should hold adduser and the computed library dependencies: $depends"
say "contents and Depends ($depends) as expected"

# --- lintian ----------------------------------------------------------------------------------
say "lintian $(basename "$deb")"
# lintian advises against running as root; nobody can read the package in a usual build tree.
lintian_cmd=(lintian)
if getent passwd nobody >/dev/null && runuser -u nobody -- test -r "$deb"; then
  lintian_cmd=(runuser -u nobody -- env HOME=/tmp lintian)
fi
lintian_status=0
"${lintian_cmd[@]}" --fail-on error --display-info "$deb" >"$work_dir/lintian.log" 2>&1 ||
  lintian_status=$?
sed 's/^/  /' "$work_dir/lintian.log"
((lintian_status == 0)) || fail "lintian reports errors (exit $lintian_status)"
say "lintian: no errors ($(grep -c '^W:' "$work_dir/lintian.log" || true) warnings)"

# --- install ----------------------------------------------------------------------------------
# One installation at a time on this machine: other build trees run this test too.
exec 9>"$lock_file"
say "waiting for $lock_file"
flock --timeout 600 9 || fail "another package test held $lock_file for 10 minutes"

if dpkg-query -W -f='${Status}' imagegc 2>/dev/null | grep -q 'installed'; then
  unavailable "imagegc is already installed here and this test purges it; remove it first"
fi
user_existed=0
getent passwd imagegc >/dev/null && user_existed=1

installed=0
cleanup() {
  local status=$?
  if ((installed)); then
    dpkg --purge imagegc >/dev/null 2>&1 || say "dpkg --purge imagegc failed during clean-up"
  fi
  # The package leaves its user behind, as Debian does; the test removes the one it made.
  if ((!user_existed)) && getent passwd imagegc >/dev/null; then
    deluser --quiet --system imagegc >/dev/null 2>&1 || true
  fi
  if ((!user_existed)) && getent group imagegc >/dev/null; then
    delgroup --quiet --system imagegc >/dev/null 2>&1 || true
  fi
  exit "$status"
}
trap cleanup EXIT

# dpkg refuses at once while apt holds its lock (scripts/install-deps.sh, say): wait a while.
dpkg_install() {
  local attempt output
  for attempt in $(seq 1 30); do
    if output=$(dpkg -i "$1" </dev/null 2>&1); then
      return 0
    fi
    if ! grep -q 'lock' <<<"$output"; then
      printf '%s\n' "$output" >&2
      return 1
    fi
    say "dpkg is locked; retrying ($attempt/30)"
    sleep 10
  done
  printf '%s\n' "$output" >&2
  return 1
}

say "dpkg -i $(basename "$deb")"
installed=1
dpkg_install "$deb" || fail "dpkg -i failed"

# --- the installed package --------------------------------------------------------------------
reported=$(/usr/bin/imagegc --version) || fail "/usr/bin/imagegc --version failed"
[[ $reported == "imagegc $version" ]] || fail "--version says '$reported', the package is $version"
say "/usr/bin/imagegc --version: $reported"

/usr/bin/imagegc check-config /etc/imagegc/policy.yaml ||
  fail "the installed policy does not pass check-config"

conffiles=$(dpkg-query -W -f='${Conffiles}' imagegc)
grep -q '^ /etc/imagegc/policy.yaml ' <<<"$conffiles" ||
  fail "/etc/imagegc/policy.yaml is not a registered conffile: '$conffiles'"
say "conffile registered"

# An operator's edit survives reinstalling the package.
printf '# local edit by package_test\n' >>/etc/imagegc/policy.yaml
dpkg_install "$deb" || fail "reinstalling the package failed"
grep -q '^# local edit by package_test$' /etc/imagegc/policy.yaml ||
  fail "reinstalling the package overwrote the edited /etc/imagegc/policy.yaml"
say "an edited policy survives reinstalling"

IFS=: read -r _ _ _ _ _ home shell < <(getent passwd imagegc) || fail "no user imagegc after install"
[[ $home == /var/lib/imagegc ]] || fail "imagegc's home is $home, not /var/lib/imagegc"
[[ $shell == */nologin || $shell == */false ]] || fail "imagegc has a login shell: $shell"
getent group imagegc >/dev/null || fail "no group imagegc after install"
if getent group docker >/dev/null; then
  id -nG imagegc | tr ' ' '\n' | grep -qx docker || fail "imagegc is not in the docker group"
fi
say "system user imagegc exists (home $home, shell $shell)"

# Installed disabled: nothing is enabled or started by surprise.
[[ ! -e /etc/systemd/system/multi-user.target.wants/$unit ]] ||
  fail "$unit was enabled by the installation"
say "$unit installed disabled"

installed_unit=/lib/systemd/system/$unit
verify_status=0
verify_output=$(systemd-analyze verify "$installed_unit" 2>&1) || verify_status=$?
if ((verify_status != 0)) || [[ -n $verify_output ]]; then
  printf '%s\n' "$verify_output" >&2
  fail "systemd-analyze verify $installed_unit is not clean (exit $verify_status)"
fi
say "systemd-analyze verify $installed_unit: clean"

security=$(systemd-analyze security --offline=true "$installed_unit" 2>&1) ||
  fail "systemd-analyze security failed: $security"
exposure=$(sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p' <<<"$security")
[[ -n $exposure ]] || fail "no 'Overall exposure level' line in: $security"
awk -v e="$exposure" -v m="$max_exposure" 'BEGIN { exit !(e <= m) }' || {
  grep '✗' <<<"$security" >&2 || true
  fail "overall exposure $exposure is above $max_exposure"
}
say "systemd-analyze security: overall exposure $exposure (at most $max_exposure)"

# --- purge ------------------------------------------------------------------------------------
dpkg --purge imagegc >/dev/null || fail "dpkg --purge imagegc failed"
installed=0
for path in /usr/bin/imagegc "$installed_unit" /etc/imagegc /var/lib/imagegc; do
  [[ ! -e $path ]] || fail "$path is left after dpkg --purge"
done
say "purged; PASS"
