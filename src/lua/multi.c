/* MultipleCritics(c1, c2, …, {use_softmin = true}) and
 * MultipleQuantileCritics(c1, c2, …, {frac_atom_keep = 0.92}): a group of
 * critics trained together, given to SAC{critics = …}. Each argument is a
 * Critic or a Critic's option table; a last table without dim_state holds
 * the group's options. */
#include <string.h>

#include "vl.h"

static const char *const MULTI_KEYS[] = {"use_softmin", "softmin_temperature", NULL};
static const char *const QUANTILE_KEYS[] = {"frac_atom_keep", NULL};

vl_multi *vl_test_multi(lua_State *L, int idx) { return luaL_testudata(L, idx, VL_MULTI); }

static vl_multi *check_multi(lua_State *L, int idx)
{
    vl_multi *m = luaL_checkudata(L, idx, VL_MULTI);
    if (m->closed)
        luaL_error(L, "attempt to use a closed %s", m->quantiled ? "MultipleQuantileCritics" : "MultipleCritics");
    return m;
}

static bool is_options(lua_State *L, int idx)
{
    if (!lua_istable(L, idx) || lua_getmetatable(L, idx)) {
        if (lua_istable(L, idx))
            lua_pop(L, 1);
        return false;
    }
    bool opts = lua_getfield(L, idx, "dim_state") == LUA_TNIL;
    lua_pop(L, 1);
    return opts;
}

static void read_options(lua_State *L, vl_multi *m, int idx, const char *fn)
{
    vl_args a = {L, idx, idx, fn};
    vl_check_keys(&a, m->quantiled ? QUANTILE_KEYS : MULTI_KEYS);
    if (m->quantiled) {
        m->frac_atom_keep = (float)vl_field_number(&a, "frac_atom_keep", 0.0);
        if (lua_getfield(L, idx, "frac_atom_keep") != LUA_TNIL && !(m->frac_atom_keep > 0 && m->frac_atom_keep <= 1))
            vl_arg_error(&a, "frac_atom_keep", "must be in (0, 1], got %s", luaL_tolstring(L, -1, NULL));
        lua_pop(L, 1);
        return;
    }
    m->use_softmin = vl_field_bool(&a, "use_softmin", false);
    m->softmin_temperature = (float)vl_field_number(&a, "softmin_temperature", 0.0);
    if (lua_getfield(L, idx, "softmin_temperature") != LUA_TNIL && !(m->softmin_temperature > 0))
        vl_arg_error(&a, "softmin_temperature", "must be positive, got %s", luaL_tolstring(L, -1, NULL));
    lua_pop(L, 1);
}

/* The critic at argument i as a Critic object, pushed. */
static vl_net *push_critic(lua_State *L, int i, bool quantiled, const char *fn)
{
    vl_net *c = vl_test_net(L, i, VL_CRITIC);
    if (c) {
        vl_check_critic(L, i);
        lua_pushvalue(L, i);
    } else if (lua_istable(L, i) && !lua_getmetatable(L, i)) {
        c = lua_newuserdatauv(L, sizeof *c, 0);
        memset(c, 0, sizeof *c);
        luaL_setmetatable(L, VL_CRITIC);
        vl_args a = {L, i, i, fn};
        vl_read_critic(&a, c, quantiled ? 25 : 1);
    } else {
        luaL_error(L, "bad argument #%d to '%s' (a Critic or a table of Critic options expected, got %s)", i, fn,
                   luaL_typename(L, i));
    }
    if (quantiled != (c->cfg.num_quantiles > 1))
        luaL_error(L, "bad argument #%d to '%s' (%s)", i, fn,
                   quantiled ? "quantile critics need num_quantiles > 1"
                             : "a critic with num_quantiles > 1 belongs in MultipleQuantileCritics");
    return c;
}

