/*
 * Reference SAC update (see sac_ref.h): SPEC.md §2–§4 with the layouts,
 * random streams and order of operations of docs/sac.md, in double
 * precision, as plain loops over the nn_ref.h / mlp_ref.h layers.
 *
 * Index conventions (docs/sac.md "Tensor layouts"):
 *   actor output row:  [logits (Σn) | μ (C) | raw scale (C)]
 *   critic output row: parts of M atoms, part 0 the continuous value (when
 *                      C > 0), then one part per (head i, choice d); atom m
 *                      of part k at column k·M + m.
 *   p, log p rows:     Σn values, head i at its logit offset.
 *   targets:           K per row and part (K = 1 for plain critics):
 *                      yc B×K, yd B×D×K (head i of row b at (b·D + i)·K).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "reference/sac_ref.h"

#define LOG_2 0.69314718055994530941723212145818
#define LOG_2PI 1.8378770664093454835606594728112
#define TWO_PI 6.283185307179586476925286766559

/* Noise streams and dropout stream bases of docs/sac.md. */
enum { STREAM_REPLAY = 1, STREAM_NOISE_NEXT = 2, STREAM_NOISE_ACTOR = 3 };
enum { BASE_CRITIC = 0, BASE_TARGET = 16, BASE_ACTOR_NEXT = 32, BASE_CRITIC_ACTOR = 48, BASE_ACTOR = 64 };

static double *alloc(size_t n)
{
    double *p = calloc(n ? n : 1, sizeof *p);
    if (!p)
        abort();   /* test-only code */
    return p;
}

static int dropped(const ref_sac_cfg *cfg, int term)
{
    return cfg->drop_term == term;
}

/* ---- sizes and columns ---------------------------------------------------- */

static uint32_t n_logits(const ref_sac_cfg *cfg)
{
    uint32_t n = 0;
    for (uint32_t i = 0; i < cfg->D; i++)
        n += cfg->nd[i];
    return n;
}

static uint32_t head_offset(const ref_sac_cfg *cfg, uint32_t i)
{
    uint32_t n = 0;
    for (uint32_t k = 0; k < i; k++)
        n += cfg->nd[k];
    return n;
}

/* Boundaries of the heads' segments within the logits (D + 1 values). */
static void head_bounds(const ref_sac_cfg *cfg, uint32_t *bounds)
{
    bounds[0] = 0;
    for (uint32_t i = 0; i < cfg->D; i++)
        bounds[i + 1] = bounds[i] + cfg->nd[i];
}

/* Critic output part of head i, choice d (the continuous part is 0). */
static uint32_t disc_part(const ref_sac_cfg *cfg, uint32_t i, uint32_t d)
{
    return (cfg->C > 0) + head_offset(cfg, i) + d;
}

static uint32_t q_width(const ref_sac_cfg *cfg)
{
    return cfg->M * ((cfg->C > 0) + n_logits(cfg));
}

static uint32_t h_width(const ref_sac_cfg *cfg)
{
    return n_logits(cfg) + 2 * cfg->C;
}

static int same_shape(const ref_mlp_cfg *a, const ref_mlp_cfg *b)
{
    return a->in == b->in && a->out == b->out && a->hidden == b->hidden && a->depth == b->depth &&
           a->expansion == b->expansion && a->act == b->act && a->final_norm == b->final_norm;
}

static int check_cfg(const ref_sac_cfg *cfg)
{
    if (cfg->S == 0 || cfg->C > 16 || cfg->D > REF_SAC_MAX_HEADS || cfg->C + cfg->D == 0)
        return -1;
    for (uint32_t i = 0; i < cfg->D; i++)
        if (cfg->nd[i] == 0)
            return -1;
    if (cfg->N == 0 || cfg->N > REF_SAC_MAX_CRITICS || cfg->M == 0 || (!cfg->quantiled && cfg->M != 1))
        return -1;
    if (cfg->actor_every == 0 || (cfg->softmin && !(cfg->softmin_tau > 0.0)))
        return -1;
    if (cfg->quantiled && !(cfg->frac_atom_keep > 0.0))
        return -1;
    if (cfg->actor_mlp.in != cfg->S || cfg->actor_mlp.out != h_width(cfg))
        return -1;
    if (cfg->critic_mlp[0].in != cfg->S + cfg->C || cfg->critic_mlp[0].out != q_width(cfg))
        return -1;
    for (uint32_t n = 1; n < cfg->N; n++)
        if (!same_shape(&cfg->critic_mlp[n], &cfg->critic_mlp[0]))
            return -1;
    return 0;
}

static int check_batch(const ref_sac_cfg *cfg, const ref_sac_batch *batch)
{
    if (batch->B == 0)
        return -1;
    for (uint32_t b = 0; b < batch->B; b++)
        for (uint32_t i = 0; i < cfg->D; i++) {
            double d = batch->disc[(size_t)b * cfg->D + i];
            if (!(d >= 0.0 && d < cfg->nd[i]))
                return -1;
        }
    return 0;
}

