/* The references check each other, with no device involved: every GEMM
 * form and sum is re-expressed through ref_gemm_fwd on transposed operands.
 * Guards against a wrong index in the reference itself, which the device
 * tests could not tell from a kernel bug. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "reference/kernels_ref.h"

static uint64_t rng = 88172645463325252ull;

static float *rand_array(size_t n)
{
    float *p = malloc(n * sizeof *p);
    assert_non_null(p);
    for (size_t i = 0; i < n; i++) {
        rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17; /* xorshift64 */
        p[i] = (float)((double)(rng >> 40) / (double)(1u << 23) - 1.0);
    }
    return p;
}

/* out (c×r) = aᵀ for a (r×c) */
static float *transpose(const float *a, uint32_t r, uint32_t c)
{
    float *t = malloc((size_t)r * c * sizeof *t);
    assert_non_null(t);
    for (uint32_t i = 0; i < r; i++)
        for (uint32_t j = 0; j < c; j++)
            t[(size_t)j * r + i] = a[(size_t)i * c + j];
    return t;
}

static void assert_close(const float *a, const float *b, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        double d = (double)a[i] - b[i];
        assert_true(d < 1e-5 && d > -1e-5);
    }
}

static const uint32_t shapes[][3] = {{1, 1, 1}, {3, 5, 2}, {7, 1, 9}, {13, 17, 4}};

static void test_dx_dw_via_fwd(void **state)
{
    (void)state;
    for (size_t s = 0; s < 4; s++) {
        uint32_t m = shapes[s][0], k = shapes[s][1], n = shapes[s][2];
        float *dy = rand_array((size_t)m * n), *w = rand_array((size_t)n * k);
        float *x = rand_array((size_t)m * k);
        float *got = rand_array((size_t)m * k), *want = malloc((size_t)m * k * sizeof *want);
        /* dX = dY·W = fwd(X=dY, W'=Wᵀ) */
        float *wt = transpose(w, n, k);
        ref_gemm_dx(got, dy, w, m, n, k, 0);
        ref_gemm_fwd(want, dy, wt, NULL, m, k, n, REF_ACT_NONE);
        assert_close(got, want, (size_t)m * k);
        /* Accumulating adds to what was there. */
        float *acc = malloc((size_t)m * k * sizeof *acc);
        memcpy(acc, x, (size_t)m * k * sizeof *acc);
        ref_gemm_dx(acc, dy, w, m, n, k, 1);
        for (size_t i = 0; i < (size_t)m * k; i++)
            want[i] += x[i];
        assert_close(acc, want, (size_t)m * k);

        /* dW = dYᵀ·X = fwd(X=dYᵀ, W'=Xᵀ) */
        float *dyt = transpose(dy, m, n), *xt = transpose(x, m, k);
        float *dw = malloc((size_t)n * k * sizeof *dw), *dw2 = malloc((size_t)n * k * sizeof *dw2);
        ref_gemm_dw(dw, dy, x, m, n, k, 0);
        ref_gemm_fwd(dw2, dyt, xt, NULL, n, k, m, REF_ACT_NONE);
        assert_close(dw, dw2, (size_t)n * k);
        free(dy), free(w), free(x), free(got), free(want), free(wt), free(acc);
        free(dyt), free(xt), free(dw), free(dw2);
    }
}

static void test_sums_and_activations(void **state)
{
    (void)state;
    const uint32_t m = 6, n = 9;
    float *x = rand_array((size_t)m * n), *ones = malloc(n * sizeof *ones);
    float rows[6], rows2[6], cols[9], cols2[9], y[6 * 9], z[6 * 9];
    ref_fill(ones, n, 1.0f);
    /* Row sums are x·1; column sums are row sums of xᵀ. */
    ref_sum_rows(rows, x, m, n, 0);
    ref_gemm_fwd(rows2, x, ones, NULL, m, 1, n, REF_ACT_NONE);
    assert_close(rows, rows2, m);
    float *xt = transpose(x, m, n);
    ref_sum_cols(cols, x, m, n, 0);
    ref_sum_rows(cols2, xt, n, m, 0);
    assert_close(cols, cols2, n);
    /* Bias adds per column; relu² is relu squared. */
    float *w = rand_array((size_t)n * n), *b = rand_array(n);
    ref_gemm_fwd(y, x, w, b, m, n, n, REF_ACT_NONE);
    ref_gemm_fwd(z, x, w, NULL, m, n, n, REF_ACT_NONE);
    for (size_t i = 0; i < (size_t)m * n; i++)
        z[i] += b[i % n];
    assert_close(y, z, (size_t)m * n);
    ref_gemm_fwd(z, x, w, b, m, n, n, REF_ACT_RELU2);
    for (size_t i = 0; i < (size_t)m * n; i++)
        y[i] = y[i] > 0 ? y[i] * y[i] : 0.0f;
    assert_close(y, z, (size_t)m * n);
    /* scale_add: y = a·x + b·y */
    float s[4] = {1, 2, 3, 4}, t[4] = {1, 1, 1, 1};
    ref_scale_add(s, 2.0f, t, -1.0f, 4);
    float want[4] = {1, 0, -1, -2};
    assert_close(s, want, 4);
    free(x), free(ones), free(xt), free(w), free(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dx_dw_via_fwd),
        cmocka_unit_test(test_sums_and_activations),
    };
    return cmocka_run_group_tests_name("reference", tests, NULL, NULL);
}
