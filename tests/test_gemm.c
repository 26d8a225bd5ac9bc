/* The three GEMM forms against the reference, for the context's GEMM
 * variant (ctest runs this with --variant=1 and --variant=2), over shapes
 * that hit every edge of the 8×8, 32×16 and 16×16 register blocks and
 * 64×64 tiles. */
#include "harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "reference/kernels_ref.h"
#include "vk/internal.h"

typedef struct gshape { uint32_t m, k, n; } gshape;

static const gshape all_shapes[] = {
    {1, 1, 1},    {1, 3, 5},     {7, 1, 9},     {13, 3, 17},     {5, 7, 1},
    {33, 65, 31}, {64, 64, 64},  {100, 64, 64}, {256, 17, 256},  {129, 200, 70},
    {65, 130, 1}, {130, 33, 150}, {161, 130, 257}, {200, 150, 70},
    /* 1-4 rows: the 8×8 kernels' blocks of 1, 2 and 4 rows (ops_gemm.c),
     * the forward's lanes along N (70, 72 columns) and along M (20). */
    {1, 130, 70}, {2, 20, 70}, {2, 70, 20}, {3, 64, 20}, {4, 9, 72},
};
/* The descriptor-set fallback does not change the arithmetic: a few shapes
 * that still cross tile edges are enough there. */
static const gshape nopush_shapes[] = {{1, 3, 5}, {13, 3, 17}, {33, 65, 31}, {129, 200, 70}};

static const gshape *shapes;
static size_t nshapes;

static void shape_name(char *buf, size_t size, const char *form, const gshape *s, const char *extra)
{
    snprintf(buf, size, "v%d %s M=%u K=%u N=%u %s", th.opts.gemm_variant, form, s->m, s->k, s->n,
             extra);
}

static int run_fwd(const gshape *s, uint64_t seed, int with_bias, int act)
{
    float *hx, *hw, *hb = NULL, *hy;
    vks_tensor *x = th_rand_tensor(s->m, s->k, seed, &hx);
    vks_tensor *w = th_rand_tensor(s->n, s->k, seed + 1, &hw);
    vks_tensor *b = with_bias ? th_rand_tensor(1, s->n, seed + 2, &hb) : NULL;
    /* Y starts random: the forward pass must overwrite, not accumulate. */
    vks_tensor *y = th_rand_tensor(s->m, s->n, seed + 3, &hy);
    vks_seq *seq = th_seq_begin(0);
    TH_OK(vks_gemm_fwd(seq, y, x, w, b, (vks_act)act));
    th_seq_finish(seq);
    ref_gemm_fwd(hy, hx, hw, hb, s->m, s->n, s->k, act);

    char extra[32], what[128];
    snprintf(extra, sizeof extra, "bias=%d act=%d", with_bias, act);
    shape_name(what, sizeof what, "gemm_fwd", s, extra);
    int ok = th_check(y, hy, TH_TOL, what);
    free(hx), free(hw), free(hb), free(hy);
    vks_tensor_destroy(x), vks_tensor_destroy(w), vks_tensor_destroy(y);
    if (b)
        vks_tensor_destroy(b);
    return ok;
}

/* dx (M×K) (+)= dy (M×N) · w (N×K), or dw (N×K) (+)= dyᵀ · x (M×K), with
 * or without the bias gradient (and the forward product, for
 * test_big_blocks_bit_identical). */
enum { FORM_DX, FORM_DW, FORM_DW_DB, FORM_FWD };

