/* RSMNorm (SimBa running-statistics normalisation, SPEC.md §1): per-column
 * running mean, variance and count in a 3×dim device tensor, updated from
 * batches by one kernel and applied by another. Freezing the statistics
 * (evaluation, replay batches) is simply not recording the update. */
#include <stdlib.h>

#include "nn/nn.h"

vksac_status nn_rsmnorm_create(vks_ctx *ctx, uint32_t dim, nn_rsmnorm **out)
{
    static const char fn[] = "nn_rsmnorm_create";
    if (!ctx)
        return VKSAC_E_ARG;
    if (!out)
        return vks_fail(ctx, VKSAC_E_ARG, "%s: out must not be NULL", fn);
    *out = NULL;
    if (dim == 0)
        return vks_fail(ctx, VKSAC_E_ARG, "%s: dim is 0, must be positive", fn);
    nn_rsmnorm *r = calloc(1, sizeof *r);
    float *init = malloc(3 * (size_t)dim * sizeof *init);
    vksac_status st = r && init ? VKSAC_OK : vks_fail(ctx, VKSAC_E_OOM, "%s: out of host memory (dim %u)", fn, dim);
    if (st == VKSAC_OK) {
        r->dim = dim;
        /* μ = 0, σ² = 1, t = 1: the first update then sets μ to the batch
         * mean and σ² to 0, as in SimBa. */
        for (size_t i = 0; i < 3 * (size_t)dim; i++)
            init[i] = i < dim ? 0.0f : 1.0f;
        st = vks_tensor_create(ctx, 3, dim, &r->stats);
    }
    if (st == VKSAC_OK)
        st = vks_tensor_write(r->stats, init);
    free(init);
    if (st != VKSAC_OK) {
        nn_rsmnorm_destroy(r);
        return st;
    }
    *out = r;
    return VKSAC_OK;
}

void nn_rsmnorm_destroy(nn_rsmnorm *r)
{
    if (!r)
        return;
    vks_tensor_destroy(r->stats);
    free(r);
}

/* The norm and an input of `dim` columns (any batch size). */
static vksac_status need_input(vks_ctx *ctx, const nn_rsmnorm *r, const vks_tensor *x, const char *fn,
                               const char *name)
{
    if (!r)
        return vks_fail(ctx, VKSAC_E_ARG, "%s: the RSMNorm 'r' must not be NULL", fn);
    VKS_TRY(vks_need_tensor(ctx, x, fn, name));
    return vks_need_shape(ctx, x, vks_tensor_rows(x), r->dim, fn, name);
}

vksac_status nn_rsmnorm_update(vks_seq *seq, nn_rsmnorm *r, const vks_tensor *x)
{
    static const char fn[] = "nn_rsmnorm_update";
    if (!seq)
        return VKSAC_E_ARG;
    vks_ctx *ctx = vks_seq_ctx(seq);
    VKS_TRY(need_input(ctx, r, x, fn, "x"));
    VKS_TRY(vks_need_loop(ctx, vks_tensor_rows(x), fn, "a batch of rows"));
    struct { uint32_t rows, cols, stride4; } pc = {vks_tensor_rows(x), vks_tensor_cols(x), vks_tensor_stride(x) / 4};
    const vks_tensor *ops[] = {x, r->stats};
    return vks_launch(seq, VKS_K_RSM_UPDATE, ops, &pc, sizeof pc,
                      vks_groups_1d(ctx, VKS_K_RSM_UPDATE, pc.stride4), 1, 1);
}

/* y = (x − μ)/sd with center, else y = x/sd; sd = max(√σ², 1e-5). */
static vksac_status apply(vks_seq *seq, const nn_rsmnorm *r, vks_tensor *y, const vks_tensor *x, int center,
                          const char *fn, const char *yname, const char *xname)
{
    if (!seq)
        return VKSAC_E_ARG;
    vks_ctx *ctx = vks_seq_ctx(seq);
    VKS_TRY(need_input(ctx, r, x, fn, xname));
    VKS_TRY(vks_need_tensor(ctx, y, fn, yname));
    VKS_TRY(vks_need_shape(ctx, y, vks_tensor_rows(x), vks_tensor_cols(x), fn, yname));
    struct { uint32_t n4, cols, stride4, center; } pc = {vks_tensor_rows(x) * (vks_tensor_stride(x) / 4), vks_tensor_cols(x), vks_tensor_stride(x) / 4,
                                                         center != 0};
    const vks_tensor *ops[] = {x, r->stats, y};
    return vks_launch(seq, VKS_K_RSM_APPLY, ops, &pc, sizeof pc, vks_groups_1d(ctx, VKS_K_RSM_APPLY, pc.n4), 1, 1);
}

vksac_status nn_rsmnorm_forward(vks_seq *seq, const nn_rsmnorm *r, vks_tensor *y, const vks_tensor *x)
{
    return apply(seq, r, y, x, 1, "nn_rsmnorm_forward", "y", "x");
}

vksac_status nn_rsmnorm_backward(vks_seq *seq, const nn_rsmnorm *r, vks_tensor *dx, const vks_tensor *dy)
{
    return apply(seq, r, dx, dy, 0, "nn_rsmnorm_backward", "dx", "dy");
}
