/* The SAC reference's own checks, no device: every backward in sac_ref.c
 * against central finite differences in double, and sanity checks of the
 * noise, TQC truncation, softmin, counters and whole updates. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "reference/sac_ref.h"

#define FD_STEP 1e-6
#define FD_REL 1e-6
#define FD_ABS 1e-8

static uint64_t rng = 88172645463325252ull;

static double uniform(double lo, double hi)
{
    rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17; /* xorshift64 */
    return lo + (hi - lo) * (double)(rng >> 11) * 0x1p-53;
}

static double *darray(size_t n, double lo, double hi)
{
    double *p = calloc(n ? n : 1, sizeof *p);
    assert_non_null(p);
    for (size_t i = 0; i < n; i++)
        p[i] = uniform(lo, hi);
    return p;
}

static double *dcopy(const double *x, size_t n)
{
    double *p = darray(n, 0, 0);
    memcpy(p, x, n * sizeof *p);
    return p;
}

/* |analytic − numeric| within FD_REL relative plus FD_ABS absolute. */
static void check_fd(const char *what, size_t i, double analytic, double numeric)
{
    double err = fabs(analytic - numeric), tol = FD_REL * fmax(fabs(analytic), fabs(numeric)) + FD_ABS;
    if (!(err <= tol))
        fail_msg("%s[%zu]: analytic %.12g, numeric %.12g (err %.3g)", what, i, analytic, numeric, err);
}

static uint32_t n_logits(const ref_sac_cfg *c)
{
    uint32_t n = 0;
    for (uint32_t i = 0; i < c->D; i++)
        n += c->nd[i];
    return n;
}

static uint32_t q_width(const ref_sac_cfg *c)
{
    return c->M * ((c->C > 0) + n_logits(c));
}

/* A small config: hidden 4, depth 1, relu², dropout 0.1 everywhere, bounds
 * other than [−1, 1] from the second dimension on. M > 1 means TQC. */
static ref_sac_cfg make_cfg(uint32_t S, uint32_t C, uint32_t D, const uint32_t *nd, uint32_t N, uint32_t M)
{
    ref_sac_cfg c;
    memset(&c, 0, sizeof c);
    c.S = S, c.C = C, c.D = D, c.N = N, c.M = M, c.quantiled = M > 1;
    for (uint32_t i = 0; i < D; i++)
        c.nd[i] = nd[i], c.target_entropy_d[i] = 0.98 * log((double)nd[i]);
    for (uint32_t j = 0; j < C; j++)
        c.low[j] = -1.0 - 0.5 * j, c.high[j] = 1.0 + 0.25 * j;
    c.frac_atom_keep = 0.92, c.softmin_tau = 0.5, c.gamma = 0.99, c.reward_scale = 2.0;
    c.target_entropy_c = -(double)C, c.ema_beta = 0.995, c.actor_every = 1, c.rsmnorm = 1;
    ref_mlp_cfg m = {.in = S, .out = n_logits(&c) + 2 * C, .hidden = 4, .depth = 1, .expansion = 2,
                     .act = REF_NN_RELU2, .dropout = 0.1, .drop_seed = 0x1234};
    c.actor_mlp = m;
    m.in = S + C, m.out = q_width(&c);
    for (uint32_t n = 0; n < N; n++)
        c.critic_mlp[n] = m, c.critic_mlp[n].drop_seed = 0x5678 + n;
    ref_opt o = {.kind = REF_OPT_ADAM_ATAN2, .lr = 3e-4, .beta1 = 0.9, .beta2 = 0.99, .a = 1.27, .b = 1.0,
                 .eps = 1e-8, .regen = REF_REGEN_L2, .regen_lambda = 1e-4, .lr0 = 3e-4};
    c.actor_opt = c.critic_opt = c.alpha_opt = o;
    c.alpha_opt.regen = REF_REGEN_NONE;
    c.agent_key = 0x5AC0FFEEu ^ 7u;
    return c;
}

/* ---- agents and batches -------------------------------------------------- */

typedef struct agent {
    ref_sac_cfg cfg;
    ref_sac_state st;
    size_t na, nc;
} agent;

