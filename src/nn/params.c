/* Flat parameter sets: named tensors at fixed offsets in one buffer per
 * role, so the optimiser, the EMA and regeneration each run as one
 * dispatch over a whole network (DESIGN.md decision 3). */
#include <stdlib.h>
#include <string.h>

#include "nn/nn.h"

void nn_params_destroy(nn_params *p)
{
    if (!p)
        return;
    for (int r = 0; r < NN_BUFS; r++) {
        for (uint32_t i = 0; p->view[r] && i < p->count; i++)
            vks_tensor_destroy(p->view[r][i]);
        free(p->view[r]);
        vks_tensor_destroy(p->flat[r]);
    }
    free(p->param);
    free(p);
}

static vksac_status check_shapes(vks_ctx *ctx, const nn_param *shapes, uint32_t count)
{
    if (!shapes || count == 0)
        return vks_fail(ctx, VKSAC_E_ARG, "nn_params_create: at least one tensor is needed");
    for (uint32_t i = 0; i < count; i++) {
        if (!memchr(shapes[i].name, 0, NN_NAME_LEN) || !shapes[i].name[0])
            return vks_fail(ctx, VKSAC_E_ARG, "nn_params_create: tensor %u has an empty or unterminated name", i);
        if (shapes[i].rows == 0 || shapes[i].cols == 0)
            return vks_fail(ctx, VKSAC_E_ARG, "nn_params_create: tensor '%s' is %ux%u, sizes must be positive",
                            shapes[i].name, shapes[i].rows, shapes[i].cols);
    }
    return VKSAC_OK;
}

static uint32_t stride_of(const nn_param *t) { return (t->cols + 3u) & ~3u; }   /* as vks tensors pad */
static uint64_t align_up(uint64_t n) { return (n + NN_ALIGN - 1) / NN_ALIGN * NN_ALIGN; }

/* The flat buffers (new ones, or views of an ensemble's set) and the
 * tensors in them; an ensemble's tensors span every set. */
static vksac_status make_views(nn_params *p, nn_params *ens, uint32_t z)
{
    for (int r = 0; r < NN_BUFS; r++) {
        p->view[r] = calloc(p->count, sizeof *p->view[r]);
        if (!p->view[r])
            return vks_fail(p->ctx, VKSAC_E_OOM, "out of host memory for parameter views");
        if (ens)
            VKS_TRY(vks_tensor_view(ens->flat[r], z * ens->step, 1, (uint32_t)ens->step, &p->flat[r]));
        else
            VKS_TRY(vks_tensor_create(p->ctx, 1, (uint32_t)p->total, &p->flat[r]));
        for (uint32_t i = 0; i < p->count; i++) {
            const nn_param *t = &p->param[i];
            uint64_t span = (uint64_t)(p->copies - 1) * p->step + (uint64_t)t->rows * stride_of(t);
            uint32_t rows = (uint32_t)((span + stride_of(t) - 1) / stride_of(t));
            VKS_TRY(vks_tensor_view(p->flat[r], t->offset, rows, t->cols, &p->view[r][i]));
        }
    }
    return VKSAC_OK;
}

static vksac_status alloc_set(vks_ctx *ctx, uint32_t count, nn_params **out)
{
    nn_params *p = calloc(1, sizeof *p);
    nn_param *param = calloc(count, sizeof *param);
    if (!p || !param) {
        free(p);
        free(param);
        return vks_fail(ctx, VKSAC_E_OOM, "out of host memory for a parameter set");
    }
    *p = (nn_params){.ctx = ctx, .count = count, .param = param, .copies = 1};
    *out = p;
    return VKSAC_OK;
}

vksac_status nn_params_create(vks_ctx *ctx, const nn_param *shapes, uint32_t count, nn_params **out)
{
    return nn_params_create_copies(ctx, shapes, count, 1, out);
}

