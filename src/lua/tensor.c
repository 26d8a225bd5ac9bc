/* Host tensors: the Lua front end's value for observations, actions and
 * batches. A userdata holding a vl_tensor whose data is a separate malloc,
 * so that close() frees it before the collector runs; a closed tensor has
 * data == NULL (an empty tensor still owns one byte). In Lua, indices and
 * dimensions are 1-based and negative ones count from the end.
 *
 * This file: the type, conversions to and from Lua values, constructors,
 * indexing and the simple methods. tensor_ops.c has the arithmetic,
 * comparisons, elementwise math and reductions; tensor_print.c tostring;
 * random.c rand, randn and the seeds. */
#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vl.h"

/* Counts and indices then always fit an int32 (arange, max's indices). */
#define MAX_NUMEL INT32_MAX

/* Our own function names: luaL_argerror finds none under pcall, and
 * counts self differently depending on how a method was called. */
#define ARGERR(L, fn, arg, ...) vl_arg_error(&(vl_args){(L), 0, (arg), (fn)}, NULL, __VA_ARGS__)

static const char *const DTYPES[] = {"float32", "int32", "bool", NULL};

const char *vl_dtype_name(vl_dtype dtype) { return (unsigned)dtype <= VL_BOOL ? DTYPES[dtype] : "?"; }

static size_t esize(vl_dtype dtype) { return dtype == VL_BOOL ? 1 : 4; }

/* Out-of-range doubles saturate instead of relying on the FPU (C leaves
 * the conversion undefined). */
static float to_f32(double v) { return v > FLT_MAX ? INFINITY : v < -FLT_MAX ? -INFINITY : (float)v; }

double vl_get(const vl_tensor *t, size_t i)
{
    switch (t->dtype) {
    case VL_F32: return ((const float *)t->data)[i];
    case VL_I32: return ((const int32_t *)t->data)[i];
    default: return ((const uint8_t *)t->data)[i];
    }
}

/* For type errors: the type, or the __name of a userdata. */
static const char *type_name(lua_State *L, int idx)
{
    if (luaL_getmetafield(L, idx, "__name") == LUA_TSTRING)
        return lua_tostring(L, -1);
    return luaL_typename(L, idx);
}

/* For value errors: numbers and strings as written, other values by type. */
static const char *describe(lua_State *L, int idx)
{
    if (lua_type(L, idx) == LUA_TNUMBER)
        return luaL_tolstring(L, idx, NULL);
    if (lua_type(L, idx) == LUA_TSTRING)
        return lua_pushfstring(L, "'%s'", lua_tostring(L, idx));
    return type_name(L, idx);
}

const char *vl_pushshape(lua_State *L, int rank, const int64_t *shape)
{
    char buf[96] = "{";
    for (int i = 0; i < rank && i < VL_MAX_RANK; i++)
        snprintf(buf + strlen(buf), sizeof buf - strlen(buf), "%s%lld", i ? ", " : "", (long long)shape[i]);
    strcat(buf, "}");
    return lua_pushstring(L, buf);
}

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

/* NULL when the shape is valid (and *numel set), else why not, pushed. */
static const char *shape_problem(lua_State *L, int rank, const int64_t *shape, size_t *numel)
{
    if (rank < 0 || rank > VL_MAX_RANK)
        return lua_pushfstring(L, "a tensor has at most %d dimensions, got %d", VL_MAX_RANK, rank);
    bool empty = false;
    for (int i = 0; i < rank; i++) {
        if (shape[i] < 0)
            return lua_pushfstring(L, "size must be non-negative, got %I", (lua_Integer)shape[i]);
        empty |= shape[i] == 0;
    }
    int64_t n = 1;
    for (int i = 0; i < rank && !empty; i++) {
        if (shape[i] > MAX_NUMEL / n)
            return lua_pushfstring(L, "shape %s has more than %d elements", vl_pushshape(L, rank, shape), MAX_NUMEL);
        n *= shape[i];
    }
    *numel = empty ? 0 : (size_t)n;
    return NULL;
}

vl_tensor *vl_pushtensor(lua_State *L, vl_dtype dtype, int rank, const int64_t *shape)
{
    size_t numel = 0;
    const char *why = (unsigned)dtype > VL_BOOL ? "invalid dtype" : shape_problem(L, rank, shape, &numel);
    if (why)
        luaL_error(L, "%s", why);
    vl_tensor *t = lua_newuserdatauv(L, sizeof *t, 0);
    memset(t, 0, sizeof *t);   /* data NULL: safe to collect until allocated */
    t->dtype = dtype;
    t->rank = rank;
    if (rank)
        memcpy(t->shape, shape, (size_t)rank * sizeof *shape);
    t->numel = numel;
    luaL_setmetatable(L, VL_TENSOR);
    size_t bytes = numel * esize(dtype);
    t->data = calloc(bytes ? bytes : 1, 1);
    if (!t->data)
        luaL_error(L, "not enough memory for a tensor of %I elements", (lua_Integer)numel);
    /* The collector does not see malloc'd data: count it as Lua allocation
     * so that big tensors dropped in a loop get collected in time. */
    if (bytes >= 1024 && lua_gc(L, LUA_GCISRUNNING))
        lua_gc(L, LUA_GCSTEP, (int)(bytes >> 10));
    return t;
}