static void agent_init(agent *a, const ref_sac_cfg *cfg)
{
    ref_mlp am, cm;
    memset(a, 0, sizeof *a);
    a->cfg = *cfg;
    assert_int_equal(ref_sac_layout(cfg, &am, &cm), 0);
    a->na = am.size, a->nc = cm.size;
    ref_sac_state *s = &a->st;
    s->actor = darray(a->na, -0.6, 0.6), s->actor0 = dcopy(s->actor, a->na);
    s->actor_m = darray(a->na, 0, 0), s->actor_v = darray(a->na, 0, 0);
    for (uint32_t n = 0; n < cfg->N; n++) {
        s->critic[n] = darray(a->nc, -0.6, 0.6), s->critic0[n] = dcopy(s->critic[n], a->nc);
        s->critic_m[n] = darray(a->nc, 0, 0), s->critic_v[n] = darray(a->nc, 0, 0);
        s->target[n] = dcopy(s->critic[n], a->nc);
        for (size_t i = 0; i < a->nc; i++)
            s->target[n][i] += uniform(-0.05, 0.05);
    }
    s->rsm_mean = darray(cfg->S, -0.5, 0.5), s->rsm_var = darray(cfg->S, 0.5, 2.0);
    s->log_alpha = s->log_alpha0 = -0.5;
}

static void agent_free(agent *a)
{
    ref_sac_state *s = &a->st;
    free(s->actor), free(s->actor0), free(s->actor_m), free(s->actor_v);
    for (uint32_t n = 0; n < a->cfg.N; n++)
        free(s->critic[n]), free(s->critic0[n]), free(s->critic_m[n]), free(s->critic_v[n]), free(s->target[n]);
    free(s->rsm_mean), free(s->rsm_var);
}

typedef struct batch {
    ref_sac_batch b;
    double *s, *s1, *cont, *disc, *r, *done;
} batch;

static void batch_init(batch *x, const ref_sac_cfg *c, uint32_t B)
{
    x->s = darray((size_t)B * c->S, -2, 2), x->s1 = darray((size_t)B * c->S, -2, 2);
    x->cont = darray((size_t)B * c->C, 0, 0), x->disc = darray((size_t)B * c->D, 0, 0);
    x->r = darray(B, -1, 1), x->done = darray(B, 0, 0);
    for (uint32_t b = 0; b < B; b++) {
        for (uint32_t j = 0; j < c->C; j++)
            x->cont[b * c->C + j] = uniform(c->low[j], c->high[j]);
        for (uint32_t i = 0; i < c->D; i++)
            x->disc[b * c->D + i] = (double)(uint32_t)uniform(0, c->nd[i]);
        x->done[b] = b % 3 == 1;
    }
    x->b = (ref_sac_batch){B, x->s, x->s1, x->cont, x->disc, x->r, x->done};
}

static void batch_free(batch *x)
{
    free(x->s), free(x->s1), free(x->cont), free(x->disc), free(x->r), free(x->done);
}

/* ---- actor head ------------------------------------------------------------- */

/* L = Σ da·a + dl·log π_c + Σ dp·p + Σ dlogp·log p at h */
static double head_objective(const ref_sac_cfg *c, const double *h, const double *eps, const double *da, double dl,
                             const double *dp, const double *dlogp)
{
    uint32_t L = n_logits(c);
    double a[16], lp, p[64], logp[64], s = 0.0;
    ref_sac_actor_head(c, h, eps, a, NULL, &lp, p, logp);
    for (uint32_t j = 0; j < c->C; j++)
        s += da[j] * a[j];
    for (uint32_t k = 0; k < L; k++)
        s += dp[k] * p[k] + dlogp[k] * logp[k];
    return s + dl * lp;
}

static void check_head(const ref_sac_cfg *c, const double *h, const double *eps)
{
    uint32_t H = n_logits(c) + 2 * c->C;
    double da[16], dp[64], dlogp[64], dh[80], hp[80], dl = uniform(-1, 1);
    for (uint32_t k = 0; k < 16; k++)
        da[k] = uniform(-1, 1);
    for (uint32_t k = 0; k < 64; k++)
        dp[k] = uniform(-1, 1), dlogp[k] = uniform(-1, 1);
    ref_sac_actor_head_backward(c, h, eps, da, dl, dp, dlogp, dh);
    memcpy(hp, h, H * sizeof *hp);
    for (uint32_t k = 0; k < H; k++) {
        hp[k] = h[k] + FD_STEP;
        double up = head_objective(c, hp, eps, da, dl, dp, dlogp);
        hp[k] = h[k] - FD_STEP;
        double dn = head_objective(c, hp, eps, da, dl, dp, dlogp);
        hp[k] = h[k];
        check_fd("dh", k, dh[k], (up - dn) / (2 * FD_STEP));
    }
}

