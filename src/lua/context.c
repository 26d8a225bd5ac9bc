/* The Lua state's vksac context: made on first use with the options of
 * vksac.init{}, shared by every object, freed when the last user lets go. */
#include <stdlib.h>
#include <string.h>

#include "vl.h"

struct vl_ctx {
    vksac_context *handle;
    int refs;
};

/* Registry keys. */
static const char CTX_KEY[] = "vksac.context";       /* light userdata vl_ctx* */
static const char OPTS_KEY[] = "vksac.context_options";

typedef struct {
    vl_ctx *c;               /* released when the Lua state closes */
} ctx_box;

vksac_context *vl_ctx_handle(vl_ctx *c) { return c->handle; }
void vl_ctx_retain(vl_ctx *c) { c->refs++; }

void vl_ctx_release(vl_ctx *c)
{
    if (c && --c->refs == 0) {
        vksac_context_destroy(c->handle);
        free(c);
    }
}

static int box_gc(lua_State *L)
{
    ctx_box *b = luaL_checkudata(L, 1, "vksac.ContextBox");
    vl_ctx_release(b->c);
    b->c = NULL;
    return 0;
}

static bool env_flag(const char *name)
{
    const char *v = getenv(name);
    return v && *v && strcmp(v, "0") != 0;
}

static vl_ctx *current(lua_State *L)
{
    lua_getfield(L, LUA_REGISTRYINDEX, CTX_KEY);
    ctx_box *b = lua_touserdata(L, -1);
    lua_pop(L, 1);
    return b ? b->c : NULL;
}

vl_ctx *vl_context(lua_State *L)
{
    vl_ctx *c = current(L);
    if (c)
        return c;
    vksac_context_config cfg = {0};
    cfg.validation = env_flag("VKSAC_VALIDATION");
    lua_getfield(L, LUA_REGISTRYINDEX, OPTS_KEY);
    if (lua_istable(L, -1)) {
        lua_getfield(L, -1, "device");
        cfg.device = lua_tostring(L, -1);   /* the options table keeps it alive */
        lua_getfield(L, -2, "validation");
        if (!lua_isnil(L, -1))
            cfg.validation = lua_toboolean(L, -1);
        lua_getfield(L, -3, "cpu_threads");
        cfg.cpu_threads = (int)lua_tointeger(L, -1);
        lua_getfield(L, -4, "cpu_shards");
        cfg.cpu_shards = (int)lua_tointeger(L, -1);
        lua_pop(L, 4);
    }
    ctx_box *b = lua_newuserdatauv(L, sizeof *b, 0);
    b->c = NULL;
    luaL_setmetatable(L, "vksac.ContextBox");
    vksac_context *h = NULL;
    vksac_status st = vksac_context_create(&cfg, &h);
    if (st != VKSAC_OK) {
        lua_pushfstring(L, "vksac: no context (%s): %s", vksac_status_name(st),
                        h ? vksac_error(h) : "out of memory");
        vksac_context_destroy(h);
        lua_error(L);
    }
    c = malloc(sizeof *c);
    if (!c) {
        vksac_context_destroy(h);
        luaL_error(L, "vksac: out of host memory");
    }
    c->handle = h;
    c->refs = 1;
    b->c = c;
    lua_setfield(L, LUA_REGISTRYINDEX, CTX_KEY);
    lua_pop(L, 1);   /* the options table */
    return c;
}

/* The C API prefixes its own function's name ("vksac_agent_act: …");
 * a Lua user called `fn`, so that is the name they see. */
int vl_fail(lua_State *L, vl_ctx *c, const char *fn)
{
    const char *msg = vksac_error(c->handle);
    if (!strncmp(msg, "vksac_", 6)) {
        const char *colon = strstr(msg, ": ");
        msg = colon ? colon + 2 : msg;
    }
    return luaL_error(L, "%s: %s", fn, msg);
}

/* vksac.init{device=, validation=, cpu_threads=, cpu_shards=}: options of
 * the context, which must not exist yet. */
