/* The SAC update on the device against the C reference of a whole update
 * (tests/reference/sac_ref.c): parameters of every network, the targets
 * and log α after three updates on a fixed batch, for continuous,
 * discrete and hybrid agents with plain and quantile critics and dropout.
 * Removing any one term of SPEC.md §4 from the reference must move it far
 * outside the tolerance, which shows the comparison would notice. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "reference/sac_ref.h"
#include "rl/agent.h"

#define UPDATES 3
#define SAC_TOL 1e-8
#define B 16

typedef struct sac_case {
    const char *what;
    uint32_t C, D, nd[2];
    int quantiled, softmin;
    uint32_t M;
    float frac, critic_dropout, actor_dropout;
    const char *sigma;
    uint32_t actor_every;
    uint32_t critics;   /* 0: the default (2) */
} sac_case;

static vksac_agent_config config_of(const sac_case *k)
{
    static const float low[2] = {-2.0f, 0.0f}, high[2] = {1.0f, 3.0f};
    vksac_agent_config c = {.dim_state = 5, .num_cont_actions = k->C, .num_discrete_heads = k->D,
                            .action_low = low, .action_high = high, .quantiled_critics = k->quantiled,
                            .num_quantiles = k->M, .frac_atom_keep = k->frac, .use_softmin = k->softmin,
                            .softmin_temperature = 0.7f, .reward_scale = 2.0f, .reward_discount_rate = 0.9f,
                            .ema_decay = 0.8f, .temperature_learning_rate = 1e-2f, .sigma = k->sigma,
                            .batch_size = 16, .replay_capacity = 64, .seed = 1234,
                            .actor_update_every = k->actor_every, .num_critics = k->critics,
                            /* Entropy targets on the other side of the policy's entropy, so that
                             * dropping them flips the sign of ∂J/∂log α (Adam-atan2's first
                             * steps see little but the sign). */
                            .override_target_entropy = 1, .target_entropy_cont = 4.0f,
                            .target_entropy_discrete = {3.0f, 3.0f}};
    memcpy(c.num_discrete_actions, k->nd, sizeof k->nd);
    vksac_net_config n = {.dim_hidden = 16, .mlp_depth = 1, .learning_rate = 1e-2f};
    c.actor = n;
    c.critic = n;
    c.actor.dropout = k->actor_dropout;
    c.critic.dropout = k->critic_dropout;
    /* λ large enough that regeneration shows at fp32 resolution. */
    c.actor.regen_reg_rate = c.critic.regen_reg_rate = 0.5f;
    return c;
}

static rl_agent *make_agent(const vksac_agent_config *in)
{
    vksac_agent_config c;
    rl_agent *a = NULL;
    TH_OK(rl_agent_resolve(th.ctx, "test", in, &c));
    TH_OK(rl_agent_create(th.ctx, &c, &a));
    return a;
}

/* ---- the reference's view of an agent ------------------------------------- */

static ref_mlp_cfg ref_mlp_of(const nn_mlp_config *c)
{
    return (ref_mlp_cfg){c->in, c->out, c->hidden, c->depth, c->expansion, (int)c->act, c->dropout,
                         c->final_norm, (uint32_t)c->seed ^ (uint32_t)(c->seed >> 32), 0};
}

static ref_opt ref_opt_of(const nn_opt_config *c)
{
    return (ref_opt){.kind = (int)c->kind, .lr = c->lr, .beta1 = c->beta1, .beta2 = c->beta2, .a = c->a,
                     .b = c->b, .eps = c->eps, .weight_decay = c->weight_decay, .max_grad_norm = c->max_grad_norm,
                     .regen = (int)c->regen, .regen_lambda = c->regen_lambda, .lr0 = c->lr};
}

