/* One SAC update recorded once (docs/sac.md, "One update") and replayed:
 * the tensors of a batch size, the workspaces of every pass, and two
 * recordings, with and without the actor step. A shard's graph (one of
 * several replicas splitting the batch, src/rl/shards.c) records each in
 * phases, cut where the replicas average their gradients or copy the
 * parts of the parameters each stepped. */
#include <stdlib.h>

#include "rl/agent.h"

enum { STACK_QT, STACK_Q, STACK_QPI, STACK_DQ, STACK_DX, STACK_COUNT };

struct rl_graph {
    rl_agent *a;
    uint32_t B, bp;
    bool sample;
    rl_replay_batch batch;                     /* s, s', a, d, rtd */
    vks_tensor *xs, *xs2;                      /* actor inputs at s and s' */
    vks_tensor *X, *X2, *Xpi;                  /* critic inputs */
    vks_tensor *H, *H2, *dH, *Y;
    rl_head_out next, pi;                      /* head outputs at s' and s */
    vks_tensor *stack[STACK_COUNT];            /* N·Bp rows each */
    nn_mlp_ws *ws_next, *ws_pi;                /* actor at s', at s */
    nn_mlp_ws *ws_t, *ws_q, *ws_cpi;           /* every critic at once: target, online, at (s, a~π) */
    vks_seq *seq[2];                           /* without, with the actor step */
    rl_heads heads;                            /* the agent's, with this shard's key */
    uint32_t shard, shards;                    /* this replica steps part `shard` of the parameters */
    uint32_t draw;                             /* the shard whose samples it draws: its own but in tests */
    vks_seq *phase[2][RL_MAX_PHASES];          /* shards > 1: seq[k] in phases */
    uint32_t phases[2];
};

static vksac_status tensor(rl_graph *g, uint32_t rows, uint32_t cols, vks_tensor **t)
{
    return cols ? vks_tensor_create(g->a->ctx, rows, cols, t) : VKSAC_OK;
}

static vksac_status head_out(rl_graph *g, rl_head_out *o, bool aux)
{
    const rl_shape *s = &g->a->heads.shape;
    VKS_TRY(tensor(g, g->B, s->C, &o->a));
    VKS_TRY(tensor(g, g->B, 1, &o->lpc));
    VKS_TRY(tensor(g, g->B, s->nsum, &o->p));
    VKS_TRY(tensor(g, g->B, s->nsum, &o->logp));
    return aux ? tensor(g, g->B, 2 * s->C, &o->aux) : VKSAC_OK;
}

static vksac_status stacks(rl_graph *g)
{
    const rl_shape *s = &g->a->heads.shape;
    for (int k = 0; k < STACK_COUNT; k++) {
        uint32_t cols = k == STACK_DX ? s->S + s->C : rl_critic_out(s);
        VKS_TRY(vks_tensor_create(g->a->ctx, s->N * g->bp, cols, &g->stack[k]));
    }
    return VKSAC_OK;
}

static vksac_status workspaces(rl_graph *g)
{
    rl_agent *a = g->a;
    const vks_tensor *ctr = a->heads.counters;
    uint32_t d = g->draw * RL_DROP_SHARD;   /* each shard its own dropout masks */
    VKS_TRY(nn_mlp_ws_create(a->actor, g->B, ctr, RL_CTR_UPDATE, d + RL_DROP_ACTOR_NEXT, &g->ws_next));
    VKS_TRY(nn_mlp_ws_create(a->actor, g->B, ctr, RL_CTR_UPDATE, d + RL_DROP_ACTOR, &g->ws_pi));
    VKS_TRY(nn_mlp_ws_create(a->targets, g->B, ctr, RL_CTR_UPDATE, d + RL_DROP_TARGET, &g->ws_t));
    VKS_TRY(nn_mlp_ws_create(a->critics, g->B, ctr, RL_CTR_UPDATE, d + RL_DROP_CRITIC, &g->ws_q));
    return nn_mlp_ws_create(a->critics, g->B, ctr, RL_CTR_UPDATE, d + RL_DROP_CRITIC_PI, &g->ws_cpi);
}

