/* The residual MLP against the double-precision reference (mlp_ref.c):
 * forward, backward (parameter gradients and dx), the reference backward
 * against finite differences, three whole training steps with the
 * optimiser, initialisation and bad configurations. */
#include "harness.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn/mlp.h"
#include "reference/mlp_ref.h"

#define COUNTER_LO 5.0f
#define COUNTER_HI 2.0f
#define COUNTER ((uint64_t)5 + ((uint64_t)2 << 24))
#define STREAM_BASE 7u

typedef struct mlp_case {
    const char *what;
    uint32_t in, out, hidden, depth, expansion;
    nn_act act;
    float dropout;
    bool final_norm;
    uint32_t batch;
} mlp_case;

static const mlp_case cases[] = {
    {"relu2 depth 2 batch 1", 5, 3, 16, 2, 2, NN_ACT_RELU2, 0.0f, false, 1},
    {"crelu h13 final norm", 17, 1, 13, 1, 2, NN_ACT_CRELU, 0.0f, true, 37},
    {"relu depth 3 dropout", 3, 7, 64, 3, 2, NN_ACT_RELU, 0.1f, false, 256},
    {"depth 0", 6, 4, 10, 0, 2, NN_ACT_RELU2, 0.0f, false, 5},
    {"relu2 e3 dropout final norm", 11, 2, 24, 2, 3, NN_ACT_RELU2, 0.2f, true, 100},
};
#define NCASES (sizeof cases / sizeof cases[0])

static nn_mlp_config config_of(const mlp_case *c, uint64_t seed)
{
    nn_mlp_config cfg;
    nn_mlp_defaults(&cfg);
    cfg.in = c->in;
    cfg.out = c->out;
    cfg.hidden = c->hidden;
    cfg.depth = c->depth;
    cfg.expansion = c->expansion;
    cfg.act = c->act;
    cfg.dropout = c->dropout;
    cfg.final_norm = c->final_norm;
    cfg.seed = seed;
    return cfg;
}

static ref_mlp ref_of(const nn_mlp_config *c)
{
    ref_mlp_cfg rc = {c->in, c->out, c->hidden, c->depth, c->expansion, (int)c->act, c->dropout,
                      c->final_norm, (uint32_t)c->seed ^ (uint32_t)(c->seed >> 32), STREAM_BASE};
    ref_mlp r;
    assert_int_equal(ref_mlp_init(&r, &rc), 0);
    return r;
}

/* The dropout counter lives in a 1×4 tensor: low, high, unused, unused. */
static vks_tensor *counter_values(float lo, float hi)
{
    float v[4] = {lo, hi, 0.0f, 0.0f};
    return th_tensor(1, 4, v);
}

/* Random θ of a useful scale (LN_b gains 1e-5 would hide the blocks). */
static double *randomize(nn_mlp *m, uint64_t seed)
{
    size_t n = nn_params_dense_size(m->params);
    float *f = th_rand(n, seed);
    for (size_t i = 0; i < n; i++)
        f[i] *= 0.5f;
    TH_OK(nn_params_init(m->params, f));
    double *d = th_to_double(f, n);
    free(f);
    return d;
}

static float *read_role(const nn_mlp *m, int role)
{
    float *f = malloc(nn_params_dense_size(m->params) * sizeof *f);
    assert_non_null(f);
    TH_OK(nn_params_read(m->params, role, f));
    return f;
}

static int check_d(const float *got, const double *ref, size_t n, double tol, const char *what)
{
    double e = th_nmse_d(got, ref, n);
    if (!(e <= tol))
        print_error("%s: NMSE %.3g > %.3g\n", what, e, tol);
    return e <= tol;
}

/* Forward and backward on the device against the reference; in training
 * mode with dropout, also evaluation mode (no masks) must match the
 * reference without them. A second backward with `accumulate` must add. */
