/* Reference optimiser step (SPEC.md §5) and target EMA in double precision,
 * plain loops in the order the device uses: regeneration, clipping, decay,
 * moments, update. drop_term switches one term off so the tests can show
 * that their tolerance notices each. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "reference/nn_ref.h"

/* ---- Wasserstein ranks --------------------------------------------------- */

/* qsort has no context argument: the values being ranked, for cmp_rank. */
static const double *rank_values;

/* By value, ties by index: the device's (θ, index) key. */
static int cmp_rank(const void *pa, const void *pb)
{
    size_t a = *(const size_t *)pa, b = *(const size_t *)pb;
    double x = rank_values[a], y = rank_values[b];
    if (x != y)
        return x < y ? -1 : 1;
    return (a > b) - (a < b);
}

static int cmp_double(const void *pa, const void *pb)
{
    double x = *(const double *)pa, y = *(const double *)pb;
    return (x > y) - (x < y);
}

/* θ ← θ + c·(sort(θ₀)[rank of θ] − θ) within one tensor of n elements. */
static void regen_wasserstein(double *theta, const double *theta0, size_t n, double c)
{
    double *sorted0 = malloc((n ? n : 1) * sizeof *sorted0);
    size_t *idx = malloc((n ? n : 1) * sizeof *idx);
    if (!sorted0 || !idx)
        abort();   /* test-only code; a few KB */
    memcpy(sorted0, theta0, n * sizeof *sorted0);
    qsort(sorted0, n, sizeof *sorted0, cmp_double);
    for (size_t i = 0; i < n; i++)
        idx[i] = i;
    rank_values = theta;
    qsort(idx, n, sizeof *idx, cmp_rank);
    for (size_t r = 0; r < n; r++)
        theta[idx[r]] += c * (sorted0[r] - theta[idx[r]]);
    free(sorted0);
    free(idx);
}

static void regenerate(const ref_opt *o, double *theta, const double *theta0, const ref_tensor_span *spans,
                       size_t nspans)
{
    if (o->drop_term == REF_TERM_REGEN || o->regen == REF_REGEN_NONE)
        return;
    for (size_t s = 0; s < nspans; s++) {
        double *th = theta + spans[s].offset;
        const double *th0 = theta0 + spans[s].offset;
        if (o->regen == REF_REGEN_L2)
            for (size_t i = 0; i < spans[s].n; i++)
                th[i] += o->lr * o->regen_lambda * (th0[i] - th[i]);
        else
            regen_wasserstein(th, th0, spans[s].n, o->lr / o->lr0 * o->regen_lambda);
    }
}

/* PyTorch's clip_grad_norm_ factor over every tensor (1 when off). */
static double clip_scale(const ref_opt *o, const double *grad, const ref_tensor_span *spans, size_t nspans)
{
    if (o->max_grad_norm <= 0.0 || o->drop_term == REF_TERM_CLIP)
        return 1.0;
    double ss = 0.0;
    for (size_t s = 0; s < nspans; s++)
        for (size_t i = 0; i < spans[s].n; i++)
            ss += grad[spans[s].offset + i] * grad[spans[s].offset + i];
    return fmin(1.0, o->max_grad_norm / (sqrt(ss) + 1e-6));
}

/* The step direction of one element from m̂ and v̂ (before ×lr). */
static double direction(const ref_opt *o, double mh, double vh)
{
    if (o->kind == REF_OPT_ADAM_ATAN2) {
        double a = o->drop_term == REF_TERM_ATAN2_A ? 1.0 : o->a;
        /* Dropping b means b = 1, except that b = 1 is then treated as 2,
         * so the switch changes something whatever b is. */
        double b = o->drop_term == REF_TERM_ATAN2_B ? (o->b == 1.0 ? 2.0 : 1.0) : o->b;
        return a * atan2(mh, b * sqrt(vh));   /* atan2(0, 0) = 0 in C */
    }
    double d = sqrt(vh) + o->eps;
    return d > 0.0 ? mh / d : 0.0;   /* the device's guard for ε = 0, v = 0 */
}

void ref_opt_step(const ref_opt *o, double *theta, const double *grad, double *m, double *v,
                  const double *theta0, const ref_tensor_span *spans, size_t nspans, double t)
{
    regenerate(o, theta, theta0, spans, nspans);
    double scale = clip_scale(o, grad, spans, nspans);
    double decay = o->kind == REF_OPT_ADAMW && o->drop_term != REF_TERM_DECAY ? o->lr * o->weight_decay : 0.0;
    double bc1 = o->drop_term == REF_TERM_BIAS_CORR1 ? 1.0 : 1.0 - pow(o->beta1, t);
    double bc2 = o->drop_term == REF_TERM_BIAS_CORR2 ? 1.0 : 1.0 - pow(o->beta2, t);
    for (size_t s = 0; s < nspans; s++)
        for (size_t k = 0; k < spans[s].n; k++) {
            size_t i = spans[s].offset + k;
            double g = grad[i] * scale;
            theta[i] *= 1.0 - decay;
            m[i] = o->drop_term == REF_TERM_MOMENTUM ? g : o->beta1 * m[i] + (1.0 - o->beta1) * g;
            v[i] = o->beta2 * v[i] + (1.0 - o->beta2) * g * g;
            theta[i] -= o->lr * direction(o, m[i] / bc1, v[i] / bc2);
        }
}

void ref_ema(double *target, const double *online, size_t n, double beta)
{
    for (size_t i = 0; i < n; i++)
        target[i] += (1.0 - beta) * (online[i] - target[i]);
}
