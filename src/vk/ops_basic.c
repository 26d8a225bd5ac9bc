/* Element-wise kernels and reductions: fill, scale-add, row and column sums. */
#include "vk/internal.h"

/* Workgroups for a grid-stride loop over n items: enough to fill a GPU,
 * one per kernel thread on a CPU device. */
uint32_t vks_groups_1d(const vks_ctx *ctx, vks_kernel_id id, uint64_t n)
{
    uint32_t lx, ly;
    vks_kernel_local_size(ctx, id, &lx, &ly);
    uint64_t g = (n + lx - 1) / lx;
    uint64_t max = ctx->props.limits.maxComputeWorkGroupCount[0];
    if (max > 4096)
        max = 4096;   /* enough to fill any device; the loop covers the rest */
    if (ctx->cpu_threads)
        max = ctx->cpu_threads;   /* lavapipe: ~0.4 µs of set-up per workgroup (vks_ctx_cpu_threads) */
    return (uint32_t)(g < 1 ? 1 : g > max ? max : g);
}

vksac_status vks_need_tensor(vks_ctx *ctx, const vks_tensor *t, const char *fn, const char *name)
{
    if (!t)
        return vks_fail(ctx, VKSAC_E_ARG, "%s: tensor '%s' must not be NULL", fn, name);
    if (t->ctx != ctx)
        return vks_fail(ctx, VKSAC_E_ARG, "%s: tensor '%s' belongs to another context", fn, name);
    return VKSAC_OK;
}

vksac_status vks_need_shape(vks_ctx *ctx, const vks_tensor *t, uint32_t rows, uint32_t cols, const char *fn,
                            const char *name)
{
    if (t->rows != rows || t->cols != cols)
        return vks_fail(ctx, VKSAC_E_ARG, "%s: tensor '%s' is %ux%u, expected %ux%u", fn, name, t->rows,
                        t->cols, rows, cols);
    return VKSAC_OK;
}

vksac_status vks_need_copies(vks_ctx *ctx, const vks_tensor *t, uint32_t rows, uint32_t cols, uint32_t count,
                             uint64_t step, bool written, const char *fn, const char *name)
{
    VKS_TRY(vks_need_tensor(ctx, t, fn, name));
    if (t->cols != cols)
        return vks_fail(ctx, VKSAC_E_ARG, "%s: tensor '%s' has %u columns, expected %u", fn, name, t->cols, cols);
    uint64_t copy = (uint64_t)rows * t->stride, have = (uint64_t)t->rows * t->stride;
    if (count == 0 || rows == 0)
        return vks_fail(ctx, VKSAC_E_ARG, "%s: a batch needs at least one copy of at least one row, got %u of %u",
                        fn, count, rows);
    if (step % 4 != 0 || step > UINT32_MAX)
        return vks_fail(ctx, VKSAC_E_ARG, "%s: tensor '%s': the step between copies must be a multiple of 4 "
                        "floats below 2^32, got %llu", fn, name, (unsigned long long)step);
    if (written && count > 1 && step < copy)
        return vks_fail(ctx, VKSAC_E_ARG, "%s: tensor '%s' is written, so its copies (%llu floats each) must "
                        "not overlap, but they are %llu floats apart", fn, name, (unsigned long long)copy,
                        (unsigned long long)step);
    if ((count - 1) * step + copy > have)
        return vks_fail(ctx, VKSAC_E_ARG, "%s: tensor '%s' (%ux%u) does not hold %u copies of %u rows %llu "
                        "floats apart", fn, name, t->rows, t->cols, count, rows, (unsigned long long)step);
    return VKSAC_OK;
}

vksac_status vks_need_operand(vks_ctx *ctx, const char *fn, const vks_batch *batch, int i, const vks_tensor *t,
                              uint32_t rows, uint32_t cols, bool written, const char *name)
{
    if (!batch) {
        VKS_TRY(vks_need_tensor(ctx, t, fn, name));
        return vks_need_shape(ctx, t, rows, cols, fn, name);
    }
    return vks_need_copies(ctx, t, rows, cols, batch->count, batch->step[i], written, fn, name);
}

vksac_status vks_need_distinct(vks_ctx *ctx, const vks_tensor *a, const char *a_name, const vks_tensor *b,
                               const char *b_name, const char *fn)
{
    /* Views share a chunk with their parent: compare storage, not pointers. */
    if (a && b && a->chunk == b->chunk && a->offset < b->offset + b->bytes && b->offset < a->offset + a->bytes)
        return vks_fail(ctx, VKSAC_E_ARG, "%s: tensors '%s' and '%s' overlap in memory; use separate tensors", fn,
                        a_name, b_name);
    return VKSAC_OK;
}

vksac_status vks_need_loop(vks_ctx *ctx, uint64_t n, const char *fn, const char *what)
{
    if (n > VKS_MAX_LOOP)
        return vks_fail(ctx, VKSAC_E_UNSUPPORTED, "%s: %s of %llu exceeds the %u iterations one shader loop may "
                        "run (lavapipe ends longer loops early); split the operation", fn, what,
                        (unsigned long long)n, VKS_MAX_LOOP);
    return VKSAC_OK;
}

