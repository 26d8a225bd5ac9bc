/* Tensors, recorded sequences and argument checking (devices, the public
 * API and the validation hooks: test_devices.c). */
#include "harness.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "reference/kernels_ref.h"
#include "vk/internal.h"

/* ---- tensors ------------------------------------------------------------ */

static void test_tensor_layout_and_roundtrip(void **state)
{
    (void)state;
    static const uint32_t dims[][2] = {{1, 1}, {1, 4}, {2, 5}, {3, 8}, {17, 33}, {64, 130}};
    for (size_t d = 0; d < sizeof dims / sizeof dims[0]; d++) {
        uint32_t rows = dims[d][0], cols = dims[d][1];
        vks_tensor *t = th_tensor(rows, cols, NULL);
        uint32_t stride = vks_tensor_stride(t);
        assert_int_equal(vks_tensor_rows(t), rows);
        assert_int_equal(vks_tensor_cols(t), cols);
        assert_true(stride >= cols && stride % 4 == 0 && stride < cols + 4);

        /* Creation zero-fills everything, padding included. */
        float *raw = calloc((size_t)rows * stride, sizeof *raw);
        assert_non_null(raw);
        TH_OK(vks_tensor_read_padded(t, raw));
        for (size_t i = 0; i < (size_t)rows * stride; i++)
            assert_true(raw[i] == 0.0f);

        /* An upload lands row by row at the stride, padding stays zero, and
         * reading back is exact. */
        float *data = th_rand((size_t)rows * cols, 10 + d);
        TH_OK(vks_tensor_write(t, data));
        TH_OK(vks_tensor_read_padded(t, raw));
        for (uint32_t i = 0; i < rows; i++)
            for (uint32_t j = 0; j < stride; j++)
                assert_true(raw[(size_t)i * stride + j] ==
                            (j < cols ? data[(size_t)i * cols + j] : 0.0f));
        float *back = th_read(t);
        assert_memory_equal(back, data, (size_t)rows * cols * sizeof *data);
        free(raw), free(data), free(back);
        vks_tensor_destroy(t);
    }
}

/* Many tensors created and freed out of order: the arena's free list must
 * never hand out storage that overlaps a live tensor. */
static void test_tensor_arena_churn(void **state)
{
    (void)state;
    enum { N = 48 };
    vks_tensor *t[N];
    float *host[N];
    for (int i = 0; i < N; i++)
        t[i] = th_rand_tensor(1 + (uint32_t)(i * 7) % 23, 1 + (uint32_t)(i * 13) % 61, 600 + i,
                              &host[i]);
    for (int i = 0; i < N; i += 2) {
        vks_tensor_destroy(t[i]);
        free(host[i]);
        /* Different sizes, so freed ranges are split and merged. */
        t[i] = th_rand_tensor(1 + (uint32_t)(i * 5) % 31, 1 + (uint32_t)(i * 3) % 47, 700 + i,
                              &host[i]);
    }
    for (int i = 0; i < N; i++) {
        char what[32];
        snprintf(what, sizeof what, "tensor %d", i);
        assert_true(th_check(t[i], host[i], 0.0, what));
        vks_tensor_destroy(t[i]);
        free(host[i]);
    }
}

/* ---- sequences ---------------------------------------------------------- */

/* y = x + y replayed: repeats in one submit and repeated runs must each see
 * the previous replay's y (the barrier between replays). */
static void test_replay_accumulates(void **state)
{
    (void)state;
    const uint32_t m = 19, n = 23;
    size_t len = (size_t)m * n;
    float *hx, *hy;
    vks_tensor *x = th_rand_tensor(m, n, 800, &hx);
    vks_tensor *y = th_rand_tensor(m, n, 801, &hy);
    vks_seq *seq = th_seq_begin(0);
    TH_OK(vks_scale_add(seq, y, 1.0f, x, 1.0f));
    TH_OK(vks_seq_end(seq));

    static const uint32_t runs[] = {3, 1, 3};
    for (size_t r = 0; r < 3; r++) {
        TH_OK(vks_seq_run(seq, runs[r]));
        for (uint32_t i = 0; i < runs[r]; i++)
            ref_scale_add(hy, 1.0f, hx, 1.0f, len);
        char what[48];
        snprintf(what, sizeof what, "run %zu (repeats=%u)", r, runs[r]);
        assert_true(th_check(y, hy, TH_TOL, what));
    }
    /* submit + wait is the same as run. */
    TH_OK(vks_seq_submit(seq, 2));
    TH_OK(vks_seq_wait(seq));
    ref_scale_add(hy, 1.0f, hx, 1.0f, len);
    ref_scale_add(hy, 1.0f, hx, 1.0f, len);
    assert_true(th_check(y, hy, TH_TOL, "submit(2) + wait"));

    vks_seq_destroy(seq);
    free(hx), free(hy);
    vks_tensor_destroy(x), vks_tensor_destroy(y);
}