static int run_backward(const gshape *s, uint64_t seed, int form, int acc)
{
    int is_dw = form != FORM_DX;
    uint32_t out_rows = is_dw ? s->n : s->m;
    uint32_t in_rows = is_dw ? s->m : s->n;
    float *hdy, *hin, *hout;
    vks_tensor *dy = th_rand_tensor(s->m, s->n, seed, &hdy);
    vks_tensor *in = th_rand_tensor(in_rows, s->k, seed + 1, &hin);
    vks_tensor *out = th_rand_tensor(out_rows, s->k, seed + 2, &hout);
    /* The bias gradient and the second column sum (of gsrc, adding when
     * the rest writes) start random like out. */
    float *hdb = NULL, *hgsrc = NULL, *hgsum = NULL;
    vks_tensor *db = form == FORM_DW_DB ? th_rand_tensor(1, s->n, seed + 3, &hdb) : NULL;
    vks_tensor *gsrc = db ? th_rand_tensor(s->m, s->n, seed + 4, &hgsrc) : NULL;
    vks_tensor *gsum = db ? th_rand_tensor(1, s->n, seed + 5, &hgsum) : NULL;
    vks_seq *seq = th_seq_begin(0);
    if (form == FORM_DW_DB) {
        TH_OK(vks_gemm_dw_sums(seq, out, db, dy, in, acc, gsum, gsrc, !acc, NULL));
        ref_gemm_dw(hout, hdy, hin, s->m, s->n, s->k, acc);
        ref_sum_cols(hdb, hdy, s->m, s->n, acc);
        ref_sum_cols(hgsum, hgsrc, s->m, s->n, !acc);
    } else if (form == FORM_DW) {
        TH_OK(vks_gemm_dw(seq, out, dy, in, acc));
        ref_gemm_dw(hout, hdy, hin, s->m, s->n, s->k, acc);
    } else {
        TH_OK(vks_gemm_dx(seq, out, dy, in, acc));
        ref_gemm_dx(hout, hdy, hin, s->m, s->n, s->k, acc);
    }
    th_seq_finish(seq);

    char extra[32], what[128];
    snprintf(extra, sizeof extra, "accumulate=%d", acc);
    shape_name(what, sizeof what, is_dw ? "gemm_dw" : "gemm_dx", s, extra);
    int ok = th_check(out, hout, TH_TOL, what);
    if (db) {
        snprintf(extra, sizeof extra, "accumulate=%d bias gradient", acc);
        shape_name(what, sizeof what, "gemm_dw", s, extra);
        ok &= th_check(db, hdb, TH_TOL, what);
        snprintf(extra, sizeof extra, "accumulate=%d column sum", !acc);
        shape_name(what, sizeof what, "gemm_dw", s, extra);
        ok &= th_check(gsum, hgsum, TH_TOL, what);
        vks_tensor_destroy(db), vks_tensor_destroy(gsrc), vks_tensor_destroy(gsum);
    }
    free(hdy), free(hin), free(hout), free(hdb), free(hgsrc), free(hgsum);
    vks_tensor_destroy(dy), vks_tensor_destroy(in), vks_tensor_destroy(out);
    return ok;
}

static void test_gemm_fwd(void **state)
{
    (void)state;
    int failures = 0;
    for (size_t i = 0; i < nshapes; i++)
        for (int bias = 0; bias <= 1; bias++)
            for (int act = REF_ACT_NONE; act <= REF_ACT_RELU2; act++)
                failures += !run_fwd(&shapes[i], 1000 + 10 * i, bias, act);
    assert_int_equal(failures, 0);
}

static void test_gemm_dx(void **state)
{
    (void)state;
    int failures = 0;
    for (size_t i = 0; i < nshapes; i++)
        for (int acc = 0; acc <= 1; acc++)
            failures += !run_backward(&shapes[i], 2000 + 10 * i, FORM_DX, acc);
    assert_int_equal(failures, 0);
}

static void test_gemm_dw(void **state)
{
    (void)state;
    int failures = 0;
    for (size_t i = 0; i < nshapes; i++)
        for (int acc = 0; acc <= 1; acc++)
            for (int form = FORM_DW; form <= FORM_DW_DB; form++)
                failures += !run_backward(&shapes[i], 3000 + 10 * i, form, acc);
    assert_int_equal(failures, 0);
}

/* Runs one GEMM form on seeded operands with the context's big blocks
 * limited to `forms` (which the context picks per driver: docs/runtime.md,
 * "Other Mesa versions"); returns the output followed by the bias (the
 * gradient for FORM_DW_DB) and, for FORM_DW_DB, the second column sum, as
 * read back, their length in *count, and names the kernel that ran. */
