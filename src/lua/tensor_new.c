/* Tensor constructors: tensor, zeros, ones, full, arange, cat and stack
 * (rand and randn are in random.c), and vl_shaped and vl_shape_args, which
 * random.c and reshape share. */
#include <math.h>
#include <string.h>

#include "vl.h"

static vl_dtype opt_dtype(lua_State *L, const char *fn, int idx, int shift, vl_dtype def)
{
    if (lua_isnoneornil(L, idx))
        return def;
    const char *s = lua_type(L, idx) == LUA_TSTRING ? lua_tostring(L, idx) : NULL;
    for (int d = 0; s && d <= VL_BOOL; d++)
        if (strcmp(s, vl_dtype_name((vl_dtype)d)) == 0)
            return (vl_dtype)d;
    return VL_ARGERR(L, fn, idx - shift, "dtype must be 'float32', 'int32' or 'bool', got %s", vl_describe(L, idx));
}

static int64_t check_size(lua_State *L, const char *fn, int arg, int idx, int entry, bool infer)
{
    int isint = 0;
    lua_Integer v = lua_tointegerx(L, idx, &isint);
    if (lua_type(L, idx) == LUA_TNUMBER && isint && (v >= 0 || (infer && v == -1)))
        return v;
    const char *got = vl_describe(L, idx);
    if (entry)
        VL_ARGERR(L, fn, arg, "shape entry [%d] must be a non-negative integer, got %s", entry, got);
    return VL_ARGERR(L, fn, arg, "size must be a non-negative integer, got %s", got);
}

int vl_shape_args(lua_State *L, const char *fn, int idx, int shift, int *rank, int64_t *shape, bool infer)
{
    int n = 0;
    if (lua_type(L, idx) == LUA_TTABLE) {
        lua_Unsigned len = lua_rawlen(L, idx);
        if (len > VL_MAX_RANK)
            VL_ARGERR(L, fn, idx - shift, "a tensor has at most %d dimensions, got %I", VL_MAX_RANK, (lua_Integer)len);
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
            VL_ARGERR(L, fn, idx + n - shift, "a tensor has at most %d dimensions", VL_MAX_RANK);
        shape[n] = check_size(L, fn, idx + n - shift, idx + n, 0, infer);
    }
    *rank = n;
    return idx + n;
}

static vl_tensor *push_checked(lua_State *L, const char *fn, int arg, vl_dtype dtype, int rank, const int64_t *shape)
{
    size_t numel;
    const char *why = vl_shape_problem(L, rank, shape, &numel);
    if (why)
        VL_ARGERR(L, fn, arg, "%s", why);
    return vl_pushtensor(L, dtype, rank, shape);
}

/* zeros/ones/rand/randn(d1, ..., dn | {shape} [, dtype]) */
vl_tensor *vl_shaped(lua_State *L, const char *fn, bool float_only)
{
    int rank;
    int64_t shape[VL_MAX_RANK];
    int next = vl_shape_args(L, fn, 1, 0, &rank, shape, false);
    vl_dtype dtype = opt_dtype(L, fn, next, 0, VL_F32);
    if (float_only && dtype != VL_F32)
        VL_ARGERR(L, fn, next, "dtype must be 'float32', got '%s'", vl_dtype_name(dtype));
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
    vl_fill(t, &one);
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
        vl_shape_args(L, "full", 1, 0, &rank, shape, false);
    else
        VL_ARGERR(L, "full", 1, "shape must be a table or an integer, got %s", vl_type_name(L, 1));
    int ty = lua_type(L, 2);
    if (ty != LUA_TNUMBER && ty != LUA_TBOOLEAN)
        VL_ARGERR(L, "full", 2, "value must be a number or boolean, got %s", vl_type_name(L, 2));
    vl_dtype dtype = opt_dtype(L, "full", 3, 0, ty == LUA_TBOOLEAN ? VL_BOOL : VL_F32);
    int32_t value;           /* room for any element */
    vl_store_value(&(vl_conv){L, "full", 2, NULL}, 2, dtype, &value, NULL, 0);
    vl_fill(push_checked(L, "full", 1, dtype, rank, shape), &value);
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
        VL_ARGERR(L, "tensor", 1, "number, boolean, table or vksac.Tensor expected, got %s", vl_type_name(L, 1));
    vl_dtype def = src ? src->dtype : ty == LUA_TBOOLEAN ? VL_BOOL : VL_F32;
    vl_dtype dtype = opt_dtype(L, "tensor", 2, 0, def);
    vl_conv c = {L, "tensor", 1, NULL};
    if (src)
        vl_cast(&c, src, vl_pushlike(L, dtype, src), true);
    else if (ty == LUA_TTABLE)
        vl_from_table(&c, 1, dtype, lua_isnoneornil(L, 2));
    else
        vl_from_scalar(&c, 1, dtype);
    return 1;
}