static vksac_status tensors(rl_graph *g)
{
    const rl_shape *s = &g->a->heads.shape;
    uint32_t B = g->B;
    rl_replay_batch *b = &g->batch;
    VKS_TRY(tensor(g, B, s->S, &b->states));
    VKS_TRY(tensor(g, B, s->S, &b->next_states));
    VKS_TRY(tensor(g, B, s->C, &b->cont));
    VKS_TRY(tensor(g, B, s->D, &b->disc));
    VKS_TRY(tensor(g, B, 3, &b->rtd));
    VKS_TRY(tensor(g, B, s->S, &g->xs));
    VKS_TRY(tensor(g, B, s->S, &g->xs2));
    VKS_TRY(tensor(g, B, s->S + s->C, &g->X));
    VKS_TRY(tensor(g, B, s->S + s->C, &g->X2));
    VKS_TRY(tensor(g, B, s->S + s->C, &g->Xpi));
    VKS_TRY(tensor(g, B, rl_actor_out(s), &g->H));
    VKS_TRY(tensor(g, B, rl_actor_out(s), &g->H2));
    VKS_TRY(tensor(g, B, rl_actor_out(s), &g->dH));
    VKS_TRY(tensor(g, B, rl_target_cols(s), &g->Y));
    VKS_TRY(head_out(g, &g->next, false));
    VKS_TRY(head_out(g, &g->pi, true));
    VKS_TRY(stacks(g));
    return workspaces(g);
}

/* ---- recording ------------------------------------------------------------ */

static const vks_tensor *log_alpha(const rl_graph *g) { return g->a->alpha->view[NN_THETA][0]; }
static bool normalise(const rl_graph *g) { return !g->a->cfg.no_rsmnorm; }

/* The critic step up to its gradients. */
static vksac_status critic_grads(vks_seq *seq, rl_graph *g)
{
    rl_agent *a = g->a;
    const rl_heads *h = &g->heads;
    const rl_replay_batch *b = &g->batch;
    /* Next action from the current actor at s' (SPEC.md §6: not at s). */
    VKS_TRY(rl_input(seq, g->xs2, b->next_states, a->rsm, normalise(g), NULL));
    VKS_TRY(nn_mlp_forward(seq, a->actor, g->ws_next, g->xs2, g->H2, true));
    VKS_TRY(rl_actor_head(seq, h, g->H2, RL_STREAM_NEXT, RL_CTR_UPDATE,
                          RL_HEAD_SAMPLE_CONT | RL_HEAD_CONT | RL_HEAD_PROBS, &g->next));
    VKS_TRY(rl_input(seq, g->X2, b->next_states, a->rsm, normalise(g), g->next.a));
    VKS_TRY(nn_mlp_forward(seq, a->targets, g->ws_t, g->X2, g->stack[STACK_QT], true));
    VKS_TRY(rl_critic_target(seq, h, g->Y, g->stack[STACK_QT], &g->next, b->rtd, log_alpha(g), g->B));
    VKS_TRY(rl_input(seq, g->X, b->states, a->rsm, normalise(g), b->cont));
    VKS_TRY(nn_mlp_forward(seq, a->critics, g->ws_q, g->X, g->stack[STACK_Q], true));
    VKS_TRY(rl_critic_loss(seq, h, g->stack[STACK_DQ], g->stack[STACK_Q], g->Y, b->disc, g->B));
    return nn_mlp_backward(seq, a->critics, g->ws_q, g->X, g->stack[STACK_DQ], NULL, NN_GRADS_WRITE);
}

/* The critic steps and the target EMA, over this shard's part of each
 * critic (the whole of it unsharded: one EMA over the ensemble). */
static vksac_status critic_optim(vks_seq *seq, rl_graph *g)
{
    rl_agent *a = g->a;
    uint32_t N = g->heads.shape.N;
    for (uint32_t n = 0; n < N; n++)
        VKS_TRY(nn_optim_step_part(seq, a->critic_opt[n], g->shard, g->shards));
    if (g->shards == 1)
        return nn_ema(seq, a->targets->params, a->critics->params, a->cfg.ema_decay);
    /* By critic: the part of each this replica has stepped (a part of the
     * ensemble's flat buffers would span other replicas' parts). */
    for (uint32_t n = 0; n < N; n++)
        VKS_TRY(nn_ema_part(seq, a->target[n]->params, a->critic[n]->params, a->cfg.ema_decay, g->shard,
                            g->shards));
    return VKSAC_OK;
}