static ref_sac_cfg ref_cfg_of(const rl_agent *a)
{
    const vksac_agent_config *c = &a->cfg;
    const rl_shape *s = &a->heads.shape;
    ref_sac_cfg r = {.S = s->S, .C = s->C, .D = s->D, .N = s->N, .M = s->M, .quantiled = s->quantiled,
                     .frac_atom_keep = c->frac_atom_keep, .softmin = c->use_softmin,
                     .softmin_tau = c->softmin_temperature, .gamma = c->reward_discount_rate,
                     .reward_scale = c->reward_scale, .target_entropy_c = c->target_entropy_cont,
                     .ema_beta = c->ema_decay, .sigma_sigmoid = a->heads.sigmoid,
                     .actor_every = c->actor_update_every, .rsmnorm = !c->no_rsmnorm,
                     .actor_mlp = ref_mlp_of(&a->actor->cfg), .actor_opt = ref_opt_of(&a->actor_opt->cfg),
                     .critic_opt = ref_opt_of(&a->critic_opt[0]->cfg), .alpha_opt = ref_opt_of(&a->alpha_opt->cfg),
                     .agent_key = a->heads.key};
    for (uint32_t i = 0; i < s->D; i++) {
        r.nd[i] = s->nd[i];
        r.target_entropy_d[i] = c->target_entropy_discrete[i];
    }
    for (uint32_t j = 0; j < s->C; j++) {
        r.low[j] = c->action_low[j];
        r.high[j] = c->action_high[j];
    }
    for (uint32_t n = 0; n < s->N; n++)
        r.critic_mlp[n] = ref_mlp_of(&a->critic[n]->cfg);
    return r;
}

/* Every array of a reference state, in one block per network. */
typedef struct snapshot {
    ref_sac_state st;
    size_t actor_n, critic_n;
} snapshot;

static double *read_d(const nn_params *p, int role)
{
    size_t n = nn_params_dense_size(p);
    float *f = malloc(n * sizeof *f);
    TH_OK(nn_params_read(p, role, f));
    double *d = th_to_double(f, n);
    free(f);
    return d;
}

static void snapshot_take(const rl_agent *a, snapshot *s)
{
    memset(s, 0, sizeof *s);
    ref_sac_state *st = &s->st;
    s->actor_n = nn_params_dense_size(a->actor->params);
    s->critic_n = nn_params_dense_size(a->critic[0]->params);
    st->actor = read_d(a->actor->params, NN_THETA);
    st->actor_m = read_d(a->actor->params, NN_M);
    st->actor_v = read_d(a->actor->params, NN_V);
    st->actor0 = read_d(a->actor->params, NN_THETA0);
    for (uint32_t n = 0; n < a->heads.shape.N; n++) {
        st->critic[n] = read_d(a->critic[n]->params, NN_THETA);
        st->critic_m[n] = read_d(a->critic[n]->params, NN_M);
        st->critic_v[n] = read_d(a->critic[n]->params, NN_V);
        st->critic0[n] = read_d(a->critic[n]->params, NN_THETA0);
        st->target[n] = read_d(a->target[n]->params, NN_THETA);
    }
    float la[1];
    TH_OK(nn_params_read(a->alpha, NN_THETA, la));
    st->log_alpha = st->log_alpha0 = la[0];
    uint32_t S = a->heads.shape.S;
    float *rs = malloc(3 * S * sizeof *rs);
    TH_OK(vks_tensor_read(a->rsm->stats, rs));
    st->rsm_mean = th_to_double(rs, S);
    st->rsm_var = th_to_double(rs + S, S);
    free(rs);
    st->update = a->updates;
}

static void snapshot_copy(const snapshot *src, snapshot *dst, uint32_t N, uint32_t S)
{
    *dst = *src;
    ref_sac_state *d = &dst->st;
    const ref_sac_state *s = &src->st;
#define DUP(field, n) (d->field = memcpy(malloc((n) * sizeof(double)), s->field, (n) * sizeof(double)))
    DUP(actor, src->actor_n);
    DUP(actor_m, src->actor_n);
    DUP(actor_v, src->actor_n);
    DUP(actor0, src->actor_n);
    for (uint32_t n = 0; n < N; n++) {
        DUP(critic[n], src->critic_n);
        DUP(critic_m[n], src->critic_n);
        DUP(critic_v[n], src->critic_n);
        DUP(critic0[n], src->critic_n);
        DUP(target[n], src->critic_n);
    }
    DUP(rsm_mean, S);
    DUP(rsm_var, S);
#undef DUP
}

static void snapshot_free(snapshot *s, uint32_t N)
{
    ref_sac_state *st = &s->st;
    free(st->actor);
    free(st->actor_m);
    free(st->actor_v);
    free(st->actor0);
    for (uint32_t n = 0; n < N; n++) {
        free(st->critic[n]);
        free(st->critic_m[n]);
        free(st->critic_v[n]);
        free(st->critic0[n]);
        free(st->target[n]);
    }
    free(st->rsm_mean);
    free(st->rsm_var);
}

