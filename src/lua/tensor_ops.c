/* Tensor arithmetic, comparisons, elementwise math and reductions.
 *
 * Binary operations broadcast numpy-style (shapes aligned on the right; a
 * size matches an equal size or 1). Their operands are tensors or Lua
 * numbers; a Lua integer that fits is an int32 scalar, any other number a
 * float32 one. + - * of two int32 operands stay int32 (wrapping on
 * overflow, like torch); everything else computes in float32, so bool
 * operands count as 0/1 floats. Comparisons give bool tensors, exact for
 * int32 and bool operands. Loops run on contiguous float32 or int32 data:
 * an operand of another dtype is first converted into a scratch userdata
 * that the stack keeps until the call returns. */
#include <math.h>
#include <string.h>

#include "vl.h"

enum { ADD, SUB, MUL, DIV, POW, EQ, NE, LT, LE, GT, GE };
static const char *const OP_NAMES[] = {"+", "-", "*", "/", "^", "eq", "ne", "lt", "le", "gt", "ge"};

typedef struct operand {
    vl_dtype dtype;
    int rank;
    int64_t shape[VL_MAX_RANK];
    const void *data;
    union {
        float f;
        int32_t i;
    } scalar;                /* a number's storage (data points here) */
} operand;

static double load(const void *data, vl_dtype dtype, size_t i)
{
    switch (dtype) {
    case VL_F32: return ((const float *)data)[i];
    case VL_I32: return ((const int32_t *)data)[i];
    default: return ((const uint8_t *)data)[i];
    }
}

static size_t count(const operand *o)
{
    size_t n = 1;
    for (int d = 0; d < o->rank; d++)
        n *= (size_t)o->shape[d];
    return n;
}

/* Argument idx: a tensor, a number, or for comparisons also a boolean. */
static void read_operand(lua_State *L, int idx, int op, operand *o)
{
    vl_tensor *t = vl_totensor(L, idx);
    if (t) {
        *o = (operand){.dtype = t->dtype, .rank = t->rank, .data = t->data};
        memcpy(o->shape, t->shape, sizeof o->shape);
        return;
    }
    *o = (operand){.rank = 0};
    o->data = &o->scalar;
    int ty = lua_type(L, idx);
    lua_Integer i = ty == LUA_TBOOLEAN ? lua_toboolean(L, idx) : lua_tointeger(L, idx);
    if ((ty == LUA_TBOOLEAN && op >= EQ) || (lua_isinteger(L, idx) && i >= INT32_MIN && i <= INT32_MAX)) {
        o->dtype = VL_I32;   /* booleans compare exactly as 0/1 */
        o->scalar.i = (int32_t)i;
    } else if (ty == LUA_TNUMBER) {
        o->dtype = VL_F32;
        o->scalar.f = vl_to_f32(lua_tonumber(L, idx));
    } else if (op >= EQ) {
        VL_ARGERR(L, OP_NAMES[op], idx - 1, "number, boolean or vksac.Tensor expected, got %s", luaL_typename(L, idx));
    } else {
        luaL_error(L, "attempt to perform arithmetic on a %s value", luaL_typename(L, idx));
    }
}

static vl_dtype compute_type(int op, const operand *a, const operand *b)
{
    if (op <= MUL)
        return a->dtype == VL_I32 && b->dtype == VL_I32 ? VL_I32 : VL_F32;
    if (op <= POW)
        return VL_F32;
    return a->dtype != VL_F32 && b->dtype != VL_F32 ? VL_I32 : VL_F32;
}

/* Converts o to float32 or int32 (from int32 or bool: always exact). */
static void promote(lua_State *L, operand *o, vl_dtype to)
{
    if (o->dtype == to)
        return;
    size_t n = count(o);
    void *dst = o->data == &o->scalar ? (void *)&o->scalar : lua_newuserdatauv(L, n ? n * 4 : 1, 0);
    for (size_t i = 0; i < n; i++) {
        double v = load(o->data, o->dtype, i);   /* read before the write: dst may alias */
        if (to == VL_F32)
            ((float *)dst)[i] = (float)v;
        else
            ((int32_t *)dst)[i] = (int32_t)v;
    }
    o->data = dst;
    o->dtype = to;
}