static int run_case(const mlp_case *c, size_t k, bool train)
{
    nn_mlp_config cfg = config_of(c, 1000 + k);
    nn_mlp *m = NULL;
    TH_OK(nn_mlp_create(th.ctx, &cfg, &m));
    double *theta = randomize(m, 50 + k);
    vks_tensor *values = counter_values(COUNTER_LO, COUNTER_HI);
    nn_mlp_ws *ws = NULL;
    TH_OK(nn_mlp_ws_create(m, c->batch, values, 0, STREAM_BASE, &ws));
    float *hx, *hdy;
    vks_tensor *x = th_rand_tensor(c->batch, c->in, 60 + k, &hx);
    vks_tensor *dy = th_rand_tensor(c->batch, c->out, 70 + k, &hdy);
    vks_tensor *y = th_tensor(c->batch, c->out, NULL), *dx = th_tensor(c->batch, c->in, NULL);

    vks_seq *seq = th_seq_begin(0);
    TH_OK(nn_mlp_forward(seq, m, ws, x, y, train));
    TH_OK(nn_mlp_backward(seq, m, ws, x, dy, dx, NN_GRADS_WRITE));
    th_seq_finish(seq);
    float *gg = read_role(m, NN_GRAD);
    seq = th_seq_begin(0);
    TH_OK(nn_mlp_backward(seq, m, ws, x, dy, NULL, NN_GRADS_ADD));
    th_seq_finish(seq);
    float *gg2 = read_role(m, NN_GRAD);

    ref_mlp r = ref_of(&cfg);
    size_t ny = (size_t)c->batch * c->out, nx = (size_t)c->batch * c->in;
    double *xd = th_to_double(hx, nx), *dyd = th_to_double(hdy, ny);
    double *ry = calloc(ny, sizeof *ry), *rg = calloc(r.size, sizeof *rg), *rdx = calloc(nx, sizeof *rdx);
    assert_int_equal(r.size, nn_params_dense_size(m->params));
    ref_mlp_run(&r, theta, xd, c->batch, train, COUNTER, ry, dyd, rg, rdx);

    float *gy = th_read(y), *gdx = th_read(dx);
    char what[160];
    int ok = 1;
    const char *mode = train ? "train" : "eval";
    snprintf(what, sizeof what, "%s (%s): y", c->what, mode);
    ok &= check_d(gy, ry, ny, TH_TOL, what) && th_padding_zero(y, what);
    snprintf(what, sizeof what, "%s (%s): dx", c->what, mode);
    ok &= check_d(gdx, rdx, nx, TH_TOL, what) && th_padding_zero(dx, what);
    for (uint32_t i = 0; i < r.ntensors; i++) {
        snprintf(what, sizeof what, "%s (%s): grad %s", c->what, mode, m->params->param[i].name);
        ok &= check_d(gg + r.span[i].offset, rg + r.span[i].offset, r.span[i].n, TH_TOL, what);
        ok &= th_padding_zero(m->params->view[NN_GRAD][i], what);
        for (size_t j = 0; j < r.span[i].n; j++)
            rg[r.span[i].offset + j] *= 2.0;
        snprintf(what, sizeof what, "%s (%s): accumulated grad %s", c->what, mode, m->params->param[i].name);
        ok &= check_d(gg2 + r.span[i].offset, rg + r.span[i].offset, r.span[i].n, TH_TOL, what);
    }
    free(gy), free(gdx), free(gg), free(gg2), free(ry), free(rg), free(rdx), free(xd), free(dyd), free(hx), free(hdy), free(theta);
    vks_tensor_destroy(x), vks_tensor_destroy(dy), vks_tensor_destroy(y), vks_tensor_destroy(dx);
    vks_tensor_destroy(values);
    nn_mlp_ws_destroy(ws);
    nn_mlp_destroy(m);
    return ok;
}

/* ---- ensembles -------------------------------------------------------------- */

enum { NETS = 3 };

/* Rows [z·stride, z·stride + rows) of a dense host array of `cols` columns. */
static double *block_d(const float *h, uint32_t z, uint32_t stride, uint32_t rows, uint32_t cols)
{
    return th_to_double(h + (size_t)z * stride * cols, (size_t)rows * cols);
}

/* An ensemble of three networks with their own seeds and parameters: every
 * network's output, dx and gradients (written, then added) against the
 * reference of that network alone. x is shared on even cases and a stack
 * on odd ones; y, dy and dx are stacks with spare rows between blocks. */
