/* Agent configuration (defaults and checks) and creation: the networks,
 * their optimisers, the temperature, the state normaliser, the replay
 * buffer and the constants the kernels read. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rl/agent.h"
#include "rl/shards.h"

/* ---- configuration ------------------------------------------------------ */

#define DEFAULT_U(field, v) \
    do {                    \
        if (!(field))       \
            (field) = (v);  \
    } while (0)
#define DEFAULT_F(field, v) \
    do {                    \
        if ((field) == 0.0f) \
            (field) = (v);  \
    } while (0)

static vksac_status bad(vks_ctx *ctx, const char *fn, const char *field, const char *want, double got)
{
    return vks_fail(ctx, VKSAC_E_ARG, "%s: field '%s' must be %s, got %g", fn, field, want, got);
}

/* One of `names` (NULL-terminated; the first is the default), replaced by
 * its canonical static string. */
static vksac_status pick(vks_ctx *ctx, const char *fn, const char *field, const char **value, const char *const *names)
{
    if (!*value || !**value) {
        *value = names[0];
        return VKSAC_OK;
    }
    for (int i = 0; names[i]; i++)
        if (!strcmp(*value, names[i])) {
            *value = names[i];
            return VKSAC_OK;
        }
    char list[160] = "";
    for (int i = 0; names[i]; i++)
        snprintf(list + strlen(list), sizeof list - strlen(list), "%s'%s'", i ? ", " : "", names[i]);
    return vks_fail(ctx, VKSAC_E_ARG, "%s: field '%s' must be one of %s, got '%s'", fn, field, list, *value);
}

static const char *const ACTS[] = {"relu2", "relu", "crelu", NULL};
static const char *const OPTS[] = {"adam_atan2", "adam", "adamw", NULL};
static const char *const REGENS[] = {"l2", "wasserstein", "none", NULL};
static const char *const SIGMAS[] = {"exp", "sigmoid", NULL};

static vksac_status resolve_net(vks_ctx *ctx, const char *fn, const char *who, vksac_net_config *n)
{
    char f[64];
#define FIELD(name) (snprintf(f, sizeof f, "%s.%s", who, name), f)
    DEFAULT_U(n->dim_hidden, 256);
    DEFAULT_U(n->mlp_depth, 2);
    DEFAULT_U(n->expansion, 2);
    DEFAULT_F(n->learning_rate, 3e-4f);
    DEFAULT_F(n->betas[0], 0.9f);
    DEFAULT_F(n->betas[1], 0.99f);
    DEFAULT_F(n->weight_decay, 0.01f);
    DEFAULT_F(n->regen_reg_rate, 1e-4f);
    VKS_TRY(pick(ctx, fn, FIELD("activation"), &n->activation, ACTS));
    VKS_TRY(pick(ctx, fn, FIELD("optimizer"), &n->optimizer, OPTS));
    VKS_TRY(pick(ctx, fn, FIELD("regen"), &n->regen, REGENS));
    if (n->dim_hidden > 16384)
        return bad(ctx, fn, FIELD("dim_hidden"), "in [1, 16384]", n->dim_hidden);
    if (n->mlp_depth > 64)
        return bad(ctx, fn, FIELD("mlp_depth"), "in [1, 64]", n->mlp_depth);
    if (n->expansion > 16)
        return bad(ctx, fn, FIELD("expansion"), "in [1, 16]", n->expansion);
    if (!(n->dropout >= 0.0f && n->dropout < 1.0f))
        return bad(ctx, fn, FIELD("dropout"), "in [0, 1)", n->dropout);
    if (!(n->learning_rate > 0.0f && isfinite(n->learning_rate)))
        return bad(ctx, fn, FIELD("learning_rate"), "positive", n->learning_rate);
    for (int i = 0; i < 2; i++)
        if (!(n->betas[i] > 0.0f && n->betas[i] < 1.0f))
            return bad(ctx, fn, FIELD(i ? "betas[2]" : "betas[1]"), "in (0, 1)", n->betas[i]);
    if (!(n->weight_decay >= 0.0f && isfinite(n->weight_decay)))
        return bad(ctx, fn, FIELD("weight_decay"), "≥ 0", n->weight_decay);
    if (!(n->max_grad_norm >= 0.0f && isfinite(n->max_grad_norm)))
        return bad(ctx, fn, FIELD("max_grad_norm"), "≥ 0 (0 = no clipping)", n->max_grad_norm);
    if (!(n->regen_reg_rate >= 0.0f && isfinite(n->regen_reg_rate)))
        return bad(ctx, fn, FIELD("regen_reg_rate"), "≥ 0", n->regen_reg_rate);
#undef FIELD
    return VKSAC_OK;
}