/* log π_c of SPEC.md §2 written directly: −(u−μ)²/(2σ²) − log σ − ½log 2π − log(1 − tanh²u) */
static double spec_logpi(const ref_sac_cfg *c, const double *h, const double *eps)
{
    uint32_t L = n_logits(c);
    double s = 0.0;
    for (uint32_t j = 0; j < c->C; j++) {
        double raw = h[L + c->C + j], mu = h[L + j];
        double sig = c->sigma_sigmoid ? fmax(1.0 / (1.0 + exp(-raw)), 1e-5) : exp(fmin(fmax(raw, -5), 2));
        double u = mu + sig * eps[j], t = tanh(u);
        s += -(u - mu) * (u - mu) / (2 * sig * sig) - log(sig) - 0.5 * log(2 * 3.14159265358979323846) - log(1 - t * t);
    }
    return s;
}

static void test_head_backward(void **state)
{
    (void)state;
    static const uint32_t nd[][2] = {{3, 2}, {2, 4}};
    struct { uint32_t C, D; int sigmoid; const uint32_t *nd; } cases[] = {
        {2, 0, 0, NULL}, {2, 0, 1, NULL}, {0, 2, 0, nd[0]}, {3, 2, 0, nd[1]}, {2, 1, 1, nd[0]}, {1, 1, 0, nd[1]},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        ref_sac_cfg c = make_cfg(3, cases[k].C, cases[k].D, cases[k].nd, 1, 1);
        c.sigma_sigmoid = cases[k].sigmoid;
        uint32_t L = n_logits(&c), C = c.C;
        for (int rep = 0; rep < 3; rep++) {
            double h[80], eps[16];
            for (uint32_t j = 0; j < L + C; j++)
                h[j] = uniform(-1.5, 1.5);
            for (uint32_t j = 0; j < C; j++)
                h[L + C + j] = c.sigma_sigmoid ? uniform(-3, 3) : uniform(-4.5, 1.5), eps[j] = uniform(-2, 2);
            if (rep == 2 && C >= 2) {   /* outside the clamp or below the sigmoid floor: zero gradient */
                h[L + C] = c.sigma_sigmoid ? -15.0 : 2.5;
                h[L + C + 1] = c.sigma_sigmoid ? -14.0 : -6.0;
            }
            check_head(&c, h, eps);
            check_head(&c, h, NULL);   /* deterministic */
            if (C) {
                double lp;
                ref_sac_actor_head(&c, h, eps, NULL, NULL, &lp, NULL, NULL);
                assert_true(fabs(lp - spec_logpi(&c, h, eps)) < 1e-6 * (1 + fabs(lp)));
            }
        }
    }
}

/* Bounds, u and the tanh-correction term on one hand-made row. */
static void test_head_values(void **state)
{
    (void)state;
    ref_sac_cfg c = make_cfg(3, 2, 0, NULL, 1, 1);
    c.low[0] = 2.0, c.high[0] = 6.0, c.low[1] = -3.0, c.high[1] = -1.0;
    double h[4] = {0.3, -0.7, 0.1, 5.0}, eps[2] = {0.5, -1.0}, a[2], u[2], lp, lp_notanh;
    ref_sac_actor_head(&c, h, eps, a, u, &lp, NULL, NULL);
    double s0 = exp(0.1), s1 = exp(2.0);   /* raw 5 is clamped to 2 */
    assert_true(fabs(u[0] - (0.3 + s0 * 0.5)) < 1e-12 && fabs(u[1] - (-0.7 - s1)) < 1e-12);
    assert_true(fabs(a[0] - (2.0 + 4.0 * (tanh(u[0]) + 1) / 2)) < 1e-12);
    assert_true(fabs(a[1] - (-3.0 + 2.0 * (tanh(u[1]) + 1) / 2)) < 1e-12);
    c.drop_term = REF_SAC_TERM_TANH_CORRECTION;
    ref_sac_actor_head(&c, h, eps, NULL, NULL, &lp_notanh, NULL, NULL);
    double corr = log(1 - tanh(u[0]) * tanh(u[0])) + log(1 - tanh(u[1]) * tanh(u[1]));
    assert_true(fabs(lp_notanh - lp - corr) < 1e-9);
}