/* NMSE of (got − start) against (want − start). */
static double delta_nmse(const double *got, const double *want, const double *start, size_t n)
{
    double num = 0.0, den = 0.0;
    for (size_t i = 0; i < n; i++) {
        double d = (got[i] - start[i]) - (want[i] - start[i]);
        num += d * d;
        den += (want[i] - start[i]) * (want[i] - start[i]);
    }
    return num / (den > 1e-300 ? den : 1e-300);
}

/* The worst NMSE over the actor, every critic and target, and log α. */
static double worst(const snapshot *got, const snapshot *want, const snapshot *start, uint32_t N)
{
    const ref_sac_state *g = &got->st, *w = &want->st, *s = &start->st;
    double e = delta_nmse(g->actor, w->actor, s->actor, got->actor_n);
    for (uint32_t n = 0; n < N; n++) {
        e = fmax(e, delta_nmse(g->critic[n], w->critic[n], s->critic[n], got->critic_n));
        e = fmax(e, delta_nmse(g->target[n], w->target[n], s->target[n], got->critic_n));
    }
    return fmax(e, delta_nmse(&g->log_alpha, &w->log_alpha, &s->log_alpha, 1));
}

/* ---- the batch ------------------------------------------------------------ */

typedef struct batch {
    float s[B * 5], s2[B * 5], a[B * 2], r[B];
    int32_t d[B * 2];
    uint8_t term[B], trunc[B];
    double sd[B * 5], s2d[B * 5], ad[B * 2], dd[B * 2], rd[B], termd[B];
} batch;

static void batch_make(batch *b, const rl_shape *s, const float *low, const float *high)
{
    th_rand_fill(b->s, B * 5, 11);
    th_rand_fill(b->s2, B * 5, 12);
    th_rand_fill(b->r, B, 13);
    float u[B * 2];
    th_rand_fill(u, B * 2, 14);
    for (uint32_t i = 0; i < B; i++) {
        for (uint32_t j = 0; j < s->C; j++)
            b->a[i * s->C + j] = low[j] + (high[j] - low[j]) * 0.5f * (0.9f * u[i * 2 + j] + 1.0f);
        for (uint32_t h = 0; h < s->D; h++)
            b->d[i * s->D + h] = (int32_t)((i * 7 + h * 3) % s->nd[h]);
        b->term[i] = i % 3 == 1;
        b->trunc[i] = i % 4 == 2;
        b->rd[i] = b->r[i];
        b->termd[i] = b->term[i];
    }
    for (uint32_t i = 0; i < B * 5; i++) {
        b->sd[i] = b->s[i];
        b->s2d[i] = b->s2[i];
    }
    for (uint32_t i = 0; i < B * s->C; i++)
        b->ad[i] = b->a[i];
    for (uint32_t i = 0; i < B * s->D; i++)
        b->dd[i] = b->d[i];
}

static vksac_transitions transitions_of(const batch *b)
{
    return (vksac_transitions){.n = B, .states = b->s, .cont_actions = b->a, .discrete_actions = b->d,
                               .rewards = b->r, .terminated = b->term, .truncated = b->trunc,
                               .next_states = b->s2};
}

/* Non-trivial normaliser statistics, written directly. */
static void set_rsmnorm(rl_agent *a)
{
    float st[3 * 5];
    for (int j = 0; j < 5; j++) {
        st[j] = 0.1f * (float)j - 0.2f;
        st[5 + j] = 0.5f + 0.3f * (float)j;
        st[10 + j] = 7.0f;
    }
    TH_OK(vks_tensor_write(a->rsm->stats, st));
}

/* ---- the comparison --------------------------------------------------------- */

static int terms_for(const rl_shape *s, int *terms)
{
    int n = 0;
    static const int common[] = {REF_SAC_TERM_REWARD_SCALE, REF_SAC_TERM_DISCOUNT, REF_SAC_TERM_DONE_MASK,
                                 REF_SAC_TERM_TARGET_ENTROPY, REF_SAC_TERM_TARGET_MIN, REF_SAC_TERM_NEXT_ACTION,
                                 REF_SAC_TERM_TEMP_TARGET, REF_SAC_TERM_EMA};
    for (size_t i = 0; i < sizeof common / sizeof *common; i++)
        if (common[i] != REF_SAC_TERM_TARGET_MIN || s->N > 1)   /* one critic: nothing to reduce over */
            terms[n++] = common[i];
    if (s->C) {
        terms[n++] = REF_SAC_TERM_TANH_CORRECTION;
        terms[n++] = REF_SAC_TERM_ACTOR_ENTROPY;
    }
    if (s->D) {
        terms[n++] = REF_SAC_TERM_ACTOR_DISCRETE;
        terms[n++] = REF_SAC_TERM_CRITIC_DISCRETE;
    }
    if (s->quantiled) {
        terms[n++] = REF_SAC_TERM_TQC_TRUNCATE;
        terms[n++] = REF_SAC_TERM_TQC_ALL_PAIRS;
    }
    return n;
}