static float *run_with_forms(const gshape *s, int form, uint32_t forms, char *kernel, size_t size, size_t *count)
{
    uint32_t saved = th.ctx->big_gemm_forms;
    th.ctx->big_gemm_forms = forms;
    int fwd = form == FORM_FWD, is_dw = form == FORM_DW || form == FORM_DW_DB;
    vks_tensor *a = th_rand_tensor(s->m, fwd || is_dw ? s->k : s->n, 41, NULL);   /* x, or dy for dX */
    vks_tensor *w = th_rand_tensor(s->n, s->k, 42, NULL);
    vks_tensor *bias = th_rand_tensor(1, s->n, 43, NULL);
    vks_tensor *dy = th_rand_tensor(s->m, s->n, 44, NULL);
    vks_tensor *out = th_rand_tensor(is_dw ? s->n : s->m, fwd ? s->n : s->k, 45, NULL);
    vks_tensor *gsrc = th_rand_tensor(s->m, s->n, 46, NULL), *gsum = th_rand_tensor(1, s->n, 47, NULL);
    bool sums = form == FORM_DW_DB;
    vks_seq *seq = th_seq_begin(1);
    if (fwd)
        TH_OK(vks_gemm_fwd(seq, out, a, w, bias, VKS_ACT_RELU2));
    else if (form == FORM_DX)
        TH_OK(vks_gemm_dx(seq, out, a, w, 1));
    else
        TH_OK(vks_gemm_dw_sums(seq, out, sums ? bias : NULL, dy, a, 1, sums ? gsum : NULL, gsrc, 1, NULL));
    vks_dispatch_info info;
    TH_OK(vks_seq_dispatch_info(seq, 0, &info));
    snprintf(kernel, size, "%s", info.name);
    th_seq_finish(seq);
    size_t n = (size_t)out->rows * out->cols;
    *count = n + 2 * (size_t)s->n;
    float *got = malloc(*count * sizeof *got), *o = th_read(out), *db = th_read(bias), *gs = th_read(gsum);
    assert_non_null(got);
    memcpy(got, o, n * sizeof *got);
    memcpy(got + n, db, s->n * sizeof *got);
    memcpy(got + n + s->n, gs, s->n * sizeof *got);
    free(o), free(db), free(gs);
    vks_tensor_destroy(a), vks_tensor_destroy(w), vks_tensor_destroy(bias), vks_tensor_destroy(dy);
    vks_tensor_destroy(out), vks_tensor_destroy(gsrc), vks_tensor_destroy(gsum);
    th.ctx->big_gemm_forms = saved;
    return got;
}

/* The 32×16 and the 8×8 blocks add in the same order, so whichever the
 * driver gets, results are bit for bit the same. Every output here has at
 * least 128 rows and columns, so both can run; K/4 is odd in two shapes,
 * and M = 131 leaves both dW kernels a part-filled last step (two batch
 * rows per step in the 32×16 blocks, four in the 8×8). */
static void test_big_blocks_bit_identical(void **state)
{
    (void)state;
    if (vks_ctx_gemm_variant(th.ctx) != 1)
        skip();   /* the tiled GEMM has no block choice */
    static const gshape big[] = {{256, 512, 256}, {256, 132, 136}, {131, 129, 150}};
    static const char *const names[] = {"dX", "dW", "dW with db", "forward"};
    for (size_t i = 0; i < sizeof big / sizeof *big; i++)
        for (int form = FORM_DX; form <= FORM_FWD; form++) {
            char k_big[32], k_small[32];
            size_t n, n_small;
            float *with = run_with_forms(&big[i], form, VKS_GEMM_FWD | VKS_GEMM_DX | VKS_GEMM_DW, k_big,
                                         sizeof k_big, &n);
            float *without = run_with_forms(&big[i], form, 0, k_small, sizeof k_small, &n_small);
            assert_int_equal(n, n_small);
            if (strcmp(k_big, k_small) == 0 || memcmp(with, without, n * sizeof *with) != 0)
                print_error("%s M=%u K=%u N=%u: %s and %s differ or are the same kernel\n", names[form],
                            big[i].m, big[i].k, big[i].n, k_big, k_small);
            assert_string_not_equal(k_big, k_small);
            assert_memory_equal(with, without, n * sizeof *with);
            free(with), free(without);
        }
}

