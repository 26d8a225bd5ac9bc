/* The C module `vksac.core`: tensors, the shared context and the classes.
 * lua/vksac/init.lua builds the public `vksac` module on top of it. */
#include "vl.h"

void vl_new_class(lua_State *L, const char *name, const luaL_Reg *methods, const luaL_Reg *meta)
{
    luaL_newmetatable(L, name);
    if (meta)
        luaL_setfuncs(L, meta, 0);
    if (methods) {
        lua_newtable(L);
        luaL_setfuncs(L, methods, 0);
        lua_setfield(L, -2, "__index");
    }
    lua_pop(L, 1);
}

VL_EXPORT int luaopen_vksac_core(lua_State *L)
{
    lua_newtable(L);
    vl_open_tensor(L);
    vl_open_random(L);
    vl_open_context(L);
    vl_open_nets(L);
    vl_open_sac(L);
    vl_open_system(L);
    vl_open_args(L);
    lua_pushfstring(L, "%d.%d.%d", VKSAC_VERSION_MAJOR, VKSAC_VERSION_MINOR, VKSAC_VERSION_PATCH);
    lua_setfield(L, -2, "version");
    return 1;
}
