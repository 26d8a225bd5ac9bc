/* The optimisers (src/nn/optim.c) against ref_opt_step in double: every
 * kind × regeneration × clipping, each term shown to matter at the
 * tolerance, replays within one submit, zero_grad, the tick and its carry,
 * set_lr, the target EMA, steps by parts and configuration errors.
 *
 * Tolerance: NMSE ≤ 1e-10 on each of θ, m and v. The device computes in
 * fp32 (θ, m, v rounded at ~6e-8 relative per operation, so NMSE ~1e-14;
 * the clipping norm is an fp32 sum of ~4k squares, relative error ≲ 1e-6,
 * which scales m and v: NMSE ≲ 1e-12; pow and atan are approximations but
 * enter θ only through a step of size lr). Measured on lavapipe: worst
 * 1e-14; dropping any one term moves the result by at least 1e-6 (asserted
 * per term and step below), so 1e-10 has four orders of magnitude on
 * either side.
 *
 * Hyperparameters are picked so every term is visible: lr 1e-2, λ 0.5 and θ
 * written apart from θ₀ (so regeneration moves θ by ~lr·λ, or half-way for
 * Wasserstein), b 2 (so that "b" is not its neutral 1), weight decay 0.1,
 * and a clipping norm a quarter of ‖g‖. */
#include "harness.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn/nn.h"
#include "reference/nn_ref.h"

#define TOL 1e-10

typedef struct shape { const char *name; uint32_t rows, cols; } shape;

/* Awkward shapes: rows not a multiple of 4 floats, a single column, one
 * tensor larger than a bitonic block; 1104 vec4s in all, which the 62
 * clipping chunks of 18 do not divide. */
static const shape big_shapes[] = {{"w1", 7, 13}, {"b1", 1, 5}, {"w2", 65, 64}, {"b2", 3, 1}};
/* Small tensors for comparisons over several steps: the device and the
 * reference drift apart by ~1e-8 per step, which could swap the ranks of
 * two θ values that close; with a few hundred values per tensor such a
 * near-tie is improbable (with 4096 it is likely). */
static const shape small_shapes[] = {{"w1", 7, 13}, {"b1", 1, 5}, {"w2", 16, 20}, {"b2", 3, 1}};
#define NSHAPES 4

/* A parameter set and its dense layout for the reference. */
typedef struct setup {
    nn_params *p;
    size_t n;                           /* dense elements */
    ref_tensor_span spans[NSHAPES];
    uint8_t *real;                      /* per flat slot: 1 for a tensor element */
} setup;

/* Dense host copies of the device state. */
typedef struct opt_state { double *theta, *grad, *m, *v, *theta0; } opt_state;

static setup setup_create(const shape *shapes, uint64_t seed)
{
    nn_param ps[NSHAPES];
    memset(ps, 0, sizeof ps);
    for (int i = 0; i < NSHAPES; i++) {
        snprintf(ps[i].name, sizeof ps[i].name, "%s", shapes[i].name);
        ps[i].rows = shapes[i].rows;
        ps[i].cols = shapes[i].cols;
    }
    setup s = {0};
    TH_OK(nn_params_create(th.ctx, ps, NSHAPES, &s.p));
    s.n = nn_params_dense_size(s.p);
    s.real = calloc(s.p->total, 1);
    assert_non_null(s.real);
    size_t at = 0;
    for (uint32_t i = 0; i < NSHAPES; i++) {
        const nn_param *t = &s.p->param[i];
        s.spans[i] = (ref_tensor_span){at, (size_t)t->rows * t->cols};
        at += s.spans[i].n;
        for (uint32_t r = 0; r < t->rows; r++)
            memset(s.real + t->offset + (size_t)r * ((t->cols + 3u) & ~3u), 1, t->cols);
    }
    /* θ₀ from nn_params_init, then θ moved away from it, so regeneration
     * has a gap to close from the first step. */
    float *h = th_rand(s.n, seed);
    TH_OK(nn_params_init(s.p, h));
    th_rand_fill(h, s.n, seed + 1);
    /* The first tensor on a grid of quarters: tied values, whose ranks the
     * index must break the same way on both sides. */
    for (size_t i = 0; i < s.spans[0].n; i++)
        h[i] = roundf(4.0f * h[i]) / 4.0f;
    TH_OK(nn_params_write(s.p, NN_THETA, h));
    free(h);
    return s;
}

static void setup_destroy(setup *s)
{
    nn_params_destroy(s->p);
    free(s->real);
}

static void write_grads(setup *s, uint64_t seed)
{
    float *g = th_rand(s->n, seed);
    TH_OK(nn_params_write(s->p, NN_GRAD, g));
    free(g);
}

/* Dense doubles of a role's flat buffer; 0 (and a message) unless every
 * slot that is not a tensor element, padding and alignment gaps, is 0. */