/* Rows per block of kernel id's only pipeline on ctx; 0 if it has none or
 * several. */
static uint32_t only_row_tile(const vks_ctx *ctx, vks_kernel_id id)
{
    const vks_kernel *k = &ctx->kernels[id];
    return k->variants == 1 ? k->spec23[0][0] : 0;
}

/* y = relu²(x·Wᵀ + b) and dx = y·W for the m rows of hx, on a context of
 * their own (so its pipelines show which blocks ran), read back into *y
 * and *dx; *tile is the rows per block both kernels ran. */
static void few_rows_run(uint32_t m, uint32_t k, uint32_t n, const float *hx, const float *hw, const float *hb,
                         float **y, float **dx, uint32_t *tile)
{
    vks_ctx *shared = th.ctx, *own = NULL;
    TH_OK(th_ctx_create(&th.opts, NULL, &own));
    th.ctx = own;
    vks_tensor *x = th_tensor(m, k, hx), *w = th_tensor(n, k, hw), *b = th_tensor(1, n, hb);
    vks_tensor *ty = th_tensor(m, n, NULL), *tdx = th_tensor(m, k, NULL);
    vks_seq *seq = th_seq_begin(0);
    TH_OK(vks_gemm_fwd(seq, ty, x, w, b, VKS_ACT_RELU2));
    TH_OK(vks_gemm_dx(seq, tdx, ty, w, 0));
    th_seq_finish(seq);
    *y = th_read(ty), *dx = th_read(tdx);
    uint32_t fwd = only_row_tile(own, VKS_K_GEMM_FWD), bwd = only_row_tile(own, VKS_K_GEMM_DX);
    *tile = fwd == bwd ? fwd : 0;
    vks_tensor_destroy(x), vks_tensor_destroy(w), vks_tensor_destroy(b), vks_tensor_destroy(ty);
    vks_tensor_destroy(tdx);
    assert_int_equal(vks_ctx_validation_messages(own), 0);
    th.ctx = shared;
    vks_ctx_destroy(own);
}

/* Fewer than 8 rows run the 8×8 forward and dX kernels with blocks of 1,
 * 2 or 4 rows (ops_gemm.c); each row is the same sum in the same order as
 * with 8 rows, so it matches that row of an 8-row product bit for bit. */
static void test_few_rows_bit_identical(void **state)
{
    (void)state;
    if (vks_ctx_gemm_variant(th.ctx) != 1)
        skip();   /* the tiled GEMM has no row blocks */
    const uint32_t k = 130, n = 70;
    float *hx = th_rand((size_t)8 * k, 9000), *hw = th_rand((size_t)n * k, 9001), *hb = th_rand(n, 9002);
    float *want_y, *want_dx;
    uint32_t tile;
    few_rows_run(8, k, n, hx, hw, hb, &want_y, &want_dx, &tile);
    assert_int_equal(tile, 8);
    static const uint32_t rows[] = {1, 2, 3, 5, 7}, tiles[] = {1, 2, 4, 4, 4};
    for (size_t i = 0; i < sizeof rows / sizeof *rows; i++) {
        uint32_t m = rows[i];
        float *y, *dx;
        few_rows_run(m, k, n, hx, hw, hb, &y, &dx, &tile);
        if (tile != tiles[i] || memcmp(y, want_y, (size_t)m * n * sizeof *y) != 0 ||
            memcmp(dx, want_dx, (size_t)m * k * sizeof *dx) != 0)
            fail_msg("%u rows: blocks of %u rows (want %u), or rows that differ from the 8-row product", m, tile,
                     tiles[i]);
        free(y), free(dx);
    }
    free(hx), free(hw), free(hb), free(want_y), free(want_dx);
}

/* Proves TH_TOL discriminates: the device result matches the right
 * reference within it, while references with one index mistake (Wᵀ read as
 * W, output shifted by a column, X offset by one element) miss it by at
 * least four orders of magnitude. */