vksac_status nn_params_create_copies(vks_ctx *ctx, const nn_param *shapes, uint32_t count, uint32_t copies,
                                     nn_params **out)
{
    if (!ctx)
        return VKSAC_E_ARG;
    if (!out)
        return vks_fail(ctx, VKSAC_E_ARG, "nn_params_create: out must not be NULL");
    *out = NULL;
    VKS_TRY(check_shapes(ctx, shapes, count));
    if (copies == 0)
        return vks_fail(ctx, VKSAC_E_ARG, "nn_params_create: copies must be at least 1, got 0");
    nn_params *p = NULL;
    VKS_TRY(alloc_set(ctx, count, &p));
    uint64_t at = 0, slack = 0;
    for (uint32_t i = 0; i < count; i++) {
        p->param[i] = shapes[i];
        p->param[i].offset = at;
        at += align_up((uint64_t)shapes[i].rows * stride_of(&shapes[i]));
        /* A tensor spanning every set ends within a row past the last one. */
        if (copies > 1 && stride_of(&shapes[i]) > slack)
            slack = align_up(stride_of(&shapes[i]));
    }
    p->copies = copies;
    p->step = at;
    p->total = at * copies + slack;
    vksac_status st = p->total > UINT32_MAX
        ? vks_fail(ctx, VKSAC_E_ARG, "nn_params_create: %llu floats of parameters is too many",
                   (unsigned long long)p->total)
        : make_views(p, NULL, 0);
    if (st != VKSAC_OK) {
        nn_params_destroy(p);
        return st;
    }
    *out = p;
    return VKSAC_OK;
}

vksac_status nn_params_member(nn_params *ens, uint32_t z, nn_params **out)
{
    if (!ens)
        return VKSAC_E_ARG;
    if (!out)
        return vks_fail(ens->ctx, VKSAC_E_ARG, "nn_params_member: out must not be NULL");
    *out = NULL;
    if (z >= ens->copies)
        return vks_fail(ens->ctx, VKSAC_E_ARG, "nn_params_member: set %u asked for, the ensemble has sets 0 to %u",
                        z, ens->copies - 1);
    nn_params *p = NULL;
    VKS_TRY(alloc_set(ens->ctx, ens->count, &p));
    memcpy(p->param, ens->param, ens->count * sizeof *p->param);
    p->total = p->step = ens->step;
    vksac_status st = make_views(p, ens, z);
    if (st != VKSAC_OK) {
        nn_params_destroy(p);
        return st;
    }
    *out = p;
    return VKSAC_OK;
}

int nn_params_find(const nn_params *p, const char *name)
{
    for (uint32_t i = 0; p && name && i < p->count; i++)
        if (strcmp(p->param[i].name, name) == 0)
            return (int)i;
    return -1;
}

uint64_t nn_params_dense_size(const nn_params *p)
{
    uint64_t n = 0;
    for (uint32_t i = 0; p && i < p->count; i++)
        n += (uint64_t)p->param[i].rows * p->param[i].cols;
    return n;
}

static vksac_status check_role(const nn_params *p, int role, const void *ptr, const char *fn)
{
    if (!p)
        return VKSAC_E_ARG;
    if (role < 0 || role >= NN_BUFS)
        return vks_fail(p->ctx, VKSAC_E_ARG, "%s: role %d is out of range (0..%d)", fn, role, NN_BUFS - 1);
    if (!ptr)
        return vks_fail(p->ctx, VKSAC_E_ARG, "%s: the host pointer must not be NULL", fn);
    if (p->copies > 1)
        return vks_fail(p->ctx, VKSAC_E_STATE, "%s: the set holds %u networks' tensors; use nn_params_member",
                        fn, p->copies);
    return VKSAC_OK;
}

vksac_status nn_params_write(nn_params *p, int role, const float *src)
{
    VKS_TRY(check_role(p, role, src, "nn_params_write"));
    for (uint32_t i = 0; i < p->count; i++) {
        VKS_TRY(vks_tensor_write(p->view[role][i], src));
        src += (size_t)p->param[i].rows * p->param[i].cols;
    }
    return VKSAC_OK;
}