/* A sequence without accumulation gives bit-identical results every run. */
static void test_replay_same_result(void **state)
{
    (void)state;
    const uint32_t m = 21, k = 35, n = 18;
    float *hx, *hw;
    vks_tensor *x = th_rand_tensor(m, k, 900, &hx);
    vks_tensor *w = th_rand_tensor(n, k, 901, &hw);
    vks_tensor *y = th_tensor(m, n, NULL);
    vks_tensor *rs = th_tensor(1, m, NULL);
    vks_seq *seq = th_seq_begin(0);
    TH_OK(vks_gemm_fwd(seq, y, x, w, NULL, VKS_ACT_RELU2));
    TH_OK(vks_sum_rows(seq, rs, y, 0));
    TH_OK(vks_seq_end(seq));

    float *ref = malloc((size_t)m * n * sizeof *ref), *ref_rs = malloc(m * sizeof *ref_rs);
    assert_non_null(ref), assert_non_null(ref_rs);
    ref_gemm_fwd(ref, hx, hw, NULL, m, n, k, REF_ACT_RELU2);
    ref_sum_rows(ref_rs, ref, m, n, 0);
    float *first = NULL;
    static const uint32_t runs[] = {1, 3, 1, 2};
    for (size_t r = 0; r < 4; r++) {
        TH_OK(vks_seq_run(seq, runs[r]));
        assert_true(th_check(y, ref, TH_TOL, "gemm_fwd replay"));
        assert_true(th_check(rs, ref_rs, TH_TOL, "sum_rows replay"));
        float *got = th_read(y);
        if (first) {
            assert_memory_equal(got, first, (size_t)m * n * sizeof *got);
            free(got);
        } else {
            first = got;
        }
    }
    vks_seq_destroy(seq);
    free(first), free(ref), free(ref_rs), free(hx), free(hw);
    vks_tensor_destroy(x), vks_tensor_destroy(w), vks_tensor_destroy(y), vks_tensor_destroy(rs);
}

static void test_dispatch_and_barrier_counts(void **state)
{
    (void)state;
    vks_tensor *a = th_tensor(5, 6, NULL), *b = th_tensor(5, 6, NULL), *s = th_tensor(1, 5, NULL);
    vks_seq *seq = th_seq_begin(0);
    TH_OK(vks_fill(seq, a, 2.0f));
    TH_OK(vks_scale_add(seq, b, 1.0f, a, 0.0f)); /* reads what fill wrote */
    TH_OK(vks_sum_rows(seq, s, b, 0));           /* reads what scale_add wrote */
    TH_OK(vks_seq_end(seq));
    assert_int_equal(vks_seq_dispatches(seq), 3);
    assert_true(vks_seq_barriers(seq) >= 2);
    TH_OK(vks_seq_run(seq, 1));
    float ref[5];
    for (int i = 0; i < 5; i++)
        ref[i] = 12.0f;
    assert_true(th_check(s, ref, 0.0, "fill → scale_add → sum_rows"));

    /* A new recording replaces the old one. */
    TH_OK(vks_seq_begin(seq));
    TH_OK(vks_fill(seq, a, 1.0f));
    TH_OK(vks_seq_end(seq));
    assert_int_equal(vks_seq_dispatches(seq), 1);
    TH_OK(vks_seq_run(seq, 2));

    /* An empty recording runs and does nothing. */
    TH_OK(vks_seq_begin(seq));
    TH_OK(vks_seq_end(seq));
    assert_int_equal(vks_seq_dispatches(seq), 0);
    TH_OK(vks_seq_run(seq, 1));

    vks_seq_destroy(seq);
    vks_tensor_destroy(a), vks_tensor_destroy(b), vks_tensor_destroy(s);
}