static int run_ensemble(const mlp_case *c, size_t k)
{
    nn_mlp_config cfg = config_of(c, 0);
    const uint64_t seeds[NETS] = {1000 + k, 2000 + k, 3000 + k};
    nn_mlp *e = NULL;
    TH_OK(nn_mlp_create_ensemble(th.ctx, &cfg, seeds, NETS, &e));
    double *theta[NETS];
    for (uint32_t z = 0; z < NETS; z++)
        theta[z] = randomize(nn_mlp_member(e, z), 50 + k + 7 * z);
    vks_tensor *values = counter_values(COUNTER_LO, COUNTER_HI);
    nn_mlp_ws *ws = NULL;
    TH_OK(nn_mlp_ws_create(e, c->batch, values, 0, STREAM_BASE, &ws));
    uint32_t B = c->batch, xs = k % 2 ? B + 1 : 0, ys = B + 2;
    float *hx, *hdy;
    vks_tensor *x = th_rand_tensor(xs ? NETS * xs : B, c->in, 60 + k, &hx);
    vks_tensor *dy = th_rand_tensor(NETS * ys, c->out, 70 + k, &hdy);
    float *hy0, *hdx0;   /* the spare rows between blocks must keep these */
    vks_tensor *y = th_rand_tensor(NETS * ys, c->out, 80 + k, &hy0), *dx = th_rand_tensor(NETS * ys, c->in, 90 + k, &hdx0);
    vks_seq *seq = th_seq_begin(0);
    TH_OK(nn_mlp_forward(seq, e, ws, x, y, true));
    TH_OK(nn_mlp_backward(seq, e, ws, x, dy, dx, NN_GRADS_WRITE));
    th_seq_finish(seq);
    float *gg[NETS], *gg2[NETS];
    for (uint32_t z = 0; z < NETS; z++)
        gg[z] = read_role(nn_mlp_member(e, z), NN_GRAD);
    seq = th_seq_begin(0);
    TH_OK(nn_mlp_backward(seq, e, ws, x, dy, NULL, NN_GRADS_ADD));
    th_seq_finish(seq);
    for (uint32_t z = 0; z < NETS; z++)
        gg2[z] = read_role(nn_mlp_member(e, z), NN_GRAD);

    float *gy = th_read(y), *gdx = th_read(dx);
    size_t ny = (size_t)B * c->out, nx = (size_t)B * c->in;
    int ok = 1;
    for (uint32_t z = 0; z < NETS; z++) {
        nn_mlp_config mc = nn_mlp_member(e, z)->cfg;
        assert_int_equal(mc.seed, seeds[z]);
        ref_mlp r = ref_of(&mc);
        double *xd = block_d(hx, xs ? z : 0, xs, B, c->in), *dyd = block_d(hdy, z, ys, B, c->out);
        double *ry = calloc(ny, sizeof *ry), *rg = calloc(r.size, sizeof *rg), *rdx = calloc(nx, sizeof *rdx);
        assert_true(ry && rg && rdx);
        ref_mlp_run(&r, theta[z], xd, B, true, COUNTER, ry, dyd, rg, rdx);
        char what[160];
        snprintf(what, sizeof what, "%s, ensemble network %u: y", c->what, z);
        ok &= check_d(gy + (size_t)z * ys * c->out, ry, ny, TH_TOL, what);
        snprintf(what, sizeof what, "%s, ensemble network %u: dx", c->what, z);
        ok &= check_d(gdx + (size_t)z * ys * c->in, rdx, nx, TH_TOL, what);
        size_t spare_y = (size_t)(z * ys + B) * c->out, spare_x = (size_t)(z * ys + B) * c->in;
        if (memcmp(gy + spare_y, hy0 + spare_y, 2 * c->out * sizeof *gy) ||
            memcmp(gdx + spare_x, hdx0 + spare_x, 2 * c->in * sizeof *gdx)) {
            print_error("%s, ensemble network %u: rows after its block were written\n", c->what, z);
            ok = 0;
        }
        snprintf(what, sizeof what, "%s, ensemble network %u: gradients", c->what, z);
        ok &= check_d(gg[z], rg, r.size, TH_TOL, what);
        for (size_t j = 0; j < r.size; j++)
            rg[j] *= 2.0;
        snprintf(what, sizeof what, "%s, ensemble network %u: accumulated gradients", c->what, z);
        ok &= check_d(gg2[z], rg, r.size, TH_TOL, what);
        free(xd), free(dyd), free(ry), free(rg), free(rdx), free(gg[z]), free(gg2[z]), free(theta[z]);
    }
    free(gy), free(gdx), free(hx), free(hdy), free(hy0), free(hdx0);
    vks_tensor_destroy(x), vks_tensor_destroy(dy), vks_tensor_destroy(y), vks_tensor_destroy(dx);
    vks_tensor_destroy(values);
    nn_mlp_ws_destroy(ws);
    nn_mlp_destroy(e);
    return ok;
}