vksac_status nn_params_read(const nn_params *p, int role, float *dst)
{
    VKS_TRY(check_role(p, role, dst, "nn_params_read"));
    for (uint32_t i = 0; i < p->count; i++) {
        VKS_TRY(vks_tensor_read(p->view[role][i], dst));
        dst += (size_t)p->param[i].rows * p->param[i].cols;
    }
    return VKSAC_OK;
}

vksac_status nn_params_init(nn_params *p, const float *theta)
{
    VKS_TRY(check_role(p, NN_THETA, theta, "nn_params_init"));
    VKS_TRY(nn_params_write(p, NN_THETA, theta));
    VKS_TRY(nn_params_write(p, NN_THETA0, theta));
    /* Fresh flat buffers are zero already; a re-init must clear them. */
    uint64_t n = nn_params_dense_size(p);
    float *zero = calloc(n, sizeof *zero);
    if (!zero)
        return vks_fail(p->ctx, VKSAC_E_OOM, "out of host memory initialising parameters");
    vksac_status st = VKSAC_OK;
    for (int r = NN_GRAD; r <= NN_V && st == VKSAC_OK; r++)
        st = nn_params_write(p, r, zero);
    free(zero);
    return st;
}

vksac_status nn_params_zero_grad(vks_seq *seq, nn_params *p)
{
    if (!seq || !p)
        return VKSAC_E_ARG;
    return vks_fill(seq, p->flat[NN_GRAD], 0.0f);
}

vksac_status nn_params_check_part(vks_ctx *ctx, const char *fn, uint32_t part, uint32_t parts)
{
    if (parts == 0)
        return vks_fail(ctx, VKSAC_E_ARG, "%s: parts must be at least 1, got 0", fn);
    if (part >= parts)
        return vks_fail(ctx, VKSAC_E_ARG, "%s: part %u asked for, the set is cut into %u (parts 0 to %u)", fn,
                        part, parts, parts - 1);
    return VKSAC_OK;
}

void nn_params_part(const nn_params *p, uint32_t part, uint32_t parts, uint64_t *lo, uint64_t *hi)
{
    uint64_t blocks = p->total / NN_ALIGN;
    *lo = blocks * part / parts * NN_ALIGN;
    *hi = blocks * (part + 1) / parts * NN_ALIGN;
}

vksac_status nn_ema(vks_seq *seq, nn_params *target, const nn_params *online, float beta)
{
    return nn_ema_part(seq, target, online, beta, 0, 1);
}

vksac_status nn_ema_part(vks_seq *seq, nn_params *target, const nn_params *online, float beta, uint32_t part,
                         uint32_t parts)
{
    if (!seq || !target || !online)
        return VKSAC_E_ARG;
    vks_ctx *ctx = vks_seq_ctx(seq);
    if (target->total != online->total || target->count != online->count)
        return vks_fail(ctx, VKSAC_E_ARG, "nn_ema: the target set has %u tensors (%llu floats), the online "
                        "set %u (%llu floats); they must have the same layout", target->count,
                        (unsigned long long)target->total, online->count, (unsigned long long)online->total);
    if (!(beta >= 0.0f && beta <= 1.0f))
        return vks_fail(ctx, VKSAC_E_ARG, "nn_ema: beta must be in [0, 1], got %g", (double)beta);
    VKS_TRY(nn_params_check_part(ctx, "nn_ema_part", part, parts));
    /* θ̄ + (1−β)(θ − θ̄) = (1−β)·θ + β·θ̄: one scale-add over the flat buffers. */
    uint64_t lo, hi;
    nn_params_part(target, part, parts, &lo, &hi);
    return vks_scale_add_texels(seq, target->flat[NN_THETA], 1.0f - beta, online->flat[NN_THETA], beta,
                                (uint32_t)(lo / 4), (uint32_t)((hi - lo) / 4));
}