/* ---- critic and actor losses --------------------------------------------- */

typedef struct loss_case { uint32_t C, D, N, M; int softmin; } loss_case;

static const uint32_t loss_nd[2] = {3, 2};
static const loss_case loss_cases[] = {
    {1, 2, 3, 1, 0}, {1, 2, 3, 1, 1}, {1, 2, 2, 4, 0}, {0, 2, 2, 1, 1}, {2, 0, 2, 5, 0}, {0, 1, 3, 3, 0},
    {2, 1, 1, 1, 1},
};

/* Random head outputs for B rows: log π_c, p and log p (a real softmax). */
static void random_head(const ref_sac_cfg *c, uint32_t B, double *lpc, double *p, double *logp)
{
    uint32_t L = n_logits(c);
    double h[80];
    for (uint32_t b = 0; b < B; b++) {
        for (uint32_t k = 0; k < L + 2 * c->C; k++)
            h[k] = uniform(-1, 1);
        double eps[16] = {0};
        ref_sac_actor_head(c, h, eps, NULL, NULL, lpc + b, p + (size_t)b * L, logp + (size_t)b * L);
    }
}

static void test_critic_loss_grad(void **state)
{
    (void)state;
    const uint32_t B = 5;
    for (size_t k = 0; k < sizeof loss_cases / sizeof loss_cases[0]; k++) {
        const loss_case *lc = &loss_cases[k];
        ref_sac_cfg c = make_cfg(3, lc->C, lc->D, loss_nd, lc->N, lc->M);
        c.softmin = lc->softmin;
        batch x;
        batch_init(&x, &c, B);
        uint32_t W = q_width(&c), L = n_logits(&c), K = ref_sac_kept_atoms(&c);
        double *qbar[8], *q[8], *dq[8], *lpc = darray(B, 0, 0), *p = darray(B * L, 0, 0), *logp = darray(B * L, 0, 0);
        double *yc = darray(B * K, 0, 0), *yd = darray(B * c.D * K, 0, 0), *scratch[8];
        for (uint32_t n = 0; n < c.N; n++)
            qbar[n] = darray(B * W, -3, 3), q[n] = darray(B * W, -3, 3), dq[n] = darray(B * W, 0, 0),
            scratch[n] = darray(B * W, 0, 0);
        random_head(&c, B, lpc, p, logp);
        ref_sac_target(&c, B, (const double *const *)qbar, lpc, p, logp, x.r, x.done, 0.7, yc, yd);
        ref_sac_critic_loss(&c, B, (const double *const *)q, x.disc, yc, yd, dq);
        for (uint32_t n = 0; n < c.N; n++)
            for (uint32_t i = 0; i < B * W; i++) {
                double v = q[n][i];
                q[n][i] = v + FD_STEP;
                double up = ref_sac_critic_loss(&c, B, (const double *const *)q, x.disc, yc, yd, scratch);
                q[n][i] = v - FD_STEP;
                double dn = ref_sac_critic_loss(&c, B, (const double *const *)q, x.disc, yc, yd, scratch);
                q[n][i] = v;
                check_fd("dq", n * B * W + i, dq[n][i], (up - dn) / (2 * FD_STEP));
            }
        for (uint32_t n = 0; n < c.N; n++)
            free(qbar[n]), free(q[n]), free(dq[n]), free(scratch[n]);
        free(lpc), free(p), free(logp), free(yc), free(yd);
        batch_free(&x);
    }
}

static double actor_loss_of(const ref_sac_cfg *c, uint32_t B, double *const *q, const double *lpc, const double *p,
                            const double *logp)
{
    return ref_sac_actor_loss(c, B, 0.7, (const double *const *)q, lpc, p, logp, NULL, NULL, NULL, NULL);
}

