# The Lua front end: the binding objects (src/lua), the `vksac` interpreter
# and the `vksac.core` module for stock lua5.4.
find_package(PkgConfig REQUIRED)
pkg_check_modules(LUA REQUIRED IMPORTED_TARGET lua5.4)

file(GLOB VKSAC_LUA_SOURCES CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/src/lua/*.c)
add_library(vksac_lua_objects OBJECT ${VKSAC_LUA_SOURCES})
set_target_properties(vksac_lua_objects PROPERTIES POSITION_INDEPENDENT_CODE ON C_VISIBILITY_PRESET hidden)
target_include_directories(vksac_lua_objects PUBLIC ${PROJECT_SOURCE_DIR}/include ${PROJECT_SOURCE_DIR}/src
                           ${LUA_INCLUDE_DIRS})

add_executable(vksac ${PROJECT_SOURCE_DIR}/src/cli/main.c $<TARGET_OBJECTS:vksac_lua_objects>)
target_include_directories(vksac PRIVATE ${PROJECT_SOURCE_DIR}/src)
target_link_libraries(vksac PRIVATE vksac_static PkgConfig::LUA)
target_compile_definitions(vksac PRIVATE VKSAC_LUA_DIR="${PROJECT_SOURCE_DIR}/lua")