static vl_tensor *push_like(lua_State *L, vl_dtype dtype, const vl_tensor *t)
{
    return vl_pushtensor(L, dtype, t->rank, t->shape);
}

vl_tensor *vl_totensor(lua_State *L, int idx)
{
    vl_tensor *t = luaL_testudata(L, idx, VL_TENSOR);
    if (t && !t->data)
        luaL_error(L, "attempt to use a closed Tensor");
    return t;
}

vl_tensor *vl_checktensor(lua_State *L, int idx)
{
    vl_tensor *t = vl_totensor(L, idx);
    if (!t)
        luaL_typeerror(L, idx, VL_TENSOR);
    return t;
}

void vl_pushelement(lua_State *L, const vl_tensor *t, size_t i)
{
    switch (t->dtype) {
    case VL_F32: lua_pushnumber(L, ((const float *)t->data)[i]); break;
    case VL_I32: lua_pushinteger(L, ((const int32_t *)t->data)[i]); break;
    default: lua_pushboolean(L, ((const uint8_t *)t->data)[i]); break;
    }
}

int vl_checkdim(lua_State *L, int idx, int rank, const char *fn, int arg)
{
    int isint = 0;
    lua_Integer d = lua_tointegerx(L, idx, &isint);
    if (lua_type(L, idx) != LUA_TNUMBER || !isint)
        ARGERR(L, fn, arg, "dimension must be an integer, got %s", describe(L, idx));
    lua_Integer k = d < 0 ? d + rank : d - 1;
    if (k < 0 || k >= rank)
        ARGERR(L, fn, arg, "dimension %I out of range for %d dimensions", d, rank);
    return (int)k;
}

/* ---- Lua values into tensors ------------------------------------------- */

/* Where conversion errors point: "bad argument #arg to 'fn' (what: ...)",
 * or, from a metamethod (fn NULL), just the message. */
typedef struct conv {
    lua_State *L;
    const char *fn;
    int arg;
    const char *what;
} conv;

static int conv_error(const conv *c, const char *fmt, ...)
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

/* Stores the number or boolean at idx as one element of dtype; path[0..n)
 * names it in errors ("element [2][1]"), n == 0 as "value". Exact: an
 * int32 takes integers only; booleans are 1 and 0; bool is "nonzero". */
static void store_value(const conv *c, int idx, vl_dtype dtype, void *dst, const int64_t *path, int n)
{
    lua_State *L = c->L;
    idx = lua_absindex(L, idx);   /* the message is pushed before describing it */
    int ty = lua_type(L, idx);
    const char *expected = "a number or boolean";
    int32_t i = 0;
    if (ty == LUA_TBOOLEAN || (ty == LUA_TNUMBER && dtype != VL_I32)) {
        double v = ty == LUA_TBOOLEAN ? lua_toboolean(L, idx) : lua_tonumber(L, idx);
        if (dtype == VL_F32)
            *(float *)dst = to_f32(v);
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
    conv_error(c, "%s must be %s, got %s", where, expected, describe(L, idx));
}

/* The shape of a nested table, following first entries down. */
static int table_shape(const conv *c, int idx, int64_t *shape)
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
    const conv *c;
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
    bool leaf = depth + 1 == t->rank;
    for (int64_t i = 0; i < n; i++) {
        f->path[depth] = i;
        int ty = lua_rawgeti(L, -1, i + 1);
        if (leaf) {
            f->all_bool &= ty == LUA_TBOOLEAN;
            store_value(f->c, -1, t->dtype, (char *)t->data + f->pos++ * esize(t->dtype), f->path, depth + 1);
        } else if (ty == LUA_TTABLE) {
            fill_rows(f, depth + 1);
        } else {
            const char *got = type_name(L, -1);   /* before pushing the row's name */
            conv_error(f->c, "ragged nested table: %s is a %s, expected a table", push_row(L, f->path, depth + 1), got);
        }
        lua_pop(L, 1);
    }
}

/* Pushes a tensor from the nested table at (absolute) idx. With `infer`,
 * a table of booleans only gives bool, anything else dtype. */
