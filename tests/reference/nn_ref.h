/*
 * Reference implementations of the src/nn kernels as plain C loops in
 * double precision: the oracle the device results are compared with, and
 * the functions whose backward passes are checked by finite differences.
 * Matrices are dense row-major (no padding). Nothing here depends on the
 * library. Activation codes follow nn_act: 0 none, 1 relu, 2 relu², 3 crelu.
 */
#ifndef VKSAC_TESTS_NN_REF_H
#define VKSAC_TESTS_NN_REF_H

#include <stddef.h>
#include <stdint.h>

enum { REF_NN_NONE = 0, REF_NN_RELU = 1, REF_NN_RELU2 = 2, REF_NN_CRELU = 3 };

/* ---- Philox4x32-10 and dropout (layers_ref.c) ---- */
void ref_philox4x32_10(const uint32_t ctr[4], const uint32_t key[2], uint32_t out[4]);

/* Dropout parameters as in nn_dropout; rate 0 = no dropout. */
typedef struct ref_dropout {
    double rate;
    uint32_t seed, stream;
    uint64_t counter;
} ref_dropout;

/* Multiplier of element (r, c): 0 when dropped, else 1/(1−rate). */
double ref_dropout_scale(const ref_dropout *d, uint32_t r, uint32_t c);
uint32_t ref_act_width(int act, uint32_t n);

/* y (rows×act_width(cols)) = act(drop(x)) */
void ref_act_forward(double *y, const double *x, uint32_t rows, uint32_t cols, int act,
                     const ref_dropout *d);
/* dx (rows×cols) = dy·∂y/∂x */
void ref_act_backward(double *dx, const double *dy, const double *x, uint32_t rows, uint32_t cols,
                      int act, const ref_dropout *d);

/* ---- LayerNorm with fused act/dropout and residual (layers_ref.c) ---- */
/* y = [res +] gain ⊙ LN(act(drop(u))); stats (rows×2) = mean, 1/σ; any of
 * res, stats may be NULL. eps = 1e-5. */
void ref_ln_forward(double *y, double *stats, const double *u, const double *gain, const double *res,
                    uint32_t rows, uint32_t cols, int act, const ref_dropout *d);
/* du (rows×cols), dgain (+)= (width act_width(cols)), from dy. */
void ref_ln_backward(double *du, double *dgain, const double *dy, const double *u, const double *gain,
                     uint32_t rows, uint32_t cols, int act, const ref_dropout *d, int accumulate_dgain);

/* ---- softmax over segments (softmax_ref.c) ---- */
/* bounds: nseg+1 boundaries (0, n1, n1+n2, …, cols) */
void ref_softmax_forward(double *p, double *logp, const double *x, uint32_t rows, uint32_t cols,
                         const uint32_t *bounds, uint32_t nseg);
void ref_softmax_backward(double *dx, const double *p, const double *dp, const double *dlogp,
                          uint32_t rows, uint32_t cols, const uint32_t *bounds, uint32_t nseg);

/* ---- RSMNorm (softmax_ref.c's sibling rsmnorm_ref.c) ---- */
void ref_rsmnorm_update(double *mean, double *var, double *count, const double *x, uint32_t rows,
                        uint32_t dim);
void ref_rsmnorm_forward(double *y, const double *x, const double *mean, const double *var,
                         uint32_t rows, uint32_t dim);
void ref_rsmnorm_backward(double *dx, const double *dy, const double *var, uint32_t rows, uint32_t dim);

/* ---- optimisers (optim_ref.c) ---- */
enum { REF_OPT_ADAM_ATAN2 = 0, REF_OPT_ADAM = 1, REF_OPT_ADAMW = 2 };
enum { REF_REGEN_NONE = 0, REF_REGEN_L2 = 1, REF_REGEN_WASSERSTEIN = 2 };

/* Terms the tests can switch off one at a time to prove the tolerance
 * notices each (ref_opt.drop_term). */
enum {
    REF_TERM_NONE = 0,
    REF_TERM_BIAS_CORR1,    /* m̂ = m */
    REF_TERM_BIAS_CORR2,    /* v̂ = v */
    REF_TERM_REGEN,         /* no regeneration */
    REF_TERM_ATAN2_A,       /* a = 1 */
    REF_TERM_ATAN2_B,       /* b = 1 treated as 2 */
    REF_TERM_MOMENTUM,      /* m = g */
    REF_TERM_CLIP,          /* no clipping */
    REF_TERM_DECAY,         /* no AdamW decay */
    REF_TERM_COUNT
};

typedef struct ref_opt {
    int kind;
    double lr, beta1, beta2, a, b, eps, weight_decay, max_grad_norm;
    int regen;
    double regen_lambda, lr0;   /* lr0: the configured lr (Wasserstein) */
    int drop_term;              /* REF_TERM_* to omit, for sensitivity tests */
} ref_opt;

/* One tensor of a parameter set: n elements at offset in the flat arrays. */
typedef struct ref_tensor_span { size_t offset, n; } ref_tensor_span;

/* One optimiser step t (1-based) over all tensors (the global norm for
 * clipping spans all of them): regeneration, clipping, decay, moments,
 * update. Gradients are left as they were. */
void ref_opt_step(const ref_opt *o, double *theta, const double *grad, double *m, double *v,
                  const double *theta0, const ref_tensor_span *spans, size_t nspans, double t);
/* θ̄ ← θ̄ + (1−β)(θ − θ̄) */
void ref_ema(double *target, const double *online, size_t n, double beta);

#endif