static int read_role(const setup *s, int role, double *dst)
{
    float *raw = malloc(s->p->total * sizeof *raw);
    assert_non_null(raw);
    TH_OK(vks_tensor_read_padded(s->p->flat[role], raw));
    int ok = 1;
    size_t k = 0;
    for (uint64_t i = 0; i < s->p->total; i++) {
        if (s->real[i])
            dst[k++] = raw[i];
        else if (raw[i] != 0.0f && ok) {
            print_error("role %d: flat slot %llu outside the tensors holds %g, not 0\n", role,
                        (unsigned long long)i, (double)raw[i]);
            ok = 0;
        }
    }
    free(raw);
    return ok;
}

static opt_state state_alloc(size_t n)
{
    opt_state st = {calloc(n, 8), calloc(n, 8), calloc(n, 8), calloc(n, 8), calloc(n, 8)};
    assert_true(st.theta && st.grad && st.m && st.v && st.theta0);
    return st;
}

static void state_free(opt_state *st)
{
    free(st->theta), free(st->grad), free(st->m), free(st->v), free(st->theta0);
}

static void state_copy(opt_state *dst, const opt_state *src, size_t n)
{
    memcpy(dst->theta, src->theta, n * 8);
    memcpy(dst->grad, src->grad, n * 8);
    memcpy(dst->m, src->m, n * 8);
    memcpy(dst->v, src->v, n * 8);
    memcpy(dst->theta0, src->theta0, n * 8);
}

static int state_read(const setup *s, opt_state *st)
{
    int ok = read_role(s, NN_THETA, st->theta);
    ok &= read_role(s, NN_GRAD, st->grad);
    ok &= read_role(s, NN_M, st->m);
    ok &= read_role(s, NN_V, st->v);
    ok &= read_role(s, NN_THETA0, st->theta0);
    return ok;
}

static double nmse(const double *got, const double *ref, size_t n)
{
    double err = 0.0, norm = 0.0;
    for (size_t i = 0; i < n; i++) {
        err += (got[i] - ref[i]) * (got[i] - ref[i]);
        norm += ref[i] * ref[i];
    }
    return err / fmax(norm, 1e-30);
}

/* The largest NMSE of θ, m and v. */
static double distance(const opt_state *got, const opt_state *ref, size_t n)
{
    return fmax(nmse(got->theta, ref->theta, n), fmax(nmse(got->m, ref->m, n), nmse(got->v, ref->v, n)));
}

/* The reference advanced `steps` steps from `from` (t0+1 …), in `out`. */
static void ref_steps(const ref_opt *o, const setup *s, const opt_state *from, opt_state *out, int steps,
                      double t0)
{
    state_copy(out, from, s->n);
    for (int k = 1; k <= steps; k++)
        ref_opt_step(o, out->theta, out->grad, out->m, out->v, out->theta0, s->spans, NSHAPES, t0 + k);
}

static nn_opt_config test_config(nn_opt_kind kind, nn_regen regen)
{
    nn_opt_config c;
    nn_opt_defaults(&c);
    c.kind = kind;
    c.lr = 1e-2f;
    c.b = 2.0f;
    c.weight_decay = 0.1f;
    c.regen = regen;
    c.regen_lambda = 0.5f;
    return c;
}

/* The reference's view of a configuration, with the device's fp32 values. */
static ref_opt ref_config(const nn_opt_config *c, float lr)
{
    return (ref_opt){.kind = (int)c->kind, .lr = lr, .beta1 = c->beta1, .beta2 = c->beta2, .a = c->a,
                     .b = c->b, .eps = c->eps, .weight_decay = c->weight_decay,
                     .max_grad_norm = c->max_grad_norm, .regen = (int)c->regen,
                     .regen_lambda = c->regen_lambda, .lr0 = c->lr, .drop_term = REF_TERM_NONE};
}

static double grad_norm(const setup *s)
{
    float *g = malloc(s->n * sizeof *g);
    assert_non_null(g);
    TH_OK(nn_params_read(s->p, NN_GRAD, g));
    double ss = 0.0;
    for (size_t i = 0; i < s->n; i++)
        ss += (double)g[i] * g[i];
    free(g);
    return sqrt(ss);
}

/* Dispatches of the bitonic sort for n entries and blocks of `block`:
 * one block sort, then per stage k > block the global steps j = k/2 …
 * block and one block dispatch. */
static uint32_t bitonic_dispatches(uint32_t n, uint32_t block)
{
    uint32_t d = 1;
    for (uint32_t k = 2 * block; k <= n; k <<= 1)
        for (uint32_t j = k; j >= block; j >>= 1)
            d++;
    return d;
}