static void test_timestamps(void **state)
{
    (void)state;
    vksac_device_info info;
    TH_OK(vks_ctx_device(th.ctx, &info));
    if (!info.timestamps) {
        print_message("device offers no timestamps; skipped\n");
        skip();
    }
    vks_tensor *a = th_tensor(64, 64, NULL), *b = th_tensor(64, 64, NULL);
    vks_seq *seq = th_seq_begin(1);
    TH_OK(vks_fill(seq, a, 1.0f));
    TH_OK(vks_scale_add(seq, b, 0.5f, a, 1.0f));
    TH_OK(vks_gemm_fwd(seq, b, a, a, NULL, VKS_ACT_NONE));
    TH_OK(vks_seq_end(seq));
    uint32_t n = vks_seq_dispatches(seq);
    assert_true(n >= 3);
    double *us = malloc((n + 1) * sizeof *us);
    assert_non_null(us);
    /* Recorded but never run: no timestamps were written yet. */
    th_clear_error(th.ctx);
    TH_ERR(th.ctx, vks_seq_times(seq, us, n), VKSAC_E_STATE);
    TH_OK(vks_seq_run(seq, 2));
    TH_OK(vks_seq_times(seq, us, n));
    for (uint32_t i = 0; i < n; i++)
        assert_true(us[i] >= 0.0 && isfinite(us[i]));
    /* What each timed dispatch ran: kernel, name and grid. */
    vks_dispatch_info di;
    TH_OK(vks_seq_dispatch_info(seq, 0, &di));
    assert_int_equal(di.kernel, VKS_K_FILL);
    assert_string_equal(di.name, "fill");
    assert_true(di.grid[0] >= 1 && di.grid[1] == 1 && di.grid[2] == 1);
    TH_OK(vks_seq_dispatch_info(seq, 1, &di));
    assert_string_equal(di.name, "scale_add");
    TH_OK(vks_seq_dispatch_info(seq, n - 1, &di));
    assert_true(di.kernel == VKS_K_GEMM_FWD || di.kernel == VKS_K_GEMM_TILED);
    th_clear_error(th.ctx);
    TH_ERR(th.ctx, vks_seq_dispatch_info(seq, n, &di), VKSAC_E_ARG);

    th_clear_error(th.ctx);
    TH_FAILS(th.ctx, vks_seq_times(seq, us, n - 1));
    TH_FAILS(th.ctx, vks_seq_times(seq, us, n + 1));
    vks_seq_destroy(seq);

    /* Without timestamps there is nothing to report. */
    seq = th_seq_begin(0);
    TH_OK(vks_fill(seq, a, 1.0f));
    TH_OK(vks_seq_end(seq));
    TH_OK(vks_seq_run(seq, 1));
    th_clear_error(th.ctx);
    TH_FAILS(th.ctx, vks_seq_times(seq, us, 1));
    vks_dispatch_info none;
    TH_ERR(th.ctx, vks_seq_dispatch_info(seq, 0, &none), VKSAC_E_STATE);
    vks_seq_destroy(seq);
    free(us);
    vks_tensor_destroy(a), vks_tensor_destroy(b);
}

/* vks_launch_spec: specializations of one kernel are separate pipelines
 * (the default one included), up to VKS_MAX_VARIANTS; one more is refused. */
static void test_launch_spec(void **state)
{
    (void)state;
    vks_tensor *y = th_tensor(3, 5, NULL);
    struct { uint32_t rows, cols, stride4; float value; } pc = {3, 5, vks_tensor_stride(y) / 4, 2.0f};
    vks_seq *seq = th_seq_begin(0);
    TH_OK(vks_launch(seq, VKS_K_FILL, (const vks_tensor *[]){y}, &pc, sizeof pc, 1, 1, 1));
    for (uint32_t v = 0; v + 1 < VKS_MAX_VARIANTS; v++)
        TH_OK(vks_launch_spec(seq, VKS_K_FILL, (const uint32_t[]){v + 1, 7}, (const vks_tensor *[]){y}, &pc,
                              sizeof pc, 1, 1, 1));
    TH_OK(vks_launch_spec(seq, VKS_K_FILL, (const uint32_t[]){1, 7}, (const vks_tensor *[]){y}, &pc, sizeof pc,
                          1, 1, 1));   /* one already made */
    th_clear_error(th.ctx);
    vksac_status st = vks_launch_spec(seq, VKS_K_FILL, (const uint32_t[]){99, 9}, (const vks_tensor *[]){y}, &pc,
                                      sizeof pc, 1, 1, 1);
    assert_int_equal(st, VKSAC_E_UNSUPPORTED);
    assert_non_null(strstr(vks_ctx_error(th.ctx), "specializations"));
    vks_seq_destroy(seq);
    vks_tensor_destroy(y);
}

/* A kernel writes its outputs through storage buffers: an output larger
 * than the device binds as one is refused with a message, before recording. */