/* The actor and temperature steps up to their gradients. */
static vksac_status actor_grads(vks_seq *seq, rl_graph *g)
{
    rl_agent *a = g->a;
    const rl_heads *h = &g->heads;
    VKS_TRY(rl_input(seq, g->xs, g->batch.states, a->rsm, normalise(g), NULL));
    VKS_TRY(nn_mlp_forward(seq, a->actor, g->ws_pi, g->xs, g->H, true));
    VKS_TRY(rl_actor_head(seq, h, g->H, RL_STREAM_ACTOR, RL_CTR_UPDATE,
                          RL_HEAD_SAMPLE_CONT | RL_HEAD_CONT | RL_HEAD_AUX | RL_HEAD_PROBS, &g->pi));
    VKS_TRY(rl_input(seq, g->Xpi, g->batch.states, a->rsm, normalise(g), g->pi.a));
    VKS_TRY(nn_mlp_forward(seq, a->critics, g->ws_cpi, g->Xpi, g->stack[STACK_QPI], true));
    VKS_TRY(rl_actor_loss(seq, h, g->stack[STACK_DQ], g->dH, a->alpha->view[NN_GRAD][0], g->stack[STACK_QPI], &g->pi,
                          log_alpha(g), g->B));
    if (h->shape.C > 0) {
        /* Critics frozen: only the gradient w.r.t. their input a_c. */
        VKS_TRY(nn_mlp_backward(seq, a->critics, g->ws_cpi, g->Xpi, g->stack[STACK_DQ], g->stack[STACK_DX],
                                NN_GRADS_NONE));
        VKS_TRY(rl_actor_head_backward(seq, h, g->dH, g->H, g->pi.aux, g->stack[STACK_DX], log_alpha(g), g->B));
    }
    return nn_mlp_backward(seq, a->actor, g->ws_pi, g->xs, g->dH, NULL, NN_GRADS_WRITE);
}

/* The actor step over this shard's part, and the whole temperature step
 * (one parameter: every replica takes it). */
static vksac_status actor_optim(vks_seq *seq, rl_graph *g)
{
    VKS_TRY(nn_optim_step_part(seq, g->a->actor_opt, g->shard, g->shards));
    return nn_optim_step(seq, g->a->alpha_opt);
}

/* Phase k of an update; one graph records phases 0 to its last in turn.
 * After phases 0 and 2 the replicas average the gradients
 * (rl_graph_phase_grads), after 1 and 3 they copy the parts they stepped
 * (rl_graph_phase_parts): each steps 1/n of the parameters rather than
 * all of them. */
static vksac_status record_phase(rl_graph *g, vks_seq *seq, uint32_t k)
{
    rl_agent *a = g->a;
    switch (k) {
    case 0:
        VKS_TRY(nn_tick(seq, a->heads.counters, 1u << RL_CTR_UPDATE, 1u << RL_CTR_UPDATE));
        if (g->sample)
            VKS_TRY(rl_replay_record_sample(seq, a->replay, a->heads.counters, RL_CTR_UPDATE, g->heads.key,
                                            &g->batch));
        return critic_grads(seq, g);
    case 1:
        return critic_optim(seq, g);
    case 2:
        return actor_grads(seq, g);
    default:
        return actor_optim(seq, g);
    }
}

static uint32_t phase_count(bool with_actor) { return with_actor ? 4 : 2; }

/* The gradients phase k computed, which the next phase's optimiser steps
 * use (none for a graph that records no phases). */
uint32_t rl_graph_phase_grads(rl_graph *g, bool actor, uint32_t k, nn_params **out)
{
    rl_agent *a = g->a;
    if (k >= g->phases[actor] || k % 2)
        return 0;
    if (k == 0) {
        out[0] = a->critics->params;
        return 1;
    }
    out[0] = a->actor->params;
    out[1] = a->alpha;
    return 2;
}

/* θ, m and v of a stepped set (its gradient is averaged, or overwritten,
 * before it is read again). */
static rl_part_set stepped(nn_params *p) { return (rl_part_set){p, 1u << NN_THETA | 1u << NN_M | 1u << NN_V}; }