static int64_t dim_from_right(const operand *o, int k)
{
    return k <= o->rank ? o->shape[o->rank - k] : 1;
}

static int broadcast(lua_State *L, const operand *a, const operand *b, int64_t *shape, const char *name)
{
    int rank = a->rank > b->rank ? a->rank : b->rank;
    for (int k = 1; k <= rank; k++) {
        int64_t x = dim_from_right(a, k), y = dim_from_right(b, k);
        if (x != y && x != 1 && y != 1)
            luaL_error(L, "cannot broadcast shapes %s and %s for '%s'", vl_pushshape(L, a->rank, a->shape),
                       vl_pushshape(L, b->rank, b->shape), name);
        shape[rank - k] = x == 1 ? y : x;
    }
    return rank;
}

/* Strides of o over the result padded to 4 dims; 0 where o is broadcast. */
static void strides(const operand *o, int64_t *st)
{
    int64_t s = 1;
    for (int k = 1; k <= VL_MAX_RANK; k++) {
        int64_t d = dim_from_right(o, k);
        st[VL_MAX_RANK - k] = d == 1 ? 0 : s;
        s *= d;
    }
}

/* One innermost row: n results from a[k * sa] and b[k * sb]. */
#define ROW(E, T, expr)                                                                                         \
    do {                                                                                                        \
        const E *a = pa, *b = pb;                                                                               \
        T *o = out;                                                                                             \
        for (int64_t k = 0; k < n; k++) {                                                                       \
            E x = a[k * sa], y = b[k * sb];                                                                     \
            o[k] = (expr);                                                                                      \
        }                                                                                                       \
    } while (0)

static void f32_row(int op, const void *pa, int64_t sa, const void *pb, int64_t sb, void *out, int64_t n)
{
    switch (op) {
    case ADD: ROW(float, float, x + y); break;
    case SUB: ROW(float, float, x - y); break;
    case MUL: ROW(float, float, x * y); break;
    case DIV: ROW(float, float, x / y); break;
    case POW: ROW(float, float, powf(x, y)); break;
    case EQ: ROW(float, uint8_t, x == y); break;
    case NE: ROW(float, uint8_t, x != y); break;
    case LT: ROW(float, uint8_t, x < y); break;
    case LE: ROW(float, uint8_t, x <= y); break;
    case GT: ROW(float, uint8_t, x > y); break;
    default: ROW(float, uint8_t, x >= y); break;
    }
}

/* Wrapping int32 arithmetic through uint32 (signed overflow is undefined). */
static void i32_row(int op, const void *pa, int64_t sa, const void *pb, int64_t sb, void *out, int64_t n)
{
    switch (op) {
    case ADD: ROW(int32_t, int32_t, (int32_t)((uint32_t)x + (uint32_t)y)); break;
    case SUB: ROW(int32_t, int32_t, (int32_t)((uint32_t)x - (uint32_t)y)); break;
    case MUL: ROW(int32_t, int32_t, (int32_t)((uint32_t)x * (uint32_t)y)); break;
    case EQ: ROW(int32_t, uint8_t, x == y); break;
    case NE: ROW(int32_t, uint8_t, x != y); break;
    case LT: ROW(int32_t, uint8_t, x < y); break;
    case LE: ROW(int32_t, uint8_t, x <= y); break;
    case GT: ROW(int32_t, uint8_t, x > y); break;
    default: ROW(int32_t, uint8_t, x >= y); break;
    }
}

static void apply(int op, vl_dtype ct, const operand *a, const operand *b, vl_tensor *out)
{
    int64_t sh[VL_MAX_RANK], sa[VL_MAX_RANK], sb[VL_MAX_RANK];
    operand o = {.rank = out->rank};
    memcpy(o.shape, out->shape, sizeof o.shape);
    for (int k = 1; k <= VL_MAX_RANK; k++)
        sh[VL_MAX_RANK - k] = dim_from_right(&o, k);
    strides(a, sa);
    strides(b, sb);
    size_t es = out->dtype == VL_BOOL ? 1 : 4, pos = 0;
    if (out->numel == 0)
        return;   /* else {2^31 - 1, 1, 1, 0} would loop 2^31 times for nothing */
    for (int64_t i0 = 0; i0 < sh[0]; i0++)
        for (int64_t i1 = 0; i1 < sh[1]; i1++)
            for (int64_t i2 = 0; i2 < sh[2]; i2++, pos += (size_t)sh[3]) {
                int64_t ia = i0 * sa[0] + i1 * sa[1] + i2 * sa[2], ib = i0 * sb[0] + i1 * sb[1] + i2 * sb[2];
                const char *pa = (const char *)a->data + ia * 4, *pb = (const char *)b->data + ib * 4;
                char *po = (char *)out->data + pos * es;
                (ct == VL_F32 ? f32_row : i32_row)(op, pa, sa[3], pb, sb[3], po, sh[3]);
            }
}

