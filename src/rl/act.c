/* Acting, observing and running updates: the host side of an agent's
 * loop. Acting and observing record small sequences per batch size, kept
 * in a little cache, so a steady loop records nothing after its first
 * call. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "rl/agent.h"
#include "rl/shards.h"

struct rl_act {
    uint32_t n;
    vks_tensor *s, *xs, *H, *a, *lpc, *disc, *lpd;
    nn_mlp_ws *ws;
    vks_seq *seq[2];      /* deterministic, sampled */
    vks_seq *observe;     /* RSMNorm update from s */
    uint64_t used;        /* for eviction */
};

void rl_act_destroy(rl_act *c)
{
    if (!c)
        return;
    for (int k = 0; k < 2; k++)
        vks_seq_destroy(c->seq[k]);
    vks_seq_destroy(c->observe);
    nn_mlp_ws_destroy(c->ws);
    vks_tensor *t[] = {c->s, c->xs, c->H, c->a, c->lpc, c->disc, c->lpd};
    for (size_t i = 0; i < sizeof t / sizeof *t; i++)
        vks_tensor_destroy(t[i]);
    free(c);
}

static vksac_status act_tensors(rl_agent *a, rl_act *c)
{
    const rl_shape *s = &a->heads.shape;
    vks_ctx *ctx = a->ctx;
    uint32_t n = c->n;
    VKS_TRY(vks_tensor_create(ctx, n, s->S, &c->s));
    VKS_TRY(vks_tensor_create(ctx, n, s->S, &c->xs));
    VKS_TRY(vks_tensor_create(ctx, n, rl_actor_out(s), &c->H));
    VKS_TRY(vks_tensor_create(ctx, n, 1, &c->lpc));
    if (s->C)
        VKS_TRY(vks_tensor_create(ctx, n, s->C, &c->a));
    if (s->D) {
        VKS_TRY(vks_tensor_create(ctx, n, s->D, &c->disc));
        VKS_TRY(vks_tensor_create(ctx, n, s->D, &c->lpd));
    }
    return nn_mlp_ws_create(a->actor, n, NULL, 0, 0, &c->ws);
}

static vksac_status act_record(rl_agent *a, rl_act *c, bool sample)
{
    vks_seq *seq = c->seq[sample];
    rl_head_out o = {.a = c->a, .lpc = c->lpc, .disc = c->disc, .lpd = c->lpd};
    uint32_t flags = RL_HEAD_CONT | RL_HEAD_CHOICE | (sample ? RL_HEAD_SAMPLE_CONT | RL_HEAD_SAMPLE_DISC : 0);
    VKS_TRY(vks_seq_begin(seq));
    if (sample)
        VKS_TRY(nn_tick(seq, a->heads.counters, 1u << RL_CTR_ACT, 1u << RL_CTR_ACT));
    VKS_TRY(rl_input(seq, c->xs, c->s, a->rsm, !a->cfg.no_rsmnorm, NULL));
    VKS_TRY(nn_mlp_forward(seq, a->actor, c->ws, c->xs, c->H, false));
    VKS_TRY(rl_actor_head(seq, &a->heads, c->H, RL_STREAM_ACT, RL_CTR_ACT, flags, &o));
    return vks_seq_end(seq);
}

static vksac_status act_build(rl_agent *a, rl_act *c)
{
    VKS_TRY(act_tensors(a, c));
    for (int k = 0; k < 2; k++) {
        VKS_TRY(vks_seq_create(a->ctx, 0, &c->seq[k]));
        VKS_TRY(act_record(a, c, k == 1));
    }
    VKS_TRY(vks_seq_create(a->ctx, 0, &c->observe));
    VKS_TRY(vks_seq_begin(c->observe));
    VKS_TRY(nn_rsmnorm_update(c->observe, a->rsm, c->s));
    return vks_seq_end(c->observe);
}

/* The cached recordings for n rows, made on first use (evicting the least
 * recently used). */
static vksac_status act_for(rl_agent *a, uint32_t n, rl_act **out)
{
    int slot = 0;
    for (int i = 0; i < RL_ACT_CACHE; i++) {
        if (a->act[i] && a->act[i]->n == n) {
            a->act[i]->used = ++a->act_clock;
            *out = a->act[i];
            return VKSAC_OK;
        }
        if (!a->act[i] || (a->act[slot] && a->act[i]->used < a->act[slot]->used))
            slot = i;
    }
    rl_act_destroy(a->act[slot]);
    a->act[slot] = NULL;
    rl_act *c = calloc(1, sizeof *c);
    if (!c)
        return vks_fail(a->ctx, VKSAC_E_OOM, "out of host memory for acting");
    c->n = n;
    vksac_status st = act_build(a, c);
    if (st != VKSAC_OK) {
        rl_act_destroy(c);
        return st;
    }
    c->used = ++a->act_clock;
    *out = a->act[slot] = c;
    return VKSAC_OK;
}