static vksac_status resolve_actions(vks_ctx *ctx, const char *fn, vksac_agent_config *c)
{
    if (c->dim_state == 0 || c->dim_state > 65535)
        return bad(ctx, fn, "dim_state", "in [1, 65535]", c->dim_state);
    if (c->num_cont_actions > VKSAC_MAX_CONT_ACTIONS)
        return bad(ctx, fn, "num_cont_actions", "at most 64", c->num_cont_actions);
    if (c->num_discrete_heads > VKSAC_MAX_DISCRETE_HEADS)
        return bad(ctx, fn, "num_discrete_heads", "at most 16", c->num_discrete_heads);
    if (c->num_cont_actions + c->num_discrete_heads == 0)
        return vks_fail(ctx, VKSAC_E_ARG, "%s: the agent has no actions: set num_cont_actions or "
                        "num_discrete_actions", fn);
    for (uint32_t i = 0; i < c->num_discrete_heads; i++)
        if (c->num_discrete_actions[i] < 2 || c->num_discrete_actions[i] > RL_MAX_CHOICES)
            return vks_fail(ctx, VKSAC_E_ARG, "%s: field 'num_discrete_actions[%u]' must be in [2, %u], got %u", fn,
                            i + 1, RL_MAX_CHOICES, c->num_discrete_actions[i]);
    for (uint32_t j = 0; j < c->num_cont_actions; j++) {
        float lo = c->action_low ? c->action_low[j] : -1.0f, hi = c->action_high ? c->action_high[j] : 1.0f;
        if (!(isfinite(lo) && isfinite(hi) && lo < hi))
            return vks_fail(ctx, VKSAC_E_ARG, "%s: action bounds of dimension %u must be finite with low < high, "
                            "got [%g, %g]", fn, j + 1, (double)lo, (double)hi);
    }
    return VKSAC_OK;
}

static vksac_status resolve_critics(vks_ctx *ctx, const char *fn, vksac_agent_config *c)
{
    DEFAULT_U(c->num_critics, 2);
    DEFAULT_F(c->softmin_temperature, 1.0f);
    DEFAULT_F(c->frac_atom_keep, 0.92f);
    if (c->quantiled_critics)
        DEFAULT_U(c->num_quantiles, 25);
    else if (c->num_quantiles > 1)
        return vks_fail(ctx, VKSAC_E_ARG, "%s: field 'num_quantiles' is %u but quantiled_critics is off", fn,
                        c->num_quantiles);
    DEFAULT_U(c->num_quantiles, 1);
    if (c->num_critics > RL_MAX_CRITICS)
        return bad(ctx, fn, "num_critics", "in [1, 16]", c->num_critics);
    if (!(c->softmin_temperature > 0.0f && isfinite(c->softmin_temperature)))
        return bad(ctx, fn, "softmin_temperature", "positive", c->softmin_temperature);
    if (!(c->frac_atom_keep > 0.0f && c->frac_atom_keep <= 1.0f))
        return bad(ctx, fn, "frac_atom_keep", "in (0, 1]", c->frac_atom_keep);
    uint32_t atoms = c->num_critics * c->num_quantiles;
    if (atoms > RL_MAX_ATOMS)
        return vks_fail(ctx, VKSAC_E_ARG, "%s: num_critics × num_quantiles must be at most %u, got %u × %u", fn,
                        RL_MAX_ATOMS, c->num_critics, c->num_quantiles);
    if (c->quantiled_critics && (uint32_t)floorf(c->frac_atom_keep * (float)atoms) < 1)
        return vks_fail(ctx, VKSAC_E_ARG, "%s: frac_atom_keep %g keeps no atom of %u", fn,
                        (double)c->frac_atom_keep, atoms);
    return VKSAC_OK;
}

