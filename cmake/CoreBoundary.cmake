# The pure cores may not touch the network, a database or the bus.
#
# gwr_core_boundary(<core>...) checks each core twice:
#   * at configure time, its whole link closure (every library it links,
#     and theirs) must hold none of the forbidden libraries below; and
#   * at build time, a tiny executable links the whole core archive
#     (WHOLE_ARCHIVE) against only what the core declares, so a core source
#     that calls into curl, SQLite, ZeroMQ or the OS adapters fails the build
#     with an undefined reference instead of linking through gwr_common.
# and gwr_core_symbols_test(<core>...) adds a test that their objects make no
# direct file, process, signal or socket calls (cmake/check_core_symbols.cmake).
set(GWR_CORE_FORBIDDEN
  CURL::libcurl PkgConfig::SQLITE3 cppzmq cppzmq-static libzmq libzmq-static
  gwr_common gwr_system gwr_http gwr_sqlite gwr_zmq gwr_environment)

function(_gwr_link_closure target out)
  set(seen "")
  set(todo ${target})
  while(todo)
    list(POP_FRONT todo item)
    string(REGEX REPLACE "^\\$<LINK_ONLY:(.*)>$" "\\1" item "${item}")
    if(item IN_LIST seen OR NOT TARGET ${item})
      continue()
    endif()
    list(APPEND seen ${item})
    get_target_property(type ${item} TYPE)
    set(deps "")
    if(NOT type STREQUAL "INTERFACE_LIBRARY")
      get_target_property(direct ${item} LINK_LIBRARIES)
      if(direct)
        list(APPEND deps ${direct})
      endif()
    endif()
    get_target_property(iface ${item} INTERFACE_LINK_LIBRARIES)
    if(iface)
      list(APPEND deps ${iface})
    endif()
    list(APPEND todo ${deps})
  endwhile()
  set(${out} ${seen} PARENT_SCOPE)
endfunction()

function(gwr_core_boundary)
  foreach(core ${ARGN})
    _gwr_link_closure(${core} closure)
    foreach(bad ${GWR_CORE_FORBIDDEN})
      if(bad IN_LIST closure)
        message(FATAL_ERROR "${core} is a pure core but links ${bad} (through: ${closure}); "
                            "move the code that needs it to the shell's _io library")
      endif()
    endforeach()
    set(check ${core}_boundary_check)
    file(GENERATE OUTPUT ${CMAKE_CURRENT_BINARY_DIR}/${check}.cpp
         CONTENT "// Links all of ${core} and nothing it does not declare.\nint main() { return 0; }\n")
    add_executable(${check} ${CMAKE_CURRENT_BINARY_DIR}/${check}.cpp)
    target_link_libraries(${check} PRIVATE "$<LINK_LIBRARY:WHOLE_ARCHIVE,${core}>")
    set_target_properties(${check} PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_CURRENT_BINARY_DIR}
                                              EXCLUDE_FROM_ALL FALSE)
  endforeach()
endfunction()

function(gwr_core_symbols_test)
  set(archives "")
  foreach(core ${ARGN})
    list(APPEND archives "$<TARGET_FILE:${core}>")
  endforeach()
  # Mach-O (macOS) puts an underscore before every C symbol: _open, _kill.
  if(APPLE)
    set(macho ON)
  else()
    set(macho OFF)
  endif()
  add_test(NAME core_boundary_no_os_calls
           COMMAND ${CMAKE_COMMAND} -DNM=${CMAKE_NM} "-DARCHIVES=${archives}" -DMACHO=${macho}
                   -P ${PROJECT_SOURCE_DIR}/cmake/check_core_symbols.cmake)
  set_tests_properties(core_boundary_no_os_calls PROPERTIES LABELS "unit")
endfunction()