static void test_ensemble(void **state)
{
    (void)state;
    int failures = 0;
    for (size_t k = 0; k < NCASES; k++)
        failures += !run_ensemble(&cases[k], k);
    assert_int_equal(failures, 0);
}

/* Members start as nn_mlp_create would make them with their seeds; the
 * ensemble's own set refuses host reads (they go through members); bad
 * copies counts and tensors that are not stacks are refused. */
static void test_ensemble_members_and_errors(void **state)
{
    (void)state;
    nn_mlp_config cfg = config_of(&cases[0], 0);
    const uint64_t seeds[2] = {11, 12};
    nn_mlp *e = NULL, *alone = NULL;
    TH_OK(nn_mlp_create_ensemble(th.ctx, &cfg, seeds, 2, &e));
    for (uint32_t z = 0; z < 2; z++) {
        cfg.seed = seeds[z];
        TH_OK(nn_mlp_create(th.ctx, &cfg, &alone));
        float *want = read_role(alone, NN_THETA), *got = read_role(nn_mlp_member(e, z), NN_THETA);
        assert_memory_equal(want, got, nn_params_dense_size(alone->params) * sizeof *want);
        free(want), free(got);
        nn_mlp_destroy(alone);
    }
    assert_null(nn_mlp_member(e, 2));
    float one = 0.0f;
    TH_ERR(th.ctx, nn_params_read(e->params, NN_THETA, &one), VKSAC_E_STATE);

    nn_mlp *bad = NULL;
    TH_ERR(th.ctx, nn_mlp_create_ensemble(th.ctx, &cfg, seeds, 1, &bad), VKSAC_E_ARG);
    TH_ERR(th.ctx, nn_mlp_create_ensemble(th.ctx, &cfg, seeds, NN_MAX_STACK + 1, &bad), VKSAC_E_ARG);
    assert_null(bad);

    uint32_t B = cases[0].batch;
    nn_mlp_ws *ws = NULL;
    TH_OK(nn_mlp_ws_create(e, B, NULL, 0, 0, &ws));
    vks_tensor *x = th_tensor(B, cfg.in, NULL), *y1 = th_tensor(B, cfg.out, NULL), *y3 = th_tensor(3, cfg.out, NULL);
    vks_seq *seq = th_seq_begin(0);
    TH_ERR(th.ctx, nn_mlp_forward(seq, e, ws, x, y1, false), VKSAC_E_ARG);   /* one block for two networks */
    TH_ERR(th.ctx, nn_mlp_forward(seq, e, ws, y3, y3, false), VKSAC_E_ARG);   /* x of neither form */
    vks_seq_destroy(seq);
    vks_tensor_destroy(x), vks_tensor_destroy(y1), vks_tensor_destroy(y3);
    nn_mlp_ws_destroy(ws);
    nn_mlp_destroy(e);
}

static void test_forward_backward(void **state)
{
    (void)state;
    int failures = 0;
    for (size_t k = 0; k < NCASES; k++) {
        failures += !run_case(&cases[k], k, true);
        if (cases[k].dropout > 0.0f)
            failures += !run_case(&cases[k], k, false);
    }
    assert_int_equal(failures, 0);
}

/* Two workspaces of one network with different stream bases draw
 * different masks; the same base, the same. */
static void test_dropout_streams(void **state)
{
    (void)state;
    mlp_case c = cases[2];
    nn_mlp_config cfg = config_of(&c, 77);
    nn_mlp *m = NULL;
    TH_OK(nn_mlp_create(th.ctx, &cfg, &m));
    free(randomize(m, 78));
    vks_tensor *values = counter_values(1.0f, 0.0f);
    nn_mlp_ws *ws[3] = {NULL, NULL, NULL};
    static const uint32_t bases[3] = {0, 0, 16};
    vks_tensor *x = th_rand_tensor(8, c.in, 79, NULL), *y[3];
    vks_seq *seq = th_seq_begin(0);
    for (int i = 0; i < 3; i++) {
        TH_OK(nn_mlp_ws_create(m, 8, values, 0, bases[i], &ws[i]));
        y[i] = th_tensor(8, c.out, NULL);
        TH_OK(nn_mlp_forward(seq, m, ws[i], x, y[i], true));
    }
    th_seq_finish(seq);
    float *a = th_read(y[0]), *b = th_read(y[1]), *o = th_read(y[2]);
    assert_memory_equal(a, b, (size_t)8 * c.out * sizeof *a);
    assert_memory_not_equal(a, o, (size_t)8 * c.out * sizeof *a);
    free(a), free(b), free(o);
    /* The network may go before its workspaces. */
    nn_mlp_destroy(m);
    for (int i = 0; i < 3; i++)
        nn_mlp_ws_destroy(ws[i]), vks_tensor_destroy(y[i]);
    vks_tensor_destroy(x), vks_tensor_destroy(values);
}

