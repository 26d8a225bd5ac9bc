/* Host tensors: the Lua front end's value for observations, actions and
 * batches. A userdata holding a vl_tensor whose data is a separate malloc,
 * so that close() frees it before the collector runs; a closed tensor has
 * data == NULL (an empty tensor still owns one byte). In Lua, indices and
 * dimensions are 1-based and negative ones count from the end.
 *
 * This file: the type, the helpers the tensor files share (vl.h),
 * is_tensor, indexing and the simple methods. tensor_convert.c
 * turns Lua values into tensors; tensor_new.c has the constructors;
 * tensor_ops.c the arithmetic, comparisons, elementwise math and
 * reductions; tensor_print.c tostring; random.c rand, randn and the seeds. */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vl.h"

static const char *const DTYPES[] = {"float32", "int32", "bool", NULL};

const char *vl_dtype_name(vl_dtype dtype) { return (unsigned)dtype <= VL_BOOL ? DTYPES[dtype] : "?"; }

size_t vl_esize(vl_dtype dtype) { return dtype == VL_BOOL ? 1 : 4; }

float vl_to_f32(double v) { return v > FLT_MAX ? INFINITY : v < -FLT_MAX ? -INFINITY : (float)v; }

double vl_get(const vl_tensor *t, size_t i)
{
    switch (t->dtype) {
    case VL_F32: return ((const float *)t->data)[i];
    case VL_I32: return ((const int32_t *)t->data)[i];
    default: return ((const uint8_t *)t->data)[i];
    }
}

const char *vl_type_name(lua_State *L, int idx)
{
    if (luaL_getmetafield(L, idx, "__name") == LUA_TSTRING)
        return lua_tostring(L, -1);
    return luaL_typename(L, idx);
}

const char *vl_describe(lua_State *L, int idx)
{
    if (lua_type(L, idx) == LUA_TNUMBER)
        return luaL_tolstring(L, idx, NULL);
    if (lua_type(L, idx) == LUA_TSTRING)
        return lua_pushfstring(L, "'%s'", lua_tostring(L, idx));
    return vl_type_name(L, idx);
}

const char *vl_pushshape(lua_State *L, int rank, const int64_t *shape)
{
    char buf[96] = "{";
    for (int i = 0; i < rank && i < VL_MAX_RANK; i++)
        snprintf(buf + strlen(buf), sizeof buf - strlen(buf), "%s%lld", i ? ", " : "", (long long)shape[i]);
    strcat(buf, "}");
    return lua_pushstring(L, buf);
}

const char *vl_shape_problem(lua_State *L, int rank, const int64_t *shape, size_t *numel)
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
        if (shape[i] > VL_MAX_NUMEL / n)
            return lua_pushfstring(L, "shape %s has more than %d elements", vl_pushshape(L, rank, shape), VL_MAX_NUMEL);
        n *= shape[i];
    }
    *numel = empty ? 0 : (size_t)n;
    return NULL;
}

vl_tensor *vl_pushtensor(lua_State *L, vl_dtype dtype, int rank, const int64_t *shape)
{
    size_t numel = 0;
    const char *why = (unsigned)dtype > VL_BOOL ? "invalid dtype" : vl_shape_problem(L, rank, shape, &numel);
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
    size_t bytes = numel * vl_esize(dtype);
    t->data = calloc(bytes ? bytes : 1, 1);
    if (!t->data)
        luaL_error(L, "not enough memory for a tensor of %I elements", (lua_Integer)numel);
    /* The collector does not see malloc'd data: count it as Lua allocation
     * so that big tensors dropped in a loop get collected in time. */
    if (bytes >= 1024 && lua_gc(L, LUA_GCISRUNNING))
        lua_gc(L, LUA_GCSTEP, (int)(bytes >> 10));
    return t;
}

vl_tensor *vl_pushlike(lua_State *L, vl_dtype dtype, const vl_tensor *t)
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
        VL_ARGERR(L, fn, arg, "dimension must be an integer, got %s", vl_describe(L, idx));
    lua_Integer k = d < 0 ? d + rank : d - 1;
    if (k < 0 || k >= rank)
        VL_ARGERR(L, fn, arg, "dimension %I out of range for %d dimensions", d, rank);
    return (int)k;
}