int ref_sac_layout(const ref_sac_cfg *cfg, ref_mlp *actor, ref_mlp *critic)
{
    if (check_cfg(cfg))
        return -1;
    if (actor && ref_mlp_init(actor, &cfg->actor_mlp))
        return -1;
    if (critic && ref_mlp_init(critic, &cfg->critic_mlp[0]))
        return -1;
    return 0;
}

/* A network laid out for one pass: its MLP config with the pass's stream base. */
static ref_mlp pass_net(const ref_mlp_cfg *cfg, uint32_t stream_base)
{
    ref_mlp m;
    ref_mlp_cfg c = *cfg;
    c.stream_base = stream_base;
    ref_mlp_init(&m, &c);
    return m;
}

/* ---- random numbers (docs/sac.md "Random numbers") ------------------------- */

/* Philox with key {key, stream} and counter {c0, c1, lo, hi} of counter. */
static void philox(uint32_t key, uint32_t stream, uint32_t c0, uint32_t c1, uint64_t counter, uint32_t w[4])
{
    uint32_t ctr[4] = {c0, c1, (uint32_t)(counter & 0xFFFFFFu), (uint32_t)(counter >> 24)};
    uint32_t k[2] = {key, stream};
    ref_philox4x32_10(ctr, k, w);
}

double ref_sac_normal(uint32_t key, uint32_t stream, uint32_t r, uint32_t j, uint64_t counter)
{
    uint32_t w[4];
    philox(key, stream, j, r, counter, w);
    double u1 = ldexp((double)((w[0] >> 8) + 1u), -24), u2 = ldexp((double)(w[1] >> 8), -24);
    return sqrt(-2.0 * log(u1)) * cos(TWO_PI * u2);
}

uint32_t ref_sac_replay_index(uint32_t key, uint32_t b, uint64_t counter, uint32_t size)
{
    uint32_t w[4];
    philox(key, STREAM_REPLAY, 0, b, counter, w);
    return (uint32_t)(((uint64_t)w[0] * size) >> 32);
}

/* ---- actor head (docs/sac.md "Actor head") --------------------------------- */

static double softplus(double x)
{
    return fmax(x, 0.0) + log1p(exp(-fabs(x)));
}

/* log(1 − tanh²u) in the stable form 2(log 2 − u − softplus(−2u)). */
static double log1m_tanh2(double u)
{
    return 2.0 * (LOG_2 - u - softplus(-2.0 * u));
}

/* σ from the raw scale, and dσ/draw in *dsigma: zero outside the clamp's
 * open interval (−5, 2), or where the sigmoid is at or below its floor. */
static double sigma_of(const ref_sac_cfg *cfg, double raw, double *dsigma)
{
    if (cfg->sigma_sigmoid) {
        double s = 1.0 / (1.0 + exp(-raw));
        *dsigma = s > 1e-5 ? s * (1.0 - s) : 0.0;
        return fmax(s, 1e-5);
    }
    double s = exp(fmin(fmax(raw, -5.0), 2.0));
    *dsigma = raw > -5.0 && raw < 2.0 ? s : 0.0;
    return s;
}

/* tanh u mapped from [−1, 1] to [low, high] of dimension j */
static double bounded(const ref_sac_cfg *cfg, uint32_t j, double u)
{
    return cfg->low[j] + (cfg->high[j] - cfg->low[j]) * (tanh(u) + 1.0) * 0.5;
}

void ref_sac_actor_head(const ref_sac_cfg *cfg, const double *h, const double *eps, double *a, double *u,
                        double *logp_c, double *p, double *logp)
{
    uint32_t L = n_logits(cfg), C = cfg->C, bounds[REF_SAC_MAX_HEADS + 1];
    double lp = 0.0;
    for (uint32_t j = 0; j < C; j++) {
        double ds, sigma = sigma_of(cfg, h[L + C + j], &ds), e = eps ? eps[j] : 0.0;
        double uj = h[L + j] + sigma * e;
        if (a)
            a[j] = bounded(cfg, j, uj);
        if (u)
            u[j] = uj;
        lp += -0.5 * e * e - log(sigma) - 0.5 * LOG_2PI;
        if (!dropped(cfg, REF_SAC_TERM_TANH_CORRECTION))
            lp -= log1m_tanh2(uj);
    }
    if (logp_c)
        *logp_c = lp;
    if (L) {
        head_bounds(cfg, bounds);
        ref_softmax_forward(p, logp, h, 1, L, bounds, cfg->D);
    }
}