/* L = Σ dy ⊙ y, evaluated by the reference at θ. */
static double ref_loss(const ref_mlp *r, const double *theta, const double *x, uint32_t B, const double *dy)
{
    size_t ny = (size_t)B * r->cfg.out;
    double *y = calloc(ny, sizeof *y), l = 0;
    ref_mlp_run(r, theta, x, B, 1, COUNTER, y, NULL, NULL, NULL);
    for (size_t i = 0; i < ny; i++)
        l += dy[i] * y[i];
    free(y);
    return l;
}

/* The reference backward (the oracle of the device backward) against
 * central differences, on a sample of parameters and inputs. */
static void test_reference_finite_differences(void **state)
{
    (void)state;
    int failures = 0;
    for (size_t k = 0; k < NCASES; k++) {
        nn_mlp_config cfg = config_of(&cases[k], 2000 + k);
        ref_mlp r = ref_of(&cfg);
        uint32_t B = 3;
        size_t nx = (size_t)B * cfg.in, ny = (size_t)B * cfg.out;
        float *f = th_rand(r.size + nx + ny, 80 + k);
        double *theta = th_to_double(f, r.size), *x = th_to_double(f + r.size, nx);
        double *dy = th_to_double(f + r.size + nx, ny);
        double *y = calloc(ny, sizeof *y), *g = calloc(r.size, sizeof *g), *dx = calloc(nx, sizeof *dx);
        ref_mlp_run(&r, theta, x, B, 1, COUNTER, y, dy, g, dx);
        const double h = 1e-6;
        for (size_t s = 0; s < 60; s++) {
            int on_x = s % 4 == 3;
            size_t i = (s * 7919u + 13u) % (on_x ? nx : r.size);
            double *p = on_x ? &x[i] : &theta[i], keep = *p;
            *p = keep + h;
            double lp = ref_loss(&r, theta, x, B, dy);
            *p = keep - h;
            double lm = ref_loss(&r, theta, x, B, dy);
            *p = keep;
            double fd = (lp - lm) / (2 * h), an = on_x ? dx[i] : g[i];
            if (fabs(fd - an) > 1e-6 * fmax(1.0, fabs(fd))) {
                print_error("%s: %s[%zu] analytic %.10g, finite differences %.10g\n", cases[k].what,
                            on_x ? "x" : "theta", i, an, fd);
                failures++;
            }
        }
        free(f), free(theta), free(x), free(dy), free(y), free(g), free(dx);
    }
    assert_int_equal(failures, 0);
}

/* ---- three optimiser steps ------------------------------------------------ */

static ref_opt ref_opt_of(const nn_opt_config *c)
{
    return (ref_opt){.kind = (int)c->kind, .lr = c->lr, .beta1 = c->beta1, .beta2 = c->beta2, .a = c->a,
                     .b = c->b, .eps = c->eps, .weight_decay = c->weight_decay,
                     .max_grad_norm = c->max_grad_norm, .regen = (int)c->regen,
                     .regen_lambda = c->regen_lambda, .lr0 = c->lr, .drop_term = REF_TERM_NONE};
}

/* θ after `steps` reference steps (forward, backward, optimiser) from θ₀. */
static double *ref_train(const ref_mlp *r, const ref_opt *o, const double *theta0, const double *x,
                         const double *dy, uint32_t B, int steps)
{
    double *theta = malloc(r->size * sizeof *theta), *g = calloc(r->size, sizeof *g);
    double *mm = calloc(r->size, sizeof *mm), *vv = calloc(r->size, sizeof *vv);
    double *y = calloc((size_t)B * r->cfg.out, sizeof *y);
    memcpy(theta, theta0, r->size * sizeof *theta);
    for (int t = 1; t <= steps; t++) {
        ref_mlp_run(r, theta, x, B, 1, (uint64_t)t, y, dy, g, NULL);
        ref_opt_step(o, theta, g, mm, vv, theta0, r->span, r->ntensors, (double)t);
    }
    free(g), free(mm), free(vv), free(y);
    return theta;
}