static vl_tensor *from_table(const conv *c, int idx, vl_dtype dtype, bool infer)
{
    lua_State *L = c->L;
    int64_t shape[VL_MAX_RANK];
    int rank = table_shape(c, idx, shape);
    size_t numel;
    const char *why = shape_problem(L, rank, shape, &numel);
    if (why)
        conv_error(c, "%s", why);
    vl_tensor *t = vl_pushtensor(L, dtype, rank, shape);
    filler f = {.c = c, .t = t, .all_bool = true};
    lua_pushvalue(L, idx);
    fill_rows(&f, 0);   /* a table has rank >= 1 */
    lua_pop(L, 1);
    if (infer && f.all_bool && t->numel > 0 && dtype != VL_BOOL) {
        vl_tensor *b = push_like(L, VL_BOOL, t);
        for (size_t i = 0; i < t->numel; i++)
            ((uint8_t *)b->data)[i] = vl_get(t, i) != 0;
        lua_remove(L, -2);
        t = b;
    }
    return t;
}

static vl_tensor *from_scalar(const conv *c, int idx, vl_dtype dtype)
{
    idx = lua_absindex(c->L, idx);
    vl_tensor *t = vl_pushtensor(c->L, dtype, 0, NULL);
    store_value(c, idx, dtype, t->data, NULL, 0);
    return t;
}

/* Copies src's elements into dst (same numel) as dst's dtype. float32 to
 * int32 truncates toward zero, or with `exact` refuses fractions; NaN,
 * infinities and out-of-range values raise, naming the element. */
