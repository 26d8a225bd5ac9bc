/* Recording the SAC-specific kernels: network inputs, the actor head and
 * its backward, critic targets, and the critic and actor losses. Each
 * function checks the shapes it relies on, because a kernel that read a
 * wrongly sized tensor would read the wrong rows silently. */
#include "rl/rl.h"

uint32_t rl_actor_out(const rl_shape *s) { return s->nsum + 2 * s->C; }
uint32_t rl_critic_out(const rl_shape *s) { return s->M * ((s->C > 0) + s->nsum); }
uint32_t rl_target_cols(const rl_shape *s) { return ((s->C > 0) + s->D) * s->K; }
uint32_t rl_stack_rows(const rl_shape *s, uint32_t batch) { return s->N > 1 ? (batch + 15) & ~15u : batch; }

static uint32_t row_groups(uint32_t rows) { return (rows + 63) / 64; }

static vksac_status need(vks_ctx *ctx, const vks_tensor *t, uint32_t rows, uint32_t cols, const char *fn,
                         const char *name)
{
    VKS_TRY(vks_need_tensor(ctx, t, fn, name));
    return vks_need_shape(ctx, t, rows, cols, fn, name);
}

/* A tensor stacked over the critics: N·Bp rows. */
static vksac_status need_stack(vks_ctx *ctx, const rl_heads *h, const vks_tensor *t, uint32_t batch, uint32_t cols,
                               const char *fn, const char *name)
{
    return need(ctx, t, h->shape.N * rl_stack_rows(&h->shape, batch), cols, fn, name);
}

vksac_status rl_input(vks_seq *seq, vks_tensor *x, const vks_tensor *s, const nn_rsmnorm *rsm, bool normalise,
                      const vks_tensor *a)
{
    static const char fn[] = "rl_input";
    vks_ctx *ctx = vks_seq_ctx(seq);
    VKS_TRY(vks_need_tensor(ctx, s, fn, "s"));
    uint32_t B = vks_tensor_rows(s), S = vks_tensor_cols(s), C = a ? vks_tensor_cols(a) : 0;
    if (a)
        VKS_TRY(need(ctx, a, B, C, fn, "a"));
    VKS_TRY(need(ctx, x, B, S + C, fn, "x"));
    if (normalise && (!rsm || rsm->dim != S))
        return vks_fail(ctx, VKSAC_E_ARG, "%s: the normaliser must have %u columns", fn, S);
    uint32_t n = B * vks_tensor_stride(x);
    uint32_t pc[4] = {n, S, C, normalise};
    const vks_tensor *ops[] = {s, normalise ? rsm->stats : NULL, a, x};
    return vks_launch(seq, VKS_K_RSM_CONCAT, ops, pc, sizeof pc, vks_groups_1d(ctx, VKS_K_RSM_CONCAT, n), 1, 1);
}

vksac_status rl_actor_head(vks_seq *seq, const rl_heads *h, const vks_tensor *H, uint32_t stream,
                           uint32_t counter_index, uint32_t flags, const rl_head_out *o)
{
    static const char fn[] = "rl_actor_head";
    vks_ctx *ctx = vks_seq_ctx(seq);
    const rl_shape *s = &h->shape;
    VKS_TRY(vks_need_tensor(ctx, H, fn, "H"));
    uint32_t B = vks_tensor_rows(H);
    VKS_TRY(need(ctx, H, B, rl_actor_out(s), fn, "H"));
    VKS_TRY(need(ctx, o->lpc, B, 1, fn, "lpc"));
    if (s->C > 0 && (flags & RL_HEAD_CONT))
        VKS_TRY(need(ctx, o->a, B, s->C, fn, "a"));
    if (s->C > 0 && (flags & RL_HEAD_AUX))
        VKS_TRY(need(ctx, o->aux, B, 2 * s->C, fn, "aux"));
    if (s->D > 0 && (flags & RL_HEAD_PROBS)) {
        VKS_TRY(need(ctx, o->p, B, s->nsum, fn, "p"));
        VKS_TRY(need(ctx, o->logp, B, s->nsum, fn, "logp"));
    }
    if (s->D > 0 && (flags & RL_HEAD_CHOICE)) {
        VKS_TRY(need(ctx, o->disc, B, s->D, fn, "disc"));
        VKS_TRY(need(ctx, o->lpd, B, s->D, fn, "lpd"));
    }
    if (s->C == 0)
        flags &= ~(uint32_t)(RL_HEAD_CONT | RL_HEAD_AUX);
    if (s->D == 0)
        flags &= ~(uint32_t)(RL_HEAD_PROBS | RL_HEAD_CHOICE);
    if (h->sigmoid)
        flags |= RL_HEAD_SIGMOID;
    struct { uint32_t rows, c, d, nsum, key, stream, ci, flags; float gumbel_t; } pc = {
        B, s->C, s->D, s->nsum, h->key, stream, counter_index, flags, h->gumbel_t};
    vks_tensor *sink = h->sink;
    const vks_tensor *ops[] = {H, h->bounds, h->segs, h->counters,
                               flags & RL_HEAD_CONT ? o->a : sink, flags & RL_HEAD_AUX ? o->aux : sink, o->lpc,
                               flags & RL_HEAD_PROBS ? o->p : sink, flags & RL_HEAD_PROBS ? o->logp : sink,
                               flags & RL_HEAD_CHOICE ? o->disc : sink, flags & RL_HEAD_CHOICE ? o->lpd : sink};
    return vks_launch(seq, VKS_K_ACTOR_HEAD, ops, &pc, sizeof pc, row_groups(B), 1, 1);
}