static double delta_nmse(const float *got, const double *ref, const double *theta0, size_t n)
{
    double err = 0, norm = 0;
    for (size_t i = 0; i < n; i++) {
        double d = ((double)got[i] - theta0[i]) - (ref[i] - theta0[i]);
        err += d * d;
        norm += (ref[i] - theta0[i]) * (ref[i] - theta0[i]);
    }
    return err / fmax(norm, 1e-30);
}

/* Tolerance on the NMSE of θ₃ − θ₀: fp32 against double lands near 1e-12;
 * leaving out any one term of the update costs ≥ 1e-5 (printed). */
#define STEP_TOL 1e-8

static void train_and_compare(const mlp_case *c, const nn_opt_config *oc, const int *terms, size_t nterms)
{
    nn_mlp_config cfg = config_of(c, 3000);
    nn_mlp *m = NULL;
    TH_OK(nn_mlp_create(th.ctx, &cfg, &m));
    double *theta0 = randomize(m, 90);
    vks_tensor *values = counter_values(0.0f, 0.0f);
    nn_mlp_ws *ws = NULL;
    TH_OK(nn_mlp_ws_create(m, c->batch, values, 0, STREAM_BASE, &ws));
    nn_optim *opt = NULL;
    TH_OK(nn_optim_create(th.ctx, m->params, oc, &opt));
    float *hx, *hdy;
    vks_tensor *x = th_rand_tensor(c->batch, c->in, 91, &hx), *dy = th_rand_tensor(c->batch, c->out, 92, &hdy);
    vks_tensor *y = th_tensor(c->batch, c->out, NULL);

    /* One recording replayed three times: t, lr and the dropout counter
     * come from device buffers. */
    vks_seq *seq = th_seq_begin(0);
    TH_OK(nn_tick(seq, values, 1u, 1u));
    TH_OK(nn_mlp_forward(seq, m, ws, x, y, true));
    TH_OK(nn_mlp_backward(seq, m, ws, x, dy, NULL, NN_GRADS_WRITE));
    TH_OK(nn_optim_step(seq, opt));
    TH_OK(vks_seq_end(seq));
    TH_OK(vks_seq_run(seq, 3));
    vks_seq_destroy(seq);

    ref_mlp r = ref_of(&cfg);
    size_t n = r.size;
    double *xd = th_to_double(hx, (size_t)c->batch * c->in), *dyd = th_to_double(hdy, (size_t)c->batch * c->out);
    ref_opt ro = ref_opt_of(oc);
    double *want = ref_train(&r, &ro, theta0, xd, dyd, c->batch, 3);
    float *got = read_role(m, NN_THETA);
    double e = delta_nmse(got, want, theta0, n);
    print_message("%s: NMSE of θ3−θ0 %.3g (tolerance %.0e)\n", c->what, e, STEP_TOL);
    assert_true(e <= STEP_TOL);
    for (size_t i = 0; i < nterms; i++) {
        ro.drop_term = terms[i];
        double *wrong = ref_train(&r, &ro, theta0, xd, dyd, c->batch, 3);
        double ew = delta_nmse(got, wrong, theta0, n);
        print_message("  without term %d: NMSE %.3g\n", terms[i], ew);
        assert_true(ew > 100 * STEP_TOL);
        free(wrong);
    }
    /* And the dropout mask: the same steps without dropout differ. */
    if (cfg.dropout > 0.0f) {
        ref_mlp nodrop = r;
        nodrop.cfg.dropout = 0.0;
        ro.drop_term = REF_TERM_NONE;
        double *wrong = ref_train(&nodrop, &ro, theta0, xd, dyd, c->batch, 3);
        double ew = delta_nmse(got, wrong, theta0, n);
        print_message("  without dropout: NMSE %.3g\n", ew);
        assert_true(ew > 100 * STEP_TOL);
        free(wrong);
    }
    free(want), free(got), free(xd), free(dyd), free(hx), free(hdy), free(theta0);
    vks_tensor_destroy(x), vks_tensor_destroy(dy), vks_tensor_destroy(y), vks_tensor_destroy(values);
    nn_optim_destroy(opt);
    nn_mlp_ws_destroy(ws);
    nn_mlp_destroy(m);
}

