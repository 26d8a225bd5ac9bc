/*
 * src/nn: neural-network layers on the vk runtime, each with a recorded
 * forward and a recorded backward (no autograd), the residual MLP of
 * SPEC.md §1 and the optimisers of SPEC.md §5.
 *
 * Every function records into a sequence (vks_seq) and returns a status;
 * bad arguments fail with a message on the context naming the field and
 * value. Activations are row-major B×N tensors (one sample per row).
 *
 * Values that change per step (optimiser step t, learning rate, RNG
 * counter) are read by the kernels from a small device tensor of scalars,
 * so a recording stays valid across steps. A counter is two floats, low
 * then high, each holding an integer below 2^24 (nn_tick carries).
 */
#ifndef VKSAC_NN_NN_H
#define VKSAC_NN_NN_H

#include <stdbool.h>
#include <stdint.h>

#include "vk/runtime.h"

/* ---- activations and dropout (act.c) ------------------------------------ */

typedef enum nn_act { NN_ACT_NONE = 0, NN_ACT_RELU = 1, NN_ACT_RELU2 = 2, NN_ACT_CRELU = 3 } nn_act;

/* "none", "relu", "relu2" (also "relu²"), "crelu" → nn_act; E_ARG naming
 * `field` and the value otherwise. */
vksac_status nn_act_parse(vks_ctx *ctx, const char *name, const char *field, nn_act *out);
const char *nn_act_name(nn_act act);
/* Width of act(x) for an input of width n: 2n for CReLU, else n. */
uint32_t nn_act_width(nn_act act, uint32_t n);

/* Inverted dropout with rate p in [0, 1): an element survives when the
 * uniform drawn for it is ≥ p and is then scaled by 1/(1−p). The uniform
 * for element (row r, column c) is word c%4 of Philox4x32-10 with key
 * {seed, stream} and counter {c/4, r, counter_lo, counter_hi}, mapped as
 * (word >> 8)·2⁻²⁴; counter_lo/hi are values[counter_index], [+1]. The
 * same seed, stream and counter give the same mask on every device.
 * rate 0 disables dropout (values may then be NULL). */
typedef struct nn_dropout {
    float rate;
    uint32_t seed, stream;
    const vks_tensor *values;
    uint32_t counter_index;
} nn_dropout;

/* y = act(drop(x)); y is B×act_width(N). drop may be NULL. */
vksac_status nn_act_forward(vks_seq *seq, vks_tensor *y, const vks_tensor *x, nn_act act,
                            const nn_dropout *drop);
/* dx = dy·∂y/∂x, recomputing the mask from the same dropout parameters. */
vksac_status nn_act_backward(vks_seq *seq, vks_tensor *dx, const vks_tensor *dy, const vks_tensor *x,
                             nn_act act, const nn_dropout *drop);

/* ---- stacks: networks of one shape run as one (ensembles) ------------- */

#define NN_MAX_STACK 16
/* The rows of a row kernel's tensors hold `count` networks' activations,
 * `rows` each, network by network. Network z's parameter tensors lie
 * z·step floats after network 0's (the tensor given holds them all, as a
 * vks_batch operand), and its dropout uses seed[z] with rows counted
 * within the network, so each network computes what it would alone. */
typedef struct nn_stack {
    uint32_t count, rows;
    uint64_t step;
    uint32_t seed[NN_MAX_STACK];
} nn_stack;

/* ---- LayerNorm (layernorm.c) -------------------------------------------- */

/* y = [residual +] gain ⊙ LN(act(drop(u))), LN over each row with ε = 1e-5
 * and a two-pass variance; u is B×N, gain 1×N', y and residual B×N' with
 * N' = act_width(N); stats (B×2) receives each row's mean and 1/σ for the
 * backward. residual and drop may be NULL. */