vksac_status vks_fill(vks_seq *s, vks_tensor *y, float value)
{
    if (!s)
        return VKSAC_E_ARG;
    vks_ctx *ctx = vks_seq_ctx(s);
    VKS_TRY(vks_need_tensor(ctx, y, "vks_fill", "y"));
    struct { uint32_t rows, cols, stride4; float value; } pc = {y->rows, y->cols, y->stride / 4, value};
    const vks_tensor *ops[] = {y};
    return vks_launch(s, VKS_K_FILL, ops, &pc, sizeof pc,
                      vks_groups_1d(ctx, VKS_K_FILL, (uint64_t)y->rows * pc.stride4), 1, 1);
}

vksac_status vks_scale_add(vks_seq *s, vks_tensor *y, float a, const vks_tensor *x, float b)
{
    if (!s)
        return VKSAC_E_ARG;
    VKS_TRY(vks_need_tensor(vks_seq_ctx(s), y, "vks_scale_add", "y"));   /* for its size; the rest checks x */
    return vks_scale_add_texels(s, y, a, x, b, 0, y->rows * (y->stride / 4));
}

vksac_status vks_scale_add_texels(vks_seq *s, vks_tensor *y, float a, const vks_tensor *x, float b, uint32_t first,
                                  uint32_t count)
{
    static const char fn[] = "vks_scale_add_texels";
    if (!s)
        return VKSAC_E_ARG;
    vks_ctx *ctx = vks_seq_ctx(s);
    VKS_TRY(vks_need_tensor(ctx, y, fn, "y"));
    VKS_TRY(vks_need_tensor(ctx, x, fn, "x"));
    VKS_TRY(vks_need_shape(ctx, x, y->rows, y->cols, fn, "x"));
    uint32_t n4 = y->rows * (y->stride / 4);
    if (first > n4 || count > n4 - first)
        return vks_fail(ctx, VKSAC_E_ARG, "%s: texels [%u, %u + %u) run past y's %u texels", fn, first, first,
                        count, n4);
    struct { uint32_t end, cols, stride4; float a, b; uint32_t first; } pc = {first + count, y->cols, y->stride / 4,
                                                                            a, b, first};
    _Static_assert(sizeof pc == 24, "the Push block of shaders/scale_add.comp and its table row");
    const vks_tensor *ops[] = {x, y, y};   /* y read through a view, written through a buffer */
    return vks_launch(s, VKS_K_SCALE_ADD, ops, &pc, sizeof pc, vks_groups_1d(ctx, VKS_K_SCALE_ADD, count), 1, 1);
}

vksac_status vks_sum_rows(vks_seq *s, vks_tensor *out, const vks_tensor *x, int accumulate)
{
    if (!s)
        return VKSAC_E_ARG;
    vks_ctx *ctx = vks_seq_ctx(s);
    VKS_TRY(vks_need_tensor(ctx, out, "vks_sum_rows", "out"));
    VKS_TRY(vks_need_tensor(ctx, x, "vks_sum_rows", "x"));
    VKS_TRY(vks_need_shape(ctx, out, 1, x->rows, "vks_sum_rows", "out"));
    VKS_TRY(vks_need_loop(ctx, x->stride / 4, "vks_sum_rows", "a row of texels"));
    struct { uint32_t rows, stride4, out_len, accumulate; } pc = {x->rows, x->stride / 4, out->stride,
                                                                   accumulate != 0};
    const vks_tensor *ops[] = {x, out};
    return vks_launch(s, VKS_K_SUM_ROWS, ops, &pc, sizeof pc, vks_groups_1d(ctx, VKS_K_SUM_ROWS, out->stride), 1, 1);
}

vksac_status vks_sum_cols(vks_seq *s, vks_tensor *out, const vks_tensor *x, int accumulate)
{
    return vks_sum_cols_batched(s, out, x, accumulate, NULL);
}

vksac_status vks_sum_cols_batched(vks_seq *s, vks_tensor *out, const vks_tensor *x, int accumulate,
                                  const vks_batch *batch)
{
    static const char fn[] = "vks_sum_cols";
    if (!s)
        return VKSAC_E_ARG;
    vks_ctx *ctx = vks_seq_ctx(s);
    VKS_TRY(vks_need_tensor(ctx, x, fn, "x"));
    vks_batch one = {1, x->rows, {0}};
    const vks_batch *b = batch ? batch : &one;
    VKS_TRY(vks_need_operand(ctx, fn, batch, 0, out, 1, x->cols, true, "out"));
    VKS_TRY(vks_need_operand(ctx, fn, batch, 1, x, b->rows, x->cols, false, "x"));
    VKS_TRY(vks_need_distinct(ctx, out, "out", x, "x", fn));
    VKS_TRY(vks_need_loop(ctx, b->rows, fn, "a column of rows"));
    struct { uint32_t rows, stride4, accumulate, zout, zx; } pc = {
        b->rows, x->stride / 4, accumulate != 0, (uint32_t)b->step[0], (uint32_t)b->step[1]};
    const vks_tensor *ops[] = {x, out};
    return vks_launch(s, VKS_K_SUM_COLS, ops, &pc, sizeof pc, vks_groups_1d(ctx, VKS_K_SUM_COLS, pc.stride4), 1,
                      b->count);
}