static uint32_t expected_dispatches(const nn_optim *o)
{
    uint32_t lx, ly;
    vks_kernel_local_size(th.ctx, VKS_K_BITONIC, &lx, &ly);
    uint32_t d = 2 + (o->cfg.max_grad_norm > 0.0f);
    if (o->cfg.regen == NN_REGEN_WASSERSTEIN && o->cfg.regen_lambda > 0.0f)
        d += bitonic_dispatches(o->nsort, 2 * lx) + 1;
    return d;
}

/* After a Wasserstein step, `order` must hold the real flat indices sorted
 * by (tensor, θ before the step, index). */
static int check_order(const setup *s, const nn_optim *o, const double *theta_before)
{
    float *ord = malloc(o->nreal * sizeof *ord);
    double *flat_theta = calloc(s->p->total, sizeof *flat_theta);
    int *tensor = calloc(s->p->total, sizeof *tensor);
    assert_true(ord && flat_theta && tensor);
    TH_OK(vks_tensor_read(o->order, ord));
    size_t k = 0;
    for (uint32_t i = 0; i < NSHAPES; i++) {
        const nn_param *t = &s->p->param[i];
        for (uint32_t r = 0; r < t->rows; r++)
            for (uint32_t c = 0; c < t->cols; c++) {
                uint64_t f = t->offset + (uint64_t)r * ((t->cols + 3u) & ~3u) + c;
                flat_theta[f] = theta_before[k++];
                tensor[f] = (int)i;
            }
    }
    int ok = 1;
    for (uint32_t p = 0; p < o->nreal && ok; p++) {
        uint64_t f = (uint64_t)ord[p];
        ok = (float)f == ord[p] && f < s->p->total && s->real[f];
        if (ok && p > 0) {
            uint64_t e = (uint64_t)ord[p - 1];
            ok = tensor[e] < tensor[f] ||
                 (tensor[e] == tensor[f] && (flat_theta[e] < flat_theta[f] ||
                                             (flat_theta[e] == flat_theta[f] && e < f)));
        }
        if (!ok)
            print_error("order[%u] = %g is out of place\n", p, (double)ord[p]);
    }
    free(ord), free(flat_theta), free(tensor);
    return ok;
}

/* Terms a configuration uses, so dropping each must show. */
static int relevant_terms(const nn_opt_config *c, int *terms)
{
    int n = 0;
    terms[n++] = REF_TERM_BIAS_CORR1;
    terms[n++] = REF_TERM_BIAS_CORR2;
    terms[n++] = REF_TERM_MOMENTUM;
    if (c->regen != NN_REGEN_NONE)
        terms[n++] = REF_TERM_REGEN;
    if (c->kind == NN_OPT_ADAM_ATAN2) {
        terms[n++] = REF_TERM_ATAN2_A;
        terms[n++] = REF_TERM_ATAN2_B;
    }
    if (c->max_grad_norm > 0.0f)
        terms[n++] = REF_TERM_CLIP;
    if (c->kind == NN_OPT_ADAMW)
        terms[n++] = REF_TERM_DECAY;
    return n;
}

static double worst_err, least_drop;

/* One run of the recorded step from the device's current state, compared
 * with one reference step at t; each relevant term dropped must land
 * farther than the tolerance. Returns the number of failures. */
static int check_run(const setup *s, nn_optim *o, vks_seq *seq, double t, const char *what)
{
    size_t n = s->n;
    opt_state before = state_alloc(n), after = state_alloc(n), ref = state_alloc(n);
    int failures = !state_read(s, &before);
    TH_OK(vks_seq_run(seq, 1));
    failures += !state_read(s, &after);
    ref_opt ro = ref_config(&o->cfg, o->cfg.lr);
    ref_steps(&ro, s, &before, &ref, 1, t - 1);
    double err = distance(&after, &ref, n);
    worst_err = fmax(worst_err, err);
    if (!(err <= TOL)) {
        print_error("%s t=%g: nmse θ %.3g m %.3g v %.3g > %g\n", what, t, nmse(after.theta, ref.theta, n),
                    nmse(after.m, ref.m, n), nmse(after.v, ref.v, n), TOL);
        failures++;
    }
    int terms[REF_TERM_COUNT];
    for (int i = 0, nt = relevant_terms(&o->cfg, terms); i < nt; i++) {
        ro.drop_term = terms[i];
        ref_steps(&ro, s, &before, &ref, 1, t - 1);
        double d = distance(&after, &ref, n);
        least_drop = fmin(least_drop, d);
        if (!(d > TOL)) {
            print_error("%s t=%g: dropping term %d gives nmse %.3g, not above %g\n", what, t, terms[i], d, TOL);
            failures++;
        }
    }
    /* Gradients are only read (zero_grad is off here). */
    failures += nmse(after.grad, before.grad, n) != 0.0;
    if (o->cfg.regen == NN_REGEN_WASSERSTEIN)
        failures += !check_order(s, o, before.theta);
    state_free(&before), state_free(&after), state_free(&ref);
    return failures;
}