/* FD of the actor loss w.r.t. one variable *v, compared with g. */
static void check_actor_var(const ref_sac_cfg *c, uint32_t B, double *const *q, const double *lpc, const double *p,
                            const double *logp, double *v, double g, const char *what, size_t i)
{
    double v0 = *v;
    *v = v0 + FD_STEP;
    double up = actor_loss_of(c, B, q, lpc, p, logp);
    *v = v0 - FD_STEP;
    double dn = actor_loss_of(c, B, q, lpc, p, logp);
    *v = v0;
    check_fd(what, i, g, (up - dn) / (2 * FD_STEP));
}

static void test_actor_loss_grad(void **state)
{
    (void)state;
    const uint32_t B = 4;
    for (size_t k = 0; k < sizeof loss_cases / sizeof loss_cases[0]; k++) {
        const loss_case *lc = &loss_cases[k];
        ref_sac_cfg c = make_cfg(3, lc->C, lc->D, loss_nd, lc->N, lc->M);
        c.softmin = lc->softmin;
        uint32_t W = q_width(&c), L = n_logits(&c);
        double *q[8], *dq[8], *lpc = darray(B, 0, 0), *p = darray(B * L, 0, 0), *logp = darray(B * L, 0, 0);
        double *dlpc = darray(B, 0, 0), *dp = darray(B * L, 0, 0), *dlogp = darray(B * L, 0, 0);
        for (uint32_t n = 0; n < c.N; n++)
            q[n] = darray(B * W, -3, 3), dq[n] = darray(B * W, 0, 0);
        random_head(&c, B, lpc, p, logp);
        ref_sac_actor_loss(&c, B, 0.7, (const double *const *)q, lpc, p, logp, dq, dlpc, dp, dlogp);
        for (uint32_t n = 0; n < c.N; n++)
            for (uint32_t i = 0; i < B * W; i++)
                check_actor_var(&c, B, q, lpc, p, logp, &q[n][i], dq[n][i], "dq", n * B * W + i);
        for (uint32_t b = 0; b < B && c.C; b++)
            check_actor_var(&c, B, q, lpc, p, logp, &lpc[b], dlpc[b], "dlogp_c", b);
        for (uint32_t i = 0; i < B * L; i++) {
            check_actor_var(&c, B, q, lpc, p, logp, &p[i], dp[i], "dp", i);
            check_actor_var(&c, B, q, lpc, p, logp, &logp[i], dlogp[i], "dlogp", i);
        }
        for (uint32_t n = 0; n < c.N; n++)
            free(q[n]), free(dq[n]);
        free(lpc), free(p), free(logp), free(dlpc), free(dp), free(dlogp);
    }
}

/* ---- the whole actor step ---------------------------------------------------- */

static void check_actor_objective(const ref_sac_cfg *c)
{
    agent a;
    batch x;
    agent_init(&a, c);
    batch_init(&x, c, 3);
    const uint64_t counter = 5;
    double *g = darray(a.na, 0, 0), *scratch = NULL;
    ref_sac_actor_objective(c, &a.st, &x.b, counter, g);
    double gnorm = 0.0;
    for (size_t i = 0; i < a.na; i++) {
        double v = a.st.actor[i];
        a.st.actor[i] = v + FD_STEP;
        double up = ref_sac_actor_objective(c, &a.st, &x.b, counter, scratch);
        a.st.actor[i] = v - FD_STEP;
        double dn = ref_sac_actor_objective(c, &a.st, &x.b, counter, scratch);
        a.st.actor[i] = v;
        check_fd("dtheta_actor", i, g[i], (up - dn) / (2 * FD_STEP));
        gnorm += g[i] * g[i];
    }
    assert_true(gnorm > 1e-8);   /* the check is not vacuous */
    free(g);
    agent_free(&a);
    batch_free(&x);
}

static void test_actor_step_grad(void **state)
{
    (void)state;
    static const uint32_t nd[2] = {3, 2};
    ref_sac_cfg c = make_cfg(3, 2, 1, nd, 2, 1);   /* hybrid, plain, min */
    check_actor_objective(&c);
    c.softmin = 1;
    check_actor_objective(&c);
    c = make_cfg(3, 2, 2, nd, 2, 3);               /* hybrid TQC */
    check_actor_objective(&c);
    c = make_cfg(2, 3, 0, NULL, 3, 1);             /* continuous, sigmoid σ, no RSMNorm */
    c.sigma_sigmoid = 1, c.rsmnorm = 0;
    check_actor_objective(&c);
    c = make_cfg(3, 0, 2, nd, 2, 1);               /* discrete only */
    check_actor_objective(&c);
}