/*
 * Backward of the head for one row, from the upstream gradients da (C),
 * dlogp_c, dp and dlogp (Σn; any pointer may be NULL for zero), into dh
 * (Σn + 2C). With u = μ + σε (ε fixed):
 *   ∂a/∂u = (high − low)/2·(1 − tanh²u),  ∂log π/∂u = 2 tanh u (the tanh term),
 *   ∂log π/∂σ = −1/σ (the −ε²/2 term is constant), ∂u/∂μ = 1, ∂u/∂σ = ε.
 */
void ref_sac_actor_head_backward(const ref_sac_cfg *cfg, const double *h, const double *eps, const double *da,
                                 double dlogp_c, const double *dp, const double *dlogp, double *dh)
{
    uint32_t L = n_logits(cfg), C = cfg->C, bounds[REF_SAC_MAX_HEADS + 1];
    for (uint32_t j = 0; j < C; j++) {
        double ds, sigma = sigma_of(cfg, h[L + C + j], &ds), e = eps ? eps[j] : 0.0;
        double t = tanh(h[L + j] + sigma * e);
        double gu = (da ? da[j] : 0.0) * 0.5 * (cfg->high[j] - cfg->low[j]) * (1.0 - t * t);
        if (!dropped(cfg, REF_SAC_TERM_TANH_CORRECTION))
            gu += dlogp_c * 2.0 * t;
        dh[L + j] = gu;
        dh[L + C + j] = (gu * e - dlogp_c / sigma) * ds;
    }
    if (L) {
        double *p = alloc(L);
        head_bounds(cfg, bounds);
        ref_softmax_forward(p, NULL, h, 1, L, bounds, cfg->D);
        ref_softmax_backward(dh, p, dp, dlogp, 1, L, bounds, cfg->D);
        free(p);
    }
}

/* The head over a batch: noise of the stream at the counter, then one
 * ref_sac_actor_head per row. */
typedef struct policy_sample {
    double *h, *eps, *a, *logp_c, *p, *logp;
} policy_sample;

static policy_sample sample_policy(const ref_sac_cfg *cfg, const double *theta, uint32_t stream_base,
                                   const double *x, uint32_t B, uint64_t counter, uint32_t noise_stream)
{
    uint32_t C = cfg->C, L = n_logits(cfg), H = h_width(cfg);
    ref_mlp net = pass_net(&cfg->actor_mlp, stream_base);
    policy_sample s = {alloc((size_t)B * H), alloc((size_t)B * C), alloc((size_t)B * C), alloc(B),
                       alloc((size_t)B * L), alloc((size_t)B * L)};
    ref_mlp_run(&net, theta, x, B, 1, counter, s.h, NULL, NULL, NULL);
    for (uint32_t r = 0; r < B; r++) {
        for (uint32_t j = 0; j < C; j++)
            s.eps[(size_t)r * C + j] = ref_sac_normal(cfg->agent_key, noise_stream, r, j, counter);
        ref_sac_actor_head(cfg, s.h + (size_t)r * H, s.eps + (size_t)r * C, s.a + (size_t)r * C, NULL,
                           s.logp_c + r, s.p + (size_t)r * L, s.logp + (size_t)r * L);
    }
    return s;
}

static void free_sample(policy_sample *s)
{
    free(s->h), free(s->eps), free(s->a), free(s->logp_c), free(s->p), free(s->logp);
}

/* ---- network inputs --------------------------------------------------------- */

/* RSMNorm(x) with the frozen statistics, or x itself when cfg->rsmnorm is 0. */
static double *state_input(const ref_sac_cfg *cfg, const ref_sac_state *st, const double *x, uint32_t B)
{
    double *y = alloc((size_t)B * cfg->S);
    if (cfg->rsmnorm)
        ref_rsmnorm_forward(y, x, st->rsm_mean, st->rsm_var, B, cfg->S);
    else
        memcpy(y, x, (size_t)B * cfg->S * sizeof *y);
    return y;
}

/* [sn | a_c] (B × (S + C)) */
static double *critic_input(const ref_sac_cfg *cfg, const double *sn, const double *a, uint32_t B)
{
    uint32_t S = cfg->S, C = cfg->C;
    double *x = alloc((size_t)B * (S + C));
    for (uint32_t b = 0; b < B; b++) {
        memcpy(x + (size_t)b * (S + C), sn + (size_t)b * S, S * sizeof *x);
        if (C)
            memcpy(x + (size_t)b * (S + C) + S, a + (size_t)b * C, C * sizeof *x);
    }
    return x;
}

/* Q^n (B×W) of every critic (params[n]) at x, training pass. */
static void critics_forward(const ref_sac_cfg *cfg, double *const *params, uint32_t stream_base, const double *x,
                            uint32_t B, uint64_t counter, double **q)
{
    for (uint32_t n = 0; n < cfg->N; n++) {
        ref_mlp net = pass_net(&cfg->critic_mlp[n], stream_base);
        q[n] = alloc((size_t)B * q_width(cfg));
        ref_mlp_run(&net, params[n], x, B, 1, counter, q[n], NULL, NULL, NULL);
    }
}