static const char *kind_name[] = {"adam-atan2", "adam", "adamw"};
static const char *regen_name[] = {"none", "l2", "wasserstein"};

static int run_config(nn_opt_kind kind, nn_regen regen, int clip)
{
    setup s = setup_create(big_shapes, 10);
    write_grads(&s, 20);
    nn_opt_config c = test_config(kind, regen);
    /* A quarter of ‖g‖: later gradients are drawn alike, so all clip. */
    c.max_grad_norm = clip ? (float)(0.25 * grad_norm(&s)) : 0.0f;
    nn_optim *o = NULL;
    TH_OK(nn_optim_create(th.ctx, s.p, &c, &o));
    vks_seq *seq = th_seq_begin(0);
    TH_OK(nn_optim_step(seq, o));
    TH_OK(vks_seq_end(seq));
    char what[96];
    snprintf(what, sizeof what, "%s regen %s clip %s", kind_name[kind], regen_name[regen], clip ? "on" : "off");
    int failures = vks_seq_dispatches(seq) != expected_dispatches(o);
    if (failures)
        print_error("%s: %u dispatches, expected %u\n", what, vks_seq_dispatches(seq), expected_dispatches(o));
    /* Three replays of one recording: t advances on the device; new
     * gradients before the last two. */
    for (int run = 1; run <= 3; run++) {
        if (run > 1)
            write_grads(&s, 20 + run);
        failures += check_run(&s, o, seq, run, what);
    }
    vks_seq_destroy(seq);
    nn_optim_destroy(o);
    setup_destroy(&s);
    return failures;
}

static void test_step_matrix(void **state)
{
    (void)state;
    worst_err = 0.0;
    least_drop = INFINITY;
    int failures = 0;
    for (int kind = NN_OPT_ADAM_ATAN2; kind <= NN_OPT_ADAMW; kind++)
        for (int regen = NN_REGEN_NONE; regen <= NN_REGEN_WASSERSTEIN; regen++)
            for (int clip = 0; clip <= 1; clip++)
                failures += run_config((nn_opt_kind)kind, (nn_regen)regen, clip);
    print_message("optimiser steps: worst nmse %.3g (tolerance %g), closest dropped term %.3g\n",
                  worst_err, TOL, least_drop);
    assert_int_equal(failures, 0);
}

/* vks_seq_run(seq, 3): three steps in one submit, so t and the sort state
 * carry from replay to replay on the device; compared with three
 * reference steps from the starting state. */
static void test_replays_in_one_submit(void **state)
{
    (void)state;
    int failures = 0;
    for (int regen = NN_REGEN_NONE; regen <= NN_REGEN_WASSERSTEIN; regen++) {
        setup s = setup_create(small_shapes, 30);
        write_grads(&s, 31);
        nn_opt_config c = test_config(NN_OPT_ADAMW, (nn_regen)regen);
        c.max_grad_norm = (float)(0.25 * grad_norm(&s));
        nn_optim *o = NULL;
        TH_OK(nn_optim_create(th.ctx, s.p, &c, &o));
        opt_state before = state_alloc(s.n), after = state_alloc(s.n), ref = state_alloc(s.n);
        failures += !state_read(&s, &before);
        vks_seq *seq = th_seq_begin(0);
        TH_OK(nn_optim_step(seq, o));
        TH_OK(vks_seq_end(seq));
        TH_OK(vks_seq_run(seq, 3));
        failures += !state_read(&s, &after);
        ref_opt ro = ref_config(&c, c.lr);
        ref_steps(&ro, &s, &before, &ref, 3, 0);
        double err = distance(&after, &ref, s.n);
        if (!(err <= TOL)) {
            print_error("regen %s, 3 replays: nmse %.3g > %g\n", regen_name[regen], err, TOL);
            failures++;
        }
        /* Two steps are not three: the replays really advanced t. */
        ref_steps(&ro, &s, &before, &ref, 2, 0);
        failures += !(distance(&after, &ref, s.n) > TOL);
        float v[4];
        TH_OK(vks_tensor_read(o->values, v));
        failures += v[NN_OPT_T] != 3.0f;
        state_free(&before), state_free(&after), state_free(&ref);
        vks_seq_destroy(seq);
        nn_optim_destroy(o);
        setup_destroy(&s);
    }
    assert_int_equal(failures, 0);
}

