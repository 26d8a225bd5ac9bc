/* Philox4x32-10, dropout, activations and LayerNorm (nn_ref.h) as plain
 * double-precision loops, written from the equations rather than from the
 * shaders: an activated value is recomputed from u wherever it is needed,
 * one element at a time. */
#include <math.h>
#include <stdlib.h>

#include "reference/nn_ref.h"

#define LN_EPS 1e-5

/* Random123's philox4x32 with R = 10: round, then bump the key, except
 * after the last round, i.e. round i uses key + i·(Weyl constants). */
void ref_philox4x32_10(const uint32_t ctr[4], const uint32_t key[2], uint32_t out[4])
{
    uint32_t x0 = ctr[0], x1 = ctr[1], x2 = ctr[2], x3 = ctr[3];
    for (uint32_t i = 0; i < 10; i++) {
        uint32_t k0 = key[0] + i * 0x9E3779B9u, k1 = key[1] + i * 0xBB67AE85u;
        uint64_t p0 = (uint64_t)x0 * 0xD2511F53u, p1 = (uint64_t)x2 * 0xCD9E8D57u;
        uint32_t y0 = (uint32_t)(p1 >> 32) ^ x1 ^ k0, y1 = (uint32_t)p1;
        uint32_t y2 = (uint32_t)(p0 >> 32) ^ x3 ^ k1, y3 = (uint32_t)p0;
        x0 = y0, x1 = y1, x2 = y2, x3 = y3;
    }
    out[0] = x0, out[1] = x1, out[2] = x2, out[3] = x3;
}

/* The 64-bit counter is the value nn_tick carries in two floats of 24 bits
 * each: counter_lo = counter mod 2^24, counter_hi = counter / 2^24. */
double ref_dropout_scale(const ref_dropout *d, uint32_t r, uint32_t c)
{
    if (!d || d->rate == 0.0)
        return 1.0;
    uint32_t ctr[4] = {c / 4, r, (uint32_t)(d->counter & 0xFFFFFFu), (uint32_t)(d->counter >> 24)};
    uint32_t key[2] = {d->seed, d->stream}, w[4];
    ref_philox4x32_10(ctr, key, w);
    double u = ldexp((double)(w[c % 4] >> 8), -24);
    return u >= d->rate ? 1.0 / (1.0 - d->rate) : 0.0;
}

uint32_t ref_act_width(int act, uint32_t n)
{
    return act == REF_NN_CRELU ? 2 * n : n;
}

static double relu(double v)
{
    return v > 0.0 ? v : 0.0;
}

/* Column j (of act_width(cols)) of act(drop(u)) for row r. */
static double activated(const double *urow, uint32_t r, uint32_t j, uint32_t cols, int act,
                        const ref_dropout *d)
{
    uint32_t c = j < cols ? j : j - cols;   /* CReLU's second half reads column j - cols */
    double v = urow[c] * ref_dropout_scale(d, r, c);
    switch (act) {
    case REF_NN_RELU: return relu(v);
    case REF_NN_RELU2: return relu(v) * relu(v);
    case REF_NN_CRELU: return j < cols ? relu(v) : relu(-v);
    default: return v;
    }
}

void ref_act_forward(double *y, const double *x, uint32_t rows, uint32_t cols, int act,
                     const ref_dropout *d)
{
    uint32_t w = ref_act_width(act, cols);
    for (uint32_t r = 0; r < rows; r++)
        for (uint32_t j = 0; j < w; j++)
            y[(size_t)r * w + j] = activated(x + (size_t)r * cols, r, j, cols, act, d);
}

/* dx for one row from g = ∂L/∂act(drop(x)) (width act_width(cols)).
 * Slopes of the ReLU family are 0 at 0. */
static void act_backward_row(double *dx, const double *g, const double *x, uint32_t r, uint32_t cols, int act,
                             const ref_dropout *d)
{
    for (uint32_t c = 0; c < cols; c++) {
        double s = ref_dropout_scale(d, r, c), v = x[c] * s, dv;
        switch (act) {
        case REF_NN_RELU: dv = v > 0.0 ? g[c] : 0.0; break;
        case REF_NN_RELU2: dv = 2.0 * relu(v) * g[c]; break;
        case REF_NN_CRELU: dv = (v > 0.0 ? g[c] : 0.0) - (v < 0.0 ? g[cols + c] : 0.0); break;
        default: dv = g[c]; break;
        }
        dx[c] = dv * s;
    }
}

