/* Softmax over segments in double precision, the oracle for softmax.c. */
#include <math.h>

#include "reference/nn_ref.h"

void ref_softmax_forward(double *p, double *logp, const double *x, uint32_t rows, uint32_t cols,
                         const uint32_t *bounds, uint32_t nseg)
{
    for (uint32_t r = 0; r < rows; r++) {
        const double *xr = x + (size_t)r * cols;
        for (uint32_t s = 0; s < nseg; s++) {
            uint32_t lo = bounds[s], hi = bounds[s + 1];
            double m = -INFINITY, sum = 0.0;
            for (uint32_t c = lo; c < hi; c++)
                m = fmax(m, xr[c]);
            for (uint32_t c = lo; c < hi; c++)
                sum += exp(xr[c] - m);
            double lse = log(sum);
            for (uint32_t c = lo; c < hi; c++) {
                if (p)
                    p[(size_t)r * cols + c] = exp(xr[c] - m) / sum;
                if (logp)
                    logp[(size_t)r * cols + c] = xr[c] - m - lse;
            }
        }
    }
}

void ref_softmax_backward(double *dx, const double *p, const double *dp, const double *dlogp,
                          uint32_t rows, uint32_t cols, const uint32_t *bounds, uint32_t nseg)
{
    for (uint32_t r = 0; r < rows; r++) {
        size_t o = (size_t)r * cols;
        for (uint32_t s = 0; s < nseg; s++) {
            uint32_t lo = bounds[s], hi = bounds[s + 1];
            double spd = 0.0, sdl = 0.0;
            for (uint32_t c = lo; c < hi; c++) {
                spd += dp ? p[o + c] * dp[o + c] : 0.0;
                sdl += dlogp ? dlogp[o + c] : 0.0;
            }
            for (uint32_t c = lo; c < hi; c++) {
                double g = 0.0;
                if (dp)
                    g += p[o + c] * (dp[o + c] - spd);
                if (dlogp)
                    g += dlogp[o + c] - p[o + c] * sdl;
                dx[o + c] = g;
            }
        }
    }
}