static vksac_status resolve_training(vks_ctx *ctx, const char *fn, vksac_agent_config *c)
{
    DEFAULT_F(c->reward_discount_rate, 0.99f);
    DEFAULT_F(c->reward_scale, 1.0f);
    DEFAULT_F(c->ema_decay, 0.995f);
    DEFAULT_F(c->temperature_learning_rate, 3e-4f);
    DEFAULT_F(c->gumbel_temperature, 1.0f);
    DEFAULT_U(c->batch_size, 256);
    DEFAULT_U(c->replay_capacity, 1000000);
    DEFAULT_U(c->updates_per_step, 1);
    DEFAULT_U(c->actor_update_every, 1);
    if (!c->actor_seed)
        c->actor_seed = c->seed + 1;
    for (uint32_t n = 0; n < VKSAC_MAX_CRITICS; n++)
        c->critic_seeds[n] = n >= c->num_critics ? 0 : c->critic_seeds[n] ? c->critic_seeds[n] : c->seed + 2 + n;
    VKS_TRY(pick(ctx, fn, "sigma", &c->sigma, SIGMAS));
    if (!(c->reward_discount_rate > 0.0f && c->reward_discount_rate <= 1.0f))
        return bad(ctx, fn, "reward_discount_rate", "in (0, 1]", c->reward_discount_rate);
    if (!isfinite(c->reward_scale))
        return bad(ctx, fn, "reward_scale", "finite", c->reward_scale);
    if (!(c->ema_decay > 0.0f && c->ema_decay < 1.0f))
        return bad(ctx, fn, "ema_decay", "in (0, 1)", c->ema_decay);
    if (!(c->temperature_learning_rate > 0.0f && isfinite(c->temperature_learning_rate)))
        return bad(ctx, fn, "temperature_learning_rate", "positive", c->temperature_learning_rate);
    if (!isfinite(c->initial_log_alpha))
        return bad(ctx, fn, "initial_log_alpha", "finite", c->initial_log_alpha);
    if (!(c->gumbel_temperature > 0.0f && isfinite(c->gumbel_temperature)))
        return bad(ctx, fn, "gumbel_temperature", "positive", c->gumbel_temperature);
    if (c->batch_size > 65536)
        return bad(ctx, fn, "batch_size", "in [1, 65536]", c->batch_size);
    if (c->replay_capacity > RL_REPLAY_MAX_CAPACITY)
        return bad(ctx, fn, "replay_capacity", "below 2^24", c->replay_capacity);
    if (c->override_target_entropy) {
        if (!isfinite(c->target_entropy_cont))
            return bad(ctx, fn, "target_entropy_cont", "finite", c->target_entropy_cont);
        for (uint32_t i = 0; i < c->num_discrete_heads; i++)
            if (!isfinite(c->target_entropy_discrete[i]))
                return bad(ctx, fn, "target_entropy_discrete", "finite", c->target_entropy_discrete[i]);
    } else {
        c->target_entropy_cont = -(float)c->num_cont_actions;
        for (uint32_t i = 0; i < c->num_discrete_heads; i++)
            c->target_entropy_discrete[i] = 0.98f * logf((float)c->num_discrete_actions[i]);
    }
    return VKSAC_OK;
}

vksac_status rl_agent_resolve(vks_ctx *ctx, const char *fn, const vksac_agent_config *in, vksac_agent_config *out)
{
    if (!in)
        return vks_fail(ctx, VKSAC_E_ARG, "%s: config must not be NULL", fn);
    *out = *in;
    VKS_TRY(resolve_actions(ctx, fn, out));
    VKS_TRY(resolve_net(ctx, fn, "actor", &out->actor));
    VKS_TRY(resolve_net(ctx, fn, "critic", &out->critic));
    VKS_TRY(resolve_critics(ctx, fn, out));
    return resolve_training(ctx, fn, out);
}

/* ---- networks ----------------------------------------------------------- */

static vksac_status mlp_config(vks_ctx *ctx, const vksac_net_config *n, uint32_t in, uint32_t out, uint64_t seed,
                               nn_mlp_config *m)
{
    nn_mlp_defaults(m);
    m->in = in;
    m->out = out;
    m->hidden = n->dim_hidden;
    m->depth = n->mlp_depth;
    m->expansion = n->expansion;
    m->dropout = n->dropout;
    m->final_norm = n->final_norm != 0;
    m->seed = seed;
    return nn_act_parse(ctx, n->activation, "activation", &m->act);
}

static rl_shape shape_of(const vksac_agent_config *c)
{
    rl_shape s = {.S = c->dim_state, .C = c->num_cont_actions, .D = c->num_discrete_heads, .N = c->num_critics,
                  .M = c->num_quantiles, .quantiled = c->quantiled_critics != 0};
    for (uint32_t i = 0; i < s.D; i++)
        s.nsum += s.nd[i] = c->num_discrete_actions[i];
    s.K = s.quantiled ? (uint32_t)floorf(c->frac_atom_keep * (float)(s.N * s.M)) : 1;
    return s;
}