static void test_output_beyond_storage_range(void **state)
{
    (void)state;
    vksac_device_info info;
    TH_OK(vks_ctx_device(th.ctx, &info));
    uint32_t cols = 4096, rows = info.max_storage_buffer_range / (4u * cols) + 1;
    if (info.max_storage_buffer_range > (1u << 28) || (uint64_t)rows * cols > info.max_texel_buffer_elements)
        skip();   /* lavapipe: 128 MiB; elsewhere the tensor would be too big to make */
    vks_tensor *y = NULL;
    TH_OK(vks_tensor_create(th.ctx, rows, cols, &y));
    struct { uint32_t rows, cols, stride4; float value; } pc = {rows, cols, cols / 4, 1.0f};
    vks_seq *seq = th_seq_begin(0);
    th_expect_error(vks_launch(seq, VKS_K_FILL, (const vks_tensor *[]){y}, &pc, sizeof pc, 1, 1, 1), VKSAC_E_ARG,
                    "is written through a storage buffer");
    vks_seq_destroy(seq);
    vks_tensor_destroy(y);
}

static void test_seq_out_of_order(void **state)
{
    (void)state;
    vks_ctx *ctx = th.ctx;
    vks_tensor *a = th_tensor(3, 3, NULL);
    vks_seq *seq = NULL;
    TH_OK(vks_seq_create(ctx, 0, &seq));
    th_clear_error(ctx);
    TH_ERR(ctx, vks_seq_run(seq, 1), VKSAC_E_STATE);   /* never recorded */
    TH_ERR(ctx, vks_seq_end(seq), VKSAC_E_STATE);      /* not recording */
    TH_ERR(ctx, vks_fill(seq, a, 0.0f), VKSAC_E_STATE); /* not recording */
    TH_OK(vks_seq_begin(seq));
    TH_OK(vks_fill(seq, a, 1.0f));
    TH_ERR(ctx, vks_seq_run(seq, 1), VKSAC_E_STATE);    /* still recording */
    TH_ERR(ctx, vks_seq_submit(seq, 1), VKSAC_E_STATE);
    TH_OK(vks_seq_end(seq));
    TH_OK(vks_seq_run(seq, 1));

    /* A written operand may not fall back to the placeholder tensor. */
    TH_OK(vks_seq_begin(seq));
    struct { uint32_t n4, cols, stride4; float a, b; } pc = {1000, 4, 1, 1.0f, 1.0f};
    th_clear_error(ctx);
    TH_ERR(ctx, vks_launch(seq, VKS_K_SCALE_ADD, NULL, &pc, sizeof pc, 1, 1, 1), VKSAC_E_ARG);
    TH_OK(vks_seq_end(seq));
    vks_seq_destroy(seq);
    vks_tensor_destroy(a);
}

/* Non-finite scale factors must not leak NaN into the zero padding, which
 * the GEMM kernels read across K. */
static void test_scale_add_keeps_padding(void **state)
{
    (void)state;
    float x[3 * 5], pad[3 * 8];
    th_rand_fill(x, 3 * 5, 7);
    vks_tensor *a = th_tensor(3, 5, x), *b = th_tensor(3, 5, x);
    vks_seq *seq = th_seq_begin(0);
    TH_OK(vks_scale_add(seq, b, INFINITY, a, NAN));
    TH_OK(vks_seq_end(seq));
    TH_OK(vks_seq_run(seq, 1));
    TH_OK(vks_tensor_read_padded(b, pad));
    for (int r = 0; r < 3; r++)
        for (int c = 5; c < 8; c++)
            assert_true(pad[r * 8 + c] == 0.0f);
    vks_seq_destroy(seq);
    vks_tensor_destroy(a), vks_tensor_destroy(b);
}

/* ---- argument checking -------------------------------------------------- */

