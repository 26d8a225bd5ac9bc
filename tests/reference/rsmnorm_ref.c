/* RSMNorm (SPEC.md §1) in double precision, the oracle for rsmnorm.c. */
#include <math.h>

#include "reference/nn_ref.h"

void ref_rsmnorm_update(double *mean, double *var, double *count, const double *x, uint32_t rows,
                        uint32_t dim)
{
    for (uint32_t c = 0; c < dim; c++) {
        double s = 0.0;
        for (uint32_t r = 0; r < rows; r++)
            s += x[(size_t)r * dim + c];
        double t = count[c], delta = s / rows - mean[c];
        mean[c] += delta / t;
        var[c] = (t - 1.0) / t * (var[c] + delta * delta / t);
        count[c] = t + 1.0;
    }
}

void ref_rsmnorm_forward(double *y, const double *x, const double *mean, const double *var,
                         uint32_t rows, uint32_t dim)
{
    for (uint32_t r = 0; r < rows; r++)
        for (uint32_t c = 0; c < dim; c++)
            y[(size_t)r * dim + c] = (x[(size_t)r * dim + c] - mean[c]) / fmax(sqrt(var[c]), 1e-5);
}

void ref_rsmnorm_backward(double *dx, const double *dy, const double *var, uint32_t rows, uint32_t dim)
{
    for (uint32_t r = 0; r < rows; r++)
        for (uint32_t c = 0; c < dim; c++)
            dx[(size_t)r * dim + c] = dy[(size_t)r * dim + c] / fmax(sqrt(var[c]), 1e-5);
}
