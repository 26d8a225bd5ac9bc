/* Critic values outside an update: Q of the online critics at given
 * (state, continuous action) pairs, in evaluation mode (no dropout). One
 * recording, kept for the last batch size asked for. */
#include <stdlib.h>

#include "rl/agent.h"

struct rl_eval {
    uint32_t n;
    vks_tensor *s, *a, *x, *q;   /* q: the critics' n rows each, critic by critic */
    nn_mlp_ws *ws;
    vks_seq *seq;
};

void rl_eval_destroy(rl_eval *e)
{
    if (!e)
        return;
    vks_seq_destroy(e->seq);
    nn_mlp_ws_destroy(e->ws);
    vks_tensor_destroy(e->q);
    vks_tensor_destroy(e->s);
    vks_tensor_destroy(e->a);
    vks_tensor_destroy(e->x);
    free(e);
}

static vksac_status eval_build(rl_agent *ag, rl_eval *e)
{
    const rl_shape *s = &ag->heads.shape;
    vks_ctx *ctx = ag->ctx;
    VKS_TRY(vks_tensor_create(ctx, e->n, s->S, &e->s));
    VKS_TRY(vks_tensor_create(ctx, e->n, s->S + s->C, &e->x));
    if (s->C)
        VKS_TRY(vks_tensor_create(ctx, e->n, s->C, &e->a));
    VKS_TRY(vks_tensor_create(ctx, s->N * e->n, rl_critic_out(s), &e->q));
    VKS_TRY(nn_mlp_ws_create(ag->critics, e->n, ag->heads.counters, RL_CTR_UPDATE, RL_DROP_CRITIC, &e->ws));
    VKS_TRY(vks_seq_create(ctx, 0, &e->seq));
    VKS_TRY(vks_seq_begin(e->seq));
    VKS_TRY(rl_input(e->seq, e->x, e->s, ag->rsm, !ag->cfg.no_rsmnorm, e->a));
    VKS_TRY(nn_mlp_forward(e->seq, ag->critics, e->ws, e->x, e->q, false));
    return vks_seq_end(e->seq);
}

static vksac_status eval_for(rl_agent *ag, uint32_t n, rl_eval **out)
{
    if (ag->eval && ag->eval->n == n) {
        *out = ag->eval;
        return VKSAC_OK;
    }
    rl_eval_destroy(ag->eval);
    ag->eval = calloc(1, sizeof *ag->eval);
    if (!ag->eval)
        return vks_fail(ag->ctx, VKSAC_E_OOM, "out of host memory for critic evaluation");
    ag->eval->n = n;
    vksac_status st = eval_build(ag, ag->eval);
    if (st != VKSAC_OK) {
        rl_eval_destroy(ag->eval);
        ag->eval = NULL;
        return st;
    }
    *out = ag->eval;
    return VKSAC_OK;
}

vksac_status rl_agent_q(rl_agent *ag, const float *states, const float *cont, uint32_t n, float *q)
{
    static const char fn[] = "vksac_agent_q";
    const rl_shape *s = &ag->heads.shape;
    if (!states || !q || (s->C && !cont))
        return vks_fail(ag->ctx, VKSAC_E_ARG, "%s: %s must not be NULL", fn,
                        !states ? "states" : !q ? "q" : "cont_actions");
    if (n == 0 || n > 65536)
        return vks_fail(ag->ctx, VKSAC_E_ARG, "%s: n must be in [1, 65536], got %u", fn, n);
    VKS_TRY(rl_need_finite(ag, fn, "state", states, n, s->S));
    if (s->C)
        VKS_TRY(rl_need_finite(ag, fn, "continuous action", cont, n, s->C));
    rl_eval *e = NULL;
    VKS_TRY(eval_for(ag, n, &e));
    VKS_TRY(vks_tensor_write(e->s, states));
    if (s->C)
        VKS_TRY(vks_tensor_write(e->a, cont));
    VKS_TRY(vks_seq_run(e->seq, 1));
    return vks_tensor_read(e->q, q);   /* dense: critic by critic, as q is laid out */
}