/* zero_grad: the update uses the gradient, then the gradient is 0. */
static void test_zero_grad(void **state)
{
    (void)state;
    setup s = setup_create(big_shapes, 40);
    write_grads(&s, 41);
    nn_opt_config c = test_config(NN_OPT_ADAM_ATAN2, NN_REGEN_L2);
    c.max_grad_norm = (float)(0.25 * grad_norm(&s));
    c.zero_grad = true;
    nn_optim *o = NULL;
    TH_OK(nn_optim_create(th.ctx, s.p, &c, &o));
    vks_seq *seq = th_seq_begin(0);
    TH_OK(nn_optim_step(seq, o));
    TH_OK(vks_seq_end(seq));
    opt_state before = state_alloc(s.n), after = state_alloc(s.n), ref = state_alloc(s.n);
    ref_opt ro = ref_config(&c, c.lr);
    int failures = 0;
    for (int run = 1; run <= 2; run++) {   /* the second run steps on momentum alone */
        failures += !state_read(&s, &before);
        TH_OK(vks_seq_run(seq, 1));
        failures += !state_read(&s, &after);
        ref_steps(&ro, &s, &before, &ref, 1, run - 1);
        failures += !(distance(&after, &ref, s.n) <= TOL);
        for (size_t i = 0; i < s.n; i++)
            failures += after.grad[i] != 0.0;
    }
    state_free(&before), state_free(&after), state_free(&ref);
    vks_seq_destroy(seq);
    nn_optim_destroy(o);
    setup_destroy(&s);
    assert_int_equal(failures, 0);
}

/* set_lr: later runs use the new rate, in the step and in regeneration
 * (L2 through lr, Wasserstein through lr/lr₀). */
static int set_lr_case(nn_regen regen)
{
    setup s = setup_create(big_shapes, 50);
    write_grads(&s, 51);
    nn_opt_config c = test_config(NN_OPT_ADAM, regen);
    nn_optim *o = NULL;
    TH_OK(nn_optim_create(th.ctx, s.p, &c, &o));
    vks_seq *seq = th_seq_begin(0);
    TH_OK(nn_optim_step(seq, o));
    TH_OK(vks_seq_end(seq));
    TH_OK(vks_seq_run(seq, 1));
    const float lr2 = 4e-2f;
    TH_OK(nn_optim_set_lr(o, lr2));
    float v[4];
    TH_OK(vks_tensor_read(o->values, v));
    int failures = !(v[NN_OPT_LR] == lr2 && v[NN_OPT_T] == 1.0f);
    opt_state before = state_alloc(s.n), after = state_alloc(s.n), ref = state_alloc(s.n);
    failures += !state_read(&s, &before);
    TH_OK(vks_seq_run(seq, 1));
    failures += !state_read(&s, &after);
    ref_opt ro = ref_config(&c, lr2);
    ref_steps(&ro, &s, &before, &ref, 1, 1);
    failures += !(distance(&after, &ref, s.n) <= TOL);
    ro.lr = c.lr;   /* the old rate must not fit */
    ref_steps(&ro, &s, &before, &ref, 1, 1);
    failures += !(distance(&after, &ref, s.n) > TOL);
    /* Regeneration is visible at this step, so the comparison above also
     * covers the rate it reads (lr for L2, lr/lr₀ for Wasserstein). */
    ro.lr = lr2;
    ro.drop_term = REF_TERM_REGEN;
    ref_steps(&ro, &s, &before, &ref, 1, 1);
    failures += !(distance(&after, &ref, s.n) > TOL);
    static const float bad[] = {0.0f, -1e-3f, NAN, INFINITY};
    for (size_t i = 0; i < 4; i++)
        TH_ERR(th.ctx, nn_optim_set_lr(o, bad[i]), VKSAC_E_ARG);
    state_free(&before), state_free(&after), state_free(&ref);
    vks_seq_destroy(seq);
    nn_optim_destroy(o);
    setup_destroy(&s);
    return failures;
}

static void test_set_lr(void **state)
{
    (void)state;
    assert_int_equal(set_lr_case(NN_REGEN_L2) + set_lr_case(NN_REGEN_WASSERSTEIN), 0);
}

/* Ticks: plain adds, and a counter's low half wrapping into its high half. */
static void test_tick(void **state)
{
    (void)state;
    const float wrap = 16777216.0f;
    float v[6] = {wrap - 1.0f, 5.0f, 7.0f, 0.0f, wrap - 2.0f, 9.0f};
    vks_tensor *values = th_tensor(1, 6, v);
    vks_seq *seq = th_seq_begin(0);
    /* bit 0: counter (0, 1); bit 2: plain; bit 4: counter (4, 5). */
    TH_OK(nn_tick(seq, values, 0x15, 0x11));
    TH_OK(vks_seq_end(seq));
    assert_int_equal(vks_seq_dispatches(seq), 1);
    TH_OK(vks_seq_run(seq, 1));
    const float one[6] = {0.0f, 6.0f, 8.0f, 0.0f, wrap - 1.0f, 9.0f};
    int failures = !th_check(values, one, 0.0, "tick once");
    TH_OK(vks_seq_run(seq, 2));   /* replays in one submit tick twice */
    const float three[6] = {2.0f, 6.0f, 10.0f, 0.0f, 1.0f, 10.0f};
    failures += !th_check(values, three, 0.0, "tick three times");
    vks_seq_destroy(seq);

    seq = th_seq_begin(0);
    TH_ERR(th.ctx, nn_tick(seq, values, 1u << 6, 0), VKSAC_E_ARG);   /* past the last column */
    TH_ERR(th.ctx, nn_tick(seq, values, 0, 1u << 5), VKSAC_E_ARG);   /* high half past it */
    TH_ERR(th.ctx, nn_tick(seq, values, 0, 1u << 31), VKSAC_E_ARG);
    TH_ERR(th.ctx, nn_tick(seq, NULL, 1, 0), VKSAC_E_ARG);
    vks_seq_destroy(seq);
    vks_tensor_destroy(values);
    assert_int_equal(failures, 0);
}

