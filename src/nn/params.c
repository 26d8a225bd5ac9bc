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

static vksac_status make_views(nn_params *p)
{
    for (int r = 0; r < NN_BUFS; r++) {
        p->view[r] = calloc(p->count, sizeof *p->view[r]);
        if (!p->view[r])
            return vks_fail(p->ctx, VKSAC_E_OOM, "out of host memory for parameter views");
        VKS_TRY(vks_tensor_create(p->ctx, 1, (uint32_t)p->total, &p->flat[r]));
        for (uint32_t i = 0; i < p->count; i++)
            VKS_TRY(vks_tensor_view(p->flat[r], p->param[i].offset, p->param[i].rows, p->param[i].cols,
                                    &p->view[r][i]));
    }
    return VKSAC_OK;
}

vksac_status nn_params_create(vks_ctx *ctx, const nn_param *shapes, uint32_t count, nn_params **out)
{
    if (!ctx)
        return VKSAC_E_ARG;
    if (!out)
        return vks_fail(ctx, VKSAC_E_ARG, "nn_params_create: out must not be NULL");
    *out = NULL;
    VKS_TRY(check_shapes(ctx, shapes, count));
    nn_params *p = calloc(1, sizeof *p);
    nn_param *param = calloc(count, sizeof *param);
    if (!p || !param) {
        free(p);
        free(param);
        return vks_fail(ctx, VKSAC_E_OOM, "out of host memory for a parameter set");
    }
    *p = (nn_params){.ctx = ctx, .count = count, .param = param};
    uint64_t at = 0;
    for (uint32_t i = 0; i < count; i++) {
        param[i] = shapes[i];
        param[i].offset = at;
        uint64_t size = (uint64_t)shapes[i].rows * ((shapes[i].cols + 3u) & ~3u);
        at += (size + NN_ALIGN - 1) / NN_ALIGN * NN_ALIGN;
    }
    p->total = at;
    vksac_status st = at > UINT32_MAX
        ? vks_fail(ctx, VKSAC_E_ARG, "nn_params_create: %llu floats of parameters is too many",
                   (unsigned long long)at)
        : make_views(p);
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

vksac_status nn_ema(vks_seq *seq, nn_params *target, const nn_params *online, float beta)
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
    /* θ̄ + (1−β)(θ − θ̄) = (1−β)·θ + β·θ̄: one scale-add over the flat buffers. */
    return vks_scale_add(seq, target->flat[NN_THETA], 1.0f - beta, online->flat[NN_THETA], beta);
}
