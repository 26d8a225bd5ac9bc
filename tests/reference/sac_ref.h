/*
 * Reference SAC update (SPEC.md §2–§4 with the choices of docs/sac.md) in
 * double precision, as plain loops over the nn_ref.h / mlp_ref.h layers:
 * the oracle for src/rl. Nothing here depends on the library.
 *
 * Parameters are dense arrays in the MLP order of src/nn/mlp.h. The caller
 * fills a ref_sac_state from the device agent (θ, θ₀, moments, targets,
 * RSMNorm statistics, log α, step counts, update counter), runs updates on a
 * fixed batch, and compares.
 */
#ifndef VKSAC_TESTS_SAC_REF_H
#define VKSAC_TESTS_SAC_REF_H

#include <stddef.h>
#include <stdint.h>

#include "reference/mlp_ref.h"
#include "reference/nn_ref.h"

#define REF_SAC_MAX_HEADS 8
#define REF_SAC_MAX_CRITICS 8

/* SPEC.md §4 terms a test can remove one at a time (ref_sac_cfg.drop_term),
 * to show the comparison's tolerance notices each. */
enum {
    REF_SAC_TERM_NONE = 0,
    REF_SAC_TERM_REWARD_SCALE,     /* k·r → r */
    REF_SAC_TERM_DISCOUNT,         /* γ → 1 */
    REF_SAC_TERM_DONE_MASK,        /* (1 − done) → 1 */
    REF_SAC_TERM_TARGET_ENTROPY,   /* − α·log π' dropped from y_c (and from y_i) */
    REF_SAC_TERM_TARGET_MIN,       /* reduction over target critics → critic 0 only */
    REF_SAC_TERM_NEXT_ACTION,      /* a' sampled at s instead of s' (the seed's bug) */
    REF_SAC_TERM_TANH_CORRECTION,  /* − log(1 − tanh²u) dropped from log π */
    REF_SAC_TERM_ACTOR_ENTROPY,    /* α·log π_c dropped from the actor loss */
    REF_SAC_TERM_ACTOR_DISCRETE,   /* the discrete heads' actor loss dropped */
    REF_SAC_TERM_CRITIC_DISCRETE,  /* the discrete heads' critic loss dropped */
    REF_SAC_TERM_TEMP_TARGET,      /* target entropies H̄ → 0 in the temperature loss */
    REF_SAC_TERM_EMA,              /* targets not updated */
    REF_SAC_TERM_TQC_TRUNCATE,     /* keep all N·M atoms */
    REF_SAC_TERM_TQC_ALL_PAIRS,    /* pair atom j with quantile j only (the seed's bug) */
    REF_SAC_TERM_COUNT
};

typedef struct ref_sac_cfg {
    uint32_t S, C, D;                    /* state size, continuous dims, discrete heads */
    uint32_t nd[REF_SAC_MAX_HEADS];      /* choices per head */
    uint32_t N;                          /* critics */
    uint32_t M;                          /* quantiles per critic; 1 = plain critics */
    int quantiled;                       /* TQC (M ≥ 1 atoms, truncation, quantile Huber) */
    double frac_atom_keep;               /* f [0.92] */
    int softmin;                         /* reduction: 0 min, 1 softmin */
    double softmin_tau;
    double gamma, reward_scale;
    double target_entropy_c;             /* H̄_c */
    double target_entropy_d[REF_SAC_MAX_HEADS];
    double ema_beta;
    int sigma_sigmoid;                   /* 0: exp(clamp(raw, −5, 2)); 1: max(sigmoid, 1e-5) */
    double low[16], high[16];            /* action bounds per continuous dim */
    uint32_t actor_every;                /* actor + temperature step every k updates */
    int rsmnorm;                         /* networks read RSMNorm(s) (1) or s (0) */
    ref_mlp_cfg actor_mlp;               /* in = S, out = Σn + 2C; stream_base ignored */
    ref_mlp_cfg critic_mlp[REF_SAC_MAX_CRITICS]; /* in = S + C, out = M·(c + Σn) */
    ref_opt actor_opt, critic_opt, alpha_opt;
    uint32_t agent_key;                  /* K of docs/sac.md */
    int drop_term;                       /* REF_SAC_TERM_* */
} ref_sac_cfg;

/* Everything an update reads and writes. Arrays are owned by the caller:
 * actor arrays hold ref_mlp.size doubles of the actor layout, critic
 * arrays of the critic layout, rsm arrays S doubles. */
typedef struct ref_sac_state {
    double *actor, *actor_m, *actor_v, *actor0;
    double *critic[REF_SAC_MAX_CRITICS], *critic_m[REF_SAC_MAX_CRITICS], *critic_v[REF_SAC_MAX_CRITICS];
    double *critic0[REF_SAC_MAX_CRITICS], *target[REF_SAC_MAX_CRITICS];
    double log_alpha, log_alpha_m, log_alpha_v, log_alpha0;
    double *rsm_mean, *rsm_var;          /* frozen during updates */
    double t_actor, t_critic, t_alpha;   /* optimiser step counts (critics share one count) */
    uint64_t update;                     /* update counter before the update (ticked first) */
    double stats[8];                     /* docs/sac.md statistics of the last update */
} ref_sac_state;

