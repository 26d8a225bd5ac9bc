/* Lua values into host tensors (the type is in tensor.c), vl_astensor
 * included: numbers, booleans and nested
 * tables converted exactly, tensors of another dtype cast, and errors that
 * name the element at fault ("element [2][1] must be ..."). */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "vl.h"

/* "[2][1]" for the 0-based index idx[0..n). */
static const char *push_index(lua_State *L, const int64_t *idx, int n)
{
    char buf[96] = "";
    for (int i = 0; i < n && i < VL_MAX_RANK; i++)
        snprintf(buf + strlen(buf), sizeof buf - strlen(buf), "[%lld]", (long long)idx[i] + 1);
    return lua_pushstring(L, buf);
}

static const char *push_flat_index(lua_State *L, const vl_tensor *t, size_t flat)
{
    int64_t idx[VL_MAX_RANK];
    for (int d = t->rank - 1; d >= 0; d--) {
        idx[d] = (int64_t)flat % t->shape[d];
        flat /= (size_t)t->shape[d];
    }
    return push_index(L, idx, t->rank);
}

static int conv_error(const vl_conv *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    const char *msg = lua_pushvfstring(c->L, fmt, ap);
    va_end(ap);
    if (c->what)
        msg = lua_pushfstring(c->L, "%s: %s", c->what, msg);
    if (c->fn)
        return luaL_error(c->L, "bad argument #%d to '%s' (%s)", c->arg, c->fn, msg);
    return luaL_error(c->L, "%s", msg);
}

static bool to_int32(lua_State *L, int idx, int32_t *out)
{
    if (lua_isinteger(L, idx)) {
        lua_Integer v = lua_tointeger(L, idx);
        *out = (int32_t)v;
        return v >= INT32_MIN && v <= INT32_MAX;
    }
    double v = lua_tonumber(L, idx);
    bool ok = v == floor(v) && v >= INT32_MIN && v <= INT32_MAX;   /* false for NaN */
    *out = ok ? (int32_t)v : 0;
    return ok;
}

void vl_store_value(const vl_conv *c, int idx, vl_dtype dtype, void *dst, const int64_t *path, int n)
{
    lua_State *L = c->L;
    idx = lua_absindex(L, idx);   /* the message is pushed before describing it */
    int ty = lua_type(L, idx);
    const char *expected = "a number or boolean";
    int32_t i = 0;
    if (ty == LUA_TBOOLEAN || (ty == LUA_TNUMBER && dtype != VL_I32)) {
        double v = ty == LUA_TBOOLEAN ? lua_toboolean(L, idx) : lua_tonumber(L, idx);
        if (dtype == VL_F32)
            *(float *)dst = vl_to_f32(v);
        else if (dtype == VL_I32)
            *(int32_t *)dst = (int32_t)v;
        else
            *(uint8_t *)dst = v != 0;
        return;
    }
    if (ty == LUA_TNUMBER) {
        if (to_int32(L, idx, &i)) {
            *(int32_t *)dst = i;
            return;
        }
        expected = "an integer in int32 range";
    }
    const char *where = n ? lua_pushfstring(L, "element %s", push_index(L, path, n)) : "value";
    conv_error(c, "%s must be %s, got %s", where, expected, vl_describe(L, idx));
}

/* The shape of a nested table, following first entries down. */
static int table_shape(const vl_conv *c, int idx, int64_t *shape)
{
    lua_State *L = c->L;
    int rank = 0;
    lua_pushvalue(L, idx);
    for (;;) {
        if (rank == VL_MAX_RANK)
            conv_error(c, "nested table is deeper than %d levels", VL_MAX_RANK);
        shape[rank++] = (int64_t)lua_rawlen(L, -1);
        if (shape[rank - 1] == 0)
            break;
        if (lua_rawgeti(L, -1, 1) != LUA_TTABLE) {
            lua_pop(L, 1);
            break;
        }
        lua_remove(L, -2);
    }
    lua_pop(L, 1);
    return rank;
}

typedef struct filler {
    const vl_conv *c;
    vl_tensor *t;
    size_t pos;
    int64_t path[VL_MAX_RANK];
    bool all_bool;           /* every leaf so far is a boolean */
} filler;

/* "row 2" at the top level, "row [1][2]" below. */
static const char *push_row(lua_State *L, const int64_t *path, int n)
{
    if (n == 1)
        return lua_pushfstring(L, "row %I", (lua_Integer)path[0] + 1);
    return lua_pushfstring(L, "row %s", push_index(L, path, n));
}