static void test_tolerance_discriminates(void **state)
{
    (void)state;
    const uint32_t m = 33, k = 64, n = 64; /* square W so W and Wᵀ both fit */
    float *hx, *hw;
    vks_tensor *x = th_rand_tensor(m, k, 4000, &hx);
    vks_tensor *w = th_rand_tensor(n, k, 4001, &hw);
    vks_tensor *y = th_tensor(m, n, NULL);
    vks_seq *seq = th_seq_begin(0);
    TH_OK(vks_gemm_fwd(seq, y, x, w, NULL, VKS_ACT_NONE));
    th_seq_finish(seq);
    float *got = th_read(y);

    size_t ny = (size_t)m * n;
    float *ref = malloc(ny * sizeof *ref), *wrong = malloc(ny * sizeof *wrong);
    float *wt = malloc((size_t)n * k * sizeof *wt), *xoff = calloc((size_t)m * k + 1, sizeof *xoff);
    assert_non_null(ref), assert_non_null(wrong), assert_non_null(wt), assert_non_null(xoff);
    ref_gemm_fwd(ref, hx, hw, NULL, m, n, k, REF_ACT_NONE);
    double right = th_nmse(got, ref, ny);
    print_message("correct reference: nmse %.3g (tolerance %.3g)\n", right, TH_TOL);
    assert_true(right < TH_TOL);

    for (uint32_t j = 0; j < n; j++)
        for (uint32_t p = 0; p < k; p++)
            wt[(size_t)j * k + p] = hw[(size_t)p * k + j];
    ref_gemm_fwd(wrong, hx, wt, NULL, m, n, k, REF_ACT_NONE);
    double e_transposed = th_nmse(got, wrong, ny);

    for (uint32_t i = 0; i < m; i++)
        for (uint32_t j = 0; j < n; j++)
            wrong[(size_t)i * n + j] = ref[(size_t)i * n + (j + 1) % n];
    double e_shifted = th_nmse(got, wrong, ny);

    memcpy(xoff, hx + 1, ((size_t)m * k - 1) * sizeof *xoff);
    ref_gemm_fwd(wrong, xoff, hw, NULL, m, n, k, REF_ACT_NONE);
    double e_offset = th_nmse(got, wrong, ny);

    print_message("wrong references: W for Wᵀ %.3g, column shift %.3g, X offset %.3g\n",
                  e_transposed, e_shifted, e_offset);
    assert_true(e_transposed > 1e4 * TH_TOL);
    assert_true(e_shifted > 1e4 * TH_TOL);
    assert_true(e_offset > 1e4 * TH_TOL);

    free(got), free(ref), free(wrong), free(wt), free(xoff), free(hx), free(hw);
    vks_tensor_destroy(x), vks_tensor_destroy(w), vks_tensor_destroy(y);
}

/* A forward and backward step recorded in one sequence: each kernel reads
 * what the previous one wrote (Y), so a missing barrier shows up as stale
 * data. Ends with a kernel that overwrites X after the GEMMs read it
 * (write-after-read). */
