/*
 * Reference implementations of the runtime kernels (src/vk/runtime.h) as
 * plain C loops with double accumulation. All matrices are dense row-major
 * (no padding), the layout vks_tensor_write/read use on the host side.
 * The tests compare the device results against these by NMSE.
 */
#ifndef VKSAC_TESTS_KERNELS_REF_H
#define VKSAC_TESTS_KERNELS_REF_H

#include <stddef.h>
#include <stdint.h>

/* Same numbering as vks_act, kept separate so the reference depends on
 * nothing in the library. */
enum { REF_ACT_NONE = 0, REF_ACT_RELU = 1, REF_ACT_RELU2 = 2 };

/* y[i] = value, n elements */
void ref_fill(float *y, size_t n, float value);
/* y = a*x + b*y, n elements */
void ref_scale_add(float *y, float a, const float *x, float b, size_t n);
/* out[i] (+)= sum_j x[i][j]; x is m×n, out has m elements */
void ref_sum_rows(float *out, const float *x, uint32_t m, uint32_t n, int accumulate);
/* out[j] (+)= sum_i x[i][j]; x is m×n, out has n elements */
void ref_sum_cols(float *out, const float *x, uint32_t m, uint32_t n, int accumulate);
/* y (m×n) = act(x (m×k) · wᵀ + b), w is n×k, b has n elements or is NULL */
void ref_gemm_fwd(float *y, const float *x, const float *w, const float *b, uint32_t m,
                  uint32_t n, uint32_t k, int act);
/* dx (m×k) (+)= dy (m×n) · w (n×k) */
void ref_gemm_dx(float *dx, const float *dy, const float *w, uint32_t m, uint32_t n, uint32_t k,
                 int accumulate);
/* dw (n×k) (+)= dyᵀ · x; dy is m×n, x is m×k */
void ref_gemm_dw(float *dw, const float *dy, const float *x, uint32_t m, uint32_t n, uint32_t k,
                 int accumulate);

#endif