static void free_per_critic(const ref_sac_cfg *cfg, double **a)
{
    for (uint32_t n = 0; n < cfg->N; n++)
        free(a[n]);
}

/* ---- reductions over critics ------------------------------------------------ */

/* Reduction of q[k][idx] over critics k < n (plain critics): min, ties to
 * the lower k, or softmin Σ_k softmax(−q/τ)_k q_k. w (n), when non-NULL,
 * gets ∂/∂q_k: one-hot for min, w_k(1 − (q_k − result)/τ) for softmin. */
static double reduce_plain(const ref_sac_cfg *cfg, const double *const *q, uint32_t n, size_t idx, double *w)
{
    if (!cfg->softmin) {
        uint32_t best = 0;
        for (uint32_t k = 1; k < n; k++)
            if (q[k][idx] < q[best][idx])
                best = k;
        for (uint32_t k = 0; w && k < n; k++)
            w[k] = k == best;
        return q[best][idx];
    }
    double tau = cfg->softmin_tau, top = -INFINITY, z = 0.0, r = 0.0, e[REF_SAC_MAX_CRITICS];
    for (uint32_t k = 0; k < n; k++)
        top = fmax(top, -q[k][idx] / tau);
    for (uint32_t k = 0; k < n; k++)
        z += e[k] = exp(-q[k][idx] / tau - top);
    for (uint32_t k = 0; k < n; k++)
        r += e[k] / z * q[k][idx];
    for (uint32_t k = 0; w && k < n; k++)
        w[k] = e[k] / z * (1.0 - (q[k][idx] - r) / tau);
    return r;
}

/* Q̃ of the actor loss for the M atoms at idx (= row·W + part·M) of every
 * online critic: reduce_plain over the N critics, or for quantile critics
 * the mean of all N·M atoms. w (N·M, critic n atom m at n·M + m) gets ∂Q̃/∂q. */
static double reduce_online(const ref_sac_cfg *cfg, const double *const *q, size_t idx, double *w)
{
    if (!cfg->quantiled)
        return reduce_plain(cfg, q, cfg->N, idx, w);
    uint32_t NM = cfg->N * cfg->M;
    double s = 0.0;
    for (uint32_t n = 0; n < cfg->N; n++)
        for (uint32_t m = 0; m < cfg->M; m++) {
            s += q[n][idx + m] / NM;
            w[n * cfg->M + m] = 1.0 / NM;
        }
    return s;
}

/* ---- targets (critic step) -------------------------------------------------- */

/* Target critics taking part: all N, or critic 0 alone with TARGET_MIN dropped. */
static uint32_t target_critics(const ref_sac_cfg *cfg)
{
    return dropped(cfg, REF_SAC_TERM_TARGET_MIN) ? 1 : cfg->N;
}

uint32_t ref_sac_kept_atoms(const ref_sac_cfg *cfg)
{
    if (!cfg->quantiled)
        return 1;
    uint32_t pool = target_critics(cfg) * cfg->M;
    if (dropped(cfg, REF_SAC_TERM_TQC_TRUNCATE))
        return pool;
    /* floor(f·N·M); the 1e-9 guards products like 0.7·10 against rounding down */
    double k = floor(cfg->frac_atom_keep * pool + 1e-9);
    return k < 1.0 ? 1 : k > pool ? pool : (uint32_t)k;
}

static int cmp_double(const void *pa, const void *pb)
{
    double x = *(const double *)pa, y = *(const double *)pb;
    return (x > y) - (x < y);
}

/* The K target values of one part at idx (= row·W + part·M), before the
 * reward and entropy terms: the reduction over the target critics (plain),
 * or their pooled atoms sorted ascending, of which the first K are used
 * (TQC). z holds N·M values. */
static void target_atoms(const ref_sac_cfg *cfg, const double *const *qbar, size_t idx, double *z)
{
    uint32_t n = target_critics(cfg), M = cfg->M;
    if (!cfg->quantiled) {
        z[0] = reduce_plain(cfg, qbar, n, idx, NULL);
        return;
    }
    for (uint32_t k = 0; k < n; k++)
        for (uint32_t m = 0; m < M; m++)
            z[k * M + m] = qbar[k][idx + m];
    qsort(z, (size_t)n * M, sizeof *z, cmp_double);
}