void vl_fill(vl_tensor *t, const void *value)
{
    size_t es = vl_esize(t->dtype);
    for (size_t i = 0; i < t->numel; i++)
        memcpy((char *)t->data + i * es, value, es);
}

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
        luaL_error(L, "tensor index must be an integer, got %s", vl_describe(L, idx));
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
    size_t bytes = row->numel * vl_esize(t->dtype);
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
        return luaL_error(L, "cannot set field %s of a Tensor", vl_describe(L, 2));
    int64_t j = row_index(L, t, 2);
    vl_conv c = {L, NULL, 0, NULL};
    size_t n = row_numel(t), es = vl_esize(t->dtype);
    int ty = lua_type(L, 3);
    if (t->rank == 1 || ty == LUA_TNUMBER || ty == LUA_TBOOLEAN) {
        int32_t value;
        vl_store_value(&c, 3, t->dtype, &value, NULL, 0);
        for (size_t i = 0; i < n; i++)
            memcpy((char *)t->data + ((size_t)j * n + i) * es, &value, es);
        return 0;
    }
    vl_tensor *v = vl_as_tensor(&c, 3, t->dtype);
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
    vl_tensor *u = vl_pushlike(L, t->dtype, t);
    memcpy(u->data, t->data, t->numel * vl_esize(t->dtype));
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
        vl_cast(&(vl_conv){L, NULL, 0, what}, t, vl_pushlike(L, dtype, t), false);
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
    vl_shape_args(L, fn, 2, 1, &rank, shape, true);
    for (int d = 0; d < rank; d++) {
        if (shape[d] == -1 && infer >= 0)
            VL_ARGERR(L, fn, 1, "only one size may be -1");
        if (shape[d] == -1)
            infer = d;
        else if (known > 0 && shape[d] > VL_MAX_NUMEL / known)
            known = (int64_t)VL_MAX_NUMEL + 1;   /* too many, whatever the rest */
        else
            known *= shape[d];
    }
    if (infer >= 0)
        shape[infer] = known > 0 && (int64_t)t->numel % known == 0 ? (int64_t)t->numel / known : -1;
    if ((infer >= 0 && shape[infer] < 0) || (infer < 0 && known != (int64_t)t->numel))
        VL_ARGERR(L, fn, 1, "cannot reshape a tensor of %I elements into %s", (lua_Integer)t->numel,
                  vl_pushshape(L, rank, shape));
    vl_tensor *u = vl_pushtensor(L, t->dtype, rank, shape);
    memcpy(u->data, t->data, t->numel * vl_esize(t->dtype));
    return 1;
}

static int t_reshape(lua_State *L) { return reshape(L, "reshape"); }
static int t_view(lua_State *L) { return reshape(L, "view"); }

/* fill(v) and copy(src) write in place and return the tensor. */
static int t_fill(lua_State *L)
{
    vl_tensor *t = vl_checktensor(L, 1);
    int32_t value;
    vl_store_value(&(vl_conv){L, "fill", 1, NULL}, 2, t->dtype, &value, NULL, 0);
    vl_fill(t, &value);
    lua_settop(L, 1);
    return 1;
}

static int t_copy(lua_State *L)
{
    vl_tensor *t = vl_checktensor(L, 1);
    lua_settop(L, 2);
    vl_tensor *src = vl_as_tensor(&(vl_conv){L, "copy", 1, "source"}, 2, t->dtype);
    if (src->rank != t->rank || memcmp(src->shape, t->shape, (size_t)t->rank * sizeof *t->shape) != 0)
        VL_ARGERR(L, "copy", 1, "source has shape %s, expected %s", vl_pushshape(L, src->rank, src->shape),
                  vl_pushshape(L, t->rank, t->shape));
    vl_checktensor(L, 1);
    memmove(t->data, src->data, t->numel * vl_esize(t->dtype));
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

static const luaL_Reg functions[] = {{"is_tensor", l_is_tensor}, {NULL, NULL}};

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
    vl_open_tensor_new(L);
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
