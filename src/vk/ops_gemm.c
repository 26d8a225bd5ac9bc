/* The three GEMM forms of a linear layer's training step, each with two
 * kernel variants: register-blocked texel-buffer kernels (CPU devices; 8×8
 * blocks, or 32×16 and 16×16 for large outputs) and one shared-memory
 * tiled kernel (GPUs); the context picks per device. */
#include "vk/internal.h"

static uint32_t ceil_div(uint32_t a, uint32_t b) { return (a + b - 1) / b; }

/* C = A·B through strides, for the tiled kernel (see gemm_tiled.comp);
 * za…zc: floats between a batch's copies. */
typedef struct tiled_push { uint32_t M, N, K, a_si, a_sk, b_sk, b_sj, ldc, flags, za, zb, zbias, zc; } tiled_push;

static vksac_status launch_tiled(vks_seq *s, const vks_tensor *a, const vks_tensor *b, const vks_tensor *bias,
                                 const vks_tensor *c, const tiled_push *pc, uint32_t copies)
{
    vks_ctx *ctx = vks_seq_ctx(s);
    uint32_t lx, ly, tm, tn;
    vks_kernel_local_size(ctx, VKS_K_GEMM_TILED, &lx, &ly);
    vks_kernel_tile(ctx, VKS_K_GEMM_TILED, &tm, &tn);
    const vks_tensor *ops[] = {a, b, bias, c};
    return vks_launch(s, VKS_K_GEMM_TILED, ops, pc, sizeof *pc, ceil_div(pc->ldc, lx * tn), ceil_div(pc->M, ly * tm),
                      copies);
}

/* Rows per block of the 8×8 forward and dX kernels (their specialization
 * constant 2), whose table blocks have tm rows; 0 keeps those. Fewer rows
 * than tm, as when acting on a few states, get blocks of 1, 2 or 4 rows
 * rather than tm of which the rest compute clamped copies of the last row
 * (one state through the cheetah actor: docs/runtime.md). Each sum runs in
 * the same order, so the rows are bit-identical. */
static uint32_t few_rows_tile(vks_kernel_id id, uint32_t rows, uint32_t tm)
{
    if ((id != VKS_K_GEMM_FWD && id != VKS_K_GEMM_DX) || rows >= tm)
        return 0;
    return rows <= 1 ? 1 : rows <= 2 ? 2 : 4;
}

/* Grid of a blocked kernel whose invocations own TM rows of `rows` and TN
 * padded columns of `stride` each; a workgroup's invocations spread along
 * the rows, or along the columns when `lanes_cols`. */
static vksac_status launch_blocked(vks_seq *s, vks_kernel_id id, const vks_tensor *const *ops, const void *pc,
                                   uint32_t size, uint32_t rows, uint32_t stride, bool lanes_cols, uint32_t copies)
{
    vks_ctx *ctx = vks_seq_ctx(s);
    uint32_t lx, ly, tile[2];
    vks_kernel_local_size(ctx, id, &lx, &ly);
    vks_kernel_tile(ctx, id, &tile[0], &tile[1]);
    uint32_t tm = few_rows_tile(id, rows, tile[0]);
    if (tm)
        tile[0] = tm;
    const uint32_t *spec = tm ? tile : NULL;   /* tile[1]: the table's TN */
    uint32_t row_blocks = ceil_div(rows, tile[0]), col_blocks = ceil_div(stride, tile[1]);
    if (lanes_cols)
        return vks_launch_spec(s, id, spec, ops, pc, size, ceil_div(col_blocks, lx), ceil_div(row_blocks, ly),
                               copies);
    return vks_launch_spec(s, id, spec, ops, pc, size, ceil_div(row_blocks, lx), ceil_div(col_blocks, ly), copies);
}

/* The big blocks (gemm_*_big.comp: 32×16, dX 16×16) for outputs of at
 * least 128 rows and 128 columns, in the forms the device runs them well (vks_big_gemm_forms):
 * on lavapipe 22.3 they cut pendulum's update 131 → 103 ms and cheetah's
 * 258 → 201. Below that they lose: batch 100 fills a quarter of its last
 * 32-row block with clamped rows (the forward GEMMs of `small` took 921
 * instead of 676 µs), and 64 columns leave half the lanes idle. */
static bool big_blocks(const vks_ctx *ctx, uint32_t form, uint32_t rows, uint32_t stride)
{
    return (ctx->big_gemm_forms & form) && rows >= 128 && stride >= 128;
}

/* Copies, M and the steps (floats, as pushed) of a call: one copy of
 * `rows` rows with no batch. */
