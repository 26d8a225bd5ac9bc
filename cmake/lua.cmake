# The Lua front end: the binding objects (src/lua), the `vksac` interpreter
# (src/cli, with the pure-Lua modules embedded) and the `vksac.core` module
# for the stock lua5.4 interpreter.
find_package(PkgConfig REQUIRED)
pkg_check_modules(LUA REQUIRED IMPORTED_TARGET lua5.4)

file(GLOB VKSAC_LUA_SOURCES CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/src/lua/*.c)
add_library(vksac_lua_objects OBJECT ${VKSAC_LUA_SOURCES})
set_target_properties(vksac_lua_objects PROPERTIES POSITION_INDEPENDENT_CODE ON C_VISIBILITY_PRESET hidden)
target_include_directories(vksac_lua_objects PUBLIC ${PROJECT_SOURCE_DIR}/include ${PROJECT_SOURCE_DIR}/src
                           ${LUA_INCLUDE_DIRS})

# lua/vksac/ and its subfolders' *.lua -> one generated C file of byte
# arrays (cmake/embed_lua.cmake). The glob is re-checked at build time, so
# an added or removed file reconfigures; the list file, rewritten only when
# the list changes, makes a removal regenerate the C file too.
file(GLOB_RECURSE VKSAC_LUA_MODULES CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/lua/vksac/*.lua)
list(SORT VKSAC_LUA_MODULES)
string(REPLACE ";" "\n" VKSAC_LUA_MODULE_LIST "${VKSAC_LUA_MODULES}")
file(CONFIGURE OUTPUT ${CMAKE_CURRENT_BINARY_DIR}/lua_modules.txt CONTENT "${VKSAC_LUA_MODULE_LIST}\n")
set(VKSAC_LUA_EMBEDDED ${CMAKE_CURRENT_BINARY_DIR}/lua_embedded.c)
add_custom_command(
  OUTPUT ${VKSAC_LUA_EMBEDDED}
  COMMAND ${CMAKE_COMMAND} -DROOT=${PROJECT_SOURCE_DIR}/lua -DOUT=${VKSAC_LUA_EMBEDDED}
          -P ${PROJECT_SOURCE_DIR}/cmake/embed_lua.cmake
  DEPENDS ${VKSAC_LUA_MODULES} ${CMAKE_CURRENT_BINARY_DIR}/lua_modules.txt
          ${PROJECT_SOURCE_DIR}/cmake/embed_lua.cmake
  COMMENT "Embedding lua/vksac/*.lua"
  VERBATIM)

# Line editing in the REPL when GNU readline (libreadline-dev) is there;
# without it the REPL reads plain lines.
option(VKSAC_READLINE "Use GNU readline in the interpreter's REPL when found" ON)
if(VKSAC_READLINE)
  find_path(READLINE_INCLUDE_DIR readline/readline.h)
  find_library(READLINE_LIBRARY readline)
endif()

file(GLOB VKSAC_CLI_SOURCES CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/src/cli/*.c)
add_executable(vksac ${VKSAC_CLI_SOURCES} ${VKSAC_LUA_EMBEDDED} $<TARGET_OBJECTS:vksac_lua_objects>)
target_include_directories(vksac PRIVATE ${PROJECT_SOURCE_DIR}/src)
target_link_libraries(vksac PRIVATE vksac_static PkgConfig::LUA)
if(VKSAC_READLINE AND READLINE_INCLUDE_DIR AND READLINE_LIBRARY)
  target_compile_definitions(vksac PRIVATE VKSAC_HAVE_READLINE)
  target_include_directories(vksac PRIVATE ${READLINE_INCLUDE_DIR})
  target_link_libraries(vksac PRIVATE ${READLINE_LIBRARY})
  message(STATUS "vksac REPL: line editing with ${READLINE_LIBRARY}")
else()
  message(STATUS "vksac REPL: plain line input (no readline)")
endif()

# vksac/core.so for stock lua5.4: `require "vksac.core"` finds it on
# package.cpath as vksac/core.so and calls luaopen_vksac_core, the only
# symbol it exports (everything is built hidden; VL_EXPORT in vl.h). It
# links the static library, so it needs nothing of vksac at run time, and
# NOT liblua: the Lua API comes from the interpreter that loads it (a
# second copy of Lua in one process would corrupt states). Built into
# <build>/lua/vksac/ so LUA_CPATH="<build>/lua/?.so" works uninstalled.
add_library(vksac_lua_module MODULE $<TARGET_OBJECTS:vksac_lua_objects>)
set_target_properties(vksac_lua_module PROPERTIES OUTPUT_NAME core PREFIX ""
                      LIBRARY_OUTPUT_DIRECTORY ${PROJECT_BINARY_DIR}/lua/vksac)
target_link_libraries(vksac_lua_module PRIVATE vksac_static)
# The public API functions are exported by libvksac; inside the module they
# stay local, so a process that also loads libvksac.so cannot interpose a
# different version of them.
target_link_options(vksac_lua_module PRIVATE LINKER:--exclude-libs,ALL)