static int run_chain(const gshape *s, uint64_t seed)
{
    float *hx, *hw, *hb;
    vks_tensor *x = th_rand_tensor(s->m, s->k, seed, &hx);
    vks_tensor *w = th_rand_tensor(s->n, s->k, seed + 1, &hw);
    vks_tensor *b = th_rand_tensor(1, s->n, seed + 2, &hb);
    vks_tensor *y = th_tensor(s->m, s->n, NULL);
    vks_tensor *dx = th_tensor(s->m, s->k, NULL);
    vks_tensor *dw = th_tensor(s->n, s->k, NULL);
    vks_tensor *db = th_tensor(1, s->n, NULL);

    vks_seq *seq = th_seq_begin(0);
    TH_OK(vks_gemm_fwd(seq, y, x, w, b, VKS_ACT_RELU));
    TH_OK(vks_gemm_dx(seq, dx, y, w, 0));
    TH_OK(vks_gemm_dw(seq, dw, y, x, 0));
    TH_OK(vks_sum_cols(seq, db, y, 0));
    TH_OK(vks_fill(seq, x, 0.0f));
    th_seq_finish(seq);

    float *hy = malloc((size_t)s->m * s->n * sizeof *hy);
    float *hdx = malloc((size_t)s->m * s->k * sizeof *hdx);
    float *hdw = malloc((size_t)s->n * s->k * sizeof *hdw);
    float *hdb = malloc(s->n * sizeof *hdb);
    assert_non_null(hy), assert_non_null(hdx), assert_non_null(hdw), assert_non_null(hdb);
    ref_gemm_fwd(hy, hx, hw, hb, s->m, s->n, s->k, REF_ACT_RELU);
    ref_gemm_dx(hdx, hy, hw, s->m, s->n, s->k, 0);
    ref_gemm_dw(hdw, hy, hx, s->m, s->n, s->k, 0);
    ref_sum_cols(hdb, hy, s->m, s->n, 0);

    char what[128];
    int ok = 1;
    shape_name(what, sizeof what, "chain", s, "Y");
    ok &= th_check(y, hy, TH_TOL, what);
    shape_name(what, sizeof what, "chain", s, "dX = Y·W");
    ok &= th_check(dx, hdx, TH_TOL, what);
    shape_name(what, sizeof what, "chain", s, "dW = Yᵀ·X");
    ok &= th_check(dw, hdw, TH_TOL, what);
    shape_name(what, sizeof what, "chain", s, "db = colsum Y");
    ok &= th_check(db, hdb, TH_TOL, what);

    free(hx), free(hw), free(hb), free(hy), free(hdx), free(hdw), free(hdb);
    vks_tensor *all[] = {x, w, b, y, dx, dw, db};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        vks_tensor_destroy(all[i]);
    return ok;
}

static void test_chain(void **state)
{
    (void)state;
    static const gshape chain_shapes[] = {{37, 45, 29}, {129, 200, 70}};
    int failures = 0;
    for (size_t i = 0; i < 2; i++)
        failures += !run_chain(&chain_shapes[i], 5000 + 10 * i);
    assert_int_equal(failures, 0);
}

/* ---- batches -------------------------------------------------------------- */

/* Every operand is a stack of `count` copies, `gap` spare rows apart (so
 * steps are not the dense size), except a shared x (step 0) when asked.
 * Each copy must equal the reference on its own slice, and the spare rows
 * must be left as they were. */
enum { COPIES = 3, GAP = 2 };

typedef struct stack {
    vks_tensor *t;
    float *h;
    uint32_t rows, cols;   /* of one copy */
    uint64_t step;         /* floats */
} stack;

static stack stack_make(uint32_t rows, uint32_t cols, uint32_t copies, uint64_t seed)
{
    stack s = {.rows = rows, .cols = cols};
    s.t = th_rand_tensor(copies * (rows + GAP), cols, seed, &s.h);
    s.step = copies > 1 ? (uint64_t)(rows + GAP) * vks_tensor_stride(s.t) : 0;
    return s;
}

static float *slice(const stack *s, uint32_t z) { return s->h + (size_t)z * (s->step ? s->rows + GAP : 0) * s->cols; }

static void stack_free(stack *s)
{
    vks_tensor_destroy(s->t);
    free(s->h);
}