typedef struct copies { uint32_t count, M, z[VKS_BATCH_OPS]; } copies;

static copies copies_of(const vks_batch *batch, uint32_t rows)
{
    copies c = {1, rows, {0}};
    if (batch) {
        c.count = batch->count;
        c.M = batch->rows;
        for (int i = 0; i < VKS_BATCH_OPS; i++)
            c.z[i] = (uint32_t)batch->step[i];
    }
    return c;
}

/* True when every copy of a (la floats each) and every copy of b (lb) are
 * disjoint, both in one storage with the same step between copies: their
 * first copies then must not meet modulo the step. */
static bool copies_apart(const vks_tensor *a, uint64_t la, const vks_tensor *b, uint64_t lb, uint64_t sa,
                         uint64_t sb)
{
    if (a->chunk != b->chunk || sa != sb || sa == 0 || la > sa || lb > sa)
        return false;
    uint64_t a0 = a->offset / 4, b0 = b->offset / 4, d = (b0 + sa - a0 % sa) % sa;
    return la <= d && d + lb <= sa;
}

vksac_status vks_gemm_fwd(vks_seq *s, vks_tensor *y, const vks_tensor *x, const vks_tensor *w, const vks_tensor *b,
                          vks_act act)
{
    return vks_gemm_fwd_batched(s, y, x, w, b, act, NULL);
}

vksac_status vks_gemm_fwd_batched(vks_seq *s, vks_tensor *y, const vks_tensor *x, const vks_tensor *w,
                                  const vks_tensor *b, vks_act act, const vks_batch *batch)
{
    static const char fn[] = "vks_gemm_fwd";
    if (!s)
        return VKSAC_E_ARG;
    vks_ctx *ctx = vks_seq_ctx(s);
    VKS_TRY(vks_need_tensor(ctx, y, fn, "y"));
    VKS_TRY(vks_need_tensor(ctx, x, fn, "x"));
    VKS_TRY(vks_need_tensor(ctx, w, fn, "w"));
    copies z = copies_of(batch, x->rows);
    uint32_t M = z.M, K = x->cols, N = batch ? y->cols : w->rows;
    VKS_TRY(vks_need_operand(ctx, fn, batch, 0, y, M, N, true, "y"));
    VKS_TRY(vks_need_operand(ctx, fn, batch, 1, x, M, K, false, "x"));
    VKS_TRY(vks_need_operand(ctx, fn, batch, 2, w, N, K, false, "w"));
    if (b)
        VKS_TRY(vks_need_operand(ctx, fn, batch, 3, b, 1, N, false, "b"));
    if ((unsigned)act > VKS_ACT_RELU2)
        return vks_fail(ctx, VKSAC_E_ARG, "%s: activation %d is not one of none (0), relu (1), relu2 (2)", fn, (int)act);
    VKS_TRY(vks_need_distinct(ctx, y, "y", x, "x", fn));
    VKS_TRY(vks_need_distinct(ctx, y, "y", w, "w", fn));
    VKS_TRY(vks_need_distinct(ctx, y, "y", b, "b", fn));
    VKS_TRY(vks_need_loop(ctx, x->stride / 4, fn, "a reduction over K/4 texels"));
    uint32_t flags = (b ? 1u : 0u) | (uint32_t)act << 1;
    if (ctx->gemm_variant == 2) {
        tiled_push pc = {M, N, K, x->stride, 1, 1, w->stride, y->stride, flags, z.z[1], z.z[2], z.z[3], z.z[0]};
        return launch_tiled(s, x, w, b, y, &pc, z.count);
    }
    uint32_t lx, ly, tm, tn;
    vks_kernel_id id = big_blocks(ctx, VKS_GEMM_FWD, M, y->stride) ? VKS_K_GEMM_FWD_BIG : VKS_K_GEMM_FWD;
    vks_kernel_local_size(ctx, id, &lx, &ly);
    vks_kernel_tile(ctx, id, &tm, &tn);
    /* Lanes along N when the column blocks fill a workgroup: measured 17 vs
     * 13 GFLOP/s at 100×64×64 on lavapipe; narrow outputs keep them on M.
     * The big blocks always have them along N. */
    bool lanes_n = id == VKS_K_GEMM_FWD_BIG || ceil_div(y->stride, tn) >= lx;
    struct { uint32_t M, N, K4, ldx4, ldw4, ldy4, flags, zy, zx, zw, zb; } pc = {
        M, N, x->stride / 4, x->stride / 4, w->stride / 4, y->stride / 4, flags | (lanes_n ? 8u : 0u),
        z.z[0], z.z[1], z.z[2], z.z[3]};
    const vks_tensor *ops[] = {x, w, b, y};
    return launch_blocked(s, id, ops, &pc, sizeof pc, M, y->stride, lanes_n, z.count);
}