static int make(lua_State *L, bool quantiled)
{
    const char *fn = quantiled ? "MultipleQuantileCritics" : "MultipleCritics";
    int last = lua_gettop(L);
    vl_multi *m = lua_newuserdatauv(L, sizeof *m, 1);
    memset(m, 0, sizeof *m);
    m->quantiled = quantiled;
    luaL_setmetatable(L, VL_MULTI);
    int self = lua_gettop(L);
    if (last >= 1 && is_options(L, last))
        read_options(L, m, last--, fn);
    if (last < 1)
        return luaL_error(L, "bad argument #1 to '%s' (at least one critic expected)", fn);
    if (last > VKSAC_MAX_CRITICS)
        return luaL_error(L, "bad argument #%d to '%s' (at most %d critics)", VKSAC_MAX_CRITICS + 1, fn,
                          VKSAC_MAX_CRITICS);
    lua_createtable(L, last, 0);
    const vl_net *first = NULL;
    for (int i = 1; i <= last; i++) {
        vl_net *c = push_critic(L, i, quantiled, fn);
        const char *diff = first ? vl_critic_mismatch(&first->cfg, &c->cfg) : NULL;
        if (diff)
            return luaL_error(L, "bad argument #%d to '%s' (critics must share one shape: '%s' differs from "
                              "critic 1's)", i, fn, diff);
        first = first ? first : c;
        lua_rawseti(L, -2, i);
    }
    m->count = (uint32_t)last;
    lua_setiuservalue(L, self, 1);
    lua_settop(L, self);
    return 1;
}

static int l_multiple(lua_State *L) { return make(L, false); }
static int l_multiple_quantile(lua_State *L) { return make(L, true); }

/* mc(states, cont_actions) → q_cont (N×n[×M]), {q_head (N×n×nᵢ[×M]), …} */
static int multi_call(lua_State *L)
{
    vl_multi *m = check_multi(L, 1);
    lua_getiuservalue(L, 1, 1);
    int list = lua_gettop(L);
    lua_rawgeti(L, list, 1);
    vl_net *c0 = vl_check_critic(L, -1);
    lua_pop(L, 1);
    vl_critic_in in = vl_critic_inputs(L, &c0->cfg, "critics");
    size_t per = (size_t)in.n * in.width;
    float *q = lua_newuserdatauv(L, m->count * per * sizeof *q, 0);
    for (uint32_t i = 0; i < m->count; i++) {
        lua_rawgeti(L, list, i + 1);
        vl_eval_critic(L, vl_check_critic(L, -1), in.states, in.actions, in.n, q + i * per);
        lua_pop(L, 1);
    }
    vl_push_q(L, &c0->cfg, q, m->count, in.n, in.single, true);
    return 2;
}

static int multi_critics(lua_State *L)
{
    vl_multi *m = check_multi(L, 1);
    lua_getiuservalue(L, 1, 1);
    lua_createtable(L, (int)m->count, 0);
    for (uint32_t i = 1; i <= m->count; i++) {
        lua_rawgeti(L, -2, i);
        lua_rawseti(L, -2, i);
    }
    return 1;
}

static int multi_len(lua_State *L)
{
    lua_pushinteger(L, check_multi(L, 1)->count);
    return 1;
}

static int multi_close(lua_State *L)
{
    vl_multi *m = luaL_checkudata(L, 1, VL_MULTI);
    m->closed = true;
    lua_pushnil(L);
    lua_setiuservalue(L, 1, 1);
    return 0;
}

static int multi_tostring(lua_State *L)
{
    vl_multi *m = luaL_checkudata(L, 1, VL_MULTI);
    const char *name = m->quantiled ? "MultipleQuantileCritics" : "MultipleCritics";
    if (m->closed)
        lua_pushfstring(L, "%s (closed)", name);
    else
        lua_pushfstring(L, "%s(%d critics%s)", name, (int)m->count, m->use_softmin ? ", softmin" : "");
    return 1;
}

void vl_open_multi(lua_State *L)
{
    static const luaL_Reg meta[] = {{"__call", multi_call}, {"__len", multi_len}, {"__close", multi_close},
                                    {"__tostring", multi_tostring}, {NULL, NULL}};
    static const luaL_Reg methods[] = {{"critics", multi_critics}, {"close", multi_close}, {NULL, NULL}};
    static const luaL_Reg fns[] = {{"MultipleCritics", l_multiple},
                                   {"MultipleQuantileCritics", l_multiple_quantile},
                                   {NULL, NULL}};
    vl_new_class(L, VL_MULTI, methods, meta);
    luaL_setfuncs(L, fns, 0);
}
