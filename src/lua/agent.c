/* Agents shared between Lua objects, config resolution with Lua-style
 * messages, and statistics tables. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vl.h"

vl_agent *vl_agent_create(lua_State *L, const vksac_agent_config *cfg, const char *fn)
{
    vl_ctx *c = vl_context(L);
    vksac_agent *h = NULL;
    if (vksac_agent_create(vl_ctx_handle(c), cfg, &h) != VKSAC_OK)
        vl_fail(L, c, fn);
    return vl_agent_wrap(L, c, h, fn);
}

vl_agent *vl_agent_wrap(lua_State *L, vl_ctx *c, vksac_agent *h, const char *fn)
{
    vl_agent *a = malloc(sizeof *a);
    if (!a) {
        vksac_agent_destroy(h);
        luaL_error(L, "%s: out of host memory", fn);
    }
    *a = (vl_agent){h, c, 1};
    vl_ctx_retain(c);
    return a;
}

void vl_agent_retain(vl_agent *a) { a->refs++; }

void vl_agent_release(vl_agent *a)
{
    if (a && --a->refs == 0) {
        vksac_agent_destroy(a->h);
        vl_ctx_release(a->ctx);
        free(a);
    }
}

/* The C API says "vksac_agent_config_resolve: field 'actor.dropout' must
 * be …"; Lua users wrote `dropout` in an Actor table or `actor_dropout`
 * nowhere, so rename the prefix and drop the C function's name. */
void vl_resolve(lua_State *L, const vksac_agent_config *cfg, vksac_agent_config *out, const char *fn, int arg,
                const char *const *renames)
{
    vl_ctx *c = vl_context(L);
    if (vksac_agent_config_resolve(vl_ctx_handle(c), cfg, out) == VKSAC_OK)
        return;
    const char *msg = vksac_error(vl_ctx_handle(c));
    const char *colon = strstr(msg, ": ");
    msg = colon ? colon + 2 : msg;
    for (const char *const *r = renames; r && *r; r += 2) {
        char from[64], to[64];
        snprintf(from, sizeof from, "'%s", r[0]);
        snprintf(to, sizeof to, "'%s", r[1]);
        msg = luaL_gsub(L, msg, from, to);
    }
    vl_args a = {L, 0, arg, fn};
    vl_arg_error(&a, NULL, "%s", msg);
}

void vl_push_stats(lua_State *L, const vksac_stats *st)
{
    struct { const char *k; double v; } f[] = {
        {"critic_loss", st->critic_loss}, {"actor_loss", st->actor_loss},       {"alpha", st->alpha},
        {"mean_q", st->mean_q},           {"entropy", st->entropy},             {"temperature_loss", st->temperature_loss},
        {"mean_target", st->mean_target},
    };
    lua_createtable(L, 0, 9);
    for (size_t i = 0; i < sizeof f / sizeof *f; i++) {
        lua_pushnumber(L, f[i].v);
        lua_setfield(L, -2, f[i].k);
    }
    lua_pushinteger(L, (lua_Integer)st->updates);
    lua_setfield(L, -2, "updates");
    lua_pushinteger(L, (lua_Integer)st->observed);
    lua_setfield(L, -2, "observed");
}
