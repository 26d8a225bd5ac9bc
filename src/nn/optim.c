/* Optimisers of SPEC.md §5 over a flat parameter set: one recorded step is
 * a tick of the step counter t, [the Σg² partials for clipping],
 * [Wasserstein regeneration: a bitonic sort of the element indices by
 * (tensor, θ, index), then the pull toward the sorted θ₀], and one update
 * dispatch over the flat buffers (or a shard's part of them). t and lr live in a device tensor,
 * so the recording is replayed unchanged step after step. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "nn/nn.h"

/* Element indices travel as floats in the sort: exact below 2^24. */
#define WASS_MAX_FLOATS (1u << 24)
#define MAX_PARTIALS 64u

void nn_opt_defaults(nn_opt_config *c)
{
    if (!c)
        return;
    *c = (nn_opt_config){.kind = NN_OPT_ADAM_ATAN2, .lr = 3e-4f, .beta1 = 0.9f, .beta2 = 0.99f,
                         .a = 1.27f, .b = 1.0f, .eps = 1e-8f, .weight_decay = 0.01f,
                         .max_grad_norm = 0.0f, .regen = NN_REGEN_L2, .regen_lambda = 1e-4f,
                         .zero_grad = false};
}

/* ---- configuration checks ------------------------------------------------ */

static vksac_status bad_field(vks_ctx *ctx, const char *fn, const char *field, const char *want, double got)
{
    return vks_fail(ctx, VKSAC_E_ARG, "%s: field '%s' must be %s, got %g", fn, field, want, got);
}

/* NaN fails every comparison below, so it is rejected with the rest. */
static vksac_status check_config(vks_ctx *ctx, const nn_opt_config *c, const char *fn)
{
    if ((unsigned)c->kind > NN_OPT_ADAMW)
        return vks_fail(ctx, VKSAC_E_ARG, "%s: field 'kind' must be 0 (adam-atan2), 1 (adam) or 2 (adamw), "
                        "got %d", fn, (int)c->kind);
    if ((unsigned)c->regen > NN_REGEN_WASSERSTEIN)
        return vks_fail(ctx, VKSAC_E_ARG, "%s: field 'regen' must be 0 (none), 1 (l2) or 2 (wasserstein), "
                        "got %d", fn, (int)c->regen);
    const struct { const char *name; float v; float lo; bool lo_open; float hi; bool hi_open; } f[] = {
        {"lr", c->lr, 0.0f, true, INFINITY, true},
        {"beta1", c->beta1, 0.0f, false, 1.0f, true},
        {"beta2", c->beta2, 0.0f, false, 1.0f, true},
        {"a", c->a, 0.0f, true, INFINITY, true},
        {"b", c->b, 0.0f, true, INFINITY, true},
        {"eps", c->eps, 0.0f, false, INFINITY, true},
        {"weight_decay", c->weight_decay, 0.0f, false, INFINITY, true},
        {"max_grad_norm", c->max_grad_norm, 0.0f, false, INFINITY, true},
        {"regen_lambda", c->regen_lambda, 0.0f, false, INFINITY, true},
    };
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++) {
        bool ok = (f[i].lo_open ? f[i].v > f[i].lo : f[i].v >= f[i].lo) &&
                  (f[i].hi_open ? f[i].v < f[i].hi : f[i].v <= f[i].hi);
        if (!ok) {
            const char *want = f[i].hi == 1.0f ? "in [0, 1)" : f[i].lo_open ? "finite and > 0"
                                                                            : "finite and >= 0";
            return bad_field(ctx, fn, f[i].name, want, (double)f[i].v);
        }
    }
    return VKSAC_OK;
}

/* ---- creation ------------------------------------------------------------ */