static void test_ema(void **state)
{
    (void)state;
    setup target = setup_create(big_shapes, 60), online = setup_create(big_shapes, 70);
    size_t n = target.n;
    double *t = malloc(n * 8), *on = malloc(n * 8), *got = malloc(n * 8);
    assert_true(t && on && got);
    int failures = !read_role(&target, NN_THETA, t);
    failures += !read_role(&online, NN_THETA, on);
    vks_seq *seq = th_seq_begin(0);
    TH_OK(nn_ema(seq, target.p, online.p, 0.9f));
    TH_OK(vks_seq_end(seq));
    TH_OK(vks_seq_run(seq, 2));
    ref_ema(t, on, n, 0.9f);
    ref_ema(t, on, n, 0.9f);
    failures += !read_role(&target, NN_THETA, got);
    double err = nmse(got, t, n);
    failures += !(err <= TOL);
    if (!(err <= TOL))
        print_error("ema: nmse %.3g > %g\n", err, TOL);
    vks_seq_destroy(seq);

    seq = th_seq_begin(0);
    TH_ERR(th.ctx, nn_ema(seq, target.p, online.p, 1.5f), VKSAC_E_ARG);
    setup other = setup_create(small_shapes, 80);
    TH_ERR(th.ctx, nn_ema(seq, target.p, other.p, 0.9f), VKSAC_E_ARG);
    vks_seq_destroy(seq);
    setup_destroy(&other);
    free(t), free(on), free(got);
    setup_destroy(&target), setup_destroy(&online);
    assert_int_equal(failures, 0);
}

/* Raw floats (padding included) of a role's flat buffer. */
static float *raw_role(const setup *s, int role)
{
    float *f = malloc(s->p->total * sizeof *f);
    assert_non_null(f);
    TH_OK(vks_tensor_read_padded(s->p->flat[role], f));
    return f;
}

enum { PARTS = 3 };

/* Whether the PARTS copies in part[], copy k having taken part k of what
 * `whole` took whole, hold that in their parts bit for bit in every role
 * of `roles`, and elsewhere what they held before (before[role]) in the
 * roles of `kept`. */
static int parts_add_up(const setup *whole, const setup *part, float *const *before, uint32_t roles, uint32_t kept)
{
    int failures = 0;
    uint64_t total = whole->p->total, end = 0;
    for (int r = 0; r < NN_BUFS; r++) {
        if (!(roles >> r & 1u))
            continue;
        float *want = raw_role(whole, r);
        for (int k = 0; k < PARTS; k++) {
            uint64_t lo, hi;
            nn_params_part(part[k].p, (uint32_t)k, PARTS, &lo, &hi);
            /* Consecutive runs of NN_ALIGN floats covering the set. */
            assert_true(lo == (k ? end : 0) && hi > lo && lo % NN_ALIGN == 0 && (k < PARTS - 1 || hi == total));
            end = hi;
            float *got = raw_role(&part[k], r);
            int in = !memcmp(got + lo, want + lo, (hi - lo) * sizeof *got);
            int out = !(kept >> r & 1u) || (!memcmp(got, before[r], lo * sizeof *got) &&
                                            !memcmp(got + hi, before[r] + hi, (total - hi) * sizeof *got));
            if (!in || !out)
                print_error("role %d, part %d of %d [%llu, %llu): %s\n", r, k, PARTS, (unsigned long long)lo,
                            (unsigned long long)hi, !in ? "differs from a whole step" : "changed outside it");
            failures += !in + !out;
            free(got);
        }
        free(want);
    }
    return failures;
}

/* Steps by parts add up to one step: PARTS copies of a set, copy k taking
 * part k of a step, hold in their parts bit for bit what a whole step
 * gives, and elsewhere what they held before (but θ after a Wasserstein
 * pull, which spans the set); t ticks as in a whole step.
 * Both regenerations (Wasserstein's pull spans the set), clipping (its
 * norm too) and AdamW's decay. Parts of the target EMA likewise. (Shards
 * step parameters this way: docs/sac.md, "Shards".) */