uint32_t rl_graph_phase_parts(rl_graph *g, bool actor, uint32_t k, rl_part_set *out)
{
    rl_agent *a = g->a;
    if (k >= g->phases[actor] || k % 2 == 0)
        return 0;
    if (k == 3) {
        out[0] = stepped(a->actor->params);
        return 1;
    }
    uint32_t N = g->heads.shape.N;
    for (uint32_t n = 0; n < N; n++) {
        out[2 * n] = stepped(a->critic[n]->params);
        out[2 * n + 1] = (rl_part_set){a->target[n]->params, 1u << NN_THETA};
    }
    return 2 * N;
}

static vksac_status record(rl_graph *g, vks_seq *seq, bool with_actor)
{
    VKS_TRY(vks_seq_begin(seq));
    for (uint32_t k = 0; k < phase_count(with_actor); k++)
        VKS_TRY(record_phase(g, seq, k));
    return vks_seq_end(seq);
}

static vksac_status record_phases(rl_graph *g, bool with_actor)
{
    g->phases[with_actor] = phase_count(with_actor);
    for (uint32_t k = 0; k < g->phases[with_actor]; k++) {
        vks_seq **seq = &g->phase[with_actor][k];
        VKS_TRY(vks_seq_create(g->a->ctx, 0, seq));
        VKS_TRY(vks_seq_begin(*seq));
        VKS_TRY(record_phase(g, *seq, k));
        VKS_TRY(vks_seq_end(*seq));
    }
    return VKSAC_OK;
}

vksac_status rl_graph_create(rl_agent *a, uint32_t batch, bool sample, rl_graph **out)
{
    return rl_graph_create_shard(a, batch, sample, 0, 1, 0, out);
}

vksac_status rl_graph_create_shard(rl_agent *a, uint32_t batch, bool sample, uint32_t shard, uint32_t shards,
                                   uint32_t draw, rl_graph **out)
{
    *out = NULL;
    rl_graph *g = calloc(1, sizeof *g);
    if (!g)
        return vks_fail(a->ctx, VKSAC_E_OOM, "out of host memory for an update graph");
    *g = (rl_graph){.a = a, .B = batch, .bp = rl_stack_rows(&a->heads.shape, batch), .sample = sample,
                    .heads = a->heads, .shard = shard, .shards = shards, .draw = draw};
    /* Shard 0 keeps the agent's key, so one shard draws what no shards would. */
    g->heads.key ^= draw * 0x9E3779B9u;
    vksac_status st = tensors(g);
    for (int k = 0; k < 2 && st == VKSAC_OK; k++) {
        if (shards > 1) {
            st = record_phases(g, k == 1);
            continue;
        }
        st = vks_seq_create(a->ctx, 0, &g->seq[k]);
        if (st == VKSAC_OK)
            st = record(g, g->seq[k], k == 1);
    }
    if (st != VKSAC_OK) {
        rl_graph_destroy(g);
        return st;
    }
    *out = g;
    return VKSAC_OK;
}

void rl_graph_destroy(rl_graph *g)
{
    if (!g)
        return;
    for (int k = 0; k < 2; k++) {
        vks_seq_destroy(g->seq[k]);
        for (uint32_t p = 0; p < RL_MAX_PHASES; p++)
            vks_seq_destroy(g->phase[k][p]);
    }
    nn_mlp_ws_destroy(g->ws_next);
    nn_mlp_ws_destroy(g->ws_pi);
    nn_mlp_ws_destroy(g->ws_t);
    nn_mlp_ws_destroy(g->ws_q);
    nn_mlp_ws_destroy(g->ws_cpi);
    for (int k = 0; k < STACK_COUNT; k++)
        vks_tensor_destroy(g->stack[k]);
    rl_head_out *o[] = {&g->next, &g->pi};
    for (int i = 0; i < 2; i++) {
        vks_tensor *t[] = {o[i]->a, o[i]->aux, o[i]->lpc, o[i]->p, o[i]->logp, o[i]->disc, o[i]->lpd};
        for (size_t j = 0; j < sizeof t / sizeof *t; j++)
            vks_tensor_destroy(t[j]);
    }
    rl_replay_batch *b = &g->batch;
    vks_tensor *t[] = {b->states, b->next_states, b->cont, b->disc, b->rtd, g->xs, g->xs2, g->X, g->X2, g->Xpi,
                       g->H, g->H2, g->dH, g->Y};
    for (size_t j = 0; j < sizeof t / sizeof *t; j++)
        vks_tensor_destroy(t[j]);
    free(g);
}