/* ---- sanity ------------------------------------------------------------------- */

static void test_normal_moments(void **state)
{
    (void)state;
    double s = 0.0, ss = 0.0;
    const uint32_t n = 20000;
    for (uint32_t i = 0; i < n; i++) {
        double e = ref_sac_normal(0x5AC0FFEEu, 2, i / 4, i % 4, 17);
        s += e, ss += e * e;
    }
    double mean = s / n, var = ss / n - mean * mean;
    assert_true(fabs(mean) < 0.03);
    assert_true(fabs(var - 1.0) < 0.05);
    /* different streams and counters give different draws */
    assert_true(ref_sac_normal(1, 2, 0, 0, 1) != ref_sac_normal(1, 3, 0, 0, 1));
    assert_true(ref_sac_normal(1, 2, 0, 0, 1) != ref_sac_normal(1, 2, 0, 0, 2));
    for (uint32_t b = 0; b < 1000; b++)
        assert_true(ref_sac_replay_index(99, b, 3, 37) < 37);
}

static void test_tqc_keeps_atoms(void **state)
{
    (void)state;
    uint32_t nd[1] = {2};
    ref_sac_cfg c = make_cfg(2, 1, 0, NULL, 2, 5);
    assert_int_equal(ref_sac_kept_atoms(&c), 9);   /* floor(0.92·10) */
    c.N = 5, c.M = 25;
    assert_int_equal(ref_sac_kept_atoms(&c), 115);
    c.N = 2;
    assert_int_equal(ref_sac_kept_atoms(&c), 46);  /* TQC's 2 of 25 dropped per critic */
    c.drop_term = REF_SAC_TERM_TQC_TRUNCATE;
    assert_int_equal(ref_sac_kept_atoms(&c), 50);
    c = make_cfg(2, 0, 0, NULL, 1, 1);
    assert_int_equal(ref_sac_kept_atoms(&c), 1);

    /* Targets are the lowest K pooled atoms, continuous part and a discrete
     * head alike (r = 0, γ = 1, α = 0, one-hot p'). */
    c = make_cfg(2, 1, 1, nd, 2, 5);
    c.gamma = 1.0;
    uint32_t W = q_width(&c), K = ref_sac_kept_atoms(&c);
    double q0[15], q1[15], *qbar[2] = {q0, q1}, lpc = 0.3, p[2] = {0, 1}, logp[2] = {-30, 0}, r = 0, done = 0;
    double yc[10], yd[10], all[10];
    for (uint32_t i = 0; i < W; i++)
        q0[i] = uniform(-5, 5), q1[i] = uniform(-5, 5);
    ref_sac_target(&c, 1, (const double *const *)qbar, &lpc, p, logp, &r, &done, 0.0, yc, yd);
    for (uint32_t part = 0; part < 3; part += 2) {   /* continuous, then head choice 1 */
        for (uint32_t m = 0; m < 5; m++)
            all[m] = q0[part * 5 + m], all[5 + m] = q1[part * 5 + m];
        for (uint32_t i = 0; i < 10; i++)   /* insertion sort */
            for (uint32_t j = i; j > 0 && all[j] < all[j - 1]; j--) {
                double t = all[j];
                all[j] = all[j - 1], all[j - 1] = t;
            }
        for (uint32_t j = 0; j < K; j++)
            assert_true(fabs((part ? yd[j] : yc[j]) - all[j]) < 1e-12);
    }
}