static int binary(lua_State *L, int op)
{
    operand a, b;
    if (op >= EQ)
        vl_checktensor(L, 1);
    read_operand(L, 1, op, &a);
    read_operand(L, 2, op, &b);
    vl_dtype ct = compute_type(op, &a, &b);
    int64_t shape[VL_MAX_RANK];
    int rank = broadcast(L, &a, &b, shape, OP_NAMES[op]);
    promote(L, &a, ct);
    promote(L, &b, ct);
    apply(op, ct, &a, &b, vl_pushtensor(L, op >= EQ ? VL_BOOL : ct, rank, shape));
    return 1;
}

static int m_add(lua_State *L) { return binary(L, ADD); }
static int m_sub(lua_State *L) { return binary(L, SUB); }
static int m_mul(lua_State *L) { return binary(L, MUL); }
static int m_div(lua_State *L) { return binary(L, DIV); }
static int m_pow(lua_State *L) { return binary(L, POW); }
static int t_eq(lua_State *L) { return binary(L, EQ); }
static int t_ne(lua_State *L) { return binary(L, NE); }
static int t_lt(lua_State *L) { return binary(L, LT); }
static int t_le(lua_State *L) { return binary(L, LE); }
static int t_gt(lua_State *L) { return binary(L, GT); }
static int t_ge(lua_State *L) { return binary(L, GE); }

/* ---- elementwise math -----------------------------------------------------
 * Negation and abs keep int32 (wrapping at INT32_MIN); the rest, and any
 * bool input, give float32. */

enum { NEG, ABS, EXP, LOG, SQRT, TANH };

/* A new float32 tensor with t's values, or an int32 copy when `keep_int`. */
static vl_tensor *push_copy(lua_State *L, const vl_tensor *t, bool keep_int)
{
    vl_tensor *out = vl_pushtensor(L, keep_int ? VL_I32 : VL_F32, t->rank, t->shape);
    if (t->dtype == out->dtype)
        memcpy(out->data, t->data, t->numel * 4);
    else
        for (size_t i = 0; i < t->numel; i++)
            ((float *)out->data)[i] = (float)load(t->data, t->dtype, i);
    return out;
}

static int unary(lua_State *L, int op)
{
    vl_tensor *t = vl_checktensor(L, 1);
    bool keep_int = t->dtype == VL_I32 && op <= ABS;
    vl_tensor *out = push_copy(L, t, keep_int);
    size_t n = out->numel;
    if (keep_int) {
        int32_t *x = out->data;
        for (size_t i = 0; i < n; i++)
            x[i] = op == ABS && x[i] >= 0 ? x[i] : (int32_t)(0u - (uint32_t)x[i]);
        return 1;
    }
    float *x = out->data;
    switch (op) {
    case NEG: for (size_t i = 0; i < n; i++) x[i] = -x[i]; break;
    case ABS: for (size_t i = 0; i < n; i++) x[i] = fabsf(x[i]); break;
    case EXP: for (size_t i = 0; i < n; i++) x[i] = expf(x[i]); break;
    case LOG: for (size_t i = 0; i < n; i++) x[i] = logf(x[i]); break;
    case SQRT: for (size_t i = 0; i < n; i++) x[i] = sqrtf(x[i]); break;
    default: for (size_t i = 0; i < n; i++) x[i] = tanhf(x[i]); break;
    }
    return 1;
}