/* ---- running ---------------------------------------------------------------- */

vksac_status rl_graph_run(rl_graph *g, uint32_t n)
{
    rl_agent *a = g->a;
    if (g->shards > 1)
        return vks_fail(a->ctx, VKSAC_E_STATE, "rl_graph_run: a shard's graph runs through rl_shards_run");
    uint32_t every = a->cfg.actor_update_every;
    while (n > 0) {
        /* Updates before the next one whose counter is a multiple of
         * `every` run without the actor step; that one runs with it. */
        uint32_t before = (uint32_t)((every - (a->updates + 1) % every) % every);
        bool actor = rl_graph_actor_step(a, a->updates);
        uint32_t run = !actor ? (before < n ? before : n) : every == 1 ? n : 1;
        VKS_TRY(vks_seq_run(g->seq[actor], run));
        a->updates += run;
        n -= run;
    }
    return VKSAC_OK;
}

static int cmp_double(const void *x, const void *y)
{
    double a = *(const double *)x, b = *(const double *)y;
    return (a > b) - (a < b);
}

vksac_status rl_graph_profile(rl_graph *g, bool actor, uint32_t runs, rl_dispatch_time **out, uint32_t *count)
{
    if (!g || !out || !count || runs == 0)
        return VKSAC_E_ARG;
    if (g->shards > 1)
        return vks_fail(g->a->ctx, VKSAC_E_STATE, "rl_graph_profile: it would update one shard alone");
    *out = NULL;
    *count = 0;
    vks_seq *seq;
    VKS_TRY(vks_seq_create(g->a->ctx, 1, &seq));
    vksac_status st = record(g, seq, actor);
    uint32_t n = vks_seq_dispatches(seq);
    double *times = calloc((size_t)n * runs + 1, sizeof *times), *col = calloc(runs, sizeof *col);
    rl_dispatch_time *res = calloc(n + 1, sizeof *res);
    if (st == VKSAC_OK && (!times || !col || !res))
        st = vks_fail(g->a->ctx, VKSAC_E_OOM, "out of host memory for a profile");
    for (uint32_t r = 0; r < runs && st == VKSAC_OK; r++) {
        st = vks_seq_run(seq, 1);
        g->a->updates++;
        if (st == VKSAC_OK)
            st = vks_seq_times(seq, times + (size_t)r * n, n);
    }
    for (uint32_t i = 0; i < n && st == VKSAC_OK; i++) {
        for (uint32_t r = 0; r < runs; r++)
            col[r] = times[(size_t)r * n + i];
        qsort(col, runs, sizeof *col, cmp_double);
        res[i].us = runs % 2 ? col[runs / 2] : 0.5 * (col[runs / 2 - 1] + col[runs / 2]);
        st = vks_seq_dispatch_info(seq, i, &res[i].info);
    }
    vks_seq_destroy(seq);
    free(times);
    free(col);
    if (st != VKSAC_OK) {
        free(res);
        return st;
    }
    *out = res;
    *count = n;
    return VKSAC_OK;
}

rl_replay_batch rl_graph_batch(rl_graph *g) { return g->batch; }

uint32_t rl_graph_dispatches(const rl_graph *g, bool actor)
{
    uint32_t n = vks_seq_dispatches(g->seq[actor]);
    for (uint32_t k = 0; k < g->phases[actor]; k++)
        n += vks_seq_dispatches(g->phase[actor][k]);
    return n;
}

bool rl_graph_actor_step(const rl_agent *a, uint64_t done)
{
    return (done + 1) % a->cfg.actor_update_every == 0;
}

uint32_t rl_graph_phases(const rl_graph *g, bool actor) { return g->phases[actor]; }
uint32_t rl_graph_shard(const rl_graph *g) { return g->shard; }

vks_seq *rl_graph_phase(rl_graph *g, bool actor, uint32_t k) { return g->phase[actor][k]; }


double rl_graph_flops(const rl_graph *g)
{
    const rl_agent *a = g->a;
    double fa = nn_mlp_forward_flops(a->actor, g->B), fc = nn_mlp_forward_flops(a->critic[0], g->B);
    return 4.0 * fa + 6.0 * a->heads.shape.N * fc;
}