static void test_softmin_one_critic(void **state)
{
    (void)state;
    uint32_t nd[1] = {3};
    ref_sac_cfg c = make_cfg(2, 1, 1, nd, 1, 1);
    c.softmin = 1, c.gamma = 1.0, c.reward_scale = 1.0;
    double q[4] = {0.7, -1.2, 0.4, 2.5}, *qs[1] = {q}, lpc = 0.0, p[3] = {0.2, 0.5, 0.3}, logp[3], r = 0, done = 0;
    double yc, yd, dq[4], *dqs[1] = {dq}, dlpc, dp[3], dlogp[3];
    for (int i = 0; i < 3; i++)
        logp[i] = log(p[i]);
    ref_sac_target(&c, 1, (const double *const *)qs, &lpc, p, logp, &r, &done, 0.0, &yc, &yd);
    assert_true(fabs(yc - 0.7) < 1e-12);
    assert_true(fabs(yd - (0.2 * -1.2 + 0.5 * 0.4 + 0.3 * 2.5)) < 1e-12);
    ref_sac_actor_loss(&c, 1, 0.0, (const double *const *)qs, &lpc, p, logp, dqs, &dlpc, dp, dlogp);
    assert_true(fabs(dq[0] + 1.0) < 1e-12 && fabs(dq[2] + 0.5) < 1e-12);
    /* two critics, softmin lies between min and mean and tends to min as τ → 0 */
    double q2[4] = {0.2, -1.0, 0.0, 1.0}, *qq[2] = {q, q2};
    c.N = 2;
    ref_sac_target(&c, 1, (const double *const *)qq, &lpc, p, logp, &r, &done, 0.0, &yc, &yd);
    assert_true(yc > 0.2 && yc < 0.45);
    c.softmin_tau = 1e-3;
    ref_sac_target(&c, 1, (const double *const *)qq, &lpc, p, logp, &r, &done, 0.0, &yc, &yd);
    assert_true(fabs(yc - 0.2) < 1e-9);
}

static void test_counters(void **state)
{
    (void)state;
    uint32_t nd[1] = {3};
    ref_sac_cfg c = make_cfg(3, 1, 1, nd, 2, 1);
    c.actor_every = 2;
    agent a;
    batch x;
    agent_init(&a, &c);
    batch_init(&x, &c, 4);
    a.st.update = 10;   /* the counter as left by earlier updates */
    a.st.stats[1] = 1234.0;
    for (int k = 1; k <= 4; k++) {
        double la = a.st.log_alpha;
        assert_int_equal(ref_sac_update(&c, &a.st, &x.b), 0);
        assert_int_equal(a.st.update, 10 + k);
        assert_true(a.st.t_critic == k);
        assert_true(a.st.t_actor == (10 + k) / 2 - 5 && a.st.t_alpha == a.st.t_actor);
        if ((10 + k) % 2) {   /* no actor step: α and the actor statistics stay */
            assert_true(a.st.log_alpha == la);
            assert_true((a.st.stats[1] == 1234.0) == (k == 1));
        } else {
            assert_true(a.st.log_alpha != la);
        }
        assert_true(fabs(a.st.stats[2] - exp(a.st.log_alpha)) < 1e-15);
    }
    /* one bad config and one bad batch */
    ref_sac_cfg bad = c;
    bad.actor_mlp.out++;
    assert_int_equal(ref_sac_update(&bad, &a.st, &x.b), -1);
    x.disc[0] = 3.0;
    assert_int_equal(ref_sac_update(&c, &a.st, &x.b), -1);
    assert_int_equal(a.st.update, 14);
    agent_free(&a);
    batch_free(&x);
}

/* The first Adam-atan2 step on log α moves it by −lr·a·atan2(g, |g|) = ∓lr·1.27·π/4. */
static void test_temperature_step(void **state)
{
    (void)state;
    ref_sac_cfg c = make_cfg(3, 2, 0, NULL, 2, 1);
    agent a;
    batch x;
    agent_init(&a, &c);
    batch_init(&x, &c, 4);
    double la = a.st.log_alpha;
    assert_int_equal(ref_sac_update(&c, &a.st, &x.b), 0);
    double g = a.st.stats[5];
    assert_true(g != 0.0);
    assert_true(fabs(a.st.log_alpha - (la - 3e-4 * 1.27 * atan2(g, fabs(g)))) < 1e-14);
    /* stats[5] is −α·mean bracket with α before the step */
    agent_free(&a);
    batch_free(&x);
}

static int differs(const double *a, const double *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (a[i] != b[i])
            return 1;
    return 0;
}

static int all_finite(const double *a, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!isfinite(a[i]))
            return 0;
    return 1;
}