void ref_sac_target(const ref_sac_cfg *cfg, uint32_t B, const double *const *qbar, const double *logp_c,
                    const double *p, const double *logp, const double *reward, const double *terminated,
                    double alpha, double *yc, double *yd)
{
    uint32_t K = ref_sac_kept_atoms(cfg), L = n_logits(cfg), W = q_width(cfg), M = cfg->M, D = cfg->D;
    double k = dropped(cfg, REF_SAC_TERM_REWARD_SCALE) ? 1.0 : cfg->reward_scale;
    double gamma = dropped(cfg, REF_SAC_TERM_DISCOUNT) ? 1.0 : cfg->gamma;
    double ent = dropped(cfg, REF_SAC_TERM_TARGET_ENTROPY) ? 0.0 : alpha;
    double *z = alloc((size_t)cfg->N * M);
    for (uint32_t b = 0; b < B; b++) {
        double base = k * reward[b];
        double boot = gamma * (dropped(cfg, REF_SAC_TERM_DONE_MASK) ? 1.0 : 1.0 - terminated[b]);
        if (cfg->C) {
            target_atoms(cfg, qbar, (size_t)b * W, z);
            for (uint32_t j = 0; j < K; j++)
                yc[(size_t)b * K + j] = base + boot * (z[j] - ent * logp_c[b]);
        }
        for (uint32_t i = 0; i < D; i++) {
            double *y = yd + ((size_t)b * D + i) * K;
            for (uint32_t j = 0; j < K; j++)
                y[j] = base;
            for (uint32_t d = 0; d < cfg->nd[i]; d++) {
                size_t c = (size_t)b * L + head_offset(cfg, i) + d;
                target_atoms(cfg, qbar, (size_t)b * W + (size_t)disc_part(cfg, i, d) * M, z);
                for (uint32_t j = 0; j < K; j++)
                    y[j] += boot * p[c] * (z[j] - ent * logp[c]);
            }
        }
    }
    free(z);
}

/* ---- critic loss ------------------------------------------------------------ */

static double huber(double u)
{
    return fabs(u) <= 1.0 ? 0.5 * u * u : fabs(u) - 0.5;
}

static double huber_slope(double u)
{
    return fabs(u) <= 1.0 ? u : (u > 0.0 ? 1.0 : -1.0);
}

/* The loss of one part of one critic at one row, times w: the squared error
 * (θ − y)² (plain), or the mean over atoms m and targets j of
 * |τ_m − 1{u < 0}|·huber(u), u = y_j − θ_m, τ_m = (2m + 1)/(2M) (TQC; with
 * TQC_ALL_PAIRS dropped only the pairs j = m). dtheta (M) += its gradient. */
static double part_loss(const ref_sac_cfg *cfg, const double *theta, const double *y, uint32_t K, double w,
                        double *dtheta)
{
    if (!cfg->quantiled) {
        double e = theta[0] - y[0];
        dtheta[0] += w * 2.0 * e;
        return w * e * e;
    }
    uint32_t M = cfg->M;
    int diagonal = dropped(cfg, REF_SAC_TERM_TQC_ALL_PAIRS);
    double c = w / (diagonal ? (K < M ? K : M) : (double)K * M), loss = 0.0;
    for (uint32_t j = 0; j < K; j++)
        for (uint32_t m = 0; m < M; m++) {
            if (diagonal && m != j)
                continue;
            double u = y[j] - theta[m], wt = fabs((2.0 * m + 1.0) / (2.0 * M) - (u < 0.0));
            loss += c * wt * huber(u);
            dtheta[m] -= c * wt * huber_slope(u);
        }
    return loss;
}

double ref_sac_critic_loss(const ref_sac_cfg *cfg, uint32_t B, const double *const *q, const double *disc,
                           const double *yc, const double *yd, double *const *dq)
{
    uint32_t K = ref_sac_kept_atoms(cfg), W = q_width(cfg), M = cfg->M, D = cfg->D;
    int discrete = !dropped(cfg, REF_SAC_TERM_CRITIC_DISCRETE);
    double loss = 0.0;
    for (uint32_t n = 0; n < cfg->N; n++) {
        memset(dq[n], 0, (size_t)B * W * sizeof *dq[n]);
        for (uint32_t b = 0; b < B; b++) {
            size_t row = (size_t)b * W;
            if (cfg->C)
                loss += part_loss(cfg, q[n] + row, yc + (size_t)b * K, K, 1.0 / B, dq[n] + row);
            for (uint32_t i = 0; discrete && i < D; i++) {
                size_t col = row + (size_t)disc_part(cfg, i, (uint32_t)disc[(size_t)b * D + i]) * M;
                loss += part_loss(cfg, q[n] + col, yd + ((size_t)b * D + i) * K, K, 1.0 / B, dq[n] + col);
            }
        }
    }
    return loss;
}

/* ---- actor loss and temperature --------------------------------------------- */