static int m_unm(lua_State *L) { return unary(L, NEG); }
static int t_abs(lua_State *L) { return unary(L, ABS); }
static int t_exp(lua_State *L) { return unary(L, EXP); }
static int t_log(lua_State *L) { return unary(L, LOG); }
static int t_sqrt(lua_State *L) { return unary(L, SQRT); }
static int t_tanh(lua_State *L) { return unary(L, TANH); }

/* A clamp bound: nil (none) or a number; *is_int when it fits an int32. */
static double bound(lua_State *L, int idx, const char *name, double none, bool *is_int)
{
    if (lua_isnoneornil(L, idx))
        return none;
    if (lua_type(L, idx) != LUA_TNUMBER)
        VL_ARGERR(L, "clamp", idx - 1, "%s must be a number or nil, got %s", name, luaL_typename(L, idx));
    lua_Integer i = lua_tointeger(L, idx);
    *is_int &= lua_isinteger(L, idx) && i >= INT32_MIN && i <= INT32_MAX;
    return lua_tonumber(L, idx);
}

/* clamp(min, max), either may be nil; int32 stays int32 with integer
 * bounds. max wins when min > max. */
static int t_clamp(lua_State *L)
{
    vl_tensor *t = vl_checktensor(L, 1);
    bool ints = t->dtype == VL_I32;
    double lo = bound(L, 2, "min", -INFINITY, &ints), hi = bound(L, 3, "max", INFINITY, &ints);
    if (lua_isnoneornil(L, 2) && lua_isnoneornil(L, 3))
        VL_ARGERR(L, "clamp", 1, "at least one of min and max is required");
    vl_tensor *out = push_copy(L, t, ints);
    for (size_t i = 0; i < out->numel; i++) {
        if (ints) {
            int32_t *x = (int32_t *)out->data + i;
            *x = *x < lo ? (int32_t)lo : *x;   /* an absent bound is infinite: never converted */
            *x = *x > hi ? (int32_t)hi : *x;
        } else {
            float *x = (float *)out->data + i, l = vl_to_f32(lo), h = vl_to_f32(hi);
            *x = *x < l ? l : *x;
            *x = *x > h ? h : *x;
        }
    }
    return 1;
}

/* ---- reductions -----------------------------------------------------------
 * Without a dimension: a Lua value (sum of int32/bool an integer, mean a
 * float, max/min of the tensor's type). With one: a tensor without that
 * dimension (sum of int32/bool is int32; max/min also return the 1-based
 * int32 indices of the first extreme). NaN propagates through max/min. */

enum { SUM, MEAN, MAX, MIN };
static const char *const RED_NAMES[] = {"sum", "mean", "max", "min"};

/* The step k of the largest (or smallest) of n values at base + k*stride. */
static int64_t extreme(const vl_tensor *t, size_t base, size_t stride, int64_t n, bool max)
{
    int64_t best = 0;
    double v_best = load(t->data, t->dtype, base);
    for (int64_t k = 1; k < n && !isnan(v_best); k++) {
        double v = load(t->data, t->dtype, base + (size_t)k * stride);
        if (isnan(v) || (max ? v > v_best : v < v_best)) {
            v_best = v;
            best = k;
        }
    }
    return best;
}

/* Sum of n values at base + k*stride: exact in int64 for int32 and bool. */
static double sum_of(const vl_tensor *t, size_t base, size_t stride, int64_t n, int64_t *isum)
{
    double s = 0;
    *isum = 0;
    for (int64_t k = 0; k < n; k++) {
        size_t i = base + (size_t)k * stride;
        if (t->dtype == VL_F32)
            s += ((const float *)t->data)[i];
        else
            *isum += t->dtype == VL_I32 ? ((const int32_t *)t->data)[i] : ((const uint8_t *)t->data)[i];
    }
    return t->dtype == VL_F32 ? s : (double)*isum;
}

static int reduce_all(lua_State *L, const vl_tensor *t, int kind)
{
    int64_t n = (int64_t)t->numel, isum;
    if (kind >= MAX) {
        if (n == 0)
            return luaL_error(L, "%s() of an empty tensor", RED_NAMES[kind]);
        vl_pushelement(L, t, (size_t)extreme(t, 0, 1, n, kind == MAX));
        return 1;
    }
    double s = sum_of(t, 0, 1, n, &isum);
    if (kind == MEAN)
        lua_pushnumber(L, n ? s / (double)n : NAN);
    else if (t->dtype == VL_F32)
        lua_pushnumber(L, s);
    else
        lua_pushinteger(L, isum);
    return 1;
}