static int check_parts(nn_opt_kind kind, nn_regen regen, float max_norm, uint64_t seed)
{
    nn_opt_config c = test_config(kind, regen);
    c.max_grad_norm = max_norm;
    setup whole = setup_create(big_shapes, seed), part[PARTS];
    nn_optim *ow, *op[PARTS];
    write_grads(&whole, seed + 1);
    TH_OK(nn_optim_create(th.ctx, whole.p, &c, &ow));
    float *before[NN_BUFS];
    for (int r = 0; r < NN_BUFS; r++)
        before[r] = raw_role(&whole, r);
    vks_seq *seq = th_seq_begin(0);
    TH_OK(nn_optim_step(seq, ow));
    for (int k = 0; k < PARTS; k++) {
        part[k] = setup_create(big_shapes, seed);
        write_grads(&part[k], seed + 1);
        TH_OK(nn_optim_create(th.ctx, part[k].p, &c, &op[k]));
        TH_OK(nn_optim_step_part(seq, op[k], (uint32_t)k, PARTS));
    }
    th_seq_finish(seq);
    /* Wasserstein's pull moves all of θ in every copy (the part's owner
     * holds the pulled and stepped θ that the others take). */
    uint32_t roles = 1u << NN_THETA | 1u << NN_M | 1u << NN_V | 1u << NN_GRAD;
    int failures = parts_add_up(&whole, part, before, roles,
                                regen == NN_REGEN_WASSERSTEIN ? roles & ~(1u << NN_THETA) : roles);
    float tw[4], tp[4];
    TH_OK(vks_tensor_read(ow->values, tw));
    TH_OK(vks_tensor_read(op[PARTS - 1]->values, tp));
    failures += tw[NN_OPT_T] != tp[NN_OPT_T];

    /* The EMA by parts, each onto its own copy of the target (θ as the
     * whole step left it). */
    setup online = setup_create(big_shapes, seed + 2);
    float *dense = malloc(whole.n * sizeof *dense);
    assert_non_null(dense);
    TH_OK(nn_params_read(whole.p, NN_THETA, dense));
    for (int k = 0; k < PARTS; k++)
        TH_OK(nn_params_write(part[k].p, NN_THETA, dense));
    free(dense);
    free(before[NN_THETA]);
    before[NN_THETA] = raw_role(&whole, NN_THETA);
    seq = th_seq_begin(0);
    TH_OK(nn_ema(seq, whole.p, online.p, 0.9f));
    for (int k = 0; k < PARTS; k++)
        TH_OK(nn_ema_part(seq, part[k].p, online.p, 0.9f, (uint32_t)k, PARTS));
    th_seq_finish(seq);
    failures += parts_add_up(&whole, part, before, 1u << NN_THETA, 1u << NN_THETA);

    for (int r = 0; r < NN_BUFS; r++)
        free(before[r]);
    nn_optim_destroy(ow);
    for (int k = 0; k < PARTS; k++) {
        nn_optim_destroy(op[k]);
        setup_destroy(&part[k]);
    }
    setup_destroy(&whole), setup_destroy(&online);
    return failures;
}

static void test_step_parts(void **state)
{
    (void)state;
    int failures = check_parts(NN_OPT_ADAMW, NN_REGEN_L2, 0.25f, 90);
    failures += check_parts(NN_OPT_ADAM_ATAN2, NN_REGEN_WASSERSTEIN, 0.0f, 95);

    setup a = setup_create(small_shapes, 97), b = setup_create(small_shapes, 98);
    nn_opt_config c = test_config(NN_OPT_ADAM, NN_REGEN_NONE);
    nn_optim *o;
    TH_OK(nn_optim_create(th.ctx, a.p, &c, &o));
    vks_seq *seq = th_seq_begin(0);
    th_expect_error(nn_optim_step_part(seq, o, PARTS, PARTS), VKSAC_E_ARG, "cut into 3 (parts 0 to 2)");
    th_expect_error(nn_optim_step_part(seq, o, 0, 0), VKSAC_E_ARG, "parts must be at least 1, got 0");
    th_expect_error(nn_ema_part(seq, a.p, b.p, 0.9f, 2, 2), VKSAC_E_ARG, "nn_ema_part: part 2 asked for");
    uint32_t n4 = (uint32_t)(a.p->total / 4);
    th_expect_error(vks_scale_add_texels(seq, a.p->flat[NN_THETA], 1.0f, b.p->flat[NN_THETA], 0.0f, n4 - 1, 2),
                    VKSAC_E_ARG, "run past y's");
    vks_seq_destroy(seq);
    nn_optim_destroy(o);
    setup_destroy(&a), setup_destroy(&b);
    assert_int_equal(failures, 0);
}