vksac_status vks_gemm_dx(vks_seq *s, vks_tensor *dx, const vks_tensor *dy, const vks_tensor *w, int accumulate)
{
    return vks_gemm_dx_batched(s, dx, dy, w, accumulate, NULL);
}

vksac_status vks_gemm_dx_batched(vks_seq *s, vks_tensor *dx, const vks_tensor *dy, const vks_tensor *w,
                                 int accumulate, const vks_batch *batch)
{
    static const char fn[] = "vks_gemm_dx";
    if (!s)
        return VKSAC_E_ARG;
    vks_ctx *ctx = vks_seq_ctx(s);
    VKS_TRY(vks_need_tensor(ctx, dx, fn, "dx"));
    VKS_TRY(vks_need_tensor(ctx, dy, fn, "dy"));
    VKS_TRY(vks_need_tensor(ctx, w, fn, "w"));
    copies z = copies_of(batch, dy->rows);
    uint32_t M = z.M, N = dy->cols, K = batch ? dx->cols : w->cols;
    VKS_TRY(vks_need_operand(ctx, fn, batch, 0, dx, M, K, true, "dx"));
    VKS_TRY(vks_need_operand(ctx, fn, batch, 1, dy, M, N, false, "dy"));
    VKS_TRY(vks_need_operand(ctx, fn, batch, 2, w, N, K, false, "w"));
    VKS_TRY(vks_need_distinct(ctx, dx, "dx", dy, "dy", fn));
    VKS_TRY(vks_need_distinct(ctx, dx, "dx", w, "w", fn));
    VKS_TRY(vks_need_loop(ctx, N, fn, "a reduction over N"));
    if (ctx->gemm_variant == 2) {
        tiled_push pc = {M, K, N, dy->stride, 1, w->stride, 1, dx->stride, accumulate ? 8u : 0u,
                         z.z[1], z.z[2], 0, z.z[0]};
        return launch_tiled(s, dy, w, NULL, dx, &pc, z.count);
    }
    struct { uint32_t M, N, K, lddy4, ldw4, lddx4, accumulate, zdx, zdy, zw; } pc = {
        M, N, K, dy->stride / 4, w->stride / 4, dx->stride / 4, accumulate != 0, z.z[0], z.z[1], z.z[2]};
    const vks_tensor *ops[] = {dy, w, dx};
    if (big_blocks(ctx, VKS_GEMM_DX, M, dx->stride))
        return launch_blocked(s, VKS_K_GEMM_DX_BIG, ops, &pc, sizeof pc, M, dx->stride, true, z.count);
    return launch_blocked(s, VKS_K_GEMM_DX, ops, &pc, sizeof pc, M, dx->stride, false, z.count);
}

vksac_status vks_gemm_dw(vks_seq *s, vks_tensor *dw, const vks_tensor *dy, const vks_tensor *x, int accumulate)
{
    return vks_gemm_dw_batched(s, dw, NULL, dy, x, accumulate, NULL);
}

vksac_status vks_gemm_dw_batched(vks_seq *s, vks_tensor *dw, vks_tensor *db, const vks_tensor *dy,
                                 const vks_tensor *x, int accumulate, const vks_batch *batch)
{
    return vks_gemm_dw_sums(s, dw, db, dy, x, accumulate, NULL, NULL, 0, batch);
}

/* The inputs of vks_gemm_dw_sums, in the order it lists them. */
static const char *const DW_IN_NAMES[3] = {"dy", "x", "gsrc"};

/* A column sum written beside dW (db, batch operand 3, or gsum, 5): 1×N,
 * apart from the inputs, and from dW and db unless an ensemble's
 * gradients interleave them set by set (same storage and step, copies
 * disjoint). */
static vksac_status need_col_sum(vks_ctx *ctx, const char *fn, const vks_batch *batch, int i, const vks_tensor *out,
                                 const char *name, uint32_t N, const vks_tensor *const ins[3],
                                 const vks_tensor *dw, const vks_tensor *db)
{
    VKS_TRY(vks_need_operand(ctx, fn, batch, i, out, 1, N, true, name));
    for (int j = 0; j < 3; j++)
        VKS_TRY(vks_need_distinct(ctx, out, name, ins[j], DW_IN_NAMES[j], fn));
    const vks_tensor *outs[] = {dw, db};
    const uint64_t lens[] = {dw ? (uint64_t)N * dw->stride : 0, db ? db->stride : 0};
    static const char *const out_names[] = {"dw", "db"};
    for (int j = 0; j < 2; j++)
        if (outs[j] && (!batch || !copies_apart(outs[j], lens[j], out, out->stride, batch->step[j ? 3 : 0],
                                                batch->step[i])))
            VKS_TRY(vks_need_distinct(ctx, out, name, outs[j], out_names[j], fn));
    return VKSAC_OK;
}