/* Fills from the table on top of the stack, at depth `depth`. */
static void fill_rows(filler *f, int depth)
{
    lua_State *L = f->c->L;
    const vl_tensor *t = f->t;
    int64_t n = t->shape[depth], len = (int64_t)lua_rawlen(L, -1);
    if (len != n)
        conv_error(f->c, "ragged nested table: %s has %I entr%s, expected %I", push_row(L, f->path, depth),
                   (lua_Integer)len, len == 1 ? "y" : "ies", (lua_Integer)n);
    bool leaf = depth + 1 >= t->rank || depth + 1 >= VL_MAX_RANK;   /* the second bound tells GCC the recursion ends */
    for (int64_t i = 0; i < n; i++) {
        f->path[depth] = i;
        int ty = lua_rawgeti(L, -1, i + 1);
        if (leaf) {
            f->all_bool &= ty == LUA_TBOOLEAN;
            vl_store_value(f->c, -1, t->dtype, (char *)t->data + f->pos++ * vl_esize(t->dtype), f->path, depth + 1);
        } else if (ty == LUA_TTABLE) {
            fill_rows(f, depth + 1);
        } else {
            const char *got = vl_type_name(L, -1);   /* before pushing the row's name */
            conv_error(f->c, "ragged nested table: %s is a %s, expected a table", push_row(L, f->path, depth + 1), got);
        }
        lua_pop(L, 1);
    }
}

vl_tensor *vl_from_table(const vl_conv *c, int idx, vl_dtype dtype, bool infer)
{
    lua_State *L = c->L;
    idx = lua_absindex(L, idx);   /* the new tensor is pushed before the table is read */
    int64_t shape[VL_MAX_RANK];
    int rank = table_shape(c, idx, shape);
    size_t numel;
    const char *why = vl_shape_problem(L, rank, shape, &numel);
    if (why)
        conv_error(c, "%s", why);
    vl_tensor *t = vl_pushtensor(L, dtype, rank, shape);
    filler f = {.c = c, .t = t, .all_bool = true};
    lua_pushvalue(L, idx);
    fill_rows(&f, 0);   /* a table has rank >= 1 */
    lua_pop(L, 1);
    if (infer && f.all_bool && t->numel > 0 && dtype != VL_BOOL) {
        vl_tensor *b = vl_pushlike(L, VL_BOOL, t);
        for (size_t i = 0; i < t->numel; i++)
            ((uint8_t *)b->data)[i] = vl_get(t, i) != 0;
        lua_remove(L, -2);
        t = b;
    }
    return t;
}

vl_tensor *vl_from_scalar(const vl_conv *c, int idx, vl_dtype dtype)
{
    idx = lua_absindex(c->L, idx);
    vl_tensor *t = vl_pushtensor(c->L, dtype, 0, NULL);
    vl_store_value(c, idx, dtype, t->data, NULL, 0);
    return t;
}

void vl_cast(const vl_conv *c, const vl_tensor *src, vl_tensor *dst, bool exact)
{
    if (src->dtype == dst->dtype) {
        memcpy(dst->data, src->data, src->numel * vl_esize(src->dtype));
        return;
    }
    bool check = src->dtype == VL_F32 && dst->dtype == VL_I32;
    for (size_t i = 0; i < src->numel; i++) {
        double v = vl_get(src, i);
        if (check) {
            double w = exact ? v : trunc(v);
            if (!(w == floor(w) && w >= INT32_MIN && w <= INT32_MAX))
                conv_error(c, "element %s must be %s, got %f", push_flat_index(c->L, src, i),
                           exact ? "an integer in int32 range" : "finite and in int32 range", (lua_Number)v);
            v = w;
        }
        switch (dst->dtype) {
        case VL_F32: ((float *)dst->data)[i] = (float)v; break;
        case VL_I32: ((int32_t *)dst->data)[i] = (int32_t)v; break;
        default: ((uint8_t *)dst->data)[i] = v != 0; break;
        }
    }
}

vl_tensor *vl_as_tensor(const vl_conv *c, int idx, vl_dtype dtype)
{
    lua_State *L = c->L;
    idx = lua_absindex(L, idx);
    vl_tensor *t = vl_totensor(L, idx);
    if (t && t->dtype == dtype)
        return t;
    int ty = lua_type(L, idx);
    if (t) {
        vl_tensor *u = vl_pushlike(L, dtype, t);
        vl_cast(c, t, u, true);
        t = u;
    } else if (ty == LUA_TNUMBER || (ty == LUA_TBOOLEAN && dtype == VL_BOOL)) {
        t = vl_from_scalar(c, idx, dtype);
    } else if (ty == LUA_TTABLE) {
        t = vl_from_table(c, idx, dtype, false);
    } else {
        vl_conv plain = {L, c->fn, c->arg, NULL};
        conv_error(&plain, "%s must be a tensor or a table of numbers, got %s", c->what ? c->what : "value",
                   vl_type_name(L, idx));
    }
    lua_replace(L, idx);
    return t;
}

static const char *current_function(lua_State *L)
{
    lua_Debug ar;
    if (lua_getstack(L, 0, &ar) && lua_getinfo(L, "n", &ar) && ar.name)
        return ar.name;
    return "?";
}

vl_tensor *vl_astensor(lua_State *L, int idx, vl_dtype dtype, const char *fn, int arg, const char *what)
{
    vl_conv c = {L, fn ? fn : current_function(L), arg, what};
    return vl_as_tensor(&c, idx, dtype);
}