vksac_status rl_actor_mlp_config(vks_ctx *ctx, const vksac_agent_config *c, nn_mlp_config *out)
{
    rl_shape s = shape_of(c);
    VKS_TRY(mlp_config(ctx, &c->actor, s.S, rl_actor_out(&s), c->actor_seed, out));
    out->out_scale = 0.01f;
    return VKSAC_OK;
}

vksac_status rl_critic_mlp_config(vks_ctx *ctx, const vksac_agent_config *c, uint32_t n, nn_mlp_config *out)
{
    rl_shape s = shape_of(c);
    return mlp_config(ctx, &c->critic, s.S + s.C, rl_critic_out(&s), c->critic_seeds[n], out);
}

static void opt_config(const vksac_net_config *n, nn_opt_config *o)
{
    nn_opt_defaults(o);
    o->kind = !strcmp(n->optimizer, "adam") ? NN_OPT_ADAM : !strcmp(n->optimizer, "adamw") ? NN_OPT_ADAMW
                                                                                          : NN_OPT_ADAM_ATAN2;
    o->lr = n->learning_rate;
    o->beta1 = n->betas[0];
    o->beta2 = n->betas[1];
    o->weight_decay = n->weight_decay;
    o->max_grad_norm = n->max_grad_norm;
    o->regen = !strcmp(n->regen, "none") ? NN_REGEN_NONE : !strcmp(n->regen, "wasserstein") ? NN_REGEN_WASSERSTEIN
                                                                                           : NN_REGEN_L2;
    o->regen_lambda = n->regen_reg_rate;
}

_Static_assert(RL_MAX_CRITICS <= NN_MAX_STACK, "an ensemble must hold every critic");

/* The critics, one network or an ensemble run as one. */
static vksac_status create_critics(rl_agent *a, nn_mlp **out)
{
    const vksac_agent_config *c = &a->cfg;
    nn_mlp_config m;
    VKS_TRY(rl_critic_mlp_config(a->ctx, c, 0, &m));
    if (c->num_critics == 1)
        return nn_mlp_create(a->ctx, &m, out);
    return nn_mlp_create_ensemble(a->ctx, &m, c->critic_seeds, c->num_critics, out);
}

static vksac_status create_networks(rl_agent *a)
{
    vks_ctx *ctx = a->ctx;
    const vksac_agent_config *c = &a->cfg;
    nn_mlp_config m;
    nn_opt_config o;
    VKS_TRY(rl_actor_mlp_config(ctx, c, &m));
    VKS_TRY(nn_mlp_create(ctx, &m, &a->actor));
    opt_config(&c->actor, &o);
    VKS_TRY(nn_optim_create(ctx, a->actor->params, &o, &a->actor_opt));
    VKS_TRY(create_critics(a, &a->critics));
    VKS_TRY(create_critics(a, &a->targets));   /* same seeds: starts as a copy */
    opt_config(&c->critic, &o);
    for (uint32_t n = 0; n < c->num_critics; n++) {
        a->critic[n] = nn_mlp_member(a->critics, n);
        a->target[n] = nn_mlp_member(a->targets, n);
        VKS_TRY(nn_optim_create(ctx, a->critic[n]->params, &o, &a->critic_opt[n]));
    }
    nn_param la = {.name = "log_alpha", .rows = 1, .cols = 1};
    VKS_TRY(nn_params_create(ctx, &la, 1, &a->alpha));
    VKS_TRY(nn_params_init(a->alpha, &c->initial_log_alpha));
    nn_opt_defaults(&o);
    o.lr = c->temperature_learning_rate;
    o.regen = NN_REGEN_NONE;
    return nn_optim_create(ctx, a->alpha, &o, &a->alpha_opt);
}

/* ---- kernel constants --------------------------------------------------- */