vksac_status vks_gemm_dw_sums(vks_seq *s, vks_tensor *dw, vks_tensor *db, const vks_tensor *dy,
                              const vks_tensor *x, int accumulate, vks_tensor *gsum, const vks_tensor *gsrc,
                              int accumulate_g, const vks_batch *batch)
{
    static const char fn[] = "vks_gemm_dw";
    if (!s)
        return VKSAC_E_ARG;
    vks_ctx *ctx = vks_seq_ctx(s);
    VKS_TRY(vks_need_tensor(ctx, dw, fn, "dw"));
    VKS_TRY(vks_need_tensor(ctx, dy, fn, "dy"));
    VKS_TRY(vks_need_tensor(ctx, x, fn, "x"));
    copies z = copies_of(batch, dy->rows);
    uint32_t M = z.M, N = dy->cols, K = x->cols;
    VKS_TRY(vks_need_operand(ctx, fn, batch, 1, dy, M, N, false, "dy"));
    VKS_TRY(vks_need_operand(ctx, fn, batch, 2, x, M, K, false, "x"));
    VKS_TRY(vks_need_operand(ctx, fn, batch, 0, dw, N, K, true, "dw"));
    if (gsum)
        VKS_TRY(vks_need_operand(ctx, fn, batch, 4, gsrc, M, N, false, "gsrc"));
    const vks_tensor *ins[3] = {dy, x, gsum ? gsrc : NULL};
    if (db)
        VKS_TRY(need_col_sum(ctx, fn, batch, 3, db, "db", N, ins, dw, NULL));
    if (gsum)
        VKS_TRY(need_col_sum(ctx, fn, batch, 5, gsum, "gsum", N, ins, dw, db));
    for (int j = 0; j < 3; j++)
        VKS_TRY(vks_need_distinct(ctx, dw, "dw", ins[j], DW_IN_NAMES[j], fn));
    VKS_TRY(vks_need_loop(ctx, M, fn, "a reduction over M rows"));
    if (ctx->gemm_variant == 2) {
        tiled_push pc = {N, K, M, 1, dy->stride, x->stride, 1, dw->stride, accumulate ? 8u : 0u,
                         z.z[1], z.z[2], 0, z.z[0]};
        VKS_TRY(launch_tiled(s, dy, x, NULL, dw, &pc, z.count));
        vks_batch cols = {z.count, M, {z.z[3], z.z[1]}}, gcols = {z.count, M, {z.z[5], z.z[4]}};
        if (db)
            VKS_TRY(vks_sum_cols_batched(s, db, dy, accumulate, batch ? &cols : NULL));
        return gsum ? vks_sum_cols_batched(s, gsum, gsrc, accumulate_g, batch ? &gcols : NULL) : VKSAC_OK;
    }
    struct { uint32_t M, N, K, lddy4, ldx4, lddw4, accumulate, zdw, zdy, zx, zdb, with_db, zg, zgs, with_g; } pc = {
        M, N, K, dy->stride / 4, x->stride / 4, dw->stride / 4, accumulate != 0, z.z[0], z.z[1], z.z[2], z.z[3],
        db != NULL, z.z[4], z.z[5], gsum ? 1u | (accumulate_g ? 2u : 0u) : 0u};
    _Static_assert(sizeof pc == 60, "the Push block of gemm_dw.comp and gemm_dw_big.comp, and their table rows");
    /* The kernel writes nothing to an absent db or gsum; dw stands in for
     * them, as their bindings are written ones and dw is written anyway
     * (and dy for an absent gsrc). */
    const vks_tensor *ops[] = {dy, x, dw, db ? db : dw, gsum ? gsrc : dy, gsum ? gsum : dw};
    if (big_blocks(ctx, VKS_GEMM_DW, N, dw->stride))
        return launch_blocked(s, VKS_K_GEMM_DW_BIG, ops, &pc, sizeof pc, N, dw->stride, true, z.count);
    return launch_blocked(s, VKS_K_GEMM_DW, ops, &pc, sizeof pc, N, dw->stride, false, z.count);
}