static void test_bad_args_null(void **state)
{
    (void)state;
    vks_ctx *ctx = th.ctx;
    float buf[16] = {0};
    double us[4];
    vks_tensor *t = NULL, *a = th_tensor(2, 2, NULL);
    vks_seq *seq = NULL;

    /* No context: only the status can tell. */
    assert_int_equal(vks_tensor_create(NULL, 2, 2, &t), VKSAC_E_ARG);
    assert_null(t);
    assert_int_equal(vks_seq_create(NULL, 0, &seq), VKSAC_E_ARG);
    assert_int_equal(vks_tensor_write(NULL, buf), VKSAC_E_ARG);
    assert_int_equal(vks_tensor_read(NULL, buf), VKSAC_E_ARG);
    assert_int_equal(vks_tensor_read_padded(NULL, buf), VKSAC_E_ARG);
    assert_int_equal(vks_seq_begin(NULL), VKSAC_E_ARG);
    assert_int_equal(vks_seq_end(NULL), VKSAC_E_ARG);
    assert_int_equal(vks_seq_run(NULL, 1), VKSAC_E_ARG);
    assert_int_equal(vks_seq_submit(NULL, 1), VKSAC_E_ARG);
    assert_int_equal(vks_seq_wait(NULL), VKSAC_E_ARG);
    assert_int_equal(vks_seq_times(NULL, us, 1), VKSAC_E_ARG);
    assert_int_equal(vks_fill(NULL, a, 0.0f), VKSAC_E_ARG);
    assert_int_equal(vks_gemm_fwd(NULL, a, a, a, NULL, VKS_ACT_NONE), VKSAC_E_ARG);
    /* Destroying nothing is harmless. */
    vks_tensor_destroy(NULL);
    vks_seq_destroy(NULL);
    vks_ctx_destroy(NULL);

    th_clear_error(ctx);
    TH_ERR(ctx, vks_tensor_create(ctx, 0, 3, &t), VKSAC_E_ARG);
    TH_ERR(ctx, vks_tensor_create(ctx, 3, 0, &t), VKSAC_E_ARG);
    TH_ERR(ctx, vks_tensor_create(ctx, 2, 2, NULL), VKSAC_E_ARG);
    TH_ERR(ctx, vks_seq_create(ctx, 0, NULL), VKSAC_E_ARG);
    TH_ERR(ctx, vks_tensor_write(a, NULL), VKSAC_E_ARG);
    TH_ERR(ctx, vks_tensor_read(a, NULL), VKSAC_E_ARG);
    TH_ERR(ctx, vks_tensor_read_padded(a, NULL), VKSAC_E_ARG);

    seq = th_seq_begin(0);
    TH_ERR(ctx, vks_fill(seq, NULL, 0.0f), VKSAC_E_ARG);
    TH_ERR(ctx, vks_scale_add(seq, NULL, 1.0f, a, 1.0f), VKSAC_E_ARG);
    TH_ERR(ctx, vks_scale_add(seq, a, 1.0f, NULL, 1.0f), VKSAC_E_ARG);
    TH_ERR(ctx, vks_sum_rows(seq, NULL, a, 0), VKSAC_E_ARG);
    TH_ERR(ctx, vks_sum_rows(seq, a, NULL, 0), VKSAC_E_ARG);
    TH_ERR(ctx, vks_sum_cols(seq, NULL, a, 0), VKSAC_E_ARG);
    TH_ERR(ctx, vks_gemm_fwd(seq, NULL, a, a, NULL, VKS_ACT_NONE), VKSAC_E_ARG);
    TH_ERR(ctx, vks_gemm_fwd(seq, a, NULL, a, NULL, VKS_ACT_NONE), VKSAC_E_ARG);
    TH_ERR(ctx, vks_gemm_fwd(seq, a, a, NULL, NULL, VKS_ACT_NONE), VKSAC_E_ARG);
    TH_ERR(ctx, vks_gemm_dx(seq, a, NULL, a, 0), VKSAC_E_ARG);
    TH_ERR(ctx, vks_gemm_dw(seq, a, a, NULL, 0), VKSAC_E_ARG);
    TH_FAILS(ctx, vks_seq_times(seq, NULL, 1));

    /* The failed calls recorded nothing; a fresh recording still works. */
    TH_OK(vks_seq_begin(seq));
    TH_OK(vks_fill(seq, a, 4.0f));
    th_seq_finish(seq);
    static const float fours[4] = {4, 4, 4, 4};
    assert_true(th_check(a, fours, 0.0, "fill after errors"));
    vks_tensor_destroy(a);
}

/* Operands named by shape (m_kp1 is M×(K+1), b_n is 1×N). Only tensor
 * pointers, so free_shapes can walk the struct as an array. */
typedef struct shapes_t {
    vks_tensor *m_k, *n_k, *m_n, *m_n2, *m_kp1, *n_kp1, *mp1_k, *m_np1, *np1_k, *mp1_n;
    vks_tensor *b_n, *b_np1, *b_2n, *b_m, *b_mp1;
} shapes_t;

enum { M = 6, K = 5, N = 7 };