static vksac_status create_heads(rl_agent *a, const float *low, const float *high)
{
    vks_ctx *ctx = a->ctx;
    const vksac_agent_config *c = &a->cfg;
    rl_heads *h = &a->heads;
    *h = (rl_heads){.shape = shape_of(c), .sigmoid = !strcmp(c->sigma, "sigmoid"),
                    .gumbel_t = c->gumbel_temperature, .reduce = c->use_softmin ? 1 : 0,
                    .tau = c->softmin_temperature, .gamma = c->reward_discount_rate, .reward_scale = c->reward_scale,
                    .key = (uint32_t)c->seed ^ (uint32_t)(c->seed >> 32) ^ 0x5AC0FFEEu};
    uint32_t C = h->shape.C, D = h->shape.D;
    if (C > 0) {
        float b[2 * VKSAC_MAX_CONT_ACTIONS];
        memcpy(b, low, C * sizeof *b);
        memcpy(b + C, high, C * sizeof *b);
        VKS_TRY(vks_tensor_create(ctx, 2, C, &h->bounds));
        VKS_TRY(vks_tensor_write(h->bounds, b));
    }
    if (D > 0)
        VKS_TRY(nn_segments_create(ctx, h->shape.nd, D, &h->segs));
    float hent[1 + VKSAC_MAX_DISCRETE_HEADS] = {c->target_entropy_cont};
    memcpy(hent + 1, c->target_entropy_discrete, D * sizeof *hent);
    VKS_TRY(vks_tensor_create(ctx, 1, 1 + D, &h->hent));
    VKS_TRY(vks_tensor_write(h->hent, hent));
    VKS_TRY(vks_tensor_create(ctx, 1, RL_CTR_COUNT, &h->counters));
    VKS_TRY(vks_tensor_create(ctx, 1, 4, &h->sink));
    return vks_tensor_create(ctx, 1, RL_STAT_COUNT, &h->stats);
}

/* The bounds live in the agent so that cfg's pointers stay valid. */
typedef struct rl_agent_store {
    rl_agent agent;
    float low[VKSAC_MAX_CONT_ACTIONS], high[VKSAC_MAX_CONT_ACTIONS];
} rl_agent_store;

static vksac_status build(rl_agent *a)
{
    rl_agent_store *st = (rl_agent_store *)a;
    vksac_agent_config *c = &a->cfg;
    for (uint32_t j = 0; j < c->num_cont_actions; j++) {
        st->low[j] = c->action_low ? c->action_low[j] : -1.0f;
        st->high[j] = c->action_high ? c->action_high[j] : 1.0f;
    }
    c->action_low = st->low;
    c->action_high = st->high;
    VKS_TRY(create_heads(a, st->low, st->high));
    VKS_TRY(nn_rsmnorm_create(a->ctx, c->dim_state, &a->rsm));
    VKS_TRY(create_networks(a));
    rl_replay_config rc = {.capacity = c->replay_capacity, .S = c->dim_state, .C = c->num_cont_actions,
                           .D = c->num_discrete_heads};
    VKS_TRY(rl_replay_create(a->ctx, &rc, &a->replay));
    return rl_graph_create(a, c->batch_size, true, &a->graph);
}

vksac_status rl_agent_create(vks_ctx *ctx, const vksac_agent_config *cfg, rl_agent **out)
{
    *out = NULL;
    rl_agent_store *st = calloc(1, sizeof *st);
    if (!st)
        return vks_fail(ctx, VKSAC_E_OOM, "out of host memory for an agent");
    rl_agent *a = &st->agent;
    a->ctx = ctx;
    a->cfg = *cfg;
    vksac_status s = build(a);
    if (s != VKSAC_OK) {
        rl_agent_destroy(a);
        return s;
    }
    *out = a;
    return VKSAC_OK;
}

void rl_agent_destroy(rl_agent *a)
{
    if (!a)
        return;
    rl_shards_destroy(a->shards);
    for (int i = 0; i < RL_ACT_CACHE; i++)
        rl_act_destroy(a->act[i]);
    rl_eval_destroy(a->eval);
    rl_graph_destroy(a->graph);
    rl_graph_destroy(a->given);
    rl_replay_destroy(a->replay);
    nn_optim_destroy(a->alpha_opt);
    nn_params_destroy(a->alpha);
    for (uint32_t n = 0; n < RL_MAX_CRITICS; n++)
        nn_optim_destroy(a->critic_opt[n]);
    nn_mlp_destroy(a->critics);   /* and its members a->critic[n]; targets likewise */
    nn_mlp_destroy(a->targets);
    nn_optim_destroy(a->actor_opt);
    nn_mlp_destroy(a->actor);
    nn_rsmnorm_destroy(a->rsm);
    rl_heads *h = &a->heads;
    vks_tensor *t[] = {h->bounds, h->segs, h->hent, h->counters, h->stats, h->sink};
    for (size_t i = 0; i < sizeof t / sizeof *t; i++)
        vks_tensor_destroy(t[i]);
    free(a->scratch);
    free(a->metadata);
    free(a);
}
