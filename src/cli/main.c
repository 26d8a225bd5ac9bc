/* PLACEHOLDER interpreter (to be replaced): runs `vksac script.lua args`. */
#include <stdio.h>
#include <stdlib.h>

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

int luaopen_vksac_core(lua_State *L);

static int traceback(lua_State *L)
{
    luaL_traceback(L, L, lua_tostring(L, 1), 1);
    return 1;
}

int main(int argc, char **argv)
{
    lua_State *L = luaL_newstate();
    luaL_openlibs(L);
    luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_PRELOAD_TABLE);
    lua_pushcfunction(L, luaopen_vksac_core);
    lua_setfield(L, -2, "vksac.core");
    lua_pop(L, 1);
    lua_getglobal(L, "package");
    lua_pushstring(L, VKSAC_LUA_DIR "/?.lua;" VKSAC_LUA_DIR "/?/init.lua;");
    lua_getfield(L, -2, "path");
    lua_concat(L, 2);
    lua_setfield(L, -2, "path");
    lua_pop(L, 1);
    lua_createtable(L, argc, 1);
    for (int i = 0; i < argc; i++) {
        lua_pushstring(L, argv[i]);
        lua_rawseti(L, -2, i - 1);
    }
    lua_setglobal(L, "arg");
    int rc = 0;
    if (argc > 1) {
        lua_pushcfunction(L, traceback);
        if (luaL_loadfile(L, argv[1]) || lua_pcall(L, 0, 0, -2)) {
            fprintf(stderr, "vksac: %s\n", lua_tostring(L, -1));
            rc = 1;
        }
    }
    lua_close(L);
    return rc;
}
