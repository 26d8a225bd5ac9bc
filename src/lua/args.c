/* Keyword tables: every constructor takes one, checks each field's type and
 * range, and rejects keys it does not know, naming the closest valid key. */
#include <math.h>
#include <stdarg.h>
#include <string.h>

#include "vl.h"

int vl_arg_error(const vl_args *a, const char *field, const char *fmt, ...)
{
    lua_State *L = a->L;
    va_list ap;
    va_start(ap, fmt);
    const char *msg = lua_pushvfstring(L, fmt, ap);
    va_end(ap);
    if (field)
        msg = lua_pushfstring(L, "field '%s' %s", field, msg);
    /* Not luaL_argerror: it names the running C function, and ours may be
     * reached through __call or a Lua wrapper; name the function ourselves. */
    return luaL_error(L, "bad argument #%d to '%s' (%s)", a->arg, a->fn, msg);
}

/* What a value is, for messages: "-3", "'abc'", "a table", "nil". */
static const char *describe(lua_State *L, int idx)
{
    switch (lua_type(L, idx)) {
    case LUA_TNUMBER:
    case LUA_TBOOLEAN:
        return luaL_tolstring(L, idx, NULL);
    case LUA_TSTRING:
        return lua_pushfstring(L, "'%s'", lua_tostring(L, idx));
    case LUA_TNIL:
        return "nil";
    default: {
        const char *name = luaL_typename(L, idx);
        if (luaL_getmetafield(L, idx, "__name") == LUA_TSTRING) {
            name = lua_tostring(L, -1);
        }
        return lua_pushfstring(L, "a %s", name);
    }
    }
}

static size_t min3(size_t a, size_t b, size_t c) { return a < b ? (a < c ? a : c) : (b < c ? b : c); }

static size_t distance(const char *s, const char *t)
{
    size_t n = strlen(s), m = strlen(t);
    if (n > 63 || m > 63)
        return (size_t)-1;
    size_t row[64];
    for (size_t j = 0; j <= m; j++)
        row[j] = j;
    for (size_t i = 1; i <= n; i++) {
        size_t diag = row[0];
        row[0] = i;
        for (size_t j = 1; j <= m; j++) {
            size_t up = row[j];
            row[j] = min3(row[j] + 1, row[j - 1] + 1, diag + (s[i - 1] != t[j - 1]));
            diag = up;
        }
    }
    return row[m];
}

const char *vl_nearest(const char *word, const char *const *keys)
{
    const char *best = NULL;
    size_t best_d = (size_t)-1;
    for (const char *const *k = keys; *k; k++) {
        size_t d = distance(word, *k);
        if (d < best_d) {
            best_d = d;
            best = *k;
        }
    }
    /* Close means at most a third of the word's letters differ. */
    size_t len = strlen(word);
    return best && best_d <= (len < 3 ? 1 : len / 3 + 1) ? best : NULL;
}

void vl_check_keys(const vl_args *a, const char *const *keys)
{
    lua_State *L = a->L;
    lua_pushnil(L);
    while (lua_next(L, a->idx)) {
        lua_pop(L, 1);
        if (lua_type(L, -1) != LUA_TSTRING) {
            const char *k = describe(L, -1);
            vl_arg_error(a, NULL, "keys must be option names, got %s", k);
        }
        const char *key = lua_tostring(L, -1);
        bool known = false;
        for (const char *const *k = keys; *k && !known; k++)
            known = strcmp(*k, key) == 0;
        if (!known) {
            const char *near = vl_nearest(key, keys);
            if (near)
                vl_arg_error(a, NULL, "unknown option '%s'; did you mean '%s'?", key, near);
            vl_arg_error(a, NULL, "unknown option '%s'", key);
        }
    }
}

/* Pushes the field; returns false (and pops it) when it is nil. */
static bool get(const vl_args *a, const char *field)
{
    if (lua_getfield(a->L, a->idx, field) == LUA_TNIL) {
        lua_pop(a->L, 1);
        return false;
    }
    return true;
}

uint32_t vl_field_count(const vl_args *a, const char *field, uint32_t def, bool positive)
{
    lua_State *L = a->L;
    if (!get(a, field))
        return def;
    int isint = 0;
    lua_Integer v = lua_tointegerx(L, -1, &isint);
    if (!isint || v < (positive ? 1 : 0) || v > UINT32_MAX)
        vl_arg_error(a, field, "must be a %s integer, got %s", positive ? "positive" : "non-negative",
                     describe(L, -1));
    lua_pop(L, 1);
    return (uint32_t)v;
}

double vl_field_number(const vl_args *a, const char *field, double def)
{
    lua_State *L = a->L;
    if (!get(a, field))
        return def;
    int isnum = 0;
    double v = lua_tonumberx(L, -1, &isnum);
    if (!isnum || lua_type(L, -1) != LUA_TNUMBER || !isfinite(v))
        vl_arg_error(a, field, "must be a finite number, got %s", describe(L, -1));
    lua_pop(L, 1);
    return v;
}

bool vl_field_bool(const vl_args *a, const char *field, bool def)
{
    lua_State *L = a->L;
    if (!get(a, field))
        return def;
    if (!lua_isboolean(L, -1))
        vl_arg_error(a, field, "must be a boolean, got %s", describe(L, -1));
    bool v = lua_toboolean(L, -1);
    lua_pop(L, 1);
    return v;
}

