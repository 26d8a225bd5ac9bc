/*
 * The residual MLP of SPEC.md §1 (BRO/SimBa):
 *   in:    z₀ = LN_in(act(W_in·x + b_in))
 *   block: z ← z + LN_b(W₂·LN_a(act(drop(W₁·z + b₁))) + b₂)      (depth L)
 *   out:   y = W_out·[LN_f](z) + b_out
 * With CReLU every activation doubles its width, so the residual stream
 * is 2h wide (W₂ maps back to 2h).
 *
 * Parameters live in one nn_params set, in this order (docs/nn.md):
 *   proj_in.weight (h×in), proj_in.bias (1×h), ln_in.gain (1×hs),
 *   blocks.<l>.fc1.weight (eh×hs), blocks.<l>.fc1.bias (1×eh),
 *   blocks.<l>.ln_a.gain (1×ea), blocks.<l>.fc2.weight (hs×ea),
 *   blocks.<l>.fc2.bias (1×hs), blocks.<l>.ln_b.gain (1×hs),
 *   [ln_final.gain (1×hs)], proj_out.weight (out×hs), proj_out.bias (1×out)
 * where hs = act_width(h), eh = e·h, ea = act_width(eh).
 *
 * Activations for one batch size live in a workspace (nn_mlp_ws), so one
 * network can run several passes per update (e.g. at s and at s').
 */
#ifndef VKSAC_NN_MLP_H
#define VKSAC_NN_MLP_H

#include "nn/nn.h"

typedef struct nn_mlp_config {
    uint32_t in, out;
    uint32_t hidden;          /* h [256] */
    uint32_t depth;           /* L [2], 0 allowed (projections only) */
    uint32_t expansion;       /* e [2] */
    nn_act act;               /* [relu²] */
    float dropout;            /* rate in [0, 1) [0] */
    bool final_norm;          /* LN_f [off] */
    float out_scale;          /* W_out init scale [1]; the actor uses 0.01 */
    uint64_t seed;            /* initial weights and dropout masks */
} nn_mlp_config;

/* SPEC defaults; in and out are left 0 for the caller. */
void nn_mlp_defaults(nn_mlp_config *c);

typedef struct nn_mlp_block {
    int fc1_w, fc1_b, ln_a, fc2_w, fc2_b, ln_b;   /* indices into params */
} nn_mlp_block;

typedef struct nn_mlp {
    nn_mlp_config cfg;
    uint32_t hs, eh, ea;      /* stream, inner and activated inner widths */
    nn_params *params;
    int in_w, in_b, ln_in, ln_f, out_w, out_b;    /* ln_f −1 without LN_f */
    nn_mlp_block *block;
    /* An ensemble (nn_mlp_create_ensemble) runs params->copies networks
     * as one; member[z] is network z on its own, its parameters aliasing
     * params' set z. A plain network has no members. */
    struct nn_mlp **member;
} nn_mlp;

/* Checks the config (E_ARG naming the field and value), lays out and
 * initialises the parameters: Kaiming-uniform linears like PyTorch's
 * nn.Linear (U(±1/√fan_in) for weight and bias), LN gains 1 except LN_b's
 * 1e-5, W_out times out_scale; drawn with Philox from cfg.seed. */
vksac_status nn_mlp_create(vks_ctx *ctx, const nn_mlp_config *cfg, nn_mlp **out);
void nn_mlp_destroy(nn_mlp *m);
/* `copies` networks (2 to NN_MAX_STACK) of one config, network z with
 * seeds[z] for its initial weights and dropout, each initialised exactly
 * as nn_mlp_create would (cfg->seed is not used). A pass of the ensemble
 * records one dispatch per layer for all of them. Its members are owned by
 * it: use them for anything per network (optimisers, checkpoints, single
 * passes), never destroy them. */
vksac_status nn_mlp_create_ensemble(vks_ctx *ctx, const nn_mlp_config *cfg, const uint64_t *seeds, uint32_t copies,
                                    nn_mlp **out);
/* Network z of an ensemble, or m itself when it is one network (z 0);
 * NULL past the last. */
nn_mlp *nn_mlp_member(nn_mlp *m, uint32_t z);
/* Recomputes the initial weights of cfg.seed on the host (dense, in
 * parameter order, nn_params_dense_size floats); nn_mlp_create uploads them. */
vksac_status nn_mlp_initial_weights(const nn_mlp *m, float *dst);

/* Activations and backward scratch for one pass at a given batch size.
 * Dropout masks use key {seed of the network, stream_base + block} and
 * the counter at values[counter_index], [+1] (nn_dropout), so passes that
 * must not share masks get different stream bases. values may be NULL
 * when the network has no dropout. */
typedef struct nn_mlp_ws nn_mlp_ws;
/* A workspace may be destroyed before or after its network, but not used
 * once the network is gone. */
vksac_status nn_mlp_ws_create(const nn_mlp *m, uint32_t batch, const vks_tensor *values,
                              uint32_t counter_index, uint32_t stream_base, nn_mlp_ws **out);
void nn_mlp_ws_destroy(nn_mlp_ws *ws);

/* y (B×out) = MLP(x (B×in)); dropout only when `train`.
 * Ensembles: y holds copies·R rows (R ≥ B), network z's output in rows
 * z·R … z·R+B−1; x is either B×in, shared by every network, or a stack
 * like y's. Backward: dy and dx are stacks like y; x as in the forward. */
vksac_status nn_mlp_forward(vks_seq *seq, const nn_mlp *m, nn_mlp_ws *ws, const vks_tensor *x, vks_tensor *y,
                            bool train);
/* What a backward does with parameter gradients: write them, add them to
 * the gradient buffer, or skip them (a frozen network that only passes
 * the gradient on to its input, as the critics in SAC's actor step). */
typedef enum nn_grads { NN_GRADS_WRITE = 0, NN_GRADS_ADD = 1, NN_GRADS_NONE = 2 } nn_grads;

/* Backward of the last recorded forward of ws: parameter gradients from
 * dy (B×out) into the gradient buffer as `grads` says, and dx (B×in) when
 * non-NULL (NN_GRADS_NONE needs dx). */
vksac_status nn_mlp_backward(vks_seq *seq, nn_mlp *m, nn_mlp_ws *ws, const vks_tensor *x, const vks_tensor *dy,
                             vks_tensor *dx, nn_grads grads);
/* Multiply-adds ×2 of the linears for a batch: the FLOPs that GFLOP/s
 * figures count (forward; a backward is twice this). */
double nn_mlp_forward_flops(const nn_mlp *m, uint32_t batch);

#endif
