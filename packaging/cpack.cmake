# The Debian package imagegc_<version>_<arch>.deb: `cpack -G DEB` in the build directory
# (tests/packaging/package_test.sh builds, checks, installs and purges it).
set(IMAGEGC_PACKAGE_MAINTAINER
  "imagegc maintainers <maintainers@imagegc.example>")
include(${CMAKE_CURRENT_LIST_DIR}/install.cmake)

# Packaging needs the binary, not every test: without this, cpack's "preinstall" step builds
# the whole tree first.
set(CMAKE_SKIP_INSTALL_ALL_DEPENDENCY ON)

set(CPACK_GENERATOR "DEB")
set(CPACK_PACKAGE_NAME "imagegc")
set(CPACK_PACKAGE_VENDOR "imagegc")
set(CPACK_PACKAGE_CONTACT "${IMAGEGC_PACKAGE_MAINTAINER}")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "Docker image garbage collector with layer-aware accounting")
set(CPACK_PACKAGE_DESCRIPTION
  "imagegc follows a Docker engine's events, keeps a graph of every image\n"
  "and deletes images according to a YAML retention policy: dangling,\n"
  "unused or stale images, protected references and labels, disk-pressure\n"
  "watermarks and per-pass limits. Its byte accounting is layer-aware: a\n"
  "layer shared with an image that stays is never counted as freed.\n"
  "\n"
  "The package installs the daemon, a hardened systemd unit (disabled), a\n"
  "dry-run default policy, example policies, a Grafana dashboard and\n"
  "Prometheus alert rules.")
string(JOIN "" CPACK_PACKAGE_DESCRIPTION ${CPACK_PACKAGE_DESCRIPTION})
set(CPACK_PACKAGING_INSTALL_PREFIX "/usr")
# Debug info (RelWithDebInfo is the default build type) would make the package 30 times larger.
set(CPACK_STRIP_FILES ON)

set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION "admin")
set(CPACK_DEBIAN_PACKAGE_PRIORITY "optional")
# Library dependencies come from dpkg-shlibdeps (dpkg-dev); adduser runs in postinst.
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_DEPENDS "adduser")
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS "docker.io | docker-ce")
# conffiles keeps an operator's edits of /etc/imagegc/policy.yaml across upgrades; strict
# permissions give the scripts 0755 and the rest 0644, as dpkg and lintian expect.
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
  ${CMAKE_CURRENT_LIST_DIR}/debian/conffiles
  ${CMAKE_CURRENT_LIST_DIR}/debian/postinst
  ${CMAKE_CURRENT_LIST_DIR}/debian/prerm
  ${CMAKE_CURRENT_LIST_DIR}/debian/postrm)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
include(CPack)