const char *vl_field_string(const vl_args *a, const char *field, const char *const *choices)
{
    lua_State *L = a->L;
    if (!get(a, field))
        return NULL;
    if (lua_type(L, -1) != LUA_TSTRING)
        vl_arg_error(a, field, "must be a string, got %s", describe(L, -1));
    const char *s = lua_tostring(L, -1);
    if (choices) {
        bool ok = false;
        for (const char *const *c = choices; *c && !ok; c++)
            ok = strcmp(*c, s) == 0;
        if (!ok) {
            luaL_Buffer b;
            luaL_buffinit(L, &b);
            for (const char *const *c = choices; *c; c++) {
                if (c != choices)
                    luaL_addstring(&b, c[1] ? ", " : " or ");
                lua_pushfstring(L, "'%s'", *c);
                luaL_addvalue(&b);
            }
            luaL_pushresult(&b);
            vl_arg_error(a, field, "must be %s, got '%s'", lua_tostring(L, -1), s);
        }
    }
    lua_pop(L, 1);   /* the table still holds the string */
    return s;
}

uint32_t vl_field_counts(const vl_args *a, const char *field, uint32_t *out, uint32_t cap)
{
    lua_State *L = a->L;
    if (!get(a, field))
        return 0;
    if (lua_isinteger(L, -1)) {   /* one head given as a number */
        lua_Integer v = lua_tointeger(L, -1);
        if (v < 1 || v > UINT32_MAX)
            vl_arg_error(a, field, "must hold positive integers, got %s", describe(L, -1));
        out[0] = (uint32_t)v;
        lua_pop(L, 1);
        return 1;
    }
    if (!lua_istable(L, -1))
        vl_arg_error(a, field, "must be a list of positive integers, got %s", describe(L, -1));
    lua_Integer n = luaL_len(L, -1);
    if (n > (lua_Integer)cap)
        vl_arg_error(a, field, "may list at most %d entries, got %d", (int)cap, (int)n);
    for (lua_Integer i = 1; i <= n; i++) {
        lua_geti(L, -1, i);
        int isint = 0;
        lua_Integer v = lua_tointegerx(L, -1, &isint);
        if (!isint || lua_type(L, -1) != LUA_TNUMBER || v < 1 || v > UINT32_MAX)
            vl_arg_error(a, field, "must hold positive integers, got %s at [%d]", describe(L, -1), (int)i);
        out[i - 1] = (uint32_t)v;
        lua_pop(L, 1);
    }
    lua_pop(L, 1);
    return (uint32_t)n;
}

void vl_field_numbers(const vl_args *a, const char *field, float *out, uint32_t n, bool *present)
{
    lua_State *L = a->L;
    *present = get(a, field);
    if (!*present)
        return;
    if (lua_type(L, -1) == LUA_TNUMBER) {
        double v = lua_tonumber(L, -1);
        if (!isfinite(v))
            vl_arg_error(a, field, "must be finite, got %s", describe(L, -1));
        for (uint32_t i = 0; i < n; i++)
            out[i] = (float)v;
        lua_pop(L, 1);
        return;
    }
    if (!lua_istable(L, -1))
        vl_arg_error(a, field, "must be a number or a list of %d numbers, got %s", (int)n, describe(L, -1));
    lua_Integer len = luaL_len(L, -1);
    if (len != (lua_Integer)n)
        vl_arg_error(a, field, "must list %d numbers, got %d", (int)n, (int)len);
    for (uint32_t i = 0; i < n; i++) {
        lua_geti(L, -1, i + 1);
        if (lua_type(L, -1) != LUA_TNUMBER || !isfinite(lua_tonumber(L, -1)))
            vl_arg_error(a, field, "must hold finite numbers, got %s at [%d]", describe(L, -1), (int)i + 1);
        out[i] = (float)lua_tonumber(L, -1);
        lua_pop(L, 1);
    }
    lua_pop(L, 1);
}

/* vksac.nearest(word, {keys…}) → the key closest to word by the rule
 * above, or nil: Lua code (vksac.train) suggests keys as C does. */
static int l_nearest(lua_State *L)
{
    const char *word = luaL_checkstring(L, 1);
    luaL_checktype(L, 2, LUA_TTABLE);
    lua_Integer n = luaL_len(L, 2);
    luaL_argcheck(L, n >= 0 && n < 4096, 2, "too many keys");
    const char **keys = lua_newuserdatauv(L, sizeof(*keys) * (size_t)(n + 1), 0);
    for (lua_Integer i = 1; i <= n; i++) {
        lua_geti(L, 2, i);
        keys[i - 1] = lua_tostring(L, -1);
        luaL_argcheck(L, keys[i - 1] != NULL, 2, "keys must be strings");
        lua_pop(L, 1);   /* the string stays alive in the table */
    }
    keys[n] = NULL;
    const char *near = vl_nearest(word, keys);
    if (near)
        lua_pushstring(L, near);
    else
        lua_pushnil(L);
    return 1;
}

void vl_open_args(lua_State *L)
{
    lua_pushcfunction(L, l_nearest);
    lua_setfield(L, -2, "nearest");
}
