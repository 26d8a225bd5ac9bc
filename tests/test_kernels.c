/* fill, scale_add, sum_rows and sum_cols against the reference, over shapes
 * that are and are not multiples of the vec4 texel and the workgroup. */
#include "harness.h"

#include <stdio.h>
#include <stdlib.h>

#include "reference/kernels_ref.h"

typedef struct shape { uint32_t rows, cols; } shape;

static const shape shapes[] = {
    {1, 1}, {1, 5}, {3, 4}, {7, 9}, {13, 17}, {64, 64}, {100, 3}, {257, 130},
};
#define NSHAPES (sizeof shapes / sizeof shapes[0])

static void test_fill(void **state)
{
    (void)state;
    int failures = 0;
    for (size_t s = 0; s < NSHAPES; s++) {
        uint32_t m = shapes[s].rows, n = shapes[s].cols;
        /* Random contents first, so a fill that skips elements shows. */
        vks_tensor *y = th_rand_tensor(m, n, 100 + s, NULL);
        float *ref = malloc((size_t)m * n * sizeof *ref);
        assert_non_null(ref);
        static const float values[] = {0.75f, 0.0f, -3.5f};
        for (size_t v = 0; v < 3; v++) {
            vks_seq *seq = th_seq_begin(0);
            TH_OK(vks_fill(seq, y, values[v]));
            th_seq_finish(seq);
            ref_fill(ref, (size_t)m * n, values[v]);
            char what[64];
            snprintf(what, sizeof what, "fill %ux%u value %g", m, n, (double)values[v]);
            /* A fill is exact: tolerance 0. */
            failures += !th_check(y, ref, 0.0, what);
        }
        free(ref);
        vks_tensor_destroy(y);
    }
    assert_int_equal(failures, 0);
}

static void test_scale_add(void **state)
{
    (void)state;
    static const float coef[][2] = {{0.5f, -1.25f}, {1.0f, 1.0f}, {-2.0f, 0.0f}, {0.0f, 3.0f}};
    int failures = 0;
    for (size_t s = 0; s < NSHAPES; s++) {
        uint32_t m = shapes[s].rows, n = shapes[s].cols;
        for (size_t c = 0; c < 4; c++) {
            float *hx, *hy;
            vks_tensor *x = th_rand_tensor(m, n, 200 + s, &hx);
            vks_tensor *y = th_rand_tensor(m, n, 300 + s, &hy);
            vks_seq *seq = th_seq_begin(0);
            TH_OK(vks_scale_add(seq, y, coef[c][0], x, coef[c][1]));
            th_seq_finish(seq);
            ref_scale_add(hy, coef[c][0], hx, coef[c][1], (size_t)m * n);
            char what[80];
            snprintf(what, sizeof what, "scale_add %ux%u a=%g b=%g", m, n, (double)coef[c][0],
                     (double)coef[c][1]);
            failures += !th_check(y, hy, TH_TOL, what);
            /* x is read-only for the kernel. */
            snprintf(what, sizeof what, "scale_add %ux%u input x", m, n);
            failures += !th_check(x, hx, 0.0, what);
            free(hx);
            free(hy);
            vks_tensor_destroy(x);
            vks_tensor_destroy(y);
        }
    }
    assert_int_equal(failures, 0);
}

/* One sum kernel (rows or cols) over every shape, accumulate off and on. */
static int check_sums(int by_rows)
{
    int failures = 0;
    for (size_t s = 0; s < NSHAPES; s++) {
        uint32_t m = shapes[s].rows, n = shapes[s].cols;
        uint32_t len = by_rows ? m : n;
        for (int acc = 0; acc <= 1; acc++) {
            float *hx, *hout;
            vks_tensor *x = th_rand_tensor(m, n, 400 + s, &hx);
            /* Random prior contents: accumulate must add to them, and
             * overwrite must ignore them. */
            vks_tensor *out = th_rand_tensor(1, len, 500 + s, &hout);
            vks_seq *seq = th_seq_begin(0);
            if (by_rows) {
                TH_OK(vks_sum_rows(seq, out, x, acc));
                ref_sum_rows(hout, hx, m, n, acc);
            } else {
                TH_OK(vks_sum_cols(seq, out, x, acc));
                ref_sum_cols(hout, hx, m, n, acc);
            }
            th_seq_finish(seq);
            char what[80];
            snprintf(what, sizeof what, "%s %ux%u accumulate=%d", by_rows ? "sum_rows" : "sum_cols",
                     m, n, acc);
            failures += !th_check(out, hout, TH_TOL, what);
            free(hx);
            free(hout);
            vks_tensor_destroy(x);
            vks_tensor_destroy(out);
        }
    }
    return failures;
}