vksac_status nn_ln_forward(vks_seq *seq, vks_tensor *y, vks_tensor *stats, const vks_tensor *u,
                           const vks_tensor *gain, const vks_tensor *residual, nn_act act,
                           const nn_dropout *drop);
/* From dy (B×N'): du (B×N) through the norm, the activation and dropout;
 * dgain (1×N') (+)= Σ_rows dy ⊙ x̂, using `scratch` (B×N') for the
 * per-row products; dgain NULL skips the sum, and scratch still holds
 * dy ⊙ x̂ on return (src/nn/mlp.c sums it in the next layer's dW). The
 * residual's gradient is dy itself (the caller's). */
vksac_status nn_ln_backward(vks_seq *seq, vks_tensor *du, vks_tensor *dgain, vks_tensor *scratch,
                            const vks_tensor *dy, const vks_tensor *u, const vks_tensor *gain,
                            const vks_tensor *stats, nn_act act, const nn_dropout *drop,
                            int accumulate_dgain);

/* The same over a stack (NULL: one network): u, y, stats, residual, du,
 * scratch and dy hold stack->count·stack->rows rows; gain and dgain hold
 * the networks' gains stack->step floats apart; drop->seed is replaced by
 * stack->seed[z]. */
vksac_status nn_ln_forward_stacked(vks_seq *seq, vks_tensor *y, vks_tensor *stats, const vks_tensor *u,
                                   const vks_tensor *gain, const vks_tensor *residual, nn_act act,
                                   const nn_dropout *drop, const nn_stack *stack);
vksac_status nn_ln_backward_stacked(vks_seq *seq, vks_tensor *du, vks_tensor *dgain, vks_tensor *scratch,
                                    const vks_tensor *dy, const vks_tensor *u, const vks_tensor *gain,
                                    const vks_tensor *stats, nn_act act, const nn_dropout *drop,
                                    int accumulate_dgain, const nn_stack *stack);

/* ---- softmax over segments (softmax.c) ---------------------------------- */

/* A row of logits split into consecutive segments (one per discrete action
 * head), e.g. sizes {5, 5}: a 1×(n+1) tensor of boundaries 0, 5, 10. */
vksac_status nn_segments_create(vks_ctx *ctx, const uint32_t *sizes, uint32_t n, vks_tensor **out);
/* p = softmax, logp = log_softmax of each segment of each row of x (B×N);
 * either output may be NULL. Max-subtracted, logp = x − max − log Σ exp. */
vksac_status nn_softmax_forward(vks_seq *seq, vks_tensor *p, vks_tensor *logp, const vks_tensor *x,
                                const vks_tensor *segs);
/* dx = p⊙(dp − Σ_seg p⊙dp) + dlogp − p·Σ_seg dlogp; dp or dlogp may be NULL. */
vksac_status nn_softmax_backward(vks_seq *seq, vks_tensor *dx, const vks_tensor *p, const vks_tensor *dp,
                                 const vks_tensor *dlogp, const vks_tensor *segs);

/* ---- RSMNorm (rsmnorm.c) ------------------------------------------------ */

/* Running mean μ, variance σ² and count t of SPEC.md §1, one per column of
 * the input, in a 3×dim stats tensor (rows μ, σ², t; starts 0, 1, 1). */
typedef struct nn_rsmnorm {
    uint32_t dim;
    vks_tensor *stats;
} nn_rsmnorm;

vksac_status nn_rsmnorm_create(vks_ctx *ctx, uint32_t dim, nn_rsmnorm **out);
void nn_rsmnorm_destroy(nn_rsmnorm *r);
/* δ = mean_batch(x) − μ; μ += δ/t; σ² = ((t−1)/t)(σ² + δ²/t); t += 1. */
vksac_status nn_rsmnorm_update(vks_seq *seq, nn_rsmnorm *r, const vks_tensor *x);
/* y = (x − μ) / max(√σ², 1e-5) */
vksac_status nn_rsmnorm_forward(vks_seq *seq, const nn_rsmnorm *r, vks_tensor *y, const vks_tensor *x);
/* dx = dy / max(√σ², 1e-5) */
vksac_status nn_rsmnorm_backward(vks_seq *seq, const nn_rsmnorm *r, vks_tensor *dx, const vks_tensor *dy);