static void run_reference(const ref_sac_cfg *cfg, const snapshot *start, const batch *b, snapshot *out)
{
    snapshot_copy(start, out, cfg->N, cfg->S);
    ref_sac_batch rb = {B, b->sd, b->s2d, b->ad, b->dd, b->rd, b->termd};
    for (int u = 0; u < UPDATES; u++)
        assert_int_equal(ref_sac_update(cfg, &out->st, &rb), 0);
}

static void compare_case(const sac_case *k)
{
    vksac_agent_config c = config_of(k);
    rl_agent *a = make_agent(&c);
    set_rsmnorm(a);
    const rl_shape *s = &a->heads.shape;
    batch b;
    batch_make(&b, s, a->cfg.action_low, a->cfg.action_high);
    snapshot start, got, want;
    snapshot_take(a, &start);
    vksac_transitions t = transitions_of(&b);
    for (int u = 0; u < UPDATES; u++)
        TH_OK(rl_agent_update_batch(a, &t));
    snapshot_take(a, &got);
    ref_sac_cfg rc = ref_cfg_of(a);
    run_reference(&rc, &start, &b, &want);
    double e = worst(&got, &want, &start, s->N);
    print_message("%s: worst NMSE of θ3−θ0 %.3g (tolerance %.0e)\n", k->what, e, SAC_TOL);
    assert_true(e <= SAC_TOL);
    vksac_stats stats;
    TH_OK(rl_agent_stats(a, &stats));
    assert_true(fabs(stats.critic_loss - want.st.stats[0]) <= 1e-4 * fmax(1.0, fabs(want.st.stats[0])));
    assert_true(fabs(stats.actor_loss - want.st.stats[1]) <= 1e-4 * fmax(1.0, fabs(want.st.stats[1])));
    int terms[REF_SAC_TERM_COUNT];
    int nt = terms_for(s, terms);
    for (int i = 0; i < nt; i++) {
        rc.drop_term = terms[i];
        snapshot wrong;
        run_reference(&rc, &start, &b, &wrong);
        double ew = worst(&got, &wrong, &start, s->N);
        print_message("  without term %d: %.3g\n", terms[i], ew);
        assert_true(ew > 100.0 * SAC_TOL);
        snapshot_free(&wrong, s->N);
    }
    snapshot_free(&start, s->N);
    snapshot_free(&got, s->N);
    snapshot_free(&want, s->N);
    rl_agent_destroy(a);
}

static void test_continuous(void **state)
{
    (void)state;
    compare_case(&(sac_case){.what = "continuous", .C = 2});
}

/* One critic is a plain network, not an ensemble: its stacked tensors are
 * exactly B rows (rl_stack_rows). */
static void test_one_critic(void **state)
{
    (void)state;
    compare_case(&(sac_case){.what = "hybrid, one critic", .C = 2, .D = 2, .nd = {3, 4}, .critics = 1});
}

static void test_discrete(void **state)
{
    (void)state;
    compare_case(&(sac_case){.what = "discrete", .D = 2, .nd = {3, 4}});
}

static void test_hybrid(void **state)
{
    (void)state;
    compare_case(&(sac_case){.what = "hybrid", .C = 2, .D = 2, .nd = {3, 4}});
}

static void test_hybrid_dropout_softmin_sigmoid(void **state)
{
    (void)state;
    compare_case(&(sac_case){.what = "hybrid, dropout, softmin, sigmoid σ", .C = 2, .D = 2, .nd = {3, 4},
                             .softmin = 1, .critic_dropout = 0.1f, .actor_dropout = 0.1f, .sigma = "sigmoid"});
}

/* The actor and temperature step on update 2 only (updates 1 and 3 replay
 * the recording without them). */