static void test_three_steps_adam_atan2(void **state)
{
    (void)state;
    mlp_case c = {"atan2 + regen", 7, 3, 32, 2, 2, NN_ACT_RELU2, 0.1f, false, 64};
    nn_opt_config oc;
    nn_opt_defaults(&oc);
    oc.lr = 1e-2f;
    oc.regen_lambda = 5.0f;   /* the default 1e-4 moves θ below fp32's resolution */
    static const int terms[] = {REF_TERM_BIAS_CORR1, REF_TERM_BIAS_CORR2, REF_TERM_REGEN,
                                REF_TERM_ATAN2_A, REF_TERM_ATAN2_B, REF_TERM_MOMENTUM};
    train_and_compare(&c, &oc, terms, sizeof terms / sizeof *terms);
}

static void test_three_steps_adamw_clip(void **state)
{
    (void)state;
    mlp_case c = {"adamw + clip", 5, 2, 20, 1, 2, NN_ACT_CRELU, 0.0f, true, 33};
    nn_opt_config oc;
    nn_opt_defaults(&oc);
    oc.kind = NN_OPT_ADAMW;
    oc.lr = 1e-2f;
    oc.weight_decay = 0.5f;
    oc.eps = 1e-2f;            /* large enough that clipping changes Adam's steps */
    oc.max_grad_norm = 0.05f;
    oc.regen = NN_REGEN_NONE;
    static const int terms[] = {REF_TERM_BIAS_CORR1, REF_TERM_BIAS_CORR2, REF_TERM_MOMENTUM,
                                REF_TERM_CLIP, REF_TERM_DECAY};
    train_and_compare(&c, &oc, terms, sizeof terms / sizeof *terms);
}

/* ---- initialisation ------------------------------------------------------- */

static void test_initialisation(void **state)
{
    (void)state;
    nn_mlp_config cfg;
    nn_mlp_defaults(&cfg);
    cfg.in = 17;
    cfg.out = 6;
    cfg.seed = 42;
    cfg.out_scale = 0.01f;
    nn_mlp *m = NULL, *same = NULL, *other = NULL;
    TH_OK(nn_mlp_create(th.ctx, &cfg, &m));
    TH_OK(nn_mlp_create(th.ctx, &cfg, &same));
    cfg.seed = 43;
    TH_OK(nn_mlp_create(th.ctx, &cfg, &other));
    float *w = read_role(m, NN_THETA), *w0 = read_role(m, NN_THETA0);
    float *ws = read_role(same, NN_THETA), *wo = read_role(other, NN_THETA);
    size_t n = nn_params_dense_size(m->params);
    assert_memory_equal(w, w0, n * sizeof *w);
    assert_memory_equal(w, ws, n * sizeof *w);
    assert_memory_not_equal(w, wo, n * sizeof *w);
    const float *p = w;
    for (uint32_t i = 0; i < m->params->count; i++) {
        const nn_param *t = &m->params->param[i];
        size_t cnt = (size_t)t->rows * t->cols;
        double mean = 0, maxabs = 0;
        for (size_t j = 0; j < cnt; j++) {
            mean += p[j] / (double)cnt;
            maxabs = fmax(maxabs, fabs(p[j]));
        }
        if (strstr(t->name, ".gain")) {
            double want = strstr(t->name, "ln_b") ? 1e-5 : 1.0;
            for (size_t j = 0; j < cnt; j++)
                assert_float_equal(p[j], want, 0.0);
        } else {
            uint32_t fan_in = strstr(t->name, ".bias") ? t[-1].cols : t->cols;
            double bound = 1.0 / sqrt(fan_in) * ((int)i == m->out_w ? 0.01 : 1.0);
            assert_true(maxabs <= bound);
            if (cnt >= 1000) {   /* U(±bound): mean 0, max close to the bound */
                assert_true(fabs(mean) < 0.05 * bound);
                assert_true(maxabs > 0.95 * bound);
            }
        }
        p += cnt;
    }
    free(w), free(w0), free(ws), free(wo);
    nn_mlp_destroy(m), nn_mlp_destroy(same), nn_mlp_destroy(other);
}

/* ---- bad input ------------------------------------------------------------ */

static void expect_bad_config(nn_mlp_config cfg, const char *needle)
{
    nn_mlp *m = (nn_mlp *)&cfg;   /* non-NULL: create must reset it */
    th_clear_error(th.ctx);
    assert_int_equal(nn_mlp_create(th.ctx, &cfg, &m), VKSAC_E_ARG);
    assert_null(m);
    if (!strstr(vks_ctx_error(th.ctx), needle))
        fail_msg("error '%s' does not mention '%s'", vks_ctx_error(th.ctx), needle);
}