static void write_sum(lua_State *L, vl_tensor *out, size_t j, double s, int64_t isum, int64_t n, int kind)
{
    if (kind == MEAN)
        ((float *)out->data)[j] = n ? (float)(s / (double)n) : NAN;
    else if (out->dtype == VL_F32)
        ((float *)out->data)[j] = vl_to_f32(s);
    else if (isum < INT32_MIN || isum > INT32_MAX)
        luaL_error(L, "sum() overflows int32");
    else
        ((int32_t *)out->data)[j] = (int32_t)isum;
}

static int reduce_dim(lua_State *L, const vl_tensor *t, int dim, int kind)
{
    int64_t n = t->shape[dim], shape[VL_MAX_RANK], isum;
    size_t outer = 1, inner = 1, es = t->dtype == VL_BOOL ? 1 : 4;
    for (int d = 0, r = 0; d < t->rank; d++) {
        outer *= d < dim ? (size_t)t->shape[d] : 1;
        inner *= d > dim ? (size_t)t->shape[d] : 1;
        if (d != dim)
            shape[r++] = t->shape[d];
    }
    if (kind >= MAX && n == 0)
        return luaL_error(L, "%s() over an empty dimension", RED_NAMES[kind]);
    vl_dtype od = kind == MEAN ? VL_F32 : kind == SUM ? (t->dtype == VL_F32 ? VL_F32 : VL_I32) : t->dtype;
    vl_tensor *out = vl_pushtensor(L, od, t->rank - 1, shape);
    vl_tensor *idx = kind >= MAX ? vl_pushtensor(L, VL_I32, t->rank - 1, shape) : NULL;
    for (size_t o = 0; o < outer; o++) {
        for (size_t i = 0; i < inner; i++) {
            size_t base = o * (size_t)n * inner + i, j = o * inner + i;
            if (kind >= MAX) {
                int64_t k = extreme(t, base, inner, n, kind == MAX);
                memcpy((char *)out->data + j * es, (const char *)t->data + (base + (size_t)k * inner) * es, es);
                ((int32_t *)idx->data)[j] = (int32_t)k + 1;
            } else {
                double s = sum_of(t, base, inner, n, &isum);
                write_sum(L, out, j, s, isum, n, kind);
            }
        }
    }
    return kind >= MAX ? 2 : 1;
}

static int reduce(lua_State *L, int kind)
{
    vl_tensor *t = vl_checktensor(L, 1);
    if (lua_isnoneornil(L, 2))
        return reduce_all(L, t, kind);
    return reduce_dim(L, t, vl_checkdim(L, 2, t->rank, RED_NAMES[kind], 1), kind);
}

static int t_sum(lua_State *L) { return reduce(L, SUM); }
static int t_mean(lua_State *L) { return reduce(L, MEAN); }
static int t_max(lua_State *L) { return reduce(L, MAX); }
static int t_min(lua_State *L) { return reduce(L, MIN); }

static const luaL_Reg methods[] = {
    {"eq", t_eq}, {"ne", t_ne}, {"lt", t_lt}, {"le", t_le}, {"gt", t_gt}, {"ge", t_ge},
    {"abs", t_abs}, {"exp", t_exp}, {"log", t_log}, {"sqrt", t_sqrt}, {"tanh", t_tanh},
    {"clamp", t_clamp}, {"sum", t_sum}, {"mean", t_mean}, {"max", t_max}, {"min", t_min},
    {NULL, NULL},
};

static const luaL_Reg metamethods[] = {
    {"__add", m_add}, {"__sub", m_sub}, {"__mul", m_mul}, {"__div", m_div},
    {"__pow", m_pow}, {"__unm", m_unm}, {NULL, NULL},
};

void vl_open_tensor_ops(lua_State *L)
{
    luaL_setfuncs(L, methods, 0);
    lua_pushvalue(L, -2);
    luaL_setfuncs(L, metamethods, 0);
    lua_pop(L, 1);
}