double ref_sac_actor_loss(const ref_sac_cfg *cfg, uint32_t B, double alpha, const double *const *q,
                          const double *logp_c, const double *p, const double *logp, double *const *dq,
                          double *dlogp_c, double *dp, double *dlogp)
{
    uint32_t W = q_width(cfg), L = n_logits(cfg), M = cfg->M, N = cfg->N;
    double alpha_c = dropped(cfg, REF_SAC_TERM_ACTOR_ENTROPY) ? 0.0 : alpha, loss = 0.0, inv = 1.0 / B;
    double *wq = alloc((size_t)N * M);
    if (dq)
        for (uint32_t n = 0; n < N; n++)
            memset(dq[n], 0, (size_t)B * W * sizeof *dq[n]);
    if (dp)
        memset(dp, 0, (size_t)B * L * sizeof *dp), memset(dlogp, 0, (size_t)B * L * sizeof *dlogp);
    for (uint32_t b = 0; b < B; b++) {
        if (cfg->C) {
            double qc = reduce_online(cfg, q, (size_t)b * W, wq);
            loss += inv * (alpha_c * logp_c[b] - qc);
            if (dq) {
                dlogp_c[b] = inv * alpha_c;
                for (uint32_t k = 0; k < N * M; k++)
                    dq[k / M][(size_t)b * W + k % M] -= inv * wq[k];
            }
        }
        for (uint32_t i = 0; i < cfg->D && !dropped(cfg, REF_SAC_TERM_ACTOR_DISCRETE); i++)
            for (uint32_t d = 0; d < cfg->nd[i]; d++) {
                size_t c = (size_t)b * L + head_offset(cfg, i) + d;
                size_t col = (size_t)b * W + (size_t)disc_part(cfg, i, d) * M;
                double qd = reduce_online(cfg, q, col, wq);
                loss += inv * p[c] * (alpha * logp[c] - qd);
                if (!dq)
                    continue;
                dp[c] = inv * (alpha * logp[c] - qd);
                dlogp[c] = inv * alpha * p[c];
                for (uint32_t k = 0; k < N * M; k++)
                    dq[k / M][col + k % M] -= inv * p[c] * wq[k];
            }
    }
    free(wq);
    return loss;
}

/* mean_B of the temperature bracket (log π_c + H̄_c) + Σ_i Σ_d p_i(d)(log p_i(d) + H̄_i) */
static double temperature_bracket(const ref_sac_cfg *cfg, uint32_t B, const double *logp_c, const double *p,
                                  const double *logp)
{
    int targets = !dropped(cfg, REF_SAC_TERM_TEMP_TARGET);
    uint32_t L = n_logits(cfg);
    double s = 0.0;
    for (uint32_t b = 0; b < B; b++) {
        if (cfg->C)
            s += logp_c[b] + (targets ? cfg->target_entropy_c : 0.0);
        for (uint32_t i = 0; i < cfg->D; i++)
            for (uint32_t d = 0; d < cfg->nd[i]; d++) {
                size_t c = (size_t)b * L + head_offset(cfg, i) + d;
                s += p[c] * (logp[c] + (targets ? cfg->target_entropy_d[i] : 0.0));
            }
    }
    return s / B;
}

double ref_sac_temperature_grad(const ref_sac_cfg *cfg, uint32_t B, double alpha, const double *logp_c,
                                const double *p, const double *logp)
{
    return -alpha * temperature_bracket(cfg, B, logp_c, p, logp);
}

/* −mean_B log π_c − Σ_i mean_B Σ_d p log p */
static double entropy_estimate(const ref_sac_cfg *cfg, uint32_t B, const policy_sample *s)
{
    uint32_t L = n_logits(cfg);
    double e = 0.0;
    for (uint32_t b = 0; b < B; b++) {
        e -= cfg->C ? s->logp_c[b] : 0.0;
        for (uint32_t c = 0; c < L; c++)
            e -= s->p[(size_t)b * L + c] * s->logp[(size_t)b * L + c];
    }
    return e / B;
}

/* ---- critic step ------------------------------------------------------------- */

/* stats[3]: mean over rows and critics of the online Q_c, or of the chosen
 * Q of head 1 when C = 0, atoms averaged. */
static double mean_q(const ref_sac_cfg *cfg, const ref_sac_batch *batch, const double *const *q)
{
    uint32_t W = q_width(cfg), M = cfg->M, B = batch->B;
    double s = 0.0;
    for (uint32_t n = 0; n < cfg->N; n++)
        for (uint32_t b = 0; b < B; b++) {
            uint32_t part = cfg->C ? 0 : disc_part(cfg, 0, (uint32_t)batch->disc[(size_t)b * cfg->D]);
            for (uint32_t m = 0; m < M; m++)
                s += q[n][(size_t)b * W + (size_t)part * M + m];
        }
    return s / ((double)cfg->N * B * M);
}

/* stats[6]: mean target of the continuous part, or of head 1 when C = 0. */
static double mean_target(const ref_sac_cfg *cfg, uint32_t B, const double *yc, const double *yd)
{
    uint32_t K = ref_sac_kept_atoms(cfg);
    double s = 0.0;
    for (uint32_t b = 0; b < B; b++)
        for (uint32_t j = 0; j < K; j++)
            s += cfg->C ? yc[(size_t)b * K + j] : yd[(size_t)b * cfg->D * K + j];
    return s / ((double)B * K);
}