static int cmp_float(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

static uint32_t pow2_at_least(uint32_t n)
{
    uint32_t p = 2;
    while (p < n)
        p <<= 1;
    return p;
}

/* Host images of seg (tensor id per flat element), the initial order
 * (real flat indices in tensor order) and sorted0 (each tensor's θ₀
 * sorted, concatenated: the target of each rank). */
static void wass_tables(const nn_params *p, float *seg, float *order, float *sorted0)
{
    uint32_t at = 0;
    for (uint32_t i = 0; i < p->count; i++) {
        const nn_param *t = &p->param[i];
        uint32_t stride = vks_tensor_stride(p->view[NN_THETA][i]), n = t->rows * t->cols;
        for (uint32_t r = 0; r < t->rows; r++)
            for (uint32_t c = 0; c < t->cols; c++) {
                uint64_t flat = t->offset + (uint64_t)r * stride + c;
                seg[flat] = (float)i;
                order[at + r * t->cols + c] = (float)flat;
            }
        qsort(sorted0 + at, n, sizeof *sorted0, cmp_float);
        at += n;
    }
}

/* θ₀ is read back here, so nn_params_init must come before the optimiser. */
static vksac_status wass_create(nn_optim *o)
{
    nn_params *p = o->params;
    if (p->total > WASS_MAX_FLOATS)
        return vks_fail(p->ctx, VKSAC_E_UNSUPPORTED, "nn_optim_create: Wasserstein regeneration handles at most "
                        "2^24 floats of parameters (indices are sorted as floats), got %llu",
                        (unsigned long long)p->total);
    o->nsort = pow2_at_least(o->nreal);   /* the sorting network's size */
    float *seg = calloc(p->total, sizeof *seg);
    float *order = malloc((size_t)o->nreal * sizeof *order);
    float *sorted0 = malloc((size_t)o->nreal * sizeof *sorted0);
    vksac_status st = seg && order && sorted0 ? nn_params_read(p, NN_THETA0, sorted0)
        : vks_fail(p->ctx, VKSAC_E_OOM, "out of host memory for Wasserstein regeneration tables");
    if (st == VKSAC_OK) {
        wass_tables(p, seg, order, sorted0);
        const struct { vks_tensor **t; uint32_t n; const float *src; } b[] = {
            {&o->seg, (uint32_t)p->total, seg}, {&o->order, o->nreal, order}, {&o->sorted0, o->nreal, sorted0}};
        for (size_t i = 0; i < 3 && st == VKSAC_OK; i++) {
            st = vks_tensor_create(p->ctx, 1, b[i].n, b[i].t);
            if (st == VKSAC_OK)
                st = vks_tensor_write(*b[i].t, b[i].src);
        }
    }
    free(seg);
    free(order);
    free(sorted0);
    return st;
}

static vksac_status optim_init(nn_optim *o)
{
    vks_ctx *ctx = o->params->ctx;
    uint64_t n4 = o->params->total / 4;
    /* Each workgroup of the update kernel adds all partials serially, so
     * keep them few; equal chunks of at least one vec4. */
    uint64_t want = n4 < MAX_PARTIALS ? n4 : MAX_PARTIALS;
    uint64_t chunk4 = (n4 + want - 1) / want;
    o->npartials = (uint32_t)((n4 + chunk4 - 1) / chunk4);
    o->nreal = (uint32_t)nn_params_dense_size(o->params);
    float v[4] = {0.0f, o->cfg.lr, 0.0f, 0.0f};
    VKS_TRY(vks_tensor_create(ctx, 1, 4, &o->values));
    VKS_TRY(vks_tensor_write(o->values, v));
    VKS_TRY(vks_tensor_create(ctx, 1, o->npartials, &o->partials));
    return o->cfg.regen == NN_REGEN_WASSERSTEIN ? wass_create(o) : VKSAC_OK;
}

vksac_status nn_optim_create(vks_ctx *ctx, nn_params *params, const nn_opt_config *cfg, nn_optim **out)
{
    if (!ctx)
        return VKSAC_E_ARG;
    if (!out)
        return vks_fail(ctx, VKSAC_E_ARG, "nn_optim_create: out must not be NULL");
    *out = NULL;
    if (!params || !cfg)
        return vks_fail(ctx, VKSAC_E_ARG, "nn_optim_create: %s must not be NULL", params ? "cfg" : "params");
    if (params->ctx != ctx)
        return vks_fail(ctx, VKSAC_E_ARG, "nn_optim_create: the parameter set belongs to another context");
    VKS_TRY(check_config(ctx, cfg, "nn_optim_create"));
    nn_optim *o = calloc(1, sizeof *o);
    if (!o)
        return vks_fail(ctx, VKSAC_E_OOM, "out of host memory for an optimiser");
    *o = (nn_optim){.cfg = *cfg, .params = params};
    vksac_status st = optim_init(o);
    if (st != VKSAC_OK) {
        nn_optim_destroy(o);
        return st;
    }
    *out = o;
    return VKSAC_OK;
}

void nn_optim_destroy(nn_optim *o)
{
    if (!o)
        return;
    vks_tensor_destroy(o->values);
    vks_tensor_destroy(o->partials);
    vks_tensor_destroy(o->seg);
    vks_tensor_destroy(o->order);
    vks_tensor_destroy(o->sorted0);
    free(o);
}

/* ---- the tick ------------------------------------------------------------ */

vksac_status nn_tick(vks_seq *seq, vks_tensor *values, uint32_t add_mask, uint32_t carry_mask)
{
    if (!seq)
        return VKSAC_E_ARG;
    vks_ctx *ctx = vks_seq_ctx(seq);
    VKS_TRY(vks_need_tensor(ctx, values, "nn_tick", "values"));
    uint32_t cols = vks_tensor_cols(values);
    /* Every touched slot, carries' high halves included, must be a column. */
    uint32_t used = add_mask | carry_mask | (carry_mask << 1);
    uint32_t top = 0;
    for (uint32_t i = 0; i < 32; i++)
        if (used >> i & 1u)
            top = i + 1;
    if (carry_mask >> 31 || top > cols)
        return vks_fail(ctx, VKSAC_E_ARG, "nn_tick: masks add 0x%x, carry 0x%x reach column %u of a "
                        "%u-column values tensor", add_mask, carry_mask,
                        carry_mask >> 31 ? 32u : top - 1u, cols);
    struct { uint32_t add_mask, carry_mask; } pc = {add_mask, carry_mask};
    const vks_tensor *ops[] = {values};
    return vks_launch(seq, VKS_K_TICK, ops, &pc, sizeof pc, 1, 1, 1);
}

/* ---- recording a step ---------------------------------------------------- */

static vksac_status record_sumsq(vks_seq *seq, nn_optim *o)
{
    uint32_t n4 = (uint32_t)(o->params->total / 4);
    struct { uint32_t n4, chunk4; } pc = {n4, (n4 + o->npartials - 1) / o->npartials};
    const vks_tensor *ops[] = {o->params->flat[NN_GRAD], o->partials};
    return vks_launch(seq, VKS_K_SUMSQ, ops, &pc, sizeof pc, o->npartials, 1, 1);
}

/* One bitonic.comp dispatch; see that file for the two modes. */
static vksac_status bitonic(vks_seq *seq, nn_optim *o, uint32_t k, uint32_t j, uint32_t k_end)
{
    vks_ctx *ctx = vks_seq_ctx(seq);
    uint32_t lx, ly;
    vks_kernel_local_size(ctx, VKS_K_BITONIC, &lx, &ly);
    /* Block steps: a workgroup of lx per 2·lx entries; global steps: 8 pairs
     * per invocation (per-invocation set-up dominates on lavapipe). Both
     * loop, so fewer groups, or the grid cap, are safe. */
    uint64_t n = o->nreal;
    uint64_t items = j >= 2 * lx ? (n + 15) / 16 : (n + 2 * lx - 1) / (2 * lx) * lx;
    struct { uint32_t n, k, j, k_end; } pc = {o->nreal, k, j, k_end};
    const vks_tensor *ops[] = {o->params->flat[NN_THETA], o->seg, o->order};
    return vks_launch(seq, VKS_K_BITONIC, ops, &pc, sizeof pc, vks_groups_1d(ctx, VKS_K_BITONIC, items), 1, 1);
}

/* Sorts `order` by (tensor, θ, index), then pulls each element toward the
 * θ₀ of its rank. The previous step's order is a valid start: a bitonic
 * network sorts any permutation. */
static vksac_status record_wasserstein(vks_seq *seq, nn_optim *o)
{
    vks_ctx *ctx = vks_seq_ctx(seq);
    uint32_t lx, ly, n = o->nsort;
    vks_kernel_local_size(ctx, VKS_K_BITONIC, &lx, &ly);
    uint32_t block = 2 * lx;
    VKS_TRY(bitonic(seq, o, 2, 1, n < block ? n : block));
    for (uint32_t k = 2 * block; k <= n; k <<= 1) {
        for (uint32_t j = k / 2; j >= block; j >>= 1)
            VKS_TRY(bitonic(seq, o, k, j, k));
        VKS_TRY(bitonic(seq, o, k, block / 2, k));
    }
    struct { uint32_t n; float lr0, lambda; } pc = {o->nreal, o->cfg.lr, o->cfg.regen_lambda};
    const vks_tensor *ops[] = {o->params->flat[NN_THETA], o->order, o->sorted0, o->values};
    return vks_launch(seq, VKS_K_REGEN_WASS, ops, &pc, sizeof pc,
                      vks_groups_1d(ctx, VKS_K_REGEN_WASS, o->nreal), 1, 1);
}

/* The update over floats lo .. hi-1 of the flat buffers (multiples of 4). */
static vksac_status record_update(vks_seq *seq, nn_optim *o, uint64_t lo, uint64_t hi)
{
    const nn_opt_config *c = &o->cfg;
    nn_params *p = o->params;
    struct {
        uint32_t end, kind, regen, flags;
        float beta1, beta2, a, b, eps, weight_decay, max_norm, lambda;
        uint32_t npartials, first;
    } pc = {(uint32_t)(hi / 4), (uint32_t)c->kind, (uint32_t)c->regen,
            (c->max_grad_norm > 0.0f ? 1u : 0u) | (c->zero_grad ? 2u : 0u),
            c->beta1, c->beta2, c->a, c->b, c->eps, c->weight_decay, c->max_grad_norm, c->regen_lambda,
            o->npartials, (uint32_t)(lo / 4)};
    _Static_assert(sizeof pc == 56, "the Push block of shaders/optim.comp and its table row");
    /* θ, g, m, v read through views, then the same four written through
     * buffers (shaders/optim.comp). */
    const vks_tensor *ops[] = {p->flat[NN_THETA], p->flat[NN_GRAD], p->flat[NN_M], p->flat[NN_V],
                               p->flat[NN_THETA0], o->values, c->max_grad_norm > 0.0f ? o->partials : NULL,
                               p->flat[NN_THETA], p->flat[NN_GRAD], p->flat[NN_M], p->flat[NN_V]};
    /* 8 vec4s per invocation: the per-invocation set-up (t, lr, two pow,
     * the clipping factor) otherwise dominates on lavapipe (1.25 ms instead
     * of 2.1 ms for 142k parameters); a big network still fills a GPU. */
    const uint32_t spec[2] = {c->max_grad_norm > 0.0f, (uint32_t)c->kind};
    return vks_launch_spec(seq, VKS_K_OPTIM, spec, ops, &pc, sizeof pc,
                           vks_groups_1d(vks_seq_ctx(seq), VKS_K_OPTIM, (pc.end - pc.first + 7) / 8), 1, 1);
}

vksac_status nn_optim_step(vks_seq *seq, nn_optim *o) { return nn_optim_step_part(seq, o, 0, 1); }

vksac_status nn_optim_step_part(vks_seq *seq, nn_optim *o, uint32_t part, uint32_t parts)
{
    if (!seq || !o)
        return VKSAC_E_ARG;
    vks_ctx *ctx = vks_seq_ctx(seq);
    if (o->params->ctx != ctx)
        return vks_fail(ctx, VKSAC_E_ARG, "nn_optim_step: the optimiser belongs to another context");
    VKS_TRY(nn_params_check_part(ctx, "nn_optim_step_part", part, parts));
    /* cfg is a public field: a change after creation must still be valid
     * and must not ask for tables that were not built. */
    VKS_TRY(check_config(ctx, &o->cfg, "nn_optim_step"));
    if (o->cfg.regen == NN_REGEN_WASSERSTEIN && !o->order)
        return vks_fail(ctx, VKSAC_E_STATE, "nn_optim_step: Wasserstein regeneration was not configured "
                        "when the optimiser was created");
    VKS_TRY(nn_tick(seq, o->values, 1u << NN_OPT_T, 0));
    if (o->cfg.max_grad_norm > 0.0f)
        VKS_TRY(record_sumsq(seq, o));
    if (o->cfg.regen == NN_REGEN_WASSERSTEIN && o->cfg.regen_lambda > 0.0f)
        VKS_TRY(record_wasserstein(seq, o));   /* whole: its ranks span the set */
    uint64_t lo, hi;
    nn_params_part(o->params, part, parts, &lo, &hi);
    return record_update(seq, o, lo, hi);
}

vksac_status nn_optim_set_lr(nn_optim *o, float lr)
{
    if (!o)
        return VKSAC_E_ARG;
    vks_ctx *ctx = o->params->ctx;
    if (!(lr > 0.0f && lr < INFINITY))
        return bad_field(ctx, "nn_optim_set_lr", "lr", "finite and > 0", (double)lr);
    float v[4];
    VKS_TRY(vks_tensor_read(o->values, v));
    v[NN_OPT_LR] = lr;
    return vks_tensor_write(o->values, v);
}
