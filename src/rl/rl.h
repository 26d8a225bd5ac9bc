/*
 * src/rl: the SAC algorithm on the nn layers (SPEC.md §2–§4, docs/sac.md).
 *
 * The kernels of the update (heads, targets, losses) are recorded by the
 * functions in heads.c; the agent (agent.c) owns the networks, optimisers
 * and buffers; graph.c records one whole update once, which each update
 * replays; act.c records acting and observing; checkpoint.c saves and
 * loads agents.
 */
#ifndef VKSAC_RL_RL_H
#define VKSAC_RL_RL_H

#include "nn/mlp.h"
#include "nn/nn.h"
#include "rl/replay.h"
#include "vk/runtime.h"

#define RL_MAX_HEADS VKSAC_MAX_DISCRETE_HEADS
#define RL_MAX_CRITICS VKSAC_MAX_CRITICS
#define RL_MAX_ATOMS 256u      /* N·M: the target kernel sorts them in registers */
#define RL_MAX_CHOICES 256u    /* per head: the actor loss keeps one head's row */

/* Sizes of the action space, shared by every network and kernel. */
typedef struct rl_shape {
    uint32_t S, C, D, nsum;
    uint32_t nd[RL_MAX_HEADS];
    uint32_t N, M;            /* critics, atoms per output (1 when plain) */
    uint32_t K;               /* target atoms kept per part (1 when plain) */
    bool quantiled;
} rl_shape;

/* Widths: actor output Σn + 2C; critic input S + C; critic output
 * M·(c + Σn) with c = 1 when C > 0; targets (c + D)·K. */
uint32_t rl_actor_out(const rl_shape *s);
uint32_t rl_critic_out(const rl_shape *s);
uint32_t rl_target_cols(const rl_shape *s);

/* Rows per critic in a critic-stacked tensor (N·Bp rows): B rounded up to
 * 16 so that every critic's block starts on a 64-float boundary; B itself
 * for one critic, whose network then takes the tensor as it is. */
uint32_t rl_stack_rows(const rl_shape *s, uint32_t batch);

/* Streams of docs/sac.md. */
enum { RL_STREAM_REPLAY = 1, RL_STREAM_NEXT = 2, RL_STREAM_ACTOR = 3, RL_STREAM_ACT = 4 };
/* Dropout stream bases of docs/sac.md. */
enum { RL_DROP_CRITIC = 0, RL_DROP_TARGET = 16, RL_DROP_ACTOR_NEXT = 32, RL_DROP_CRITIC_PI = 48, RL_DROP_ACTOR = 64,
       RL_DROP_SHARD = 128 /* added per shard of an update (rl_graph_create_shard) */ };
/* The agent's counters tensor (1×8). */
enum { RL_CTR_UPDATE = 0, RL_CTR_ACT = 2, RL_CTR_COUNT = 8 };
/* The statistics tensor (1×8), docs/sac.md. */
enum { RL_STAT_CRITIC = 0, RL_STAT_ACTOR = 1, RL_STAT_ALPHA = 2, RL_STAT_Q = 3, RL_STAT_ENTROPY = 4,
       RL_STAT_TEMP = 5, RL_STAT_TARGET = 6, RL_STAT_COUNT = 8 };

/* Constants of one agent that the head and loss kernels read. */
typedef struct rl_heads {
    rl_shape shape;
    bool sigmoid;              /* σ = max(sigmoid(raw), 1e-5) */
    float gumbel_t;
    uint32_t reduce;           /* 0 min, 1 softmin, 2 quantile mean */
    float tau, gamma, reward_scale;
    uint32_t key;              /* agent key K */
    vks_tensor *bounds;        /* 2×C: low, high (NULL when C = 0) */
    vks_tensor *segs;          /* 1×(D+1) head boundaries (NULL when D = 0) */
    vks_tensor *hent;          /* 1×(1+D): H̄_c, H̄_i */
    vks_tensor *counters;      /* 1×8 */
    vks_tensor *stats;         /* 1×8 */
    vks_tensor *sink;          /* bound to outputs a kernel is told not to write */
} rl_heads;

/* Outputs of the actor head for one batch; any may be NULL where the
 * flags do not ask for it (lpc is always written). */
typedef struct rl_head_out {
    vks_tensor *a, *aux, *lpc, *p, *logp, *disc, *lpd;
} rl_head_out;

enum {
    RL_HEAD_SAMPLE_CONT = 1, RL_HEAD_SAMPLE_DISC = 2, RL_HEAD_SIGMOID = 4, RL_HEAD_AUX = 8, RL_HEAD_CHOICE = 16,
    RL_HEAD_CONT = 32, RL_HEAD_PROBS = 64   /* as in shaders/actor_head.comp; SIGMOID comes from rl_heads */
};

/* X = [RSMNorm(s) | a] (a may be NULL; normalise false copies s). */
vksac_status rl_input(vks_seq *seq, vks_tensor *x, const vks_tensor *s, const nn_rsmnorm *rsm, bool normalise,
                      const vks_tensor *a);
/* The actor head on H; noise from `stream` at counters[counter_index]. */
vksac_status rl_actor_head(vks_seq *seq, const rl_heads *h, const vks_tensor *H, uint32_t stream,
                           uint32_t counter_index, uint32_t flags, const rl_head_out *out);
/* dH's continuous columns from the critics' input gradients dX (stacked). */
vksac_status rl_actor_head_backward(vks_seq *seq, const rl_heads *h, vks_tensor *dH, const vks_tensor *H,
                                    const vks_tensor *aux, const vks_tensor *dX, const vks_tensor *log_alpha,
                                    uint32_t batch);
/* Targets Y from the stacked target-critic outputs Qt at s'. */
vksac_status rl_critic_target(vks_seq *seq, const rl_heads *h, vks_tensor *Y, const vks_tensor *Qt,
                              const rl_head_out *next, const vks_tensor *rtd, const vks_tensor *log_alpha,
                              uint32_t batch);
/* Critic loss: dQ (stacked) and stats from the online outputs Q at (s, a). */
vksac_status rl_critic_loss(vks_seq *seq, const rl_heads *h, vks_tensor *dQ, const vks_tensor *Q,
                            const vks_tensor *Y, const vks_tensor *disc, uint32_t batch);
/* Actor and temperature losses at (s, a_c): dQ (stacked), dH's discrete
 * columns and padding, ∂J/∂log α and stats. */
vksac_status rl_actor_loss(vks_seq *seq, const rl_heads *h, vks_tensor *dQ, vks_tensor *dH, vks_tensor *dlog_alpha,
                           const vks_tensor *Q, const rl_head_out *pi, const vks_tensor *log_alpha, uint32_t batch);

#endif