static vksac_status scratch(rl_agent *a, size_t floats, float **out)
{
    if (floats > a->scratch_len) {
        float *p = realloc(a->scratch, floats * sizeof *p);
        if (!p)
            return vks_fail(a->ctx, VKSAC_E_OOM, "out of host memory for %zu floats", floats);
        a->scratch = p;
        a->scratch_len = floats;
    }
    *out = a->scratch;
    return VKSAC_OK;
}

vksac_status rl_need_finite(rl_agent *a, const char *fn, const char *what, const float *x, size_t rows,
                                size_t cols)
{
    for (size_t i = 0; i < rows * cols; i++)
        if (!isfinite(x[i]))
            return vks_fail(a->ctx, VKSAC_E_ARG, "%s: %s of row %zu is %s; values must be finite", fn, what,
                            i / cols + 1, isnan(x[i]) ? "NaN" : x[i] > 0 ? "+inf" : "-inf");
    return VKSAC_OK;
}

vksac_status rl_agent_act(rl_agent *a, const float *states, uint32_t n, int sample, float *cont, int32_t *disc,
                          float *lpc, float *lpd)
{
    static const char fn[] = "vksac_agent_act";
    const rl_shape *s = &a->heads.shape;
    if (!states || n == 0)
        return vks_fail(a->ctx, VKSAC_E_ARG, "%s: %s", fn, states ? "n must be positive" : "states must not be NULL");
    if (n > 65536)
        return vks_fail(a->ctx, VKSAC_E_ARG, "%s: n must be at most 65536, got %u", fn, n);
    VKS_TRY(rl_need_finite(a, fn, "state", states, n, s->S));
    rl_act *c;
    VKS_TRY(act_for(a, n, &c));
    VKS_TRY(vks_tensor_write(c->s, states));
    VKS_TRY(vks_seq_run(c->seq[sample != 0], 1));
    if (cont && s->C)
        VKS_TRY(vks_tensor_read(c->a, cont));
    if (lpc)
        VKS_TRY(vks_tensor_read(c->lpc, lpc));
    if (lpd && s->D)
        VKS_TRY(vks_tensor_read(c->lpd, lpd));
    if (disc && s->D) {
        float *f = NULL;
        VKS_TRY(scratch(a, (size_t)n * s->D, &f));
        VKS_TRY(vks_tensor_read(c->disc, f));
        for (size_t i = 0; i < (size_t)n * s->D; i++)
            disc[i] = (int32_t)f[i];
    }
    return VKSAC_OK;
}

/* Checks a batch of transitions and converts the parts the device keeps
 * as floats: discrete indices (n×D), then reward/terminated/truncated as
 * n×3 rows, then terminated and truncated alone (n each). */
static vksac_status convert(rl_agent *a, const char *fn, const vksac_transitions *t, float **out)
{
    const rl_shape *s = &a->heads.shape;
    if (!t)
        return vks_fail(a->ctx, VKSAC_E_ARG, "%s: transitions must not be NULL", fn);
    const char *missing = !t->states ? "states" : !t->next_states ? "next_states" : !t->rewards ? "rewards"
                        : !t->terminated ? "terminated" : s->C && !t->cont_actions ? "cont_actions"
                        : s->D && !t->discrete_actions ? "discrete_actions" : NULL;
    if (missing)
        return vks_fail(a->ctx, VKSAC_E_ARG, "%s: %s must not be NULL", fn, missing);
    if (t->n == 0 || t->n > 65536)
        return vks_fail(a->ctx, VKSAC_E_ARG, "%s: n must be in [1, 65536], got %u", fn, t->n);
    size_t n = t->n;
    float *f = NULL;
    VKS_TRY(scratch(a, n * (s->D + 5), &f));
    for (size_t r = 0; r < n; r++) {
        for (uint32_t i = 0; i < s->D; i++) {
            int32_t d = t->discrete_actions[r * s->D + i];
            if (d < 0 || (uint32_t)d >= s->nd[i])
                return vks_fail(a->ctx, VKSAC_E_ARG, "%s: discrete action %u of row %zu is %d, expected 0..%u", fn,
                                i + 1, r + 1, d, s->nd[i] - 1);
            f[r * s->D + i] = (float)d;
        }
        uint8_t term = t->terminated[r], trunc = t->truncated ? t->truncated[r] : 0;
        if (term > 1 || trunc > 1)
            return vks_fail(a->ctx, VKSAC_E_ARG, "%s: %s of row %zu is %u, expected 0 or 1", fn,
                            term > 1 ? "terminated" : "truncated", r + 1, term > 1 ? term : trunc);
        float *rtd = f + n * s->D + r * 3;
        rtd[0] = t->rewards[r];
        rtd[1] = term;
        rtd[2] = trunc;
        f[n * (s->D + 3) + r] = term;
        f[n * (s->D + 4) + r] = trunc;
    }
    VKS_TRY(rl_need_finite(a, fn, "state", t->states, n, s->S));
    VKS_TRY(rl_need_finite(a, fn, "next state", t->next_states, n, s->S));
    VKS_TRY(rl_need_finite(a, fn, "reward", t->rewards, n, 1));
    if (s->C)
        VKS_TRY(rl_need_finite(a, fn, "continuous action", t->cont_actions, n, s->C));
    *out = f;
    return VKSAC_OK;
}