static void test_bad_input(void **state)
{
    (void)state;
    nn_mlp_config ok;
    nn_mlp_defaults(&ok);
    ok.in = 3;
    ok.out = 2;
    ok.hidden = 8;
    nn_mlp_config c = ok;
    c.in = 0;
    expect_bad_config(c, "'in' must be in [1, 1048576], got 0");
    c = ok, c.hidden = 0;
    expect_bad_config(c, "'hidden'");
    c = ok, c.out = 0;
    expect_bad_config(c, "'out'");
    c = ok, c.expansion = 0;
    expect_bad_config(c, "'expansion'");
    c = ok, c.dropout = 1.0f;
    expect_bad_config(c, "'dropout' must be in [0, 1), got 1");
    c = ok, c.dropout = -0.1f;
    expect_bad_config(c, "got -0.1");
    c = ok, c.dropout = NAN;
    expect_bad_config(c, "'dropout'");
    c = ok, c.act = (nn_act)9;
    expect_bad_config(c, "'act' must be relu, relu2 or crelu, got 9");
    c = ok, c.out_scale = 0.0f;
    expect_bad_config(c, "'out_scale'");

    ok.dropout = 0.1f;
    nn_mlp *m = NULL;
    TH_OK(nn_mlp_create(th.ctx, &ok, &m));
    nn_mlp_ws *ws = (nn_mlp_ws *)m;
    TH_ERR(th.ctx, nn_mlp_ws_create(m, 0, NULL, 0, 0, &ws), VKSAC_E_ARG);
    assert_null(ws);
    TH_ERR(th.ctx, nn_mlp_ws_create(m, 4, NULL, 0, 0, &ws), VKSAC_E_ARG);
    vks_tensor *values = counter_values(0, 0);
    TH_ERR(th.ctx, nn_mlp_ws_create(m, 4, values, 3, 0, &ws), VKSAC_E_ARG);
    TH_OK(nn_mlp_ws_create(m, 4, values, 0, 0, &ws));
    vks_tensor *x = th_tensor(4, 3, NULL), *xbad = th_tensor(4, 4, NULL), *y = th_tensor(4, 2, NULL);
    vks_tensor *ybad = th_tensor(5, 2, NULL);
    vks_seq *seq = th_seq_begin(0);
    assert_int_equal(nn_mlp_forward(seq, m, ws, xbad, y, true), VKSAC_E_ARG);
    assert_non_null(strstr(vks_ctx_error(th.ctx), "tensor 'x' is 4x4, expected 4x3"));
    TH_ERR(th.ctx, nn_mlp_forward(seq, m, ws, x, ybad, true), VKSAC_E_ARG);
    TH_ERR(th.ctx, nn_mlp_forward(seq, m, ws, NULL, y, true), VKSAC_E_ARG);
    TH_ERR(th.ctx, nn_mlp_backward(seq, m, ws, x, ybad, NULL, NN_GRADS_WRITE), VKSAC_E_ARG);
    TH_ERR(th.ctx, nn_mlp_backward(seq, m, ws, x, y, xbad, NN_GRADS_WRITE), VKSAC_E_ARG);
    TH_OK(vks_seq_end(seq));
    vks_seq_destroy(seq);
    vks_tensor_destroy(x), vks_tensor_destroy(xbad), vks_tensor_destroy(y), vks_tensor_destroy(ybad);
    vks_tensor_destroy(values);
    nn_mlp_ws_destroy(ws);
    nn_mlp_destroy(m);
}

int main(int argc, char **argv)
{
    if (th_parse_args(argc, argv, "mlp") != 0)
        return 2;
    const struct CMUnitTest tests[] = {
        TH_TEST(test_forward_backward),
        TH_TEST(test_dropout_streams),
        TH_TEST(test_reference_finite_differences),
        TH_TEST(test_three_steps_adam_atan2),
        TH_TEST(test_three_steps_adamw_clip),
        TH_TEST(test_initialisation),
        TH_TEST(test_bad_input),
        TH_TEST(test_ensemble),
        TH_TEST(test_ensemble_members_and_errors),
    };
    return cmocka_run_group_tests_name(th.group_name, tests, th_group_setup, th_group_teardown);
}