/* ---- flat parameter sets (params.c) ------------------------------------- */

enum { NN_THETA, NN_GRAD, NN_M, NN_V, NN_THETA0, NN_BUFS };
#define NN_NAME_LEN 64
#define NN_ALIGN 64   /* floats between tensor starts: any texel alignment */

typedef struct nn_param {
    char name[NN_NAME_LEN];
    uint32_t rows, cols;
    uint64_t offset;          /* floats into each flat buffer */
} nn_param;

/* Named tensors laid out in one flat buffer per role (parameters, their
 * gradients, Adam's m and v, the initial parameters θ₀), at the same
 * offsets in each, every tensor with its padded stride. The flat tensors
 * are 1×total; view[role][i] is tensor i inside role's buffer. */
typedef struct nn_params {
    vks_ctx *ctx;
    uint32_t count;
    nn_param *param;
    uint64_t total;                 /* floats, a multiple of NN_ALIGN */
    vks_tensor *flat[NN_BUFS];
    vks_tensor **view[NN_BUFS];
    uint32_t copies;                /* sets of the tensors (nn_params_create_copies), else 1 */
    uint64_t step;                  /* floats from one set to the next */
} nn_params;

vksac_status nn_params_create(vks_ctx *ctx, const nn_param *shapes, uint32_t count, nn_params **out);
/* The parameters of an ensemble: `copies` sets of the tensors, set z
 * `step` floats after set 0 in each flat buffer (plus a little slack
 * after the last). view[role][i] starts at set 0's tensor i and holds it
 * in every set: a vks_batch operand with that step. Read, write and
 * initialise the sets through nn_params_member; the flat operations
 * (zero_grad, ema) cover every set. */
vksac_status nn_params_create_copies(vks_ctx *ctx, const nn_param *shapes, uint32_t count, uint32_t copies,
                                     nn_params **out);
/* Set z of an ensemble as a parameter set of its own, aliasing the
 * ensemble's memory; destroy it before the ensemble. */
vksac_status nn_params_member(nn_params *ens, uint32_t z, nn_params **out);
void nn_params_destroy(nn_params *p);
/* Index of a tensor by name, or -1. */
int nn_params_find(const nn_params *p, const char *name);
/* Writes θ (and θ₀ = θ) from dense host data in parameter order (each
 * tensor rows×cols, no padding), zeroes gradients and moments. */
vksac_status nn_params_init(nn_params *p, const float *theta);
/* Dense host copy of role's buffer in parameter order (Σ rows·cols floats). */
vksac_status nn_params_read(const nn_params *p, int role, float *dst);
vksac_status nn_params_write(nn_params *p, int role, const float *src);
/* Σ rows·cols over the tensors. */
uint64_t nn_params_dense_size(const nn_params *p);
/* grad = 0 over the whole flat buffer (one dispatch). */
vksac_status nn_params_zero_grad(vks_seq *seq, nn_params *p);
/* Target EMA over whole flat buffers: θ̄ ← θ̄ + (1−β)(θ − θ̄), one dispatch. */
vksac_status nn_ema(vks_seq *seq, nn_params *target, const nn_params *online, float beta);
/* Part `part` of a set's flat buffers cut in `parts` (floats [*lo, *hi)):
 * consecutive parts cover the whole, each starting on a multiple of
 * NN_ALIGN. A sharded update steps each replica's part of the set
 * (nn_optim_step_part, nn_ema_part), and the replicas copy the parts to
 * one another (src/rl/shards.c). */