static int l_init(lua_State *L)
{
    static const char *const keys[] = {"device", "validation", "cpu_threads", "cpu_shards", NULL};
    vl_args a = {L, 1, 1, "init"};
    luaL_checktype(L, 1, LUA_TTABLE);
    vl_check_keys(&a, keys);
    if (current(L))
        return luaL_error(L, "init: the device is already in use; call vksac.init before creating objects");
    vl_field_string(&a, "device", NULL);
    vl_field_bool(&a, "validation", false);
    lua_getfield(L, 1, "cpu_threads");
    if (!lua_isnil(L, -1) && (!lua_isinteger(L, -1) || lua_tointeger(L, -1) < -1))
        vl_arg_error(&a, "cpu_threads", "must be an integer ≥ -1, got %s", luaL_tolstring(L, -1, NULL));
    lua_pop(L, 1);
    lua_getfield(L, 1, "cpu_shards");
    if (!lua_isnil(L, -1) &&
        (!lua_isinteger(L, -1) || lua_tointeger(L, -1) < 0 || lua_tointeger(L, -1) > VKSAC_MAX_CPU_SHARDS))
        vl_arg_error(&a, "cpu_shards", "must be an integer from 0 to %d, got %s", VKSAC_MAX_CPU_SHARDS,
                     luaL_tolstring(L, -1, NULL));
    lua_pop(L, 1);
    lua_pushvalue(L, 1);
    lua_setfield(L, LUA_REGISTRYINDEX, OPTS_KEY);
    return 0;
}

/* Pushes {index, name, type, driver, driver_version}: a device as
 * vksac.device() and vksac.devices() describe it. */
static void push_device(lua_State *L, const vksac_device_info *d)
{
    lua_createtable(L, 0, 6);
    lua_pushinteger(L, d->index);
    lua_setfield(L, -2, "index");
    lua_pushstring(L, d->name);
    lua_setfield(L, -2, "name");
    lua_pushstring(L, d->type);
    lua_setfield(L, -2, "type");
    lua_pushstring(L, d->driver);
    lua_setfield(L, -2, "driver");
    lua_pushstring(L, d->driver_version);
    lua_setfield(L, -2, "driver_version");
}

/* vksac.device() → the context's device (push_device). */
static int l_device(lua_State *L)
{
    vl_ctx *c = vl_context(L);
    vksac_device_info d;
    if (vksac_context_device(c->handle, &d) != VKSAC_OK)
        return vl_fail(L, c, "device");
    push_device(L, &d);
    return 1;
}

/* vksac.devices() → list of every device (push_device), each with
 * `preferred`: the one taken when nothing names a device. */
static int l_devices(lua_State *L)
{
    vksac_device_info info[16];
    int n = 0;
    char err[256];
    if (vksac_list_devices(info, 16, &n, err, sizeof err) != VKSAC_OK) {
        luaL_pushfail(L);
        lua_pushstring(L, err);
        return 2;
    }
    lua_createtable(L, n < 16 ? n : 16, 0);
    for (int i = 0; i < n && i < 16; i++) {
        push_device(L, &info[i]);
        lua_pushboolean(L, info[i].preferred);
        lua_setfield(L, -2, "preferred");
        lua_rawseti(L, -2, i + 1);
    }
    return 1;
}

/* vksac.validation_messages() → count (0 when no context exists yet). */
static int l_validation_messages(lua_State *L)
{
    vl_ctx *c = current(L);
    lua_pushinteger(L, c ? (lua_Integer)vksac_validation_messages(c->handle) : 0);
    return 1;
}

void vl_open_context(lua_State *L)
{
    static const luaL_Reg meta[] = {{"__gc", box_gc}, {NULL, NULL}};
    static const luaL_Reg fns[] = {{"init", l_init},
                                   {"device", l_device},
                                   {"devices", l_devices},
                                   {"validation_messages", l_validation_messages},
                                   {NULL, NULL}};
    vl_new_class(L, "vksac.ContextBox", NULL, meta);
    luaL_setfuncs(L, fns, 0);
}