static int run_batched(const gshape *g, uint64_t seed, int form, int shared_x)
{
    uint32_t m = g->m, n = g->n, k = g->k;
    stack a, b, c, bias = {0}, gsrc = {0}, gsum = {0};
    vks_batch bt = {COPIES, m, {0}};
    vks_seq *seq = th_seq_begin(0);
    if (form == 0) {   /* y = x·wᵀ + b, x shared or stacked */
        c = stack_make(m, n, COPIES, seed);
        a = stack_make(m, k, shared_x ? 1 : COPIES, seed + 1);
        b = stack_make(n, k, COPIES, seed + 2);
        bias = stack_make(1, n, COPIES, seed + 3);
        bt.step[0] = c.step, bt.step[1] = a.step, bt.step[2] = b.step, bt.step[3] = bias.step;
        TH_OK(vks_gemm_fwd_batched(seq, c.t, a.t, b.t, bias.t, VKS_ACT_RELU2, &bt));
    } else if (form == 1) {   /* dx += dy·w */
        c = stack_make(m, k, COPIES, seed);
        a = stack_make(m, n, COPIES, seed + 1);
        b = stack_make(n, k, COPIES, seed + 2);
        bt.step[0] = c.step, bt.step[1] = a.step, bt.step[2] = b.step;
        TH_OK(vks_gemm_dx_batched(seq, c.t, a.t, b.t, 1, &bt));
    } else {   /* dw += dyᵀ·x */
        c = stack_make(n, k, COPIES, seed);
        a = stack_make(m, n, COPIES, seed + 1);
        b = stack_make(m, k, COPIES, seed + 2);
        bt.step[0] = c.step, bt.step[1] = a.step, bt.step[2] = b.step;
        bias = stack_make(1, n, COPIES, seed + 3);
        /* Steps of their own (an extra row each), so that an offset taken
         * from dy's or db's step shows. */
        gsrc = stack_make(m + 1, n, COPIES, seed + 4);
        gsum = stack_make(2, n, COPIES, seed + 5);
        bt.step[3] = bias.step, bt.step[4] = gsrc.step, bt.step[5] = gsum.step;
        TH_OK(vks_gemm_dw_sums(seq, c.t, bias.t, a.t, b.t, 1, gsum.t, gsrc.t, 1, &bt));
    }
    th_seq_finish(seq);
    for (uint32_t z = 0; z < COPIES; z++) {
        if (form == 0)
            ref_gemm_fwd(slice(&c, z), slice(&a, z), slice(&b, z), slice(&bias, z), m, n, k, REF_ACT_RELU2);
        else if (form == 1)
            ref_gemm_dx(slice(&c, z), slice(&a, z), slice(&b, z), m, n, k, 1);
        else
            ref_gemm_dw(slice(&c, z), slice(&a, z), slice(&b, z), m, n, k, 1);
        if (form == 2) {
            ref_sum_cols(slice(&bias, z), slice(&a, z), m, n, 1);
            ref_sum_cols(slice(&gsum, z), slice(&gsrc, z), m, n, 1);
        }
    }
    char extra[32], what[128];
    snprintf(extra, sizeof extra, "batch of %d shared_x=%d", COPIES, shared_x);
    shape_name(what, sizeof what, form == 0 ? "gemm_fwd" : form == 1 ? "gemm_dx" : "gemm_dw", g, extra);
    int ok = th_check(c.t, c.h, TH_TOL, what);
    if (form == 2) {
        ok &= th_check(bias.t, bias.h, TH_TOL, "gemm_dw's bias gradient");
        ok &= th_check(gsum.t, gsum.h, TH_TOL, "gemm_dw's second column sum");
        stack_free(&gsrc), stack_free(&gsum);
    }
    stack_free(&a), stack_free(&b), stack_free(&c);
    if (bias.t)
        stack_free(&bias);
    return ok;
}

static void test_batched(void **state)
{
    (void)state;
    /* {3, 64, 70}: blocks of 4 rows; {64, 130, 129}: dW 129×130, so the
     * big dw kernel runs too; {256, 20, 128}: the big forward kernel with
     * an odd number of K texels. */
    static const gshape batch_shapes[] = {{1, 3, 5},      {3, 64, 70},    {33, 65, 31},   {129, 200, 70},
                                          {256, 64, 128}, {256, 20, 128}, {64, 130, 129}};
    int failures = 0;
    for (size_t i = 0; i < sizeof batch_shapes / sizeof *batch_shapes; i++) {
        for (int form = 0; form < 3; form++)
            failures += !run_batched(&batch_shapes[i], 7000 + 10 * i + form, form, 0);
        failures += !run_batched(&batch_shapes[i], 7500 + 10 * i, 0, 1);
    }
    assert_int_equal(failures, 0);
}

/* Column sums of each copy of a stack into its own row of out. */
static void test_sum_cols_batched(void **state)
{
    (void)state;
    stack x = stack_make(37, 19, COPIES, 7900), out = stack_make(1, 19, COPIES, 7901);
    vks_batch bt = {COPIES, 37, {out.step, x.step}};
    vks_seq *seq = th_seq_begin(0);
    TH_OK(vks_sum_cols_batched(seq, out.t, x.t, 1, &bt));
    th_seq_finish(seq);
    for (uint32_t z = 0; z < COPIES; z++)
        ref_sum_cols(slice(&out, z), slice(&x, z), 37, 19, 1);
    assert_true(th_check(out.t, out.h, TH_TOL, "sum_cols batch of 3"));
    stack_free(&x), stack_free(&out);
}