static void test_sum_rows(void **state)
{
    (void)state;
    assert_int_equal(check_sums(1), 0);
}

static void test_sum_cols(void **state)
{
    (void)state;
    assert_int_equal(check_sums(0), 0);
}

/* The element-wise kernels and sums loop over their items with a grid
 * capped at 4096 workgroups (vks_groups_1d): sizes past the cap check the
 * grid-stride loop, which the small shapes never enter. */
static void test_beyond_grid_cap(void **state)
{
    (void)state;
    uint32_t lx, ly;
    vks_kernel_local_size(th.ctx, VKS_K_FILL, &lx, &ly);
    const uint32_t cap = 4096u * lx; /* items one dispatch covers without looping */
    int failures = 0;

    /* fill and scale_add: an item is a vec4; rows of 1023 floats are 256. */
    uint32_t m = cap / 256 + 7, n = 1023;
    size_t len = (size_t)m * n;
    float *hx, *hy;
    vks_tensor *x = th_rand_tensor(m, n, 50, &hx);
    vks_tensor *y = th_rand_tensor(m, n, 51, &hy);
    vks_seq *seq = th_seq_begin(0);
    TH_OK(vks_scale_add(seq, y, 0.5f, x, 2.0f));
    th_seq_finish(seq);
    ref_scale_add(hy, 0.5f, hx, 2.0f, len);
    failures += !th_check(y, hy, TH_TOL, "scale_add beyond the grid cap");
    seq = th_seq_begin(0);
    TH_OK(vks_fill(seq, y, -1.5f));
    th_seq_finish(seq);
    ref_fill(hy, len, -1.5f);
    failures += !th_check(y, hy, 0.0, "fill beyond the grid cap");
    free(hx), free(hy);
    vks_tensor_destroy(x), vks_tensor_destroy(y);

    /* sum_rows: an item is a row; sum_cols: an item is 4 columns. */
    for (int by_rows = 1; by_rows >= 0; by_rows--) {
        m = by_rows ? cap + 37 : 2;
        n = by_rows ? 3 : 4 * cap + 9;
        uint32_t out_len = by_rows ? m : n;
        float *hs, *hout;
        vks_tensor *src = th_rand_tensor(m, n, 52, &hs);
        vks_tensor *out = th_rand_tensor(1, out_len, 53, &hout);
        seq = th_seq_begin(0);
        if (by_rows) {
            TH_OK(vks_sum_rows(seq, out, src, 1));
            ref_sum_rows(hout, hs, m, n, 1);
        } else {
            TH_OK(vks_sum_cols(seq, out, src, 1));
            ref_sum_cols(hout, hs, m, n, 1);
        }
        th_seq_finish(seq);
        failures += !th_check(out, hout, TH_TOL, by_rows ? "sum_rows beyond the grid cap"
                                                         : "sum_cols beyond the grid cap");
        free(hs), free(hout);
        vks_tensor_destroy(src), vks_tensor_destroy(out);
    }
    assert_int_equal(failures, 0);
}

/* A reduction loop longer than lavapipe runs is refused, not truncated:
 * 65535 rows sum exactly, 65536 give E_UNSUPPORTED. */
static void test_loop_limit(void **state)
{
    (void)state;
    float *hs, *hout;
    vks_tensor *src = th_rand_tensor(65535, 1, 54, &hs), *big = th_tensor(65536, 1, NULL);
    vks_tensor *out = th_rand_tensor(1, 1, 55, &hout);
    vks_seq *seq = th_seq_begin(0);
    TH_OK(vks_sum_cols(seq, out, src, 0));
    TH_ERR(th.ctx, vks_sum_cols(seq, out, big, 0), VKSAC_E_UNSUPPORTED);
    th_seq_finish(seq);
    ref_sum_cols(hout, hs, 65535, 1, 0);
    assert_true(th_check(out, hout, TH_TOL, "sum_cols over 65535 rows"));
    free(hs), free(hout);
    vks_tensor_destroy(src), vks_tensor_destroy(big), vks_tensor_destroy(out);
}

int main(int argc, char **argv)
{
    if (th_parse_args(argc, argv, "kernels") != 0)
        return 2;
    const struct CMUnitTest tests[] = {
        TH_TEST(test_fill),
        TH_TEST(test_scale_add),
        TH_TEST(test_sum_rows),
        TH_TEST(test_sum_cols),
        TH_TEST(test_beyond_grid_cap),
        TH_TEST(test_loop_limit),
    };
    return cmocka_run_group_tests_name(th.group_name, tests,
                                       th_group_setup, th_group_teardown);
}
