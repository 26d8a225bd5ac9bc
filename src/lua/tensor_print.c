/* tostring of a tensor: torch's layout, values right-aligned to one width,
 * fixed or scientific notation chosen from the range of what is shown;
 * large and empty tensors summarised. */
#include <math.h>
#include <stdio.h>

#include "vl.h"

/* Tensors above SUMMARY_NUMEL elements (or empty) show EDGE entries at
 * each end of every dimension longer than 2 * EDGE. */
#define SUMMARY_NUMEL 100
#define EDGE 3

typedef struct printer {
    const vl_tensor *t;
    luaL_Buffer *b;          /* NULL while measuring */
    bool summary, sci;
    int width;
    double amax, amin;       /* of the finite nonzero |values| shown */
} printer;

static int format_element(const printer *p, size_t i, char *buf, size_t cap)
{
    const vl_tensor *t = p->t;
    if (t->dtype == VL_I32)
        return snprintf(buf, cap, "%d", (int)((const int32_t *)t->data)[i]);
    if (t->dtype == VL_BOOL)
        return snprintf(buf, cap, "%s", ((const uint8_t *)t->data)[i] ? "true" : "false");
    double v = ((const float *)t->data)[i];
    if (!isfinite(v))
        return snprintf(buf, cap, "%s", isnan(v) ? "nan" : v > 0 ? "inf" : "-inf");
    return snprintf(buf, cap, p->sci ? "%.4e" : "%.4f", v);
}

static void element(printer *p, size_t i)
{
    char buf[64];
    int len = format_element(p, i, buf, sizeof buf);
    if (p->b) {
        for (int k = len; k < p->width; k++)
            luaL_addchar(p->b, ' ');
        luaL_addlstring(p->b, buf, (size_t)len);
        return;
    }
    p->width = len > p->width ? len : p->width;
    double a = p->t->dtype == VL_F32 ? fabs(vl_get(p->t, i)) : 0;
    if (isfinite(a) && a > 0) {
        p->amax = a > p->amax ? a : p->amax;
        p->amin = a < p->amin ? a : p->amin;
    }
}

static void add(printer *p, const char *s)
{
    if (p->b)
        luaL_addstring(p->b, s);
}

/* Like torch: rows of a matrix one per line, a blank line between
 * matrices, continuation lines aligned under the opening braces. */
static void separator(printer *p, int depth)
{
    int rank = p->t->rank;
    add(p, depth == rank - 1 ? ", " : ",");
    for (int k = depth; k < rank - 1; k++)
        add(p, "\n");
    for (int k = 0; depth < rank - 1 && k < 8 + depth; k++)
        add(p, " ");
}

static void visit(printer *p, int depth, size_t offset)
{
    const vl_tensor *t = p->t;
    if (depth == t->rank) {
        element(p, offset);
        return;
    }
    int64_t n = t->shape[depth];
    size_t stride = 1;
    for (int d = depth + 1; d < t->rank; d++)
        stride *= (size_t)t->shape[d];
    add(p, "{");
    for (int64_t i = 0; i < n; i++) {
        if (i > 0)
            separator(p, depth);
        if (p->summary && n > 2 * EDGE && i == EDGE) {
            add(p, "...");
            i = n - EDGE - 1;
            continue;
        }
        visit(p, depth + 1, offset + (size_t)i * stride);
    }
    add(p, "}");
}

int vl_tensor_tostring(lua_State *L)
{
    const vl_tensor *t = luaL_checkudata(L, 1, VL_TENSOR);
    if (!t->data) {
        lua_pushliteral(L, "Tensor (closed)");
        return 1;
    }
    /* Empty tensors too: {2^31 - 1, 0} would be 2^31 empty rows. */
    printer p = {.t = t, .summary = t->numel > SUMMARY_NUMEL || t->numel == 0, .amin = INFINITY};
    visit(&p, 0, 0);                               /* the magnitudes */
    p.sci = p.amax >= 1e8 || p.amin < 1e-4;
    p.width = 0;
    visit(&p, 0, 0);                               /* the column width */
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    luaL_addstring(&b, "tensor(");
    p.b = &b;
    visit(&p, 0, 0);
    bool elided = false;
    for (int d = 0; d < t->rank; d++)
        elided |= p.summary && t->shape[d] > 2 * EDGE;
    if (elided || (t->numel == 0 && t->rank > 1)) {
        luaL_addstring(&b, ", shape=");
        vl_pushshape(L, t->rank, t->shape);
        luaL_addvalue(&b);
    }
    if (t->dtype != VL_F32) {
        luaL_addstring(&b, ", dtype=");
        luaL_addstring(&b, vl_dtype_name(t->dtype));
    }
    luaL_addchar(&b, ')');
    luaL_pushresult(&b);
    return 1;
}