static void make_shapes(shapes_t *s)
{
    s->m_k = th_tensor(M, K, NULL), s->n_k = th_tensor(N, K, NULL), s->m_n = th_tensor(M, N, NULL);
    s->m_n2 = th_tensor(M, N, NULL);
    s->m_kp1 = th_tensor(M, K + 1, NULL), s->n_kp1 = th_tensor(N, K + 1, NULL);
    s->mp1_k = th_tensor(M + 1, K, NULL), s->m_np1 = th_tensor(M, N + 1, NULL);
    s->np1_k = th_tensor(N + 1, K, NULL), s->mp1_n = th_tensor(M + 1, N, NULL);
    s->b_n = th_tensor(1, N, NULL), s->b_np1 = th_tensor(1, N + 1, NULL);
    s->b_2n = th_tensor(2, N, NULL), s->b_m = th_tensor(1, M, NULL);
    s->b_mp1 = th_tensor(1, M + 1, NULL);
}

static void free_shapes(shapes_t *s)
{
    vks_tensor **all = (vks_tensor **)s;
    for (size_t i = 0; i < sizeof *s / sizeof *all; i++)
        vks_tensor_destroy(all[i]);
}

static void test_bad_args_shapes(void **state)
{
    (void)state;
    vks_ctx *ctx = th.ctx;
    shapes_t s;
    make_shapes(&s);
    vks_seq *seq = th_seq_begin(0);
    th_clear_error(ctx);

    /* The well-shaped calls pass, so each failure below is the one shape. */
    TH_OK(vks_gemm_fwd(seq, s.m_n, s.m_k, s.n_k, s.b_n, VKS_ACT_NONE));
    TH_OK(vks_gemm_dx(seq, s.m_k, s.m_n, s.n_k, 0));
    TH_OK(vks_gemm_dw(seq, s.n_k, s.m_n, s.m_k, 0));
    TH_OK(vks_sum_rows(seq, s.b_m, s.m_n, 0));
    TH_OK(vks_sum_cols(seq, s.b_n, s.m_n, 0));
    TH_OK(vks_scale_add(seq, s.m_n2, 1.0f, s.m_n, 1.0f));

    /* gemm_fwd: Y (M×N) = X (M×K) · Wᵀ (W N×K) + b (1×N) */
    TH_ERR(ctx, vks_gemm_fwd(seq, s.m_n, s.m_kp1, s.n_k, NULL, VKS_ACT_NONE), VKSAC_E_ARG);
    TH_ERR(ctx, vks_gemm_fwd(seq, s.m_n, s.m_k, s.n_kp1, NULL, VKS_ACT_NONE), VKSAC_E_ARG);
    TH_ERR(ctx, vks_gemm_fwd(seq, s.mp1_n, s.m_k, s.n_k, NULL, VKS_ACT_NONE), VKSAC_E_ARG);
    TH_ERR(ctx, vks_gemm_fwd(seq, s.m_np1, s.m_k, s.n_k, NULL, VKS_ACT_NONE), VKSAC_E_ARG);
    TH_ERR(ctx, vks_gemm_fwd(seq, s.m_n, s.m_k, s.np1_k, NULL, VKS_ACT_NONE), VKSAC_E_ARG);
    TH_ERR(ctx, vks_gemm_fwd(seq, s.m_n, s.m_k, s.n_k, s.b_np1, VKS_ACT_NONE), VKSAC_E_ARG);
    TH_ERR(ctx, vks_gemm_fwd(seq, s.m_n, s.m_k, s.n_k, s.b_2n, VKS_ACT_NONE), VKSAC_E_ARG);
    TH_ERR(ctx, vks_gemm_fwd(seq, s.m_n, s.m_k, s.n_k, NULL, (vks_act)7), VKSAC_E_ARG);

    /* gemm_dx: dX (M×K) = dY (M×N) · W (N×K) */
    TH_ERR(ctx, vks_gemm_dx(seq, s.mp1_k, s.m_n, s.n_k, 0), VKSAC_E_ARG);
    TH_ERR(ctx, vks_gemm_dx(seq, s.m_kp1, s.m_n, s.n_k, 1), VKSAC_E_ARG);
    TH_ERR(ctx, vks_gemm_dx(seq, s.m_k, s.m_np1, s.n_k, 0), VKSAC_E_ARG);
    TH_ERR(ctx, vks_gemm_dx(seq, s.m_k, s.m_n, s.np1_k, 0), VKSAC_E_ARG);
    TH_ERR(ctx, vks_gemm_dx(seq, s.m_k, s.m_n, s.n_kp1, 0), VKSAC_E_ARG);

    /* gemm_dw: dW (N×K) = dYᵀ (dY M×N) · X (M×K) */
    TH_ERR(ctx, vks_gemm_dw(seq, s.np1_k, s.m_n, s.m_k, 0), VKSAC_E_ARG);
    TH_ERR(ctx, vks_gemm_dw(seq, s.n_kp1, s.m_n, s.m_k, 1), VKSAC_E_ARG);
    TH_ERR(ctx, vks_gemm_dw(seq, s.n_k, s.mp1_n, s.m_k, 0), VKSAC_E_ARG);
    TH_ERR(ctx, vks_gemm_dw(seq, s.n_k, s.m_n, s.mp1_k, 0), VKSAC_E_ARG);
    TH_ERR(ctx, vks_gemm_dw(seq, s.n_k, s.m_n, s.m_kp1, 0), VKSAC_E_ARG);

    /* scale_add: same shape */
    TH_ERR(ctx, vks_scale_add(seq, s.m_n, 1.0f, s.m_np1, 1.0f), VKSAC_E_ARG);
    TH_ERR(ctx, vks_scale_add(seq, s.m_n, 1.0f, s.mp1_n, 1.0f), VKSAC_E_ARG);

    /* sums: out is 1×M (rows) or 1×N (cols) for an M×N input */
    TH_ERR(ctx, vks_sum_rows(seq, s.b_mp1, s.m_n, 0), VKSAC_E_ARG);
    TH_ERR(ctx, vks_sum_rows(seq, s.b_n, s.m_n, 0), VKSAC_E_ARG);
    TH_ERR(ctx, vks_sum_rows(seq, s.m_n, s.m_n, 0), VKSAC_E_ARG);
    TH_ERR(ctx, vks_sum_cols(seq, s.b_np1, s.m_n, 0), VKSAC_E_ARG);
    TH_ERR(ctx, vks_sum_cols(seq, s.b_m, s.m_n, 1), VKSAC_E_ARG);
    TH_ERR(ctx, vks_sum_cols(seq, s.b_2n, s.m_n, 0), VKSAC_E_ARG);

    /* The rejected calls recorded nothing. */
    TH_OK(vks_seq_end(seq));
    assert_int_equal(vks_seq_dispatches(seq), 6);
    TH_OK(vks_seq_run(seq, 1));
    vks_seq_destroy(seq);
    free_shapes(&s);
}