/* docs/sac.md step 2: next action at s', targets, critic loss, one
 * optimiser step per critic with the shared count t_critic + 1. */
static void critic_step(const ref_sac_cfg *cfg, ref_sac_state *st, const ref_sac_batch *batch, const double *sn,
                        const double *sn1, uint64_t counter)
{
    uint32_t B = batch->B, K = ref_sac_kept_atoms(cfg), W = q_width(cfg);
    double alpha = exp(st->log_alpha), *qbar[REF_SAC_MAX_CRITICS], *q[REF_SAC_MAX_CRITICS];
    double *dq[REF_SAC_MAX_CRITICS];
    const double *actor_at = dropped(cfg, REF_SAC_TERM_NEXT_ACTION) ? sn : sn1;
    policy_sample next = sample_policy(cfg, st->actor, BASE_ACTOR_NEXT, actor_at, B, counter, STREAM_NOISE_NEXT);
    double *xn = critic_input(cfg, sn1, next.a, B), *x = critic_input(cfg, sn, batch->cont, B);
    double *yc = alloc((size_t)B * K), *yd = alloc((size_t)B * cfg->D * K);

    critics_forward(cfg, st->target, BASE_TARGET, xn, B, counter, qbar);
    ref_sac_target(cfg, B, (const double *const *)qbar, next.logp_c, next.p, next.logp, batch->reward,
                   batch->terminated, alpha, yc, yd);
    critics_forward(cfg, st->critic, BASE_CRITIC, x, B, counter, q);
    for (uint32_t n = 0; n < cfg->N; n++)
        dq[n] = alloc((size_t)B * W);
    st->stats[0] = ref_sac_critic_loss(cfg, B, (const double *const *)q, batch->disc, yc, yd, dq);
    st->stats[3] = mean_q(cfg, batch, (const double *const *)q);
    st->stats[6] = mean_target(cfg, B, yc, yd);

    for (uint32_t n = 0; n < cfg->N; n++) {
        ref_mlp net = pass_net(&cfg->critic_mlp[n], BASE_CRITIC);
        double *grad = alloc(net.size);
        ref_mlp_run(&net, st->critic[n], x, B, 1, counter, q[n], dq[n], grad, NULL);
        ref_opt_step(&cfg->critic_opt, st->critic[n], grad, st->critic_m[n], st->critic_v[n], st->critic0[n],
                     net.span, net.ntensors, st->t_critic + 1.0);
        free(grad);
    }
    st->t_critic += 1.0;

    free_per_critic(cfg, qbar), free_per_critic(cfg, q), free_per_critic(cfg, dq);
    free_sample(&next), free(xn), free(x), free(yc), free(yd);
}

/* ---- actor step ---------------------------------------------------------------- */

/* ∂L/∂a_c (B×C): the critics' input gradient (columns S..S+C of dx) summed
 * over critics; their parameter gradients are computed and discarded. */
static void action_gradient(const ref_sac_cfg *cfg, const ref_sac_state *st, const double *x, uint32_t B,
                            uint64_t counter, double *const *q, double *const *dq, double *da)
{
    uint32_t S = cfg->S, C = cfg->C;
    double *dx = alloc((size_t)B * (S + C));
    for (uint32_t n = 0; n < cfg->N; n++) {
        ref_mlp net = pass_net(&cfg->critic_mlp[n], BASE_CRITIC_ACTOR);
        double *discard = alloc(net.size);
        ref_mlp_run(&net, st->critic[n], x, B, 1, counter, q[n], dq[n], discard, dx);
        for (uint32_t b = 0; b < B; b++)
            for (uint32_t j = 0; j < C; j++)
                da[(size_t)b * C + j] += dx[(size_t)b * (S + C) + S + j];
        free(discard);
    }
    free(dx);
}

/* The actor loss at st->actor from the normalised states sn, and with grad
 * non-NULL its gradient w.r.t. the actor parameters; the head's sample is
 * left in *out (freed here when out is NULL). */