/* What changes an agent's state reaches its replicas too (shards.h):
 * `one` on replica 0, which checks the input, then on the others, which
 * can then only fail on the device. */
typedef vksac_status (*agent_step)(rl_agent *a, const vksac_transitions *t);

static vksac_status on_every_replica(rl_agent *a, const char *fn, agent_step one, const vksac_transitions *t)
{
    VKS_TRY(rl_shards_usable(a->shards, fn));
    VKS_TRY(one(a, t));
    for (uint32_t i = 1; i < rl_shards_count(a->shards); i++) {
        vksac_status st = one(rl_shards_replica(a->shards, i), t);
        if (st != VKSAC_OK)
            return rl_shards_failed(a->shards, i, st, fn);
    }
    return VKSAC_OK;
}

static vksac_status observe_one(rl_agent *a, const vksac_transitions *t);

vksac_status rl_agent_observe(rl_agent *a, const vksac_transitions *t)
{
    return on_every_replica(a, "vksac_agent_observe", observe_one, t);
}

static vksac_status observe_one(rl_agent *a, const vksac_transitions *t)
{
    float *f = NULL;
    VKS_TRY(convert(a, "vksac_agent_observe", t, &f));
    size_t n = t->n;
    const rl_shape *s = &a->heads.shape;
    VKS_TRY(rl_replay_add(a->replay, t->n, t->states, t->cont_actions, f, t->rewards, f + n * (s->D + 3),
                          f + n * (s->D + 4), t->next_states));
    a->observed += n;
    if (a->cfg.no_rsmnorm)
        return VKSAC_OK;
    rl_act *c;
    VKS_TRY(act_for(a, t->n, &c));
    VKS_TRY(vks_tensor_write(c->s, t->states));
    return vks_seq_run(c->observe, 1);
}

vksac_status rl_agent_update(rl_agent *a, uint32_t n)
{
    if (n == 0)
        return VKSAC_OK;
    if (rl_replay_size(a->replay) == 0)
        return vks_fail(a->ctx, VKSAC_E_STATE, "vksac_agent_update: the replay buffer is empty; observe "
                        "transitions before updating");
    return a->shards ? rl_shards_run(a->shards, n) : rl_graph_run(a->graph, n);
}

static vksac_status update_batch_one(rl_agent *a, const vksac_transitions *t);

/* Every replica takes the whole given batch, so they stay identical. */
vksac_status rl_agent_update_batch(rl_agent *a, const vksac_transitions *t)
{
    return on_every_replica(a, "vksac_agent_update_batch", update_batch_one, t);
}

static vksac_status update_batch_one(rl_agent *a, const vksac_transitions *t)
{
    static const char fn[] = "vksac_agent_update_batch";
    float *f = NULL;
    VKS_TRY(convert(a, fn, t, &f));
    const rl_shape *s = &a->heads.shape;
    if (!a->given || vks_tensor_rows(rl_graph_batch(a->given).states) != t->n) {
        rl_graph_destroy(a->given);
        a->given = NULL;
        VKS_TRY(rl_graph_create(a, t->n, false, &a->given));
    }
    rl_replay_batch b = rl_graph_batch(a->given);
    VKS_TRY(vks_tensor_write(b.states, t->states));
    VKS_TRY(vks_tensor_write(b.next_states, t->next_states));
    if (s->C)
        VKS_TRY(vks_tensor_write(b.cont, t->cont_actions));
    if (s->D)
        VKS_TRY(vks_tensor_write(b.disc, f));
    VKS_TRY(vks_tensor_write(b.rtd, f + (size_t)t->n * s->D));
    return rl_graph_run(a->given, 1);
}

vksac_status rl_agent_stats(rl_agent *a, vksac_stats *out)
{
    float st[RL_STAT_COUNT], la;
    VKS_TRY(vks_tensor_read(a->heads.stats, st));
    VKS_TRY(vks_tensor_read(a->alpha->view[NN_THETA][0], &la));
    /* With shards each replica's statistics are means over its share of
     * the batch: their mean is the batch's. */
    uint32_t S = rl_shards_count(a->shards);
    for (uint32_t i = 1; i < S; i++) {
        float r[RL_STAT_COUNT];
        VKS_TRY(vks_tensor_read(rl_shards_replica(a->shards, i)->heads.stats, r));
        for (int k = 0; k < RL_STAT_COUNT; k++)
            st[k] += r[k];
    }
    for (int k = 0; k < RL_STAT_COUNT; k++)
        st[k] /= (float)S;
    *out = (vksac_stats){.critic_loss = st[RL_STAT_CRITIC], .actor_loss = st[RL_STAT_ACTOR], .alpha = expf(la),
                         .mean_q = st[RL_STAT_Q], .entropy = st[RL_STAT_ENTROPY], .temperature_loss = st[RL_STAT_TEMP],
                         .mean_target = st[RL_STAT_TARGET], .updates = a->updates, .observed = a->observed};
    return VKSAC_OK;
}