/* The raw launch helper checks what the typed kernels cannot get wrong:
 * the kernel id, the push-constant size, the grid and the operands'
 * context. None of the rejected launches may record a dispatch. */
static void test_launch_checks(void **state)
{
    (void)state;
    vks_ctx *ctx = th.ctx;
    vks_tensor *y = th_tensor(3, 5, NULL);
    const vks_tensor *ops[] = {y};
    uint8_t push[VKS_MAX_PUSH] = {0};
    uint32_t size = vks_kernel_push_size(VKS_K_FILL);
    vks_seq *seq = NULL;
    TH_OK(vks_seq_create(ctx, 0, &seq));
    th_clear_error(ctx);
    TH_ERR(ctx, vks_launch(seq, VKS_K_FILL, ops, push, size, 1, 1, 1), VKSAC_E_STATE);
    TH_OK(vks_seq_begin(seq));
    TH_ERR(ctx, vks_launch(seq, VKS_K_COUNT, ops, push, size, 1, 1, 1), VKSAC_E_ARG);
    TH_ERR(ctx, vks_launch(seq, VKS_K_FILL, ops, push, size + 4, 1, 1, 1), VKSAC_E_ARG);
    TH_ERR(ctx, vks_launch(seq, VKS_K_FILL, ops, NULL, size, 1, 1, 1), VKSAC_E_ARG);
    TH_ERR(ctx, vks_launch(seq, VKS_K_FILL, ops, push, size, 0, 1, 1), VKSAC_E_ARG);
    TH_ERR(ctx, vks_launch(seq, VKS_K_FILL, ops, push, size, 1, 1, 0), VKSAC_E_ARG);

    /* A tensor of another context cannot be bound here. */
    vks_ctx *other = NULL;
    TH_OK(th_ctx_create(&th.opts, NULL, &other));
    vks_tensor *foreign = NULL;
    TH_OK(vks_tensor_create(other, 3, 5, &foreign));
    const vks_tensor *foreign_ops[] = {foreign};
    TH_ERR(ctx, vks_launch(seq, VKS_K_FILL, foreign_ops, push, size, 1, 1, 1), VKSAC_E_ARG);
    TH_ERR(ctx, vks_fill(seq, foreign, 1.0f), VKSAC_E_ARG);
    TH_ERR(ctx, vks_scale_add(seq, y, 1.0f, foreign, 1.0f), VKSAC_E_ARG);
    vks_tensor_destroy(foreign);
    assert_int_equal(vks_ctx_validation_messages(other), 0);
    vks_ctx_destroy(other);

    TH_OK(vks_seq_end(seq));
    assert_int_equal(vks_seq_dispatches(seq), 0);
    TH_OK(vks_seq_run(seq, 1));
    vks_seq_destroy(seq);
    vks_tensor_destroy(y);
}

