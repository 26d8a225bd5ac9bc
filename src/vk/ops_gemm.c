/* The three GEMM forms of a linear layer's training step, each with two
 * kernel variants: register-blocked texel-buffer kernels (CPU devices; 8×8
 * blocks, or 32×16 for large outputs) and one shared-memory tiled kernel
 * (GPUs); the context picks per device. */
#include "vk/internal.h"

static uint32_t ceil_div(uint32_t a, uint32_t b) { return (a + b - 1) / b; }

/* C = A·B through strides, for the tiled kernel (see gemm_tiled.comp). */
typedef struct tiled_push { uint32_t M, N, K, a_si, a_sk, b_sk, b_sj, ldc, flags; } tiled_push;

static vksac_status launch_tiled(vks_seq *s, const vks_tensor *a, const vks_tensor *b, const vks_tensor *bias,
                                 const vks_tensor *c, const tiled_push *pc)
{
    vks_ctx *ctx = vks_seq_ctx(s);
    uint32_t lx, ly, tm, tn;
    vks_kernel_local_size(ctx, VKS_K_GEMM_TILED, &lx, &ly);
    vks_kernel_tile(ctx, VKS_K_GEMM_TILED, &tm, &tn);
    const vks_tensor *ops[] = {a, b, bias, c};
    return vks_launch(s, VKS_K_GEMM_TILED, ops, pc, sizeof *pc, ceil_div(pc->ldc, lx * tn), ceil_div(pc->M, ly * tm), 1);
}

/* Grid of a blocked kernel whose invocations own TM rows of `rows` and TN
 * padded columns of `stride` each; a workgroup's invocations spread along
 * the rows, or along the columns when `lanes_cols`. */
static vksac_status launch_blocked(vks_seq *s, vks_kernel_id id, const vks_tensor *const *ops, const void *pc,
                                   uint32_t size, uint32_t rows, uint32_t stride, bool lanes_cols)
{
    vks_ctx *ctx = vks_seq_ctx(s);
    uint32_t lx, ly, tm, tn;
    vks_kernel_local_size(ctx, id, &lx, &ly);
    vks_kernel_tile(ctx, id, &tm, &tn);
    uint32_t row_blocks = ceil_div(rows, tm), col_blocks = ceil_div(stride, tn);
    if (lanes_cols)
        return vks_launch(s, id, ops, pc, size, ceil_div(col_blocks, lx), ceil_div(row_blocks, ly), 1);
    return vks_launch(s, id, ops, pc, size, ceil_div(row_blocks, lx), ceil_div(col_blocks, ly), 1);
}

/* The 32×16 blocks (gemm_*_big.comp) for outputs of at least 128 rows and
 * 128 columns: on lavapipe they cut pendulum's update 131 → 103 ms and
 * cheetah's 258 → 201. Below that they lose: batch 100 fills a quarter of
 * its last 32-row block with clamped rows (the forward GEMMs of `small`
 * took 921 instead of 676 µs), and 64 columns leave half the lanes idle. */
static bool big_blocks(uint32_t rows, uint32_t stride) { return rows >= 128 && stride >= 128; }

vksac_status vks_gemm_fwd(vks_seq *s, vks_tensor *y, const vks_tensor *x, const vks_tensor *w, const vks_tensor *b,
                          vks_act act)
{
    static const char fn[] = "vks_gemm_fwd";
    if (!s)
        return VKSAC_E_ARG;
    vks_ctx *ctx = vks_seq_ctx(s);
    VKS_TRY(vks_need_tensor(ctx, y, fn, "y"));
    VKS_TRY(vks_need_tensor(ctx, x, fn, "x"));
    VKS_TRY(vks_need_tensor(ctx, w, fn, "w"));
    uint32_t M = x->rows, K = x->cols, N = w->rows;
    VKS_TRY(vks_need_shape(ctx, w, N, K, fn, "w"));
    VKS_TRY(vks_need_shape(ctx, y, M, N, fn, "y"));
    if (b) {
        VKS_TRY(vks_need_tensor(ctx, b, fn, "b"));
        VKS_TRY(vks_need_shape(ctx, b, 1, N, fn, "b"));
    }
    if ((unsigned)act > VKS_ACT_RELU2)
        return vks_fail(ctx, VKSAC_E_ARG, "%s: activation %d is not one of none (0), relu (1), relu2 (2)", fn, (int)act);
    VKS_TRY(vks_need_distinct(ctx, y, "y", x, "x", fn));
    VKS_TRY(vks_need_distinct(ctx, y, "y", w, "w", fn));
    VKS_TRY(vks_need_loop(ctx, x->stride / 4, fn, "a reduction over K/4 texels"));
    uint32_t flags = (b ? 1u : 0u) | (uint32_t)act << 1;
    if (ctx->gemm_variant == 2) {
        tiled_push pc = {M, N, K, x->stride, 1, 1, w->stride, y->stride, flags};
        return launch_tiled(s, x, w, b, y, &pc);
    }
    uint32_t lx, ly, tm, tn;
    vks_kernel_id id = big_blocks(M, y->stride) ? VKS_K_GEMM_FWD_BIG : VKS_K_GEMM_FWD;
    vks_kernel_local_size(ctx, id, &lx, &ly);
    vks_kernel_tile(ctx, id, &tm, &tn);
    /* Lanes along N when the column blocks fill a workgroup: measured 17 vs
     * 13 GFLOP/s at 100×64×64 on lavapipe; narrow outputs keep them on M.
     * The big blocks always have them along N. */
    bool lanes_n = id == VKS_K_GEMM_FWD_BIG || ceil_div(y->stride, tn) >= lx;
    struct { uint32_t M, N, K4, ldx4, ldw4, ldy4, flags; } pc = {
        M, N, x->stride / 4, x->stride / 4, w->stride / 4, y->stride / 4, flags | (lanes_n ? 8u : 0u)};
    const vks_tensor *ops[] = {x, w, b, y};
    return launch_blocked(s, id, ops, &pc, sizeof pc, M, y->stride, lanes_n);
}