void nn_params_part(const nn_params *p, uint32_t part, uint32_t parts, uint64_t *lo, uint64_t *hi);
/* VKSAC_OK when parts ≥ 1 and part < parts, else E_ARG naming fn (the
 * precondition of nn_params_part and of the functions stepping parts). */
vksac_status nn_params_check_part(vks_ctx *ctx, const char *fn, uint32_t part, uint32_t parts);
/* nn_ema over the target's part only (parts ≥ 1, part < parts); the rest
 * of the target is left as it is. */
vksac_status nn_ema_part(vks_seq *seq, nn_params *target, const nn_params *online, float beta, uint32_t part,
                         uint32_t parts);

/* ---- optimisers (optim.c) ----------------------------------------------- */

typedef enum nn_opt_kind { NN_OPT_ADAM_ATAN2 = 0, NN_OPT_ADAM = 1, NN_OPT_ADAMW = 2 } nn_opt_kind;
typedef enum nn_regen { NN_REGEN_NONE = 0, NN_REGEN_L2 = 1, NN_REGEN_WASSERSTEIN = 2 } nn_regen;

/* SPEC.md §5. Defaults (nn_opt_defaults): Adam-atan2, lr 3e-4, betas 0.9,
 * 0.99, a 1.27, b 1, eps 1e-8 (Adam, AdamW), weight decay 0.01 (AdamW
 * only), no clipping (max_grad_norm 0), regen L2 with λ 1e-4. */
typedef struct nn_opt_config {
    nn_opt_kind kind;
    float lr, beta1, beta2;
    float a, b;               /* Adam-atan2 */
    float eps;                /* Adam, AdamW */
    float weight_decay;       /* AdamW (decoupled) */
    float max_grad_norm;      /* global-norm clipping when > 0 */
    nn_regen regen;
    float regen_lambda;
    bool zero_grad;           /* zero the gradients in the same dispatch */
} nn_opt_config;

void nn_opt_defaults(nn_opt_config *c);

/* An optimiser over one nn_params. Its per-step scalars live in `values`
 * (1×4: step t, learning rate, unused, unused); a step first ticks t. */
typedef struct nn_optim {
    nn_opt_config cfg;
    nn_params *params;
    vks_tensor *values;
    vks_tensor *partials;                 /* clipping: per-workgroup Σg² */
    vks_tensor *seg, *order, *sorted0;    /* Wasserstein regeneration */
    uint32_t npartials, nreal, nsort;
} nn_optim;

enum { NN_OPT_T = 0, NN_OPT_LR = 1 };

/* values[i] += 1 for each bit i of add_mask; for each bit i of carry_mask,
 * values[i] is the low half of a counter whose high half is values[i+1]:
 * reaching 2^24 it wraps to 0 and the high half gains 1. One invocation. */
vksac_status nn_tick(vks_seq *seq, vks_tensor *values, uint32_t add_mask, uint32_t carry_mask);

/* Wasserstein regeneration reads θ₀ back here to sort it once, so create
 * the optimiser after nn_params_init (a later re-init needs a new one). */
vksac_status nn_optim_create(vks_ctx *ctx, nn_params *params, const nn_opt_config *cfg, nn_optim **out);
void nn_optim_destroy(nn_optim *o);
/* Records one step: tick t, [Σg² partials], [Wasserstein ranks and pull],
 * the update (regen L2, clip, decay, moments, step, [grad = 0]). */
vksac_status nn_optim_step(vks_seq *seq, nn_optim *o);
/* The same step, the update over the set's part `part` of `parts` only
 * (nn_params_part); t, the clipping norm and Wasserstein's pull cover the
 * whole set as in a full step, so the parts of `parts` replicas that
 * start alike, each stepping its own, add up to one full step. */
vksac_status nn_optim_step_part(vks_seq *seq, nn_optim *o, uint32_t part, uint32_t parts);
/* Sets the learning rate read by later runs (host write; wait first). */
vksac_status nn_optim_set_lr(nn_optim *o, float lr);

#endif