static double actor_pass(const ref_sac_cfg *cfg, const ref_sac_state *st, const double *sn, uint32_t B,
                         uint64_t counter, double *grad, policy_sample *out)
{
    uint32_t C = cfg->C, L = n_logits(cfg), H = h_width(cfg), W = q_width(cfg);
    double alpha = exp(st->log_alpha), *q[REF_SAC_MAX_CRITICS], *dq[REF_SAC_MAX_CRITICS];
    policy_sample s = sample_policy(cfg, st->actor, BASE_ACTOR, sn, B, counter, STREAM_NOISE_ACTOR);
    double *x = critic_input(cfg, sn, s.a, B);
    double *dlogp_c = alloc(B), *dp = alloc((size_t)B * L), *dlogp = alloc((size_t)B * L);
    double *da = alloc((size_t)B * C), *dh = alloc((size_t)B * H);

    critics_forward(cfg, st->critic, BASE_CRITIC_ACTOR, x, B, counter, q);
    for (uint32_t n = 0; n < cfg->N; n++)
        dq[n] = alloc((size_t)B * W);
    double loss = ref_sac_actor_loss(cfg, B, alpha, (const double *const *)q, s.logp_c, s.p, s.logp, dq, dlogp_c,
                                     dp, dlogp);
    if (grad) {
        if (C)
            action_gradient(cfg, st, x, B, counter, q, dq, da);
        for (uint32_t r = 0; r < B; r++)
            ref_sac_actor_head_backward(cfg, s.h + (size_t)r * H, s.eps + (size_t)r * C, da + (size_t)r * C,
                                        dlogp_c[r], dp + (size_t)r * L, dlogp + (size_t)r * L, dh + (size_t)r * H);
        ref_mlp net = pass_net(&cfg->actor_mlp, BASE_ACTOR);
        ref_mlp_run(&net, st->actor, sn, B, 1, counter, s.h, dh, grad, NULL);
    }

    free_per_critic(cfg, q), free_per_critic(cfg, dq);
    free(x), free(dlogp_c), free(dp), free(dlogp), free(da), free(dh);
    if (out)
        *out = s;
    else
        free_sample(&s);
    return loss;
}

double ref_sac_actor_objective(const ref_sac_cfg *cfg, const ref_sac_state *st, const ref_sac_batch *batch,
                               uint64_t counter, double *grad)
{
    double *sn = state_input(cfg, st, batch->states, batch->B);
    double loss = actor_pass(cfg, st, sn, batch->B, counter, grad, NULL);
    free(sn);
    return loss;
}

/* docs/sac.md step 4: ∂J/∂log α = −α·mean_B[bracket] with α and the log
 * probabilities of the actor step's forward pass; one step with t_alpha + 1. */
static void temperature_step(const ref_sac_cfg *cfg, ref_sac_state *st, uint32_t B, double alpha,
                             const policy_sample *s)
{
    double g = ref_sac_temperature_grad(cfg, B, alpha, s->logp_c, s->p, s->logp);
    ref_tensor_span span = {0, 1};
    ref_opt_step(&cfg->alpha_opt, &st->log_alpha, &g, &st->log_alpha_m, &st->log_alpha_v, &st->log_alpha0, &span,
                 1, st->t_alpha + 1.0);
    st->t_alpha += 1.0;
    st->stats[5] = g;   /* J = −α·mean_B[bracket] has the same value as its gradient */
}

/* docs/sac.md steps 3 and 4: actor loss through the just-updated critics,
 * one actor step with t_actor + 1, then the temperature step. */
static void actor_step(const ref_sac_cfg *cfg, ref_sac_state *st, const double *sn, uint32_t B, uint64_t counter)
{
    double alpha = exp(st->log_alpha);
    ref_mlp net = pass_net(&cfg->actor_mlp, BASE_ACTOR);
    double *grad = alloc(net.size);
    policy_sample s;
    st->stats[1] = actor_pass(cfg, st, sn, B, counter, grad, &s);
    ref_opt_step(&cfg->actor_opt, st->actor, grad, st->actor_m, st->actor_v, st->actor0, net.span, net.ntensors,
                 st->t_actor + 1.0);
    st->t_actor += 1.0;
    st->stats[4] = entropy_estimate(cfg, B, &s);
    temperature_step(cfg, st, B, alpha, &s);
    free_sample(&s);
    free(grad);
}

/* ---- one update ---------------------------------------------------------------- */

static void target_ema(const ref_sac_cfg *cfg, ref_sac_state *st)
{
    if (dropped(cfg, REF_SAC_TERM_EMA))
        return;
    for (uint32_t n = 0; n < cfg->N; n++) {
        ref_mlp net = pass_net(&cfg->critic_mlp[n], 0);
        ref_ema(st->target[n], st->critic[n], net.size, cfg->ema_beta);
    }
}

int ref_sac_update(const ref_sac_cfg *cfg, ref_sac_state *st, const ref_sac_batch *batch)
{
    if (check_cfg(cfg) || check_batch(cfg, batch))
        return -1;
    uint64_t counter = ++st->update;
    double *sn = state_input(cfg, st, batch->states, batch->B);
    double *sn1 = state_input(cfg, st, batch->next_states, batch->B);
    critic_step(cfg, st, batch, sn, sn1, counter);
    if (counter % cfg->actor_every == 0)
        actor_step(cfg, st, sn, batch->B, counter);
    target_ema(cfg, st);
    st->stats[2] = exp(st->log_alpha);
    free(sn), free(sn1);
    return 0;
}
