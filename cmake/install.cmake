# `cmake --install`: the libraries and header, the vksac interpreter, the
# Lua module for stock lua5.4 (vksac/core.so and the pure-Lua files) and a
# pkg-config file.
#
# The Lua directories default to what Debian's lua5.4 searches under both
# usual prefixes: /usr/local/lib/lua/5.4 and /usr/local/share/lua/5.4, and,
# with prefix /usr (libdir lib/<multiarch>), /usr/lib/<multiarch>/lua/5.4
# and /usr/share/lua/5.4. Relative paths are below the install prefix.
set(VKSAC_LUA_CMOD_DIR "${CMAKE_INSTALL_LIBDIR}/lua/5.4" CACHE STRING
    "Where vksac/core.so is installed (a package.cpath directory of lua5.4)")
set(VKSAC_LUA_LMOD_DIR "${CMAKE_INSTALL_DATADIR}/lua/5.4" CACHE STRING
    "Where vksac/*.lua are installed (a package.path directory of lua5.4)")

install(TARGETS vksac_shared vksac_static vksac
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(FILES include/vksac.h DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})

install(TARGETS vksac_lua_module LIBRARY DESTINATION ${VKSAC_LUA_CMOD_DIR}/vksac)
install(DIRECTORY lua/vksac DESTINATION ${VKSAC_LUA_LMOD_DIR} FILES_MATCHING PATTERN "*.lua")

# vksac.pc is written at install time so that its prefix is the one of the
# install (`cmake --install build --prefix DIR` included), not the one of
# the configure step.
foreach(dir LIBDIR INCLUDEDIR)
  if(IS_ABSOLUTE "${CMAKE_INSTALL_${dir}}")
    set(VKSAC_PC_${dir} "${CMAKE_INSTALL_${dir}}")
  else()
    set(VKSAC_PC_${dir} "\${prefix}/${CMAKE_INSTALL_${dir}}")
  endif()
endforeach()
install(CODE "
  set(VKSAC_PC_PREFIX \"\${CMAKE_INSTALL_PREFIX}\")
  set(VKSAC_PC_LIBDIR [[${VKSAC_PC_LIBDIR}]])
  set(VKSAC_PC_INCLUDEDIR [[${VKSAC_PC_INCLUDEDIR}]])
  set(VKSAC_PC_VERSION [[${PROJECT_VERSION}]])
  configure_file([[${PROJECT_SOURCE_DIR}/cmake/vksac.pc.in]] [[${PROJECT_BINARY_DIR}/vksac.pc]] @ONLY)
")
install(FILES ${PROJECT_BINARY_DIR}/vksac.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