static void run_three_updates(const ref_sac_cfg *c)
{
    agent a;
    batch x;
    agent_init(&a, c);
    batch_init(&x, c, 6);
    double *actor = dcopy(a.st.actor, a.na), *critic[8], *target[8];
    for (uint32_t n = 0; n < c->N; n++)
        critic[n] = dcopy(a.st.critic[n], a.nc), target[n] = dcopy(a.st.target[n], a.nc);
    double la = a.st.log_alpha;
    for (int k = 0; k < 3; k++)
        assert_int_equal(ref_sac_update(c, &a.st, &x.b), 0);
    assert_true(all_finite(a.st.stats, 7) && all_finite(a.st.actor, a.na) && isfinite(a.st.log_alpha));
    assert_true(differs(actor, a.st.actor, a.na));
    assert_true(a.st.log_alpha != la);
    for (uint32_t n = 0; n < c->N; n++) {
        assert_true(all_finite(a.st.critic[n], a.nc) && all_finite(a.st.target[n], a.nc));
        assert_true(differs(critic[n], a.st.critic[n], a.nc));
        assert_true(differs(target[n], a.st.target[n], a.nc));
        free(critic[n]), free(target[n]);
    }
    free(actor);
    agent_free(&a);
    batch_free(&x);
}

static void test_hybrid_updates(void **state)
{
    (void)state;
    uint32_t nd[2] = {3, 2};
    ref_sac_cfg c = make_cfg(4, 2, 2, nd, 2, 1);
    run_three_updates(&c);
    c.softmin = 1;
    run_three_updates(&c);
    c = make_cfg(4, 2, 2, nd, 3, 5);   /* TQC */
    run_three_updates(&c);
}

/* Everything one update writes, flattened. */
static double *update_result(const ref_sac_cfg *c, int drop, size_t *n)
{
    ref_sac_cfg k = *c;
    k.drop_term = drop;
    agent a;
    batch x;
    uint64_t saved = rng;
    rng = 12345;   /* the same agent and batch every call */
    agent_init(&a, &k);
    batch_init(&x, &k, 5);
    rng = saved;
    assert_int_equal(ref_sac_update(&k, &a.st, &x.b), 0);
    *n = a.na + 2 * c->N * a.nc + 8;
    double *r = darray(*n, 0, 0), *o = r;
    memcpy(o, a.st.actor, a.na * sizeof *o), o += a.na;
    for (uint32_t i = 0; i < c->N; i++) {
        memcpy(o, a.st.critic[i], a.nc * sizeof *o), o += a.nc;
        memcpy(o, a.st.target[i], a.nc * sizeof *o), o += a.nc;
    }
    memcpy(o, a.st.stats, 7 * sizeof *o), o[7] = a.st.log_alpha;
    agent_free(&a);
    batch_free(&x);
    return r;
}

/* Each drop_term changes what one update computes. */
static void test_drop_terms(void **state)
{
    (void)state;
    uint32_t nd[2] = {3, 2};
    ref_sac_cfg plain = make_cfg(3, 2, 2, nd, 2, 1), tqc = make_cfg(3, 2, 2, nd, 2, 4);
    for (int t = 1; t < REF_SAC_TERM_COUNT; t++) {
        const ref_sac_cfg *c = t == REF_SAC_TERM_TQC_TRUNCATE || t == REF_SAC_TERM_TQC_ALL_PAIRS ? &tqc : &plain;
        size_t n, m;
        double *base = update_result(c, REF_SAC_TERM_NONE, &n), *got = update_result(c, t, &m);
        assert_int_equal(n, m);
        if (!differs(base, got, n))
            fail_msg("drop_term %d changes nothing", t);
        free(base), free(got);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_head_backward),   cmocka_unit_test(test_head_values),
        cmocka_unit_test(test_critic_loss_grad), cmocka_unit_test(test_actor_loss_grad),
        cmocka_unit_test(test_actor_step_grad), cmocka_unit_test(test_normal_moments),
        cmocka_unit_test(test_tqc_keeps_atoms), cmocka_unit_test(test_softmin_one_critic),
        cmocka_unit_test(test_counters),        cmocka_unit_test(test_temperature_step),
        cmocka_unit_test(test_hybrid_updates),  cmocka_unit_test(test_drop_terms),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