static void test_defaults(void **state)
{
    (void)state;
    nn_opt_config c;
    nn_opt_defaults(&c);
    assert_int_equal(c.kind, NN_OPT_ADAM_ATAN2);
    assert_true(c.lr == 3e-4f && c.beta1 == 0.9f && c.beta2 == 0.99f && c.a == 1.27f && c.b == 1.0f);
    assert_true(c.eps == 1e-8f && c.weight_decay == 0.01f && c.max_grad_norm == 0.0f);
    assert_true(c.regen == NN_REGEN_L2 && c.regen_lambda == 1e-4f && !c.zero_grad);
    setup s = setup_create(small_shapes, 90);
    nn_optim *o = NULL;
    TH_OK(nn_optim_create(th.ctx, s.p, &c, &o));
    nn_optim_destroy(o);
    setup_destroy(&s);
}

static void test_bad_configs(void **state)
{
    (void)state;
    setup s = setup_create(small_shapes, 100);
    static const struct { const char *field; int what; float value; } bad[] = {
        {"lr", 0, 0.0f}, {"lr", 0, -1.0f}, {"lr", 0, NAN}, {"lr", 0, INFINITY},
        {"beta1", 1, 1.0f}, {"beta1", 1, -0.1f}, {"beta2", 2, 1.5f}, {"beta2", 2, NAN},
        {"a", 3, 0.0f}, {"b", 4, -1.0f}, {"eps", 5, -1e-8f}, {"weight_decay", 6, -0.1f},
        {"max_grad_norm", 7, -1.0f}, {"regen_lambda", 8, -1e-4f}, {"kind", 9, 3}, {"regen", 10, 7},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        nn_opt_config c;
        nn_opt_defaults(&c);
        float *f[] = {&c.lr, &c.beta1, &c.beta2, &c.a, &c.b, &c.eps, &c.weight_decay, &c.max_grad_norm,
                      &c.regen_lambda};
        if (bad[i].what < 9)
            *f[bad[i].what] = bad[i].value;
        else if (bad[i].what == 9)
            c.kind = (nn_opt_kind)bad[i].value;
        else
            c.regen = (nn_regen)bad[i].value;
        nn_optim dummy, *o = &dummy;   /* must be reset to NULL */
        vksac_status st = nn_optim_create(th.ctx, s.p, &c, &o);
        char quoted[40];
        snprintf(quoted, sizeof quoted, "'%s'", bad[i].field);
        if (st != VKSAC_E_ARG || o || !strstr(vks_ctx_error(th.ctx), quoted))
            fail_msg("field %s = %g: status %s, message \"%s\"", bad[i].field, (double)bad[i].value,
                     vksac_status_name(st), vks_ctx_error(th.ctx));
        th_clear_error(th.ctx);
    }
    nn_opt_config c;
    nn_opt_defaults(&c);
    nn_optim *o = NULL;
    TH_ERR(th.ctx, nn_optim_create(th.ctx, NULL, &c, &o), VKSAC_E_ARG);
    TH_ERR(th.ctx, nn_optim_create(th.ctx, s.p, NULL, &o), VKSAC_E_ARG);
    TH_ERR(th.ctx, nn_optim_create(th.ctx, s.p, &c, NULL), VKSAC_E_ARG);
    assert_int_equal(nn_optim_create(NULL, s.p, &c, &o), VKSAC_E_ARG);
    /* A configuration made invalid after creation fails at recording. */
    TH_OK(nn_optim_create(th.ctx, s.p, &c, &o));
    vks_seq *seq = th_seq_begin(0);
    o->cfg.beta1 = 2.0f;
    TH_ERR(th.ctx, nn_optim_step(seq, o), VKSAC_E_ARG);
    o->cfg.beta1 = 0.9f;
    o->cfg.regen = NN_REGEN_WASSERSTEIN;   /* its tables were not built */
    TH_ERR(th.ctx, nn_optim_step(seq, o), VKSAC_E_STATE);
    vks_seq_destroy(seq);
    nn_optim_destroy(o);
    setup_destroy(&s);
}

int main(int argc, char **argv)
{
    if (th_parse_args(argc, argv, "optim") != 0)
        return 2;
    const struct CMUnitTest tests[] = {
        TH_TEST(test_step_matrix),
        TH_TEST(test_replays_in_one_submit),
        TH_TEST(test_zero_grad),
        TH_TEST(test_set_lr),
        TH_TEST(test_tick),
        TH_TEST(test_ema),
        TH_TEST(test_step_parts),
        TH_TEST(test_defaults),
        TH_TEST(test_bad_configs),
    };
    return cmocka_run_group_tests_name(th.group_name, tests, th_group_setup, th_group_teardown);
}
