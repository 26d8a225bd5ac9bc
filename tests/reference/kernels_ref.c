#include "kernels_ref.h"

void ref_fill(float *y, size_t n, float value)
{
    for (size_t i = 0; i < n; i++)
        y[i] = value;
}

void ref_scale_add(float *y, float a, const float *x, float b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        y[i] = (float)((double)a * x[i] + (double)b * y[i]);
}

void ref_sum_rows(float *out, const float *x, uint32_t m, uint32_t n, int accumulate)
{
    for (uint32_t i = 0; i < m; i++) {
        double s = accumulate ? out[i] : 0.0;
        for (uint32_t j = 0; j < n; j++)
            s += x[(size_t)i * n + j];
        out[i] = (float)s;
    }
}

void ref_sum_cols(float *out, const float *x, uint32_t m, uint32_t n, int accumulate)
{
    for (uint32_t j = 0; j < n; j++) {
        double s = accumulate ? out[j] : 0.0;
        for (uint32_t i = 0; i < m; i++)
            s += x[(size_t)i * n + j];
        out[j] = (float)s;
    }
}

static double activate(double v, int act)
{
    if (act == REF_ACT_NONE)
        return v;
    v = v > 0.0 ? v : 0.0;
    return act == REF_ACT_RELU2 ? v * v : v;
}

void ref_gemm_fwd(float *y, const float *x, const float *w, const float *b, uint32_t m,
                  uint32_t n, uint32_t k, int act)
{
    for (uint32_t i = 0; i < m; i++)
        for (uint32_t j = 0; j < n; j++) {
            double s = b ? b[j] : 0.0;
            for (uint32_t p = 0; p < k; p++)
                s += (double)x[(size_t)i * k + p] * w[(size_t)j * k + p];
            y[(size_t)i * n + j] = (float)activate(s, act);
        }
}

void ref_gemm_dx(float *dx, const float *dy, const float *w, uint32_t m, uint32_t n, uint32_t k,
                 int accumulate)
{
    for (uint32_t i = 0; i < m; i++)
        for (uint32_t p = 0; p < k; p++) {
            double s = accumulate ? dx[(size_t)i * k + p] : 0.0;
            for (uint32_t j = 0; j < n; j++)
                s += (double)dy[(size_t)i * n + j] * w[(size_t)j * k + p];
            dx[(size_t)i * k + p] = (float)s;
        }
}

void ref_gemm_dw(float *dw, const float *dy, const float *x, uint32_t m, uint32_t n, uint32_t k,
                 int accumulate)
{
    for (uint32_t j = 0; j < n; j++)
        for (uint32_t p = 0; p < k; p++) {
            double s = accumulate ? dw[(size_t)j * k + p] : 0.0;
            for (uint32_t i = 0; i < m; i++)
                s += (double)dy[(size_t)i * n + j] * x[(size_t)i * k + p];
            dw[(size_t)j * k + p] = (float)s;
        }
}