/* Copies that do not fit, overlap where written, or sit at unaligned steps
 * are refused with a message naming the operand. */
static void test_batched_errors(void **state)
{
    (void)state;
    stack y = stack_make(8, 8, COPIES, 7950), x = stack_make(8, 8, COPIES, 7951), w = stack_make(8, 8, COPIES, 7952);
    vks_seq *seq = th_seq_begin(0);
    vks_batch bt = {COPIES, 8, {y.step, x.step, w.step}};
    bt.step[1] = x.step + 8 * vks_tensor_stride(x.t);   /* past the end */
    th_expect_error(vks_gemm_fwd_batched(seq, y.t, x.t, w.t, NULL, VKS_ACT_NONE, &bt), VKSAC_E_ARG, "'x'");
    bt.step[1] = x.step;
    bt.step[0] = 4;   /* written copies overlap */
    th_expect_error(vks_gemm_fwd_batched(seq, y.t, x.t, w.t, NULL, VKS_ACT_NONE, &bt), VKSAC_E_ARG, "overlap");
    bt.step[0] = y.step + 2;   /* not a whole texel */
    th_expect_error(vks_gemm_fwd_batched(seq, y.t, x.t, w.t, NULL, VKS_ACT_NONE, &bt), VKSAC_E_ARG, "multiple of 4");
    bt.step[0] = y.step;
    bt.step[3] = x.step;   /* the bias gradient written over the input x */
    th_expect_error(vks_gemm_dw_batched(seq, w.t, x.t, y.t, x.t, 0, &bt), VKSAC_E_ARG, "'db' and 'x' overlap");
    /* The second column sum needs its source, and writes over no input. */
    stack gs = stack_make(1, 8, COPIES, 7953);
    bt.step[3] = 0, bt.step[4] = y.step, bt.step[5] = gs.step;
    th_expect_error(vks_gemm_dw_sums(seq, w.t, NULL, y.t, x.t, 0, gs.t, NULL, 0, &bt), VKSAC_E_ARG, "'gsrc'");
    bt.step[5] = x.step;
    th_expect_error(vks_gemm_dw_sums(seq, w.t, NULL, y.t, x.t, 0, x.t, y.t, 0, &bt), VKSAC_E_ARG,
                    "'gsum' and 'x' overlap");
    bt.step[5] = gs.step;
    TH_OK(vks_gemm_dw_sums(seq, w.t, NULL, y.t, x.t, 0, gs.t, y.t, 0, &bt));
    stack_free(&gs);
    bt.count = 0;
    th_expect_error(vks_gemm_dw_batched(seq, w.t, NULL, y.t, x.t, 0, &bt), VKSAC_E_ARG, "at least one copy");
    vks_seq_destroy(seq);
    stack_free(&y), stack_free(&x), stack_free(&w);
}

int main(int argc, char **argv)
{
    if (th_parse_args(argc, argv, "gemm") != 0)
        return 2;
    if (th.opts.no_push_descriptors) {
        shapes = nopush_shapes;
        nshapes = sizeof nopush_shapes / sizeof nopush_shapes[0];
    } else {
        shapes = all_shapes;
        nshapes = sizeof all_shapes / sizeof all_shapes[0];
    }
    const struct CMUnitTest tests[] = {
        TH_TEST(test_gemm_fwd),
        TH_TEST(test_gemm_dx),
        TH_TEST(test_gemm_dw),
        TH_TEST(test_big_blocks_bit_identical),
        TH_TEST(test_few_rows_bit_identical),
        TH_TEST(test_tolerance_discriminates),
        TH_TEST(test_chain),
        TH_TEST(test_batched),
        TH_TEST(test_sum_cols_batched),
        TH_TEST(test_batched_errors),
    };
    return cmocka_run_group_tests_name(th.group_name, tests, th_group_setup, th_group_teardown);
}
