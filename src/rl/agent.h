/*
 * The agent of the public API: networks, optimisers, the state
 * normaliser, the replay buffer and the recorded update (docs/sac.md).
 */
#ifndef VKSAC_RL_AGENT_H
#define VKSAC_RL_AGENT_H

#include "rl/rl.h"

typedef struct rl_graph rl_graph;
typedef struct rl_act rl_act;
typedef struct rl_eval rl_eval;

#define RL_ACT_CACHE 4
#define RL_MAX_PHASES 4   /* of a shard's update (rl_graph_create_shard) */

typedef struct rl_agent {
    vks_ctx *ctx;
    vksac_agent_config cfg;          /* every default filled in */
    rl_heads heads;
    nn_rsmnorm *rsm;
    nn_mlp *actor;
    nn_optim *actor_opt;
    /* The online and target critics, one network or an ensemble run as one
     * (nn_mlp_create_ensemble); critic[n] and target[n] are their members,
     * for what is done per critic (optimiser steps, checkpoints). */
    nn_mlp *critics, *targets;
    nn_mlp *critic[RL_MAX_CRITICS], *target[RL_MAX_CRITICS];
    nn_optim *critic_opt[RL_MAX_CRITICS];
    nn_params *alpha;                /* one tensor, log_alpha */
    nn_optim *alpha_opt;
    rl_replay *replay;
    rl_graph *graph;                 /* sampled updates at batch_size */
    rl_graph *given;                 /* updates on a given batch (update_batch) */
    rl_act *act[RL_ACT_CACHE];       /* act/observe recordings per batch size */
    uint64_t act_clock;              /* last use of each, for eviction */
    rl_eval *eval;                   /* critic evaluation at one batch size */
    uint64_t updates, observed;
    float *scratch;                  /* host conversions of observed transitions */
    size_t scratch_len;
    char *metadata;                  /* the caller's string of the checkpoint loaded, or NULL */
    struct rl_shards *shards;        /* the other replicas (src/rl/shards.h), or NULL */
} rl_agent;

/* Checks a public config and fills in its defaults (E_ARG naming the
 * field). `fn` prefixes messages. */
vksac_status rl_agent_resolve(vks_ctx *ctx, const char *fn, const vksac_agent_config *in, vksac_agent_config *out);
/* Creates an agent from a resolved config: fresh networks from its seed. */
vksac_status rl_agent_create(vks_ctx *ctx, const vksac_agent_config *cfg, rl_agent **out);
void rl_agent_destroy(rl_agent *a);

/* graph.c: record (once) and run updates. */
vksac_status rl_graph_create(rl_agent *a, uint32_t batch, bool sample, rl_graph **out);
void rl_graph_destroy(rl_graph *g);
/* Submits n updates and waits; the actor steps on updates whose counter
 * (1-based) is a multiple of actor_update_every. */
vksac_status rl_graph_run(rl_graph *g, uint32_t n);
/* Shard `shard` of `shards` replicas' graph at `batch` rows each: the
 * agent's key and dropout streams offset by shard `draw` (`shard` itself
 * but in tests), each update recorded in phases (shards > 1) that
 * rl_shards_run drives, stepping part `shard` of the parameters. */
vksac_status rl_graph_create_shard(rl_agent *a, uint32_t batch, bool sample, uint32_t shard, uint32_t shards,
                                   uint32_t draw, rl_graph **out);
/* Whether the update after `done` updates has the actor step. */
bool rl_graph_actor_step(const rl_agent *a, uint64_t done);
/* A shard's phases of an update with or without the actor step, phase k,
 * and the parameter sets whose gradients the replicas average after it
 * (out: room for 2; returns how many). */
uint32_t rl_graph_phases(const rl_graph *g, bool actor);
vks_seq *rl_graph_phase(rl_graph *g, bool actor, uint32_t k);
uint32_t rl_graph_phase_grads(rl_graph *g, bool actor, uint32_t k, nn_params **out);
/* A parameter set and the flat buffers of it (bits 1 << NN_THETA, …) that a
 * phase stepped by parts (nn_params_part): shard r stepped part r. */
typedef struct rl_part_set {
    nn_params *p;
    uint32_t bufs;
} rl_part_set;
#define RL_MAX_PART_SETS (2 * RL_MAX_CRITICS)
/* The sets phase k stepped by parts, which the replicas copy to one
 * another after it (out: room for RL_MAX_PART_SETS; returns how many). */
uint32_t rl_graph_phase_parts(rl_graph *g, bool actor, uint32_t k, rl_part_set *out);
/* The part of the parameters a shard's graph steps (its `shard`). */
uint32_t rl_graph_shard(const rl_graph *g);
/* The batch tensors of a graph built with sample = false. */
rl_replay_batch rl_graph_batch(rl_graph *g);
/* Dispatches in one update with and without the actor step. */
uint32_t rl_graph_dispatches(const rl_graph *g, bool actor);
/* For benchmarks: records one update (with the actor step when `actor`)
 * into a sequence with timestamps, runs it `runs` times (each a real
 * update of the agent, whatever actor_update_every says) and returns each
 * dispatch's kernel, grid and median µs (*out: *count entries, free()). */
typedef struct rl_dispatch_time {
    vks_dispatch_info info;
    double us;
} rl_dispatch_time;
vksac_status rl_graph_profile(rl_graph *g, bool actor, uint32_t runs, rl_dispatch_time **out, uint32_t *count);
/* Multiply-add FLOPs ×2 of the linear layers in one update (with actor). */
double rl_graph_flops(const rl_graph *g);

/* act.c */
vksac_status rl_agent_act(rl_agent *a, const float *states, uint32_t n, int sample, float *cont, int32_t *disc,
                          float *lpc, float *lpd);
vksac_status rl_agent_observe(rl_agent *a, const vksac_transitions *t);
vksac_status rl_agent_update(rl_agent *a, uint32_t n);
vksac_status rl_agent_update_batch(rl_agent *a, const vksac_transitions *t);
vksac_status rl_agent_stats(rl_agent *a, vksac_stats *out);
void rl_act_destroy(rl_act *c);
/* E_ARG naming the row when any of rows×cols values is not finite. */
vksac_status rl_need_finite(rl_agent *a, const char *fn, const char *what, const float *x, size_t rows, size_t cols);

/* evaluate.c: the online critics' outputs, N × n × rl_critic_out. */
vksac_status rl_agent_q(rl_agent *a, const float *states, const float *cont, uint32_t n, float *q);
void rl_eval_destroy(rl_eval *e);

/* The MLP configs of the actor and of critic n (seeds of docs/sac.md). */
vksac_status rl_actor_mlp_config(vks_ctx *ctx, const vksac_agent_config *cfg, nn_mlp_config *out);
vksac_status rl_critic_mlp_config(vks_ctx *ctx, const vksac_agent_config *cfg, uint32_t n, nn_mlp_config *out);

#endif