vksac_status vks_gemm_dx(vks_seq *s, vks_tensor *dx, const vks_tensor *dy, const vks_tensor *w, int accumulate)
{
    static const char fn[] = "vks_gemm_dx";
    if (!s)
        return VKSAC_E_ARG;
    vks_ctx *ctx = vks_seq_ctx(s);
    VKS_TRY(vks_need_tensor(ctx, dx, fn, "dx"));
    VKS_TRY(vks_need_tensor(ctx, dy, fn, "dy"));
    VKS_TRY(vks_need_tensor(ctx, w, fn, "w"));
    uint32_t M = dy->rows, N = dy->cols, K = w->cols;
    VKS_TRY(vks_need_shape(ctx, w, N, K, fn, "w"));
    VKS_TRY(vks_need_shape(ctx, dx, M, K, fn, "dx"));
    VKS_TRY(vks_need_distinct(ctx, dx, "dx", dy, "dy", fn));
    VKS_TRY(vks_need_distinct(ctx, dx, "dx", w, "w", fn));
    VKS_TRY(vks_need_loop(ctx, N, fn, "a reduction over N"));
    if (ctx->gemm_variant == 2) {
        tiled_push pc = {M, K, N, dy->stride, 1, w->stride, 1, dx->stride, accumulate ? 8u : 0u};
        return launch_tiled(s, dy, w, NULL, dx, &pc);
    }
    struct { uint32_t M, N, K, lddy4, ldw4, lddx4, accumulate; } pc = {
        M, N, K, dy->stride / 4, w->stride / 4, dx->stride / 4, accumulate != 0};
    const vks_tensor *ops[] = {dy, w, dx};
    if (big_blocks(M, dx->stride))
        return launch_blocked(s, VKS_K_GEMM_DX_BIG, ops, &pc, sizeof pc, M, dx->stride, true);
    return launch_blocked(s, VKS_K_GEMM_DX, ops, &pc, sizeof pc, M, dx->stride, false);
}

vksac_status vks_gemm_dw(vks_seq *s, vks_tensor *dw, const vks_tensor *dy, const vks_tensor *x, int accumulate)
{
    static const char fn[] = "vks_gemm_dw";
    if (!s)
        return VKSAC_E_ARG;
    vks_ctx *ctx = vks_seq_ctx(s);
    VKS_TRY(vks_need_tensor(ctx, dw, fn, "dw"));
    VKS_TRY(vks_need_tensor(ctx, dy, fn, "dy"));
    VKS_TRY(vks_need_tensor(ctx, x, fn, "x"));
    uint32_t M = dy->rows, N = dy->cols, K = x->cols;
    VKS_TRY(vks_need_shape(ctx, x, M, K, fn, "x"));
    VKS_TRY(vks_need_shape(ctx, dw, N, K, fn, "dw"));
    VKS_TRY(vks_need_distinct(ctx, dw, "dw", dy, "dy", fn));
    VKS_TRY(vks_need_distinct(ctx, dw, "dw", x, "x", fn));
    VKS_TRY(vks_need_loop(ctx, M, fn, "a reduction over M rows"));
    if (ctx->gemm_variant == 2) {
        tiled_push pc = {N, K, M, 1, dy->stride, x->stride, 1, dw->stride, accumulate ? 8u : 0u};
        return launch_tiled(s, dy, x, NULL, dw, &pc);
    }
    struct { uint32_t M, N, K, lddy4, ldx4, lddw4, accumulate; } pc = {
        M, N, K, dy->stride / 4, x->stride / 4, dw->stride / 4, accumulate != 0};
    const vks_tensor *ops[] = {dy, x, dw};
    if (big_blocks(N, dw->stride))
        return launch_blocked(s, VKS_K_GEMM_DW_BIG, ops, &pc, sizeof pc, N, dw->stride, true);
    return launch_blocked(s, VKS_K_GEMM_DW, ops, &pc, sizeof pc, N, dw->stride, false);
}