void ref_act_backward(double *dx, const double *dy, const double *x, uint32_t rows, uint32_t cols,
                      int act, const ref_dropout *d)
{
    uint32_t w = ref_act_width(act, cols);
    for (uint32_t r = 0; r < rows; r++)
        act_backward_row(dx + (size_t)r * cols, dy + (size_t)r * w, x + (size_t)r * cols, r, cols, act, d);
}

/* Two-pass mean and 1/σ of row r's activated values. */
static void row_stats(const double *urow, uint32_t r, uint32_t cols, int act, const ref_dropout *d,
                      double *mean, double *rstd)
{
    uint32_t w = ref_act_width(act, cols);
    double s = 0.0, v = 0.0;
    for (uint32_t j = 0; j < w; j++)
        s += activated(urow, r, j, cols, act, d);
    s /= w;
    for (uint32_t j = 0; j < w; j++) {
        double e = activated(urow, r, j, cols, act, d) - s;
        v += e * e;
    }
    *mean = s;
    *rstd = 1.0 / sqrt(v / w + LN_EPS);
}

void ref_ln_forward(double *y, double *stats, const double *u, const double *gain, const double *res,
                    uint32_t rows, uint32_t cols, int act, const ref_dropout *d)
{
    uint32_t w = ref_act_width(act, cols);
    for (uint32_t r = 0; r < rows; r++) {
        const double *urow = u + (size_t)r * cols;
        double mean, rstd;
        row_stats(urow, r, cols, act, d, &mean, &rstd);
        for (uint32_t j = 0; j < w; j++) {
            size_t i = (size_t)r * w + j;
            y[i] = gain[j] * (activated(urow, r, j, cols, act, d) - mean) * rstd + (res ? res[i] : 0.0);
        }
        if (stats)
            stats[2 * r] = mean, stats[2 * r + 1] = rstd;
    }
}

/* With x̂ = (a − mean)·rstd and g = dy ⊙ gain, the LayerNorm backward is
 * da = rstd·(g − mean(g) − x̂·mean(g ⊙ x̂)); da then goes through the
 * activation and dropout as in ref_act_backward. */
void ref_ln_backward(double *du, double *dgain, const double *dy, const double *u, const double *gain,
                     uint32_t rows, uint32_t cols, int act, const ref_dropout *d, int accumulate_dgain)
{
    uint32_t w = ref_act_width(act, cols);
    if (!accumulate_dgain)
        for (uint32_t j = 0; j < w; j++)
            dgain[j] = 0.0;
    double *da = malloc((w ? w : 1) * sizeof *da);   /* one row */
    for (uint32_t r = 0; r < rows; r++) {
        if (!da) {   /* no memory: NaN makes the comparing test fail loudly */
            for (uint32_t c = 0; c < cols; c++)
                du[(size_t)r * cols + c] = NAN;
            continue;
        }
        const double *urow = u + (size_t)r * cols, *dyr = dy + (size_t)r * w;
        double mean, rstd, mg = 0.0, mgx = 0.0;
        row_stats(urow, r, cols, act, d, &mean, &rstd);
        for (uint32_t j = 0; j < w; j++) {
            double xh = (activated(urow, r, j, cols, act, d) - mean) * rstd;
            mg += dyr[j] * gain[j];
            mgx += dyr[j] * gain[j] * xh;
            dgain[j] += dyr[j] * xh;
        }
        mg /= w;
        mgx /= w;
        for (uint32_t j = 0; j < w; j++) {
            double xh = (activated(urow, r, j, cols, act, d) - mean) * rstd;
            da[j] = rstd * (dyr[j] * gain[j] - mg - xh * mgx);
        }
        act_backward_row(du + (size_t)r * cols, da, urow, r, cols, act, d);
    }
    free(da);
}