static void test_actor_every_2(void **state)
{
    (void)state;
    compare_case(&(sac_case){.what = "hybrid, actor every 2", .C = 2, .D = 2, .nd = {3, 4}, .actor_every = 2});
}

static void test_quantiled(void **state)
{
    (void)state;
    compare_case(&(sac_case){.what = "TQC continuous", .C = 2, .quantiled = 1, .M = 5, .frac = 0.8f});
}

static void test_quantiled_hybrid(void **state)
{
    (void)state;
    compare_case(&(sac_case){.what = "TQC hybrid, dropout", .C = 1, .D = 2, .nd = {3, 2}, .quantiled = 1, .M = 4,
                             .frac = 0.75f, .critic_dropout = 0.1f});
}

/* vksac_agent_q: the online critics in evaluation mode (dropout off) at
 * the batch's (s, a) against the reference MLP on the same parameters,
 * after a few updates so the critics differ from their initial weights. */
static void test_critic_values(void **state)
{
    (void)state;
    sac_case k = {.what = "TQC hybrid, dropout", .C = 1, .D = 2, .nd = {3, 2}, .quantiled = 1, .M = 4,
                  .frac = 0.75f, .critic_dropout = 0.1f};
    vksac_agent_config c = config_of(&k);
    rl_agent *a = make_agent(&c);
    set_rsmnorm(a);
    const rl_shape *s = &a->heads.shape;
    batch b;
    batch_make(&b, s, a->cfg.action_low, a->cfg.action_high);
    vksac_transitions t = transitions_of(&b);
    TH_OK(rl_agent_update_batch(a, &t));
    TH_OK(rl_agent_update_batch(a, &t));
    snapshot now;
    snapshot_take(a, &now);
    uint32_t Q = rl_critic_out(s), S = s->S, C = s->C;
    float *q = malloc((size_t)s->N * B * Q * sizeof *q);
    TH_OK(rl_agent_q(a, b.s, b.a, B, q));
    double *sn = malloc((size_t)B * S * sizeof *sn), *x = malloc((size_t)B * (S + C) * sizeof *x);
    double *y = malloc((size_t)B * Q * sizeof *y);
    ref_rsmnorm_forward(sn, b.sd, now.st.rsm_mean, now.st.rsm_var, B, S);
    for (uint32_t r = 0; r < B; r++) {
        memcpy(x + (size_t)r * (S + C), sn + (size_t)r * S, S * sizeof *x);
        memcpy(x + (size_t)r * (S + C) + S, b.ad + (size_t)r * C, C * sizeof *x);
    }
    for (uint32_t n = 0; n < s->N; n++) {
        ref_mlp m;
        ref_mlp_cfg mc = ref_mlp_of(&a->critic[n]->cfg);
        assert_int_equal(ref_mlp_init(&m, &mc), 0);
        ref_mlp_run(&m, now.st.critic[n], x, B, 0, 0, y, NULL, NULL, NULL);
        double err = 0, ref2 = 0;
        for (size_t i = 0; i < (size_t)B * Q; i++) {
            double d = q[n * (size_t)B * Q + i] - y[i];
            err += d * d;
            ref2 += y[i] * y[i];
        }
        print_message("critic %u: NMSE %.3g\n", n, err / ref2);
        assert_true(ref2 > 0 && err / ref2 < 1e-10);
    }
    float bad[B * 5];
    memcpy(bad, b.s, sizeof bad);
    bad[7] = NAN;
    assert_int_equal(rl_agent_q(a, bad, b.a, B, q), VKSAC_E_ARG);
    assert_non_null(strstr(vks_ctx_error(th.ctx), "state of row 2 is NaN"));
    free(q);
    free(sn);
    free(x);
    free(y);
    snapshot_free(&now, s->N);
    rl_agent_destroy(a);
}

int main(int argc, char **argv)
{
    if (th_parse_args(argc, argv, "sac") != 0)
        return 2;
    const struct CMUnitTest tests[] = {
        TH_TEST(test_continuous),
        TH_TEST(test_discrete),
        TH_TEST(test_one_critic),
        TH_TEST(test_hybrid),
        TH_TEST(test_hybrid_dropout_softmin_sigmoid),
        TH_TEST(test_actor_every_2),
        TH_TEST(test_quantiled),
        TH_TEST(test_quantiled_hybrid),
        TH_TEST(test_critic_values),
    };
    return cmocka_run_group_tests_name(th.group_name, tests, th_group_setup, th_group_teardown);
}