/* Views alias their parent: writes through one show in the other, kernels
 * on a view touch only its range, and bad offsets and shapes fail. */
static void test_tensor_views(void **state)
{
    (void)state;
    vks_tensor *parent = th_tensor(1, 256, NULL), *v = NULL, *vv = NULL;
    TH_OK(vks_tensor_view(parent, 64, 3, 5, &v));
    assert_int_equal(vks_tensor_stride(v), 8);
    TH_OK(vks_tensor_view(v, 0, 2, 8, &vv));   /* a view of a view */
    vks_seq *seq = th_seq_begin(0);
    TH_OK(vks_fill(seq, v, 2.0f));
    th_seq_finish(seq);
    float *all = th_read(parent);
    for (int i = 0; i < 256; i++) {
        int inside = i >= 64 && i < 64 + 24 && (i - 64) % 8 < 5;
        assert_float_equal(all[i], inside ? 2.0f : 0.0f, 0.0);
    }
    float ones[16];
    for (int i = 0; i < 16; i++)
        ones[i] = 1.0f;
    TH_OK(vks_tensor_write(vv, ones));
    float got[15];
    TH_OK(vks_tensor_read(v, got));
    for (int i = 0; i < 15; i++)
        assert_float_equal(got[i], i < 10 ? 1.0f : 2.0f, 0.0);
    /* A view overlaps its parent: kernels that refuse aliasing see it. */
    vks_tensor *w = NULL, *y = NULL;
    TH_OK(vks_tensor_view(parent, 128, 5, 5, &w));
    TH_OK(vks_tensor_view(parent, 64, 3, 5, &y));
    seq = th_seq_begin(0);
    assert_int_equal(vks_gemm_fwd(seq, y, v, w, NULL, VKS_ACT_NONE), VKSAC_E_ARG);   /* y is v */
    assert_non_null(strstr(vks_ctx_error(th.ctx), "tensors 'y' and 'x' overlap"));
    TH_OK(vks_seq_end(seq));
    vks_seq_destroy(seq);
    vks_tensor_destroy(w), vks_tensor_destroy(y);
    vks_tensor *bad = (vks_tensor *)parent;
    TH_ERR(th.ctx, vks_tensor_view(parent, 2, 1, 4, &bad), VKSAC_E_ARG);   /* not texel-aligned */
    assert_null(bad);
    TH_ERR(th.ctx, vks_tensor_view(parent, 192, 2, 64, &bad), VKSAC_E_ARG);   /* past the end */
    TH_ERR(th.ctx, vks_tensor_view(parent, 0, 0, 4, &bad), VKSAC_E_ARG);
    TH_ERR(th.ctx, vks_tensor_view(parent, (uint64_t)1 << 40, 1, 4, &bad), VKSAC_E_ARG);
    free(all);
    vks_tensor_destroy(vv);
    vks_tensor_destroy(v);
    vks_tensor_destroy(parent);
}

int main(int argc, char **argv)
{
    if (th_parse_args(argc, argv, "runtime") != 0)
        return 2;
    const struct CMUnitTest tests[] = {
        TH_TEST(test_tensor_layout_and_roundtrip),
        TH_TEST(test_tensor_arena_churn),
        TH_TEST(test_replay_accumulates),
        TH_TEST(test_replay_same_result),
        TH_TEST(test_dispatch_and_barrier_counts),
        TH_TEST(test_timestamps),
        TH_TEST(test_launch_spec),
        TH_TEST(test_output_beyond_storage_range),
        TH_TEST(test_seq_out_of_order),
        TH_TEST(test_scale_add_keeps_padding),
        TH_TEST(test_bad_args_null),
        TH_TEST(test_bad_args_shapes),
        TH_TEST(test_launch_checks),
        TH_TEST(test_tensor_views),
    };
    return cmocka_run_group_tests_name(th.group_name, tests, th_group_setup, th_group_teardown);
}
