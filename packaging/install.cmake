# What the package (and `cmake --install`) puts where, besides the binary, which
# daemon/CMakeLists.txt installs. Paths follow Debian bookworm, where the package is built.
include(GNUInstallDirs)

set(IMAGEGC_PACKAGING_DIR ${PROJECT_SOURCE_DIR}/packaging)
set(IMAGEGC_PACKAGING_BINARY_DIR ${PROJECT_BINARY_DIR}/packaging)

# bookworm still ships units under /lib (lintian: systemd-service-file-outside-lib), and
# configuration under /etc whatever the prefix.
install(FILES ${PROJECT_SOURCE_DIR}/systemd/imagegc.service DESTINATION /lib/systemd/system)
install(FILES ${PROJECT_SOURCE_DIR}/config/policy.yaml DESTINATION /etc/imagegc)
install(DIRECTORY ${PROJECT_SOURCE_DIR}/config/examples/
  DESTINATION ${CMAKE_INSTALL_DOCDIR}/examples
  FILES_MATCHING PATTERN "*.yaml")

# The dashboard and the alert rules live in their own folders; whatever JSON and YAML they hold
# at install time is shipped, their tests excepted.
install(DIRECTORY ${IMAGEGC_PACKAGING_DIR}/grafana/
  DESTINATION ${CMAKE_INSTALL_DATADIR}/imagegc/grafana OPTIONAL
  FILES_MATCHING PATTERN "*.json" PATTERN "*test*" EXCLUDE)
install(DIRECTORY ${IMAGEGC_PACKAGING_DIR}/prometheus/
  DESTINATION ${CMAKE_INSTALL_DATADIR}/imagegc/prometheus OPTIONAL
  FILES_MATCHING PATTERN "*.yaml" PATTERN "*.yml" PATTERN "*test*" EXCLUDE)

# Debian wants the man page and changelog compressed with gzip -9n (no name or time stamp, so
# the package is reproducible). They are produced at configure time, which any change to their
# sources triggers, so packaging needs no build target besides the binary.
find_program(IMAGEGC_GZIP gzip REQUIRED)
function(imagegc_gzip source output)
  execute_process(COMMAND ${IMAGEGC_GZIP} -9n -c ${source}
    OUTPUT_FILE ${output} RESULT_VARIABLE result)
  if(NOT result EQUAL 0)
    message(FATAL_ERROR "gzip ${source}: ${result}")
  endif()
endfunction()

set(IMAGEGC_VERSION ${PROJECT_VERSION})
configure_file(${IMAGEGC_PACKAGING_DIR}/imagegc.8 ${IMAGEGC_PACKAGING_BINARY_DIR}/imagegc.8 @ONLY)
imagegc_gzip(${IMAGEGC_PACKAGING_BINARY_DIR}/imagegc.8 ${IMAGEGC_PACKAGING_BINARY_DIR}/imagegc.8.gz)
install(FILES ${IMAGEGC_PACKAGING_BINARY_DIR}/imagegc.8.gz DESTINATION ${CMAKE_INSTALL_MANDIR}/man8)

# A native package keeps its changelog as changelog.gz. TIMESTAMP honours SOURCE_DATE_EPOCH.
set(IMAGEGC_DEB_VERSION ${PROJECT_VERSION})
set(IMAGEGC_DEB_MAINTAINER "${IMAGEGC_PACKAGE_MAINTAINER}")
string(TIMESTAMP IMAGEGC_DEB_DATE "%a, %d %b %Y %H:%M:%S +0000" UTC)
configure_file(${IMAGEGC_PACKAGING_DIR}/debian/changelog.in
  ${IMAGEGC_PACKAGING_BINARY_DIR}/changelog @ONLY)
imagegc_gzip(${IMAGEGC_PACKAGING_BINARY_DIR}/changelog ${IMAGEGC_PACKAGING_BINARY_DIR}/changelog.gz)
install(FILES ${IMAGEGC_PACKAGING_BINARY_DIR}/changelog.gz
  ${IMAGEGC_PACKAGING_DIR}/debian/copyright
  DESTINATION ${CMAKE_INSTALL_DOCDIR})
