/* `require "vksac"` without an installation: the C core is linked in, and
 * the pure-Lua modules (lua/vksac/ and its subfolders) are compiled into
 * the executable by cmake/embed_lua.cmake. Both go into package.preload,
 * which require searches first, so an installed copy elsewhere on
 * package.path cannot shadow the one this executable was built with. For
 * working on the Lua files without rebuilding, VKSAC_LUA_DIR names a
 * directory holding vksac/init.lua (the repository's lua/) to load them
 * from instead. */
#include <stdlib.h>

#include "cli/cli.h"
#include "lua/vl.h"

/* Preload loader of one embedded module: runs its chunk with the same
 * arguments the file searcher would pass (module name, file name). */
static int load_embedded(lua_State *L)
{
    const cli_lua_file *f = lua_touserdata(L, lua_upvalueindex(1));
    if (luaL_loadbuffer(L, f->source, f->size, f->chunkname) != LUA_OK)
        return lua_error(L);
    lua_pushstring(L, f->module);
    lua_pushstring(L, f->chunkname + 1);   /* without the '@' */
    lua_call(L, 2, 1);
    return 1;
}

/* package.path = DIR/?.lua;DIR/?/init.lua;<package.path> */
static void prepend_path(lua_State *L, const char *dir)
{
    lua_getglobal(L, "package");
    lua_pushfstring(L, "%s/?.lua;%s/?/init.lua;", dir, dir);
    lua_getfield(L, -2, "path");
    lua_concat(L, 2);
    lua_setfield(L, -2, "path");
    lua_pop(L, 1);
}

void cli_open_vksac(lua_State *L, bool use_env)
{
    const char *dir = use_env ? getenv("VKSAC_LUA_DIR") : NULL;
    luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_PRELOAD_TABLE);
    lua_pushcfunction(L, luaopen_vksac_core);
    lua_setfield(L, -2, "vksac.core");
    if (dir && *dir) {
        prepend_path(L, dir);
    } else {
        for (const cli_lua_file *f = cli_lua_files; f->module; f++) {
            lua_pushlightuserdata(L, (void *)f);
            lua_pushcclosure(L, load_embedded, 1);
            lua_setfield(L, -2, f->module);
        }
    }
    lua_pop(L, 1);
}
