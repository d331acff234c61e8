# Installation, service files and the Debian package.
#   cmake --install build [--prefix /usr/local]      # binaries, docs, units
#   cmake --build build --target uninstall           # removes what install wrote
#   (cd build && cpack -G DEB)                       # gwr_<version>_<arch>.deb
include(GNUInstallDirs)

# Templates keep their @GWR_...@ placeholders: gwr-service fills them in from
# where it is installed, so an installed tree can live under any prefix.
install(TARGETS gwr-supervisor gwr-prober gwr-repairer gwr-telegram-bridge gwr-web gwr-fleet gwrctl
        RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(PROGRAMS deploy/gwr-service.in DESTINATION ${CMAKE_INSTALL_BINDIR} RENAME gwr-service)
install(FILES config/gwr.example.yaml config/allowlist.yaml DESTINATION ${CMAKE_INSTALL_DATADIR}/gwr)
install(FILES config/.env.example DESTINATION ${CMAKE_INSTALL_DATADIR}/gwr RENAME env.example)
install(FILES deploy/systemd/gwr.service.in DESTINATION ${CMAKE_INSTALL_DATADIR}/gwr/systemd RENAME gwr.service)
install(FILES deploy/systemd/gwr-system.service.in DESTINATION ${CMAKE_INSTALL_DATADIR}/gwr/systemd
        RENAME gwr-system.service)
install(FILES deploy/launchd/ai.openclaw.gwr.plist.in DESTINATION ${CMAKE_INSTALL_DATADIR}/gwr/launchd
        RENAME ai.openclaw.gwr.plist)
install(FILES deploy/bash-completion/gwrctl DESTINATION ${CMAKE_INSTALL_DATADIR}/bash-completion/completions)
install(FILES deploy/prometheus/gwr-rules.yml deploy/prometheus/grafana-dashboard.json
        DESTINATION ${CMAKE_INSTALL_DATADIR}/gwr/prometheus)
install(FILES README.md DESTINATION ${CMAKE_INSTALL_DOCDIR})
# A ready user unit where systemctl --user looks (<prefix>/lib/systemd/user),
# with the real install prefix in it (also right inside the .deb: /usr).
install(CODE "
  set(GWR_BINDIR \"\${CMAKE_INSTALL_PREFIX}/${CMAKE_INSTALL_BINDIR}\")
  set(GWR_DOCDIR \"\${CMAKE_INSTALL_PREFIX}/${CMAKE_INSTALL_DOCDIR}\")
  set(unit \"\$ENV{DESTDIR}\${CMAKE_INSTALL_PREFIX}/lib/systemd/user/gwr.service\")
  message(STATUS \"Installing: \${unit}\")
  configure_file(\"${PROJECT_SOURCE_DIR}/deploy/systemd/gwr.service.in\" \"\${unit}\" @ONLY)
  list(APPEND CMAKE_INSTALL_MANIFEST_FILES \"\${unit}\")
")

# uninstall: removes every file the last install wrote, then empty directories.
configure_file(cmake/uninstall.cmake.in ${CMAKE_BINARY_DIR}/cmake_uninstall.cmake @ONLY)
add_custom_target(uninstall COMMAND ${CMAKE_COMMAND} -P ${CMAKE_BINARY_DIR}/cmake_uninstall.cmake
                  COMMENT "Removing the files listed in install_manifest.txt")

# The Debian package: `apt install ./gwr_*.deb` on Debian 12. macOS has no
# dpkg (nor dpkg-shlibdeps, which the DEB generator runs): there `cpack`
# makes a tarball; Homebrew builds from source (packaging/homebrew/gwr.rb).
if(APPLE)
  set(CPACK_GENERATOR "TGZ")
else()
  set(CPACK_GENERATOR "DEB")
endif()
set(CPACK_PACKAGE_NAME "gwr")
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_CONTACT "gwr maintainers <gwr@localhost>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "OpenClaw Gateway Repairer: detects, repairs and reports gateway failures")
set(CPACK_PACKAGE_DESCRIPTION
    "gwr keeps an OpenClaw Gateway alive: it detects crashes, hangs, leaks and lost ports within\n seconds, repairs them in escalating tiers under a strict allowlist and rate limit, and reports\n every step on Telegram.")
set(CPACK_PACKAGING_INSTALL_PREFIX "/usr")
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION "admin")
set(CPACK_DEBIAN_PACKAGE_PRIORITY "optional")
# Library dependencies computed from the binaries by dpkg-shlibdeps.
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
# libcurl is loaded at run time (common/http_client.cpp), so shlibdeps cannot see it.
set(CPACK_DEBIAN_PACKAGE_DEPENDS "libcurl4")
set(CPACK_DEBIAN_PACKAGE_SUGGESTS "nodejs")
set(CPACK_STRIP_FILES ON)
include(CPack)