vksac_status rl_actor_head_backward(vks_seq *seq, const rl_heads *h, vks_tensor *dH, const vks_tensor *H,
                                    const vks_tensor *aux, const vks_tensor *dX, const vks_tensor *log_alpha,
                                    uint32_t B)
{
    static const char fn[] = "rl_actor_head_backward";
    vks_ctx *ctx = vks_seq_ctx(seq);
    const rl_shape *s = &h->shape;
    if (s->C == 0)
        return VKSAC_OK;
    VKS_TRY(need(ctx, dH, B, rl_actor_out(s), fn, "dH"));
    VKS_TRY(need(ctx, H, B, rl_actor_out(s), fn, "H"));
    VKS_TRY(need(ctx, aux, B, 2 * s->C, fn, "aux"));
    VKS_TRY(need_stack(ctx, h, dX, B, s->S + s->C, fn, "dX"));
    uint32_t pc[7] = {B, rl_stack_rows(s, B), s->N, s->C, s->nsum, s->S, h->sigmoid};
    const vks_tensor *ops[] = {H, aux, h->bounds, dX, log_alpha, dH};
    return vks_launch(seq, VKS_K_ACTOR_HEAD_BWD, ops, pc, sizeof pc, row_groups(B), 1, 1);
}

vksac_status rl_critic_target(vks_seq *seq, const rl_heads *h, vks_tensor *Y, const vks_tensor *Qt,
                              const rl_head_out *next, const vks_tensor *rtd, const vks_tensor *log_alpha, uint32_t B)
{
    static const char fn[] = "rl_critic_target";
    vks_ctx *ctx = vks_seq_ctx(seq);
    const rl_shape *s = &h->shape;
    VKS_TRY(need(ctx, Y, B, rl_target_cols(s), fn, "Y"));
    VKS_TRY(need_stack(ctx, h, Qt, B, rl_critic_out(s), fn, "Qt"));
    VKS_TRY(need(ctx, next->lpc, B, 1, fn, "lpc"));
    VKS_TRY(need(ctx, rtd, B, 3, fn, "rtd"));
    if (s->D > 0) {
        VKS_TRY(need(ctx, next->p, B, s->nsum, fn, "p"));
        VKS_TRY(need(ctx, next->logp, B, s->nsum, fn, "logp"));
    }
    struct { uint32_t rows, bp, n, m, hasc, d, nsum, k, mode; float tau, gamma, reward_scale; } pc = {
        B, rl_stack_rows(s, B), s->N, s->M, s->C > 0, s->D, s->nsum, s->K, s->quantiled ? 2 : h->reduce,
        h->tau, h->gamma, h->reward_scale};
    const vks_tensor *ops[] = {Qt, s->D ? next->p : NULL, s->D ? next->logp : NULL, next->lpc, rtd, log_alpha,
                               h->segs, Y};
    return vks_launch(seq, VKS_K_CRITIC_TARGET, ops, &pc, sizeof pc, row_groups(B), 1, 1);
}

vksac_status rl_critic_loss(vks_seq *seq, const rl_heads *h, vks_tensor *dQ, const vks_tensor *Q, const vks_tensor *Y,
                            const vks_tensor *disc, uint32_t B)
{
    static const char fn[] = "rl_critic_loss";
    vks_ctx *ctx = vks_seq_ctx(seq);
    const rl_shape *s = &h->shape;
    VKS_TRY(need_stack(ctx, h, Q, B, rl_critic_out(s), fn, "Q"));
    VKS_TRY(need_stack(ctx, h, dQ, B, rl_critic_out(s), fn, "dQ"));
    VKS_TRY(need(ctx, Y, B, rl_target_cols(s), fn, "Y"));
    if (s->D > 0)
        VKS_TRY(need(ctx, disc, B, s->D, fn, "disc"));
    uint32_t pc[9] = {B, rl_stack_rows(s, B), s->N, s->M, s->C > 0, s->D, s->nsum, s->K, s->quantiled};
    const vks_tensor *ops[] = {Q, Y, s->D ? disc : NULL, h->segs, dQ, h->stats};
    return vks_launch(seq, VKS_K_CRITIC_LOSS, ops, pc, sizeof pc, 1, 1, 1);
}

vksac_status rl_actor_loss(vks_seq *seq, const rl_heads *h, vks_tensor *dQ, vks_tensor *dH, vks_tensor *dlog_alpha,
                           const vks_tensor *Q, const rl_head_out *pi, const vks_tensor *log_alpha, uint32_t B)
{
    static const char fn[] = "rl_actor_loss";
    vks_ctx *ctx = vks_seq_ctx(seq);
    const rl_shape *s = &h->shape;
    VKS_TRY(need_stack(ctx, h, Q, B, rl_critic_out(s), fn, "Q"));
    VKS_TRY(need_stack(ctx, h, dQ, B, rl_critic_out(s), fn, "dQ"));
    VKS_TRY(need(ctx, dH, B, rl_actor_out(s), fn, "dH"));
    VKS_TRY(need(ctx, pi->lpc, B, 1, fn, "lpc"));
    if (s->D > 0) {
        VKS_TRY(need(ctx, pi->p, B, s->nsum, fn, "p"));
        VKS_TRY(need(ctx, pi->logp, B, s->nsum, fn, "logp"));
    }
    struct { uint32_t rows, bp, n, m, hasc, d, nsum, c, mode; float tau; } pc = {
        B, rl_stack_rows(s, B), s->N, s->M, s->C > 0, s->D, s->nsum, s->C, s->quantiled ? 2 : h->reduce, h->tau};
    const vks_tensor *ops[] = {Q, s->D ? pi->p : NULL, s->D ? pi->logp : NULL, pi->lpc, log_alpha, h->segs, h->hent,
                               dQ, dH, h->stats, dlog_alpha};
    return vks_launch(seq, VKS_K_ACTOR_LOSS, ops, &pc, sizeof pc, 1, 1, 1);
}