static void cast(const conv *c, const vl_tensor *src, vl_tensor *dst, bool exact)
{
    if (src->dtype == dst->dtype) {
        memcpy(dst->data, src->data, src->numel * esize(src->dtype));
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

static vl_tensor *as_tensor(const conv *c, int idx, vl_dtype dtype)
{
    lua_State *L = c->L;
    idx = lua_absindex(L, idx);
    vl_tensor *t = vl_totensor(L, idx);
    if (t && t->dtype == dtype)
        return t;
    int ty = lua_type(L, idx);
    if (t) {
        vl_tensor *u = push_like(L, dtype, t);
        cast(c, t, u, true);
        t = u;
    } else if (ty == LUA_TNUMBER || (ty == LUA_TBOOLEAN && dtype == VL_BOOL)) {
        t = from_scalar(c, idx, dtype);
    } else if (ty == LUA_TTABLE) {
        t = from_table(c, idx, dtype, false);
    } else {
        conv plain = {L, c->fn, c->arg, NULL};
        conv_error(&plain, "%s must be a tensor or a table of numbers, got %s", c->what ? c->what : "value",
                   type_name(L, idx));
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
    conv c = {L, fn ? fn : current_function(L), arg, what};
    return as_tensor(&c, idx, dtype);
}

/* ---- constructors --------------------------------------------------------
 * Reported argument numbers are stack index - shift (1 for methods). */

static vl_dtype opt_dtype(lua_State *L, const char *fn, int idx, int shift, vl_dtype def)
{
    if (lua_isnoneornil(L, idx))
        return def;
    const char *s = lua_type(L, idx) == LUA_TSTRING ? lua_tostring(L, idx) : NULL;
    for (int d = 0; s && DTYPES[d]; d++)
        if (strcmp(s, DTYPES[d]) == 0)
            return (vl_dtype)d;
    return ARGERR(L, fn, idx - shift, "dtype must be 'float32', 'int32' or 'bool', got %s", describe(L, idx));
}

static int64_t check_size(lua_State *L, const char *fn, int arg, int idx, int entry, bool infer)
{
    int isint = 0;
    lua_Integer v = lua_tointegerx(L, idx, &isint);
    if (lua_type(L, idx) == LUA_TNUMBER && isint && (v >= 0 || (infer && v == -1)))
        return v;
    const char *got = describe(L, idx);
    if (entry)
        ARGERR(L, fn, arg, "shape entry [%d] must be a non-negative integer, got %s", entry, got);
    return ARGERR(L, fn, arg, "size must be a non-negative integer, got %s", got);
}

/* A shape given as integers from idx on or as one table at idx; returns
 * the index after it. With `infer`, sizes may be -1. */
static int read_shape(lua_State *L, const char *fn, int idx, int shift, int *rank, int64_t *shape, bool infer)
{
    int n = 0;
    if (lua_type(L, idx) == LUA_TTABLE) {
        lua_Unsigned len = lua_rawlen(L, idx);
        if (len > VL_MAX_RANK)
            ARGERR(L, fn, idx - shift, "a tensor has at most %d dimensions, got %I", VL_MAX_RANK, (lua_Integer)len);
        for (n = 0; n < (int)len; n++) {
            lua_rawgeti(L, idx, n + 1);
            shape[n] = check_size(L, fn, idx - shift, -1, n + 1, infer);
            lua_pop(L, 1);
        }
        *rank = n;
        return idx + 1;
    }
    for (; lua_type(L, idx + n) == LUA_TNUMBER; n++) {
        if (n == VL_MAX_RANK)
            ARGERR(L, fn, idx + n - shift, "a tensor has at most %d dimensions", VL_MAX_RANK);
        shape[n] = check_size(L, fn, idx + n - shift, idx + n, 0, infer);
    }
    *rank = n;
    return idx + n;
}

static vl_tensor *push_checked(lua_State *L, const char *fn, int arg, vl_dtype dtype, int rank, const int64_t *shape)
{
    size_t numel;
    const char *why = shape_problem(L, rank, shape, &numel);
    if (why)
        ARGERR(L, fn, arg, "%s", why);
    return vl_pushtensor(L, dtype, rank, shape);
}

static void fill_with(vl_tensor *t, const void *value)
{
    size_t es = esize(t->dtype);
    for (size_t i = 0; i < t->numel; i++)
        memcpy((char *)t->data + i * es, value, es);
}

/* zeros/ones/rand/randn(d1, ..., dn | {shape} [, dtype]) */
vl_tensor *vl_shaped(lua_State *L, const char *fn, bool float_only)
{
    int rank;
    int64_t shape[VL_MAX_RANK];
    int next = read_shape(L, fn, 1, 0, &rank, shape, false);
    vl_dtype dtype = opt_dtype(L, fn, next, 0, VL_F32);
    if (float_only && dtype != VL_F32)
        ARGERR(L, fn, next, "dtype must be 'float32', got '%s'", vl_dtype_name(dtype));
    return push_checked(L, fn, 1, dtype, rank, shape);
}

static int l_zeros(lua_State *L)
{
    vl_shaped(L, "zeros", false);
    return 1;
}

static int l_ones(lua_State *L)
{
    vl_tensor *t = vl_shaped(L, "ones", false);
    union { float f; int32_t i; uint8_t b; } one;
    if (t->dtype == VL_F32)
        one.f = 1;
    else if (t->dtype == VL_I32)
        one.i = 1;
    else
        one.b = 1;
    fill_with(t, &one);
    return 1;
}

/* full(shape, value [, dtype]): shape is a table or one integer (a
 * vector); dtype defaults to bool for a boolean value, else float32. */
static int l_full(lua_State *L)
{
    int rank = 1;
    int64_t shape[VL_MAX_RANK];
    if (lua_type(L, 1) == LUA_TNUMBER)
        shape[0] = check_size(L, "full", 1, 1, 0, false);
    else if (lua_istable(L, 1))
        read_shape(L, "full", 1, 0, &rank, shape, false);
    else
        ARGERR(L, "full", 1, "shape must be a table or an integer, got %s", type_name(L, 1));
    int ty = lua_type(L, 2);
    if (ty != LUA_TNUMBER && ty != LUA_TBOOLEAN)
        ARGERR(L, "full", 2, "value must be a number or boolean, got %s", type_name(L, 2));
    vl_dtype dtype = opt_dtype(L, "full", 3, 0, ty == LUA_TBOOLEAN ? VL_BOOL : VL_F32);
    int32_t value;           /* room for any element */
    store_value(&(conv){L, "full", 2, NULL}, 2, dtype, &value, NULL, 0);
    fill_with(push_checked(L, "full", 1, dtype, rank, shape), &value);
    return 1;
}

/* tensor(value [, dtype]): a copy of a tensor (keeping its dtype), or a
 * number, a boolean or a nested table of them. Without dtype, booleans and
 * tables of booleans only give bool, other values float32. */
static int l_tensor(lua_State *L)
{
    vl_tensor *src = vl_totensor(L, 1);
    int ty = lua_type(L, 1);
    if (!src && ty != LUA_TNUMBER && ty != LUA_TBOOLEAN && ty != LUA_TTABLE)
        ARGERR(L, "tensor", 1, "number, boolean, table or vksac.Tensor expected, got %s", type_name(L, 1));
    vl_dtype def = src ? src->dtype : ty == LUA_TBOOLEAN ? VL_BOOL : VL_F32;
    vl_dtype dtype = opt_dtype(L, "tensor", 2, 0, def);
    conv c = {L, "tensor", 1, NULL};
    if (src)
        cast(&c, src, push_like(L, dtype, src), true);
    else if (ty == LUA_TTABLE)
        from_table(&c, 1, dtype, lua_isnoneornil(L, 2));
    else
        from_scalar(&c, 1, dtype);
    return 1;
}

static bool int_arg(lua_State *L, int idx, int64_t *out)
{
    if (lua_type(L, idx) != LUA_TNUMBER)
        ARGERR(L, "arange", idx, "number expected, got %s", type_name(L, idx));
    if (!lua_isinteger(L, idx))
        return false;
    lua_Integer v = lua_tointeger(L, idx);
    if (v < INT32_MIN || v > INT32_MAX)
        ARGERR(L, "arange", idx, "integer must be in int32 range, got %I", v);
    *out = v;
    return true;
}

/* arange(stop) or arange(start, stop [, step]): start, start + step, ...
 * up to and excluding stop. All integers: int32; else float32. */
static int l_arange(lua_State *L)
{
    int n = lua_gettop(L) < 2 ? 1 : lua_gettop(L) < 3 ? 2 : 3;
    int64_t iv[3] = {0, 0, 1};
    bool ints = true;
    for (int i = 0; i < n; i++)
        ints &= int_arg(L, i + 1, &iv[n == 1 ? 1 : i]);
    double start = n == 1 ? 0 : lua_tonumber(L, 1), stop = lua_tonumber(L, n == 1 ? 1 : 2);
    double step = n == 3 ? lua_tonumber(L, 3) : 1;
    if (step == 0 || !isfinite(start) || !isfinite(stop) || !isfinite(step))
        ARGERR(L, "arange", step == 0 ? 3 : 1, step == 0 ? "step must not be zero" : "bounds must be finite");
    double count = ceil((stop - start) / step);
    if (ints)
        count = (double)(iv[2] > 0 ? (iv[1] - iv[0] + iv[2] - 1) / iv[2] : (iv[0] - iv[1] - iv[2] - 1) / -iv[2]);
    int64_t len = count > 0 ? (count > MAX_NUMEL ? (int64_t)MAX_NUMEL + 1 : (int64_t)count) : 0;
    vl_tensor *t = push_checked(L, "arange", 1, ints ? VL_I32 : VL_F32, 1, &len);
    for (int64_t i = 0; i < len; i++) {
        if (ints)
            ((int32_t *)t->data)[i] = (int32_t)(iv[0] + i * iv[2]);
        else
            ((float *)t->data)[i] = to_f32(start + (double)i * step);
    }
    return 1;
}

/* cat(list [, dim]) joins tensors along dimension dim (default 1),
 * stack(list [, dim]) along a new one. The first entry sets the dtype
 * (float32 unless it is a tensor); the others are converted exactly. */
static int join(lua_State *L, const char *fn, bool stack)
{
    lua_settop(L, 2);
    if (!lua_istable(L, 1) || lua_rawlen(L, 1) == 0)
        ARGERR(L, fn, 1, "non-empty list of tensors expected, got %s", lua_istable(L, 1) ? "an empty table" : type_name(L, 1));
    lua_Integer n = (lua_Integer)lua_rawlen(L, 1);
    luaL_checkstack(L, n > INT32_MAX - 8 ? INT32_MAX : (int)n + 8, "too many tensors to join");
    vl_dtype dtype = VL_F32;
    for (lua_Integer i = 1; i <= n; i++) {
        lua_rawgeti(L, 1, i);
        if (i == 1 && vl_totensor(L, -1))
            dtype = vl_totensor(L, -1)->dtype;
        const char *what = lua_pushfstring(L, "entry [%I]", i);
        as_tensor(&(conv){L, fn, 1, what}, -2, dtype);
        lua_pop(L, 1);
    }
    const vl_tensor *first = lua_touserdata(L, 3);
    int rank = first->rank + stack;
    if (rank == 0)
        ARGERR(L, fn, 1, "0-dimensional tensors cannot be concatenated; use stack");
    int dim = lua_isnil(L, 2) ? 0 : vl_checkdim(L, 2, rank, fn, 2);
    int64_t shape[VL_MAX_RANK + 1];
    for (int d = 0, s = 0; d < rank; d++)
        shape[d] = stack && d == dim ? n : first->shape[s++];
    if (!stack)
        shape[dim] = 0;
    for (lua_Integer i = 1; i <= n; i++) {
        const vl_tensor *t = lua_touserdata(L, 2 + (int)i);
        bool same = t->rank == first->rank;
        for (int d = 0; same && d < t->rank; d++)
            same = t->shape[d] == first->shape[d] || (!stack && d == dim);
        if (!same)
            ARGERR(L, fn, 1, "entry [%I] has shape %s, expected %s", i, vl_pushshape(L, t->rank, t->shape),
                   vl_pushshape(L, first->rank, first->shape));
        if (!stack)
            shape[dim] += t->shape[dim];
    }
    vl_tensor *out = push_checked(L, fn, 1, dtype, rank, shape);
    size_t outer = out->numel ? 1 : 0, es = esize(dtype);   /* empty: maybe many empty chunks */
    for (int d = 0; d < dim; d++)
        outer *= (size_t)shape[d];
    char *dst = out->data;
    for (size_t o = 0; o < outer; o++) {
        for (lua_Integer i = 1; i <= n; i++) {
            const vl_tensor *t = lua_touserdata(L, 2 + (int)i);
            size_t chunk = outer ? t->numel / outer * es : 0;
            memcpy(dst, (const char *)t->data + o * chunk, chunk);
            dst += chunk;
        }
    }
    return 1;
}

static int l_cat(lua_State *L) { return join(L, "cat", false); }
static int l_stack(lua_State *L) { return join(L, "stack", true); }

static int l_is_tensor(lua_State *L)
{
    lua_pushboolean(L, luaL_testudata(L, 1, VL_TENSOR) != NULL);
    return 1;
}

/* ---- indexing ------------------------------------------------------------ */

static size_t row_numel(const vl_tensor *t)
{
    size_t n = 1;
    for (int d = 1; d < t->rank; d++)
        n *= (size_t)t->shape[d];
    return n;
}

/* The 0-based row for the index at idx (1-based, negative from the end). */
static int64_t row_index(lua_State *L, const vl_tensor *t, int idx)
{
    if (t->rank == 0)
        luaL_error(L, "attempt to index a 0-dimensional tensor");
    int isint = 0;
    lua_Integer i = lua_tointegerx(L, idx, &isint);
    if (!isint)
        luaL_error(L, "tensor index must be an integer, got %s", describe(L, idx));
    int64_t n = t->shape[0], j = i < 0 ? i + n : i - 1;
    if (j < 0 || j >= n)
        luaL_error(L, "index %I out of range for dimension of size %I", i, (lua_Integer)n);
    return j;
}

/* t[i]: an element of a vector, a copy of a row otherwise. */
static void push_row_of(lua_State *L, const vl_tensor *t, int64_t j)
{
    if (t->rank == 1) {
        vl_pushelement(L, t, (size_t)j);
        return;
    }
    vl_tensor *row = vl_pushtensor(L, t->dtype, t->rank - 1, t->shape + 1);
    size_t bytes = row->numel * esize(t->dtype);
    memcpy(row->data, (const char *)t->data + (size_t)j * bytes, bytes);
}

/* Methods for other keys (the method table is the upvalue). */
static int t_index(lua_State *L)
{
    if (lua_type(L, 2) != LUA_TNUMBER) {
        lua_settop(L, 2);
        lua_rawget(L, lua_upvalueindex(1));
        return 1;
    }
    vl_tensor *t = vl_checktensor(L, 1);
    push_row_of(L, t, row_index(L, t, 2));
    return 1;
}

/* t[i] = v: an element of a vector; for a row, a number or boolean (the
 * whole row), or a tensor or table of the row's shape. */
static int t_newindex(lua_State *L)
{
    vl_tensor *t = vl_checktensor(L, 1);
    if (lua_type(L, 2) != LUA_TNUMBER)
        return luaL_error(L, "cannot set field %s of a Tensor", describe(L, 2));
    int64_t j = row_index(L, t, 2);
    conv c = {L, NULL, 0, NULL};
    size_t n = row_numel(t), es = esize(t->dtype);
    int ty = lua_type(L, 3);
    if (t->rank == 1 || ty == LUA_TNUMBER || ty == LUA_TBOOLEAN) {
        int32_t value;
        store_value(&c, 3, t->dtype, &value, NULL, 0);
        for (size_t i = 0; i < n; i++)
            memcpy((char *)t->data + ((size_t)j * n + i) * es, &value, es);
        return 0;
    }
    vl_tensor *v = as_tensor(&c, 3, t->dtype);
    if (v->rank != t->rank - 1 || memcmp(v->shape, t->shape + 1, (size_t)v->rank * sizeof *v->shape) != 0)
        return luaL_error(L, "cannot assign a tensor of shape %s to a row of shape %s", vl_pushshape(L, v->rank, v->shape),
                          vl_pushshape(L, t->rank - 1, t->shape + 1));
    vl_checktensor(L, 1);   /* a finaliser run by the conversion may have closed it */
    memmove((char *)t->data + (size_t)j * n * es, v->data, n * es);
    return 0;
}

static int t_len(lua_State *L)
{
    vl_tensor *t = vl_checktensor(L, 1);
    if (t->rank == 0)
        return luaL_error(L, "attempt to get length of a 0-dimensional tensor");
    lua_pushinteger(L, t->shape[0]);
    return 1;
}

static int pairs_next(lua_State *L)
{
    vl_tensor *t = vl_checktensor(L, 1);
    lua_Integer i = luaL_checkinteger(L, 2);
    if (i < 0 || i >= t->shape[0])
        return 0;
    lua_pushinteger(L, i + 1);
    push_row_of(L, t, i);
    return 2;
}

/* for i, row in pairs(t): the rows (or elements) along the first dim. */
static int t_pairs(lua_State *L)
{
    vl_tensor *t = vl_checktensor(L, 1);
    if (t->rank == 0)
        return luaL_error(L, "attempt to iterate over a 0-dimensional tensor");
    lua_pushcfunction(L, pairs_next);
    lua_pushvalue(L, 1);
    lua_pushinteger(L, 0);
    return 3;
}

/* ---- methods ------------------------------------------------------------- */

static int t_shape(lua_State *L)
{
    vl_tensor *t = vl_checktensor(L, 1);
    lua_createtable(L, t->rank, 0);
    for (int d = 0; d < t->rank; d++) {
        lua_pushinteger(L, t->shape[d]);
        lua_rawseti(L, -2, d + 1);
    }
    return 1;
}

/* size(dim) is one size; size() the shape. */
static int t_size(lua_State *L)
{
    vl_tensor *t = vl_checktensor(L, 1);
    if (lua_isnoneornil(L, 2))
        return t_shape(L);
    lua_pushinteger(L, t->shape[vl_checkdim(L, 2, t->rank, "size", 1)]);
    return 1;
}

static int t_dim(lua_State *L)
{
    lua_pushinteger(L, vl_checktensor(L, 1)->rank);
    return 1;
}

static int t_numel(lua_State *L)
{
    lua_pushinteger(L, (lua_Integer)vl_checktensor(L, 1)->numel);
    return 1;
}

static int t_dtype(lua_State *L)
{
    lua_pushstring(L, vl_dtype_name(vl_checktensor(L, 1)->dtype));
    return 1;
}

static void push_nested(lua_State *L, const vl_tensor *t, int depth, size_t *pos)
{
    if (depth >= t->rank || depth >= VL_MAX_RANK) {   /* the second bound tells GCC the recursion ends */
        vl_pushelement(L, t, (*pos)++);
        return;
    }
    int64_t n = t->shape[depth];
    lua_createtable(L, n > INT32_MAX ? 0 : (int)n, 0);
    for (int64_t i = 0; i < n; i++) {
        push_nested(L, t, depth + 1, pos);
        lua_rawseti(L, -2, i + 1);
    }
}

/* Nested tables; a 0-dimensional tensor gives its value. */
static int t_totable(lua_State *L)
{
    size_t pos = 0;
    push_nested(L, vl_checktensor(L, 1), 0, &pos);
    return 1;
}

static int t_item(lua_State *L)
{
    vl_tensor *t = vl_checktensor(L, 1);
    if (t->numel != 1)
        return luaL_error(L, "item() needs a tensor of one element, got %I elements", (lua_Integer)t->numel);
    vl_pushelement(L, t, 0);
    return 1;
}

static int t_clone(lua_State *L)
{
    vl_tensor *t = vl_checktensor(L, 1);
    vl_tensor *u = push_like(L, t->dtype, t);
    memcpy(u->data, t->data, t->numel * esize(t->dtype));
    return 1;
}

/* float(), int(), bool(): the tensor itself when it has that dtype, else
 * a converted copy; int() truncates toward zero. */
static int convert_to(lua_State *L, vl_dtype dtype)
{
    vl_tensor *t = vl_checktensor(L, 1);
    lua_settop(L, 1);
    if (t->dtype != dtype) {
        const char *what = lua_pushfstring(L, "cannot convert to %s", vl_dtype_name(dtype));
        cast(&(conv){L, NULL, 0, what}, t, push_like(L, dtype, t), false);
    }
    return 1;
}

static int t_float(lua_State *L) { return convert_to(L, VL_F32); }
static int t_int(lua_State *L) { return convert_to(L, VL_I32); }
static int t_bool(lua_State *L) { return convert_to(L, VL_BOOL); }

/* One size of the new shape may be -1: whatever makes the count match. */
static int reshape(lua_State *L, const char *fn)
{
    vl_tensor *t = vl_checktensor(L, 1);
    int rank, infer = -1;
    int64_t shape[VL_MAX_RANK], known = 1;
    read_shape(L, fn, 2, 1, &rank, shape, true);
    for (int d = 0; d < rank; d++) {
        if (shape[d] == -1 && infer >= 0)
            ARGERR(L, fn, 1, "only one size may be -1");
        if (shape[d] == -1)
            infer = d;
        else if (known > 0 && shape[d] > MAX_NUMEL / known)
            known = (int64_t)MAX_NUMEL + 1;   /* too many, whatever the rest */
        else
            known *= shape[d];
    }
    if (infer >= 0)
        shape[infer] = known > 0 && (int64_t)t->numel % known == 0 ? (int64_t)t->numel / known : -1;
    if ((infer >= 0 && shape[infer] < 0) || (infer < 0 && known != (int64_t)t->numel))
        ARGERR(L, fn, 1, "cannot reshape a tensor of %I elements into %s", (lua_Integer)t->numel,
               vl_pushshape(L, rank, shape));
    vl_tensor *u = vl_pushtensor(L, t->dtype, rank, shape);
    memcpy(u->data, t->data, t->numel * esize(t->dtype));
    return 1;
}

static int t_reshape(lua_State *L) { return reshape(L, "reshape"); }
static int t_view(lua_State *L) { return reshape(L, "view"); }

/* fill(v) and copy(src) write in place and return the tensor. */
static int t_fill(lua_State *L)
{
    vl_tensor *t = vl_checktensor(L, 1);
    int32_t value;
    store_value(&(conv){L, "fill", 1, NULL}, 2, t->dtype, &value, NULL, 0);
    fill_with(t, &value);
    lua_settop(L, 1);
    return 1;
}

static int t_copy(lua_State *L)
{
    vl_tensor *t = vl_checktensor(L, 1);
    lua_settop(L, 2);
    vl_tensor *src = as_tensor(&(conv){L, "copy", 1, "source"}, 2, t->dtype);
    if (src->rank != t->rank || memcmp(src->shape, t->shape, (size_t)t->rank * sizeof *t->shape) != 0)
        ARGERR(L, "copy", 1, "source has shape %s, expected %s", vl_pushshape(L, src->rank, src->shape),
               vl_pushshape(L, t->rank, t->shape));
    vl_checktensor(L, 1);
    memmove(t->data, src->data, t->numel * esize(t->dtype));
    lua_settop(L, 1);
    return 1;
}

/* __gc, __close and close(): frees the data; again is harmless. */
static int t_close(lua_State *L)
{
    vl_tensor *t = luaL_checkudata(L, 1, VL_TENSOR);
    free(t->data);
    t->data = NULL;
    return 0;
}

/* ==: same shape, dtype and values (NaN equals nothing). */
static int t_eq(lua_State *L)
{
    const vl_tensor *a = luaL_testudata(L, 1, VL_TENSOR), *b = luaL_testudata(L, 2, VL_TENSOR);
    bool eq = a && b && a->data && b->data && a->dtype == b->dtype && a->rank == b->rank &&
              memcmp(a->shape, b->shape, (size_t)a->rank * sizeof *a->shape) == 0;
    for (size_t i = 0; eq && i < a->numel; i++)
        eq = vl_get(a, i) == vl_get(b, i);
    lua_pushboolean(L, eq);
    return 1;
}

static const luaL_Reg functions[] = {
    {"tensor", l_tensor}, {"zeros", l_zeros}, {"ones", l_ones}, {"full", l_full},
    {"arange", l_arange},
    {"cat", l_cat}, {"stack", l_stack}, {"is_tensor", l_is_tensor}, {NULL, NULL},
};

static const luaL_Reg methods[] = {
    {"shape", t_shape}, {"size", t_size}, {"dim", t_dim}, {"numel", t_numel},
    {"dtype", t_dtype}, {"totable", t_totable}, {"item", t_item}, {"clone", t_clone},
    {"float", t_float}, {"int", t_int}, {"bool", t_bool}, {"reshape", t_reshape},
    {"view", t_view}, {"fill", t_fill}, {"copy", t_copy}, {"close", t_close},
    {NULL, NULL},
};

static const luaL_Reg metamethods[] = {
    {"__newindex", t_newindex}, {"__len", t_len}, {"__pairs", t_pairs}, {"__tostring", vl_tensor_tostring},
    {"__eq", t_eq}, {"__gc", t_close}, {"__close", t_close}, {NULL, NULL},
};

void vl_open_tensor(lua_State *L)
{
    luaL_setfuncs(L, functions, 0);
    for (int d = 0; DTYPES[d]; d++) {
        lua_pushstring(L, DTYPES[d]);
        lua_setfield(L, -2, DTYPES[d]);
    }
    luaL_newmetatable(L, VL_TENSOR);
    luaL_setfuncs(L, metamethods, 0);
    lua_newtable(L);
    luaL_setfuncs(L, methods, 0);
    vl_open_tensor_ops(L);
    lua_pushcclosure(L, t_index, 1);
    lua_setfield(L, -2, "__index");
    lua_pop(L, 1);
}