static bool int_arg(lua_State *L, int idx, int64_t *out)
{
    if (lua_type(L, idx) != LUA_TNUMBER)
        VL_ARGERR(L, "arange", idx, "number expected, got %s", vl_type_name(L, idx));
    if (!lua_isinteger(L, idx))
        return false;
    lua_Integer v = lua_tointeger(L, idx);
    if (v < INT32_MIN || v > INT32_MAX)
        VL_ARGERR(L, "arange", idx, "integer must be in int32 range, got %I", v);
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
        VL_ARGERR(L, "arange", step == 0 ? 3 : 1, step == 0 ? "step must not be zero" : "bounds must be finite");
    double count = ceil((stop - start) / step);
    if (ints)
        count = (double)(iv[2] > 0 ? (iv[1] - iv[0] + iv[2] - 1) / iv[2] : (iv[0] - iv[1] - iv[2] - 1) / -iv[2]);
    int64_t len = count > 0 ? (count > VL_MAX_NUMEL ? (int64_t)VL_MAX_NUMEL + 1 : (int64_t)count) : 0;
    vl_tensor *t = push_checked(L, "arange", 1, ints ? VL_I32 : VL_F32, 1, &len);
    for (int64_t i = 0; i < len; i++) {
        if (ints)
            ((int32_t *)t->data)[i] = (int32_t)(iv[0] + i * iv[2]);
        else
            ((float *)t->data)[i] = vl_to_f32(start + (double)i * step);
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
        VL_ARGERR(L, fn, 1, "non-empty list of tensors expected, got %s", lua_istable(L, 1) ? "an empty table" : vl_type_name(L, 1));
    lua_Integer n = (lua_Integer)lua_rawlen(L, 1);
    luaL_checkstack(L, n > INT32_MAX - 8 ? INT32_MAX : (int)n + 8, "too many tensors to join");
    vl_dtype dtype = VL_F32;
    for (lua_Integer i = 1; i <= n; i++) {
        lua_rawgeti(L, 1, i);
        if (i == 1 && vl_totensor(L, -1))
            dtype = vl_totensor(L, -1)->dtype;
        const char *what = lua_pushfstring(L, "entry [%I]", i);
        vl_as_tensor(&(vl_conv){L, fn, 1, what}, -2, dtype);
        lua_pop(L, 1);
    }
    const vl_tensor *first = lua_touserdata(L, 3);
    int rank = first->rank + stack;
    if (rank == 0)
        VL_ARGERR(L, fn, 1, "0-dimensional tensors cannot be concatenated; use stack");
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
            VL_ARGERR(L, fn, 1, "entry [%I] has shape %s, expected %s", i, vl_pushshape(L, t->rank, t->shape),
                      vl_pushshape(L, first->rank, first->shape));
        if (!stack)
            shape[dim] += t->shape[dim];
    }
    vl_tensor *out = push_checked(L, fn, 1, dtype, rank, shape);
    size_t outer = out->numel ? 1 : 0, es = vl_esize(dtype);   /* empty: maybe many empty chunks */
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

static const luaL_Reg functions[] = {
    {"tensor", l_tensor}, {"zeros", l_zeros}, {"ones", l_ones}, {"full", l_full},
    {"arange", l_arange}, {"cat", l_cat}, {"stack", l_stack}, {NULL, NULL},
};

void vl_open_tensor_new(lua_State *L) { luaL_setfuncs(L, functions, 0); }