/* A fixed batch, dense row-major: states and next_states B×S, cont B×C,
 * disc B×D (indices as doubles), reward, terminated B each. */
typedef struct ref_sac_batch {
    uint32_t B;
    const double *states, *next_states, *cont, *disc, *reward, *terminated;
} ref_sac_batch;

/* Lays out the actor and critic MLPs (for sizes); returns 0 or −1. */
int ref_sac_layout(const ref_sac_cfg *cfg, ref_mlp *actor, ref_mlp *critic);
/* One update (docs/sac.md, "One update"). Returns 0, or −1 on a bad config. */
int ref_sac_update(const ref_sac_cfg *cfg, ref_sac_state *st, const ref_sac_batch *batch);

/* The actor head (docs/sac.md) on one row h of Σn + 2C values with normal
 * noise eps (C values; NULL = deterministic): action a (C, bounded), u (C),
 * log π_c, and p, log p (Σn). Exposed for the head kernel's test. */
void ref_sac_actor_head(const ref_sac_cfg *cfg, const double *h, const double *eps, double *a, double *u,
                        double *logp_c, double *p, double *logp);
/* Normal noise of docs/sac.md for stream, row r, dim j, counter. */
double ref_sac_normal(uint32_t key, uint32_t stream, uint32_t r, uint32_t j, uint64_t counter);
/* Replay slot for batch row b: umulhi(w.x, size). */
uint32_t ref_sac_replay_index(uint32_t key, uint32_t b, uint64_t counter, uint32_t size);

/* ---- For tests: the pieces of the update, exposed for finite-difference
 * checks (tests/test_sac_ref.c) and for comparing device kernels piece by
 * piece. Layouts as in docs/sac.md: p, log p rows of Σn; critic outputs
 * q[n] B×W, W = M·(c + Σn); targets K per row and part (K = 1 for plain
 * critics, ref_sac_kept_atoms for TQC): yc B×K, yd B×D×K with head i of
 * row b at (b·D + i)·K. ---- */

/* Backward of ref_sac_actor_head for one row (same h and eps): dh (Σn + 2C)
 * from the upstream gradients da (C), dlogp_c, dp and dlogp (Σn); da, dp,
 * dlogp may be NULL for zero. For tests. */
void ref_sac_actor_head_backward(const ref_sac_cfg *cfg, const double *h, const double *eps, const double *da,
                                 double dlogp_c, const double *dp, const double *dlogp, double *dh);
/* Targets per row and part: 1 for plain critics, else floor(f·N·M) (≥ 1;
 * N·M with TQC_TRUNCATE dropped; N → 1 with TARGET_MIN dropped). For tests. */
uint32_t ref_sac_kept_atoms(const ref_sac_cfg *cfg);
/* Critic-step targets yc, yd from the target critics' outputs qbar[n] (B×W)
 * and the next-action head (log π'_c B, p', log p' B×Σn). For tests. */
void ref_sac_target(const ref_sac_cfg *cfg, uint32_t B, const double *const *qbar, const double *logp_c,
                    const double *p, const double *logp, const double *reward, const double *terminated,
                    double alpha, double *yc, double *yd);
/* Critic loss (summed over critics and parts) of the online outputs q[n]
 * against the targets, with ∂/∂q[n] in dq[n] (B×W, overwritten). For tests. */
double ref_sac_critic_loss(const ref_sac_cfg *cfg, uint32_t B, const double *const *q, const double *disc,
                           const double *yc, const double *yd, double *const *dq);
/* Actor loss from the critics' outputs q[n] at (s, a_c) and the head's
 * log π_c (B), p, log p (B×Σn), and (when dq is non-NULL; then all four
 * must be) its partial derivatives w.r.t. each of them, overwritten.
 * For tests. */
double ref_sac_actor_loss(const ref_sac_cfg *cfg, uint32_t B, double alpha, const double *const *q,
                          const double *logp_c, const double *p, const double *logp, double *const *dq,
                          double *dlogp_c, double *dp, double *dlogp);
/* ∂J/∂log α = −α·mean_B[(log π_c + H̄_c) + Σ_i Σ_d p_i(d)(log p_i(d) + H̄_i)],
 * which is also J's value (stats[5]). For tests. */
double ref_sac_temperature_grad(const ref_sac_cfg *cfg, uint32_t B, double alpha, const double *logp_c,
                                const double *p, const double *logp);
/* The actor step's loss at st->actor on batch->states (RSMNorm, critics and
 * α from st; noise stream 3 and dropout at counter), and with grad non-NULL
 * its gradient w.r.t. the actor parameters (actor layout). Changes nothing.
 * For tests. */
double ref_sac_actor_objective(const ref_sac_cfg *cfg, const ref_sac_state *st, const ref_sac_batch *batch,
                               uint64_t counter, double *grad);

#endif
