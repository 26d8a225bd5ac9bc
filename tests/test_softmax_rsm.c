/* Softmax over segments and RSMNorm (src/nn/softmax.c, rsmnorm.c): every
 * kernel against the double-precision reference, every reference backward
 * against central finite differences, and bad arguments. */
#include "harness.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn/nn.h"
#include "reference/nn_ref.h"

/* ---- helpers ------------------------------------------------------------ */

static double *to_double(const float *f, size_t n)
{
    double *d = malloc((n ? n : 1) * sizeof *d);
    assert_non_null(d);
    for (size_t i = 0; i < n; i++)
        d[i] = f[i];
    return d;
}

static float *to_float(const double *d, size_t n)
{
    float *f = malloc((n ? n : 1) * sizeof *f);
    assert_non_null(f);
    for (size_t i = 0; i < n; i++)
        f[i] = (float)d[i];
    return f;
}

static double *dalloc(size_t n)
{
    double *d = calloc(n ? n : 1, sizeof *d);
    assert_non_null(d);
    return d;
}

/* th_check against a double reference. */
static int check_d(const vks_tensor *t, const double *ref, const char *what)
{
    float *f = to_float(ref, (size_t)vks_tensor_rows(t) * vks_tensor_cols(t));
    int ok = th_check(t, f, TH_TOL, what);
    free(f);
    return ok;
}

/* Σ(a−b)² / max(Σb², tiny) in double. */
static double nmse_d(const double *a, const double *b, size_t n)
{
    double err = 0.0, norm = 0.0;
    for (size_t i = 0; i < n; i++) {
        err += (a[i] - b[i]) * (a[i] - b[i]);
        norm += b[i] * b[i];
    }
    return err / fmax(norm, 1e-300);
}

/* Expects status `want` with a message containing `needle` (the field or
 * value the caller must be told about). */
static void expect_err(vksac_status s, vksac_status want, const char *needle, const char *what)
{
    const char *msg = vks_ctx_error(th.ctx);
    if (s == want && !strstr(msg, needle)) {
        print_error("%s: message \"%s\" does not mention \"%s\"\n", what, msg, needle);
        fail();
    }
    TH_ERR(th.ctx, s, want);
}

/* ---- softmax cases ------------------------------------------------------ */

typedef struct seg_case { uint32_t n, sizes[3]; } seg_case;

/* Widths 10, 3, 10, 17 and 1: multiples of 4 and not, one segment and
 * several, single-column segments. */
static const seg_case SEGS[] = {{2, {5, 5}}, {1, {3}}, {3, {2, 7, 1}}, {3, {4, 9, 4}}, {1, {1}}};
#define NSEGS (sizeof SEGS / sizeof SEGS[0])
static const uint32_t BATCH[] = {1, 7, 256};
#define NBATCH (sizeof BATCH / sizeof BATCH[0])

/* Fills bounds (n+1 entries) and returns the width. */
static uint32_t seg_bounds(const seg_case *sc, uint32_t *bounds)
{
    bounds[0] = 0;
    for (uint32_t i = 0; i < sc->n; i++)
        bounds[i + 1] = bounds[i] + sc->sizes[i];
    return bounds[sc->n];
}

static vks_tensor *segs_tensor(const seg_case *sc)
{
    vks_tensor *t = NULL;
    TH_OK(nn_segments_create(th.ctx, sc->sizes, sc->n, &t));
    assert_non_null(t);
    return t;
}

/* Logits scale·u + offset, u uniform in [-1, 1]. Offsets of ±200 overflow
 * or underflow every exp in fp32 unless the max is subtracted. */
typedef struct logit_range { float scale, offset; } logit_range;
static const logit_range RANGES[] = {{1.0f, 0.0f}, {80.0f, 0.0f}, {80.0f, 200.0f}, {80.0f, -200.0f}};
#define NRANGES (sizeof RANGES / sizeof RANGES[0])

enum { OUT_BOTH, OUT_P, OUT_LOGP };

static int check_forward(const seg_case *sc, uint32_t rows, logit_range lr, int mode, uint64_t seed)
{
    uint32_t b[4], cols = seg_bounds(sc, b);
    size_t n = (size_t)rows * cols;
    float *hx = th_rand(n, seed);
    for (size_t i = 0; i < n; i++)
        hx[i] = lr.scale * hx[i] + lr.offset;
    vks_tensor *x = th_tensor(rows, cols, hx), *segs = segs_tensor(sc);
    /* Random prior contents: an element the kernel skips shows. */
    vks_tensor *p = mode != OUT_LOGP ? th_rand_tensor(rows, cols, seed + 1, NULL) : NULL;
    vks_tensor *lp = mode != OUT_P ? th_rand_tensor(rows, cols, seed + 2, NULL) : NULL;
    vks_seq *seq = th_seq_begin(0);
    TH_OK(nn_softmax_forward(seq, p, lp, x, segs));
    th_seq_finish(seq);

    double *dx = to_double(hx, n), *rp = dalloc(n), *rl = dalloc(n);
    ref_softmax_forward(rp, rl, dx, rows, cols, b, sc->n);
    char what[128];
    int failures = 0;
    snprintf(what, sizeof what, "softmax p, %u segs, %ux%u, logits %g·u%+g, mode %d", sc->n, rows, cols,
             (double)lr.scale, (double)lr.offset, mode);
    failures += p && !check_d(p, rp, what);
    snprintf(what, sizeof what, "softmax logp, %u segs, %ux%u, logits %g·u%+g, mode %d", sc->n, rows, cols,
             (double)lr.scale, (double)lr.offset, mode);
    failures += lp && !check_d(lp, rl, what);
    failures += !th_check(x, hx, 0.0, "softmax input x unchanged");
    free(hx), free(dx), free(rp), free(rl);
    vks_tensor_destroy(x), vks_tensor_destroy(segs), vks_tensor_destroy(p), vks_tensor_destroy(lp);
    return failures;
}

static void test_segments_create(void **state)
{
    (void)state;
    for (size_t s = 0; s < NSEGS; s++) {
        uint32_t b[4], cols = seg_bounds(&SEGS[s], b);
        vks_tensor *t = segs_tensor(&SEGS[s]);
        assert_int_equal(vks_tensor_rows(t), 1);
        assert_int_equal(vks_tensor_cols(t), SEGS[s].n + 1);
        float *got = th_read(t);
        for (uint32_t i = 0; i <= SEGS[s].n; i++)
            assert_true(got[i] == (float)b[i]);
        assert_true(got[SEGS[s].n] == (float)cols);
        assert_true(th_padding_zero(t, "segments padding"));
        free(got);
        vks_tensor_destroy(t);
    }
}

static void test_softmax_forward(void **state)
{
    (void)state;
    int failures = 0;
    uint64_t seed = 1000;
    for (size_t s = 0; s < NSEGS; s++)
        for (size_t r = 0; r < NBATCH; r++)
            for (size_t g = 0; g < NRANGES; g++)
                for (int mode = OUT_BOTH; mode <= OUT_LOGP; mode++)
                    failures += check_forward(&SEGS[s], BATCH[r], RANGES[g], mode, seed += 10);
    assert_int_equal(failures, 0);
}

/* Softmax outputs are finite and p sums to 1 per segment even when every
 * exp(x) alone would overflow (the ±200 offsets above test the same by NMSE;
 * this states the property directly). */
static void test_softmax_stable(void **state)
{
    (void)state;
    const seg_case sc = {2, {5, 5}};
    float hx[10] = {280, 100, 120, 200, 280, -280, -279, -120, -200, -280};
    vks_tensor *x = th_tensor(1, 10, hx), *segs = segs_tensor(&sc);
    vks_tensor *p = th_tensor(1, 10, NULL), *lp = th_tensor(1, 10, NULL);
    vks_seq *seq = th_seq_begin(0);
    TH_OK(nn_softmax_forward(seq, p, lp, x, segs));
    th_seq_finish(seq);
    float *hp = th_read(p), *hl = th_read(lp);
    for (int s = 0; s < 2; s++) {
        double sum = 0.0;
        for (int c = 5 * s; c < 5 * s + 5; c++) {
            assert_true(isfinite(hp[c]) && isfinite(hl[c]));
            sum += hp[c];
        }
        assert_true(fabs(sum - 1.0) < 1e-6);
    }
    /* Tied maxima share the mass; logits 160 below the max keep a finite
     * log-probability although their p underflows. */
    assert_true(fabs(hp[0] - hp[4]) < 1e-6 && fabs(hp[0] - 0.5) < 1e-3 && hl[2] < -150.0f);
    assert_true(fabs(hp[7] - 1.0) < 1e-6 && fabs(hl[5] - hl[9]) < 1e-4 && hl[5] < -150.0f);
    free(hp), free(hl);
    vks_tensor_destroy(x), vks_tensor_destroy(segs), vks_tensor_destroy(p), vks_tensor_destroy(lp);
}

enum { GRAD_BOTH, GRAD_DP, GRAD_DLOGP };

static int check_backward(const seg_case *sc, uint32_t rows, int mode, uint64_t seed)
{
    uint32_t b[4], cols = seg_bounds(sc, b);
    size_t n = (size_t)rows * cols;
    /* p from real logits: the backward assumes a softmax output. */
    float *hx = th_rand(n, seed);
    for (size_t i = 0; i < n; i++)
        hx[i] *= 4.0f;
    double *dx = to_double(hx, n), *rp = dalloc(n);
    ref_softmax_forward(rp, NULL, dx, rows, cols, b, sc->n);
    float *hp = to_float(rp, n), *hdp, *hdl;
    double *pd = to_double(hp, n);   /* the reference sees the p the device sees */
    vks_tensor *p = th_tensor(rows, cols, hp), *segs = segs_tensor(sc);
    vks_tensor *dp = th_rand_tensor(rows, cols, seed + 1, &hdp);
    vks_tensor *dl = th_rand_tensor(rows, cols, seed + 2, &hdl);
    vks_tensor *g = th_rand_tensor(rows, cols, seed + 3, NULL);
    vks_seq *seq = th_seq_begin(0);
    TH_OK(nn_softmax_backward(seq, g, p, mode != GRAD_DLOGP ? dp : NULL, mode != GRAD_DP ? dl : NULL, segs));
    th_seq_finish(seq);

    double *ddp = to_double(hdp, n), *ddl = to_double(hdl, n), *rg = dalloc(n);
    ref_softmax_backward(rg, pd, mode != GRAD_DLOGP ? ddp : NULL, mode != GRAD_DP ? ddl : NULL, rows, cols, b,
                         sc->n);
    char what[128];
    snprintf(what, sizeof what, "softmax backward, %u segs, %ux%u, mode %d", sc->n, rows, cols, mode);
    int failures = !check_d(g, rg, what);
    free(hx), free(dx), free(rp), free(hp), free(pd), free(hdp), free(hdl), free(ddp), free(ddl), free(rg);
    vks_tensor_destroy(p), vks_tensor_destroy(segs), vks_tensor_destroy(dp), vks_tensor_destroy(dl);
    vks_tensor_destroy(g);
    return failures;
}

static void test_softmax_backward(void **state)
{
    (void)state;
    int failures = 0;
    uint64_t seed = 5000;
    static const uint32_t batch[] = {1, 256};
    for (size_t s = 0; s < NSEGS; s++)
        for (size_t r = 0; r < 2; r++)
            for (int mode = GRAD_BOTH; mode <= GRAD_DLOGP; mode++)
                failures += check_backward(&SEGS[s], batch[r], mode, seed += 10);
    assert_int_equal(failures, 0);
}

/* The backward may write its result over dp or dlogp. */
static void test_softmax_backward_in_place(void **state)
{
    (void)state;
    const seg_case sc = {3, {2, 7, 1}};
    uint32_t b[4], rows = 9, cols = seg_bounds(&sc, b);
    size_t n = (size_t)rows * cols;
    float *hx = th_rand(n, 77), *hdp, *hdl;
    double *dx = to_double(hx, n), *rp = dalloc(n), *rg = dalloc(n);
    ref_softmax_forward(rp, NULL, dx, rows, cols, b, sc.n);
    float *hp = to_float(rp, n);
    double *pd = to_double(hp, n);
    vks_tensor *p = th_tensor(rows, cols, hp), *segs = segs_tensor(&sc);
    vks_tensor *dp = th_rand_tensor(rows, cols, 78, &hdp), *dl = th_rand_tensor(rows, cols, 79, &hdl);
    double *ddp = to_double(hdp, n), *ddl = to_double(hdl, n);
    ref_softmax_backward(rg, pd, ddp, ddl, rows, cols, b, sc.n);
    vks_seq *seq = th_seq_begin(0);
    TH_OK(nn_softmax_backward(seq, dp, p, dp, dl, segs));
    th_seq_finish(seq);
    assert_true(check_d(dp, rg, "softmax backward into dp"));
    free(hx), free(dx), free(rp), free(rg), free(hp), free(pd), free(hdp), free(hdl), free(ddp), free(ddl);
    vks_tensor_destroy(p), vks_tensor_destroy(segs), vks_tensor_destroy(dp), vks_tensor_destroy(dl);
}

/* L(x) = Σ dp⊙p(x) + Σ dlogp⊙logp(x), either term optional. */
static double softmax_loss(const double *x, const double *dp, const double *dl, uint32_t rows, uint32_t cols,
                           const uint32_t *b, uint32_t nseg, double *p, double *lp)
{
    ref_softmax_forward(p, lp, x, rows, cols, b, nseg);
    double l = 0.0;
    for (size_t i = 0; i < (size_t)rows * cols; i++)
        l += (dp ? dp[i] * p[i] : 0.0) + (dl ? dl[i] * lp[i] : 0.0);
    return l;
}

/* Central differences of L against the reference backward, in double. */
static double softmax_fd_error(const seg_case *sc, int mode, uint64_t seed)
{
    const uint32_t rows = 3;
    const double h = 1e-6;
    uint32_t b[4], cols = seg_bounds(sc, b);
    size_t n = (size_t)rows * cols;
    float *fx = th_rand(n, seed), *fdp = th_rand(n, seed + 1), *fdl = th_rand(n, seed + 2);
    double *x = to_double(fx, n), *dp = to_double(fdp, n), *dl = to_double(fdl, n);
    for (size_t i = 0; i < n; i++)
        x[i] *= 3.0;
    const double *up = mode != GRAD_DLOGP ? dp : NULL, *ul = mode != GRAD_DP ? dl : NULL;
    double *p = dalloc(n), *lp = dalloc(n), *g = dalloc(n), *fd = dalloc(n);
    ref_softmax_forward(p, NULL, x, rows, cols, b, sc->n);
    ref_softmax_backward(g, p, up, ul, rows, cols, b, sc->n);
    for (size_t i = 0; i < n; i++) {
        double keep = x[i];
        x[i] = keep + h;
        double lplus = softmax_loss(x, up, ul, rows, cols, b, sc->n, p, lp);
        x[i] = keep - h;
        double lminus = softmax_loss(x, up, ul, rows, cols, b, sc->n, p, lp);
        x[i] = keep;
        fd[i] = (lplus - lminus) / (2.0 * h);
    }
    double e = nmse_d(g, fd, n);
    free(fx), free(fdp), free(fdl), free(x), free(dp), free(dl), free(p), free(lp), free(g), free(fd);
    return e;
}

static void test_softmax_backward_fd(void **state)
{
    (void)state;
    int failures = 0;
    for (size_t s = 0; s < NSEGS; s++)
        for (int mode = GRAD_BOTH; mode <= GRAD_DLOGP; mode++) {
            double e = softmax_fd_error(&SEGS[s], mode, 900 + 10 * s + (uint64_t)mode);
            /* Rounding gives ~1e-20 at h = 1e-6; a wrong term gives ~1. */
            if (!(e <= 1e-12)) {
                print_error("softmax reference backward vs finite differences: %u segs mode %d nmse %.3g\n",
                            SEGS[s].n, mode, e);
                failures++;
            }
        }
    assert_int_equal(failures, 0);
}

static void test_softmax_bad_args(void **state)
{
    (void)state;
    vks_ctx *ctx = th.ctx;
    th_clear_error(ctx);
    vks_tensor *segs = NULL;
    const uint32_t zero_mid[] = {3, 0, 2}, ok[] = {5, 5};
    expect_err(nn_segments_create(ctx, ok, 0, &segs), VKSAC_E_ARG, "n is 0", "zero segments");
    expect_err(nn_segments_create(ctx, zero_mid, 3, &segs), VKSAC_E_ARG, "sizes[1] is 0", "empty segment");
    expect_err(nn_segments_create(ctx, NULL, 2, &segs), VKSAC_E_ARG, "sizes", "NULL sizes");
    expect_err(nn_segments_create(ctx, ok, 2, NULL), VKSAC_E_ARG, "out", "NULL out");
    assert_null(segs);
    assert_int_equal(nn_segments_create(NULL, ok, 2, &segs), VKSAC_E_ARG);
    TH_OK(nn_segments_create(ctx, ok, 2, &segs));

    vks_tensor *x = th_tensor(3, 10, NULL), *x9 = th_tensor(3, 9, NULL), *p = th_tensor(3, 10, NULL);
    vks_tensor *p7 = th_tensor(3, 7, NULL), *lp = th_tensor(3, 10, NULL), *seg2 = th_tensor(2, 3, NULL);
    const float bad_bounds[] = {0, 5, 3};
    vks_tensor *badseg = th_tensor(1, 3, bad_bounds);
    vks_seq *seq = th_seq_begin(0);
    expect_err(nn_softmax_forward(seq, x9, NULL, x9, segs), VKSAC_E_ARG, "sum to 10 columns but the input has 9",
               "segments vs cols");
    expect_err(nn_softmax_forward(seq, p7, lp, x, segs), VKSAC_E_ARG, "'p' is 3x7, expected 3x10", "p shape");
    expect_err(nn_softmax_forward(seq, p, p7, x, segs), VKSAC_E_ARG, "'logp'", "logp shape");
    expect_err(nn_softmax_forward(seq, NULL, NULL, x, segs), VKSAC_E_ARG, "both NULL", "no output");
    expect_err(nn_softmax_forward(seq, p, p, x, segs), VKSAC_E_ARG, "overlap", "p is logp");
    expect_err(nn_softmax_forward(seq, p, lp, NULL, segs), VKSAC_E_ARG, "'x'", "NULL x");
    expect_err(nn_softmax_forward(seq, p, lp, x, NULL), VKSAC_E_ARG, "'segs'", "NULL segs");
    expect_err(nn_softmax_forward(seq, p, lp, x, seg2), VKSAC_E_ARG, "'segs' is 2x3", "segs shape");
    expect_err(nn_softmax_forward(seq, p, lp, x, badseg), VKSAC_E_ARG, "boundary 2 is 3", "falling bounds");
    assert_int_equal(nn_softmax_forward(NULL, p, lp, x, segs), VKSAC_E_ARG);

    expect_err(nn_softmax_backward(seq, x, p, x9, lp, segs), VKSAC_E_ARG, "'dp'", "dp shape");
    expect_err(nn_softmax_backward(seq, x, p, lp, p7, segs), VKSAC_E_ARG, "'dlogp'", "dlogp shape");
    expect_err(nn_softmax_backward(seq, p7, p, lp, lp, segs), VKSAC_E_ARG, "'dx' is 3x7", "dx shape");
    expect_err(nn_softmax_backward(seq, NULL, p, lp, lp, segs), VKSAC_E_ARG, "'dx'", "NULL dx");
    expect_err(nn_softmax_backward(seq, x, NULL, lp, lp, segs), VKSAC_E_ARG, "'p'", "NULL p");
    expect_err(nn_softmax_backward(seq, x, p, NULL, NULL, segs), VKSAC_E_ARG, "both NULL", "no gradient");
    expect_err(nn_softmax_backward(seq, x9, x9, x9, NULL, segs), VKSAC_E_ARG, "sum to 10 columns", "segments vs cols");
    expect_err(nn_softmax_backward(seq, x, p, lp, NULL, badseg), VKSAC_E_ARG, "boundary", "falling bounds");
    /* The failures recorded nothing: the sequence still records and runs. */
    TH_OK(nn_softmax_forward(seq, p, NULL, x, segs));
    th_seq_finish(seq);
    vks_tensor_destroy(x), vks_tensor_destroy(x9), vks_tensor_destroy(p), vks_tensor_destroy(p7);
    vks_tensor_destroy(lp), vks_tensor_destroy(seg2), vks_tensor_destroy(badseg), vks_tensor_destroy(segs);
}

/* ---- RSMNorm ------------------------------------------------------------- */

static const uint32_t DIMS[] = {1, 5, 13, 64};
#define NDIMS (sizeof DIMS / sizeof DIMS[0])

/* Host statistics in the device tensor's layout: rows μ, σ², t. */
typedef struct rsm_host { uint32_t dim; double *stats; } rsm_host;

static rsm_host rsm_host_new(uint32_t dim)
{
    rsm_host h = {dim, dalloc(3 * (size_t)dim)};
    for (uint32_t c = 0; c < dim; c++)
        h.stats[dim + c] = h.stats[2 * dim + c] = 1.0;
    return h;
}

static int check_rsm_apply(const nn_rsmnorm *r, const rsm_host *h, uint32_t rows, uint64_t seed,
                           const char *stage)
{
    uint32_t dim = h->dim;
    size_t n = (size_t)rows * dim;
    float *hx;
    vks_tensor *x = th_rand_tensor(rows, dim, seed, &hx);
    vks_tensor *y = th_rand_tensor(rows, dim, seed + 1, NULL), *g = th_rand_tensor(rows, dim, seed + 2, NULL);
    vks_seq *seq = th_seq_begin(0);
    TH_OK(nn_rsmnorm_forward(seq, r, y, x));
    TH_OK(nn_rsmnorm_backward(seq, r, g, x));   /* x doubles as dy */
    th_seq_finish(seq);
    double *dx = to_double(hx, n), *ry = dalloc(n), *rg = dalloc(n);
    ref_rsmnorm_forward(ry, dx, h->stats, h->stats + dim, rows, dim);
    ref_rsmnorm_backward(rg, dx, h->stats + dim, rows, dim);
    char what[128];
    snprintf(what, sizeof what, "rsmnorm forward dim %u rows %u %s", dim, rows, stage);
    int failures = !check_d(y, ry, what);
    snprintf(what, sizeof what, "rsmnorm backward dim %u rows %u %s", dim, rows, stage);
    failures += !check_d(g, rg, what);
    free(hx), free(dx), free(ry), free(rg);
    vks_tensor_destroy(x), vks_tensor_destroy(y), vks_tensor_destroy(g);
    return failures;
}

/* Three updates from batches of 1, 256 and 7 rows recorded in one sequence
 * (each reads what the previous wrote), then one recorded update replayed
 * twice; the statistics, forward and backward follow the reference. */
static int check_rsm_dim(uint32_t dim, uint64_t seed)
{
    static const uint32_t batches[] = {1, 256, 7};
    nn_rsmnorm *r = NULL;
    TH_OK(nn_rsmnorm_create(th.ctx, dim, &r));
    rsm_host h = rsm_host_new(dim);
    char what[96];
    snprintf(what, sizeof what, "rsmnorm dim %u initial stats", dim);
    int failures = !check_d(r->stats, h.stats, what);
    failures += check_rsm_apply(r, &h, 5, seed, "before any update");

    vks_tensor *x[3];
    vks_seq *seq = th_seq_begin(0);
    for (int i = 0; i < 3; i++) {
        float *hx;
        /* Offsets so the means move and the variances differ from 1. */
        x[i] = th_rand_tensor(batches[i], dim, seed + 10 + (uint64_t)i, &hx);
        for (size_t k = 0; k < (size_t)batches[i] * dim; k++)
            hx[k] = hx[k] * (float)(i + 1) + (float)(k % dim) * 0.25f - 1.0f;
        TH_OK(vks_tensor_write(x[i], hx));
        double *dx = to_double(hx, (size_t)batches[i] * dim);
        ref_rsmnorm_update(h.stats, h.stats + dim, h.stats + 2 * dim, dx, batches[i], dim);
        TH_OK(nn_rsmnorm_update(seq, r, x[i]));
        free(hx), free(dx);
    }
    th_seq_finish(seq);
    snprintf(what, sizeof what, "rsmnorm dim %u stats after 3 updates", dim);
    failures += !check_d(r->stats, h.stats, what);
    failures += check_rsm_apply(r, &h, 33, seed + 20, "after 3 updates");

    seq = th_seq_begin(0);
    TH_OK(nn_rsmnorm_update(seq, r, x[2]));
    TH_OK(vks_seq_end(seq));
    TH_OK(vks_seq_run(seq, 2));
    vks_seq_destroy(seq);
    float *h2 = th_read(x[2]);
    double *d2 = to_double(h2, (size_t)batches[2] * dim);
    for (int k = 0; k < 2; k++)
        ref_rsmnorm_update(h.stats, h.stats + dim, h.stats + 2 * dim, d2, batches[2], dim);
    snprintf(what, sizeof what, "rsmnorm dim %u stats after 2 replays", dim);
    failures += !check_d(r->stats, h.stats, what);
    failures += check_rsm_apply(r, &h, 256, seed + 30, "after replays");
    free(h2), free(d2), free(h.stats);
    for (int i = 0; i < 3; i++)
        vks_tensor_destroy(x[i]);
    nn_rsmnorm_destroy(r);
    return failures;
}

static void test_rsmnorm(void **state)
{
    (void)state;
    int failures = 0;
    for (size_t d = 0; d < NDIMS; d++)
        failures += check_rsm_dim(DIMS[d], 7000 + 100 * d);
    assert_int_equal(failures, 0);
}

/* After exactly one update σ² is 0 (the SimBa rule), so the forward divides
 * by the 1e-5 floor; stats and outputs must still match. */
static void test_rsmnorm_first_update(void **state)
{
    (void)state;
    const uint32_t dim = 6, rows = 4;
    nn_rsmnorm *r = NULL;
    TH_OK(nn_rsmnorm_create(th.ctx, dim, &r));
    float *hx;
    vks_tensor *x = th_rand_tensor(rows, dim, 31, &hx);
    vks_seq *seq = th_seq_begin(0);
    TH_OK(nn_rsmnorm_update(seq, r, x));
    th_seq_finish(seq);
    rsm_host h = rsm_host_new(dim);
    double *dx = to_double(hx, (size_t)rows * dim);
    ref_rsmnorm_update(h.stats, h.stats + dim, h.stats + 2 * dim, dx, rows, dim);
    for (uint32_t c = 0; c < dim; c++)
        assert_true(h.stats[dim + c] == 0.0);
    assert_true(check_d(r->stats, h.stats, "rsmnorm stats after one update"));
    assert_int_equal(check_rsm_apply(r, &h, 3, 32, "after one update"), 0);
    free(hx), free(dx), free(h.stats);
    vks_tensor_destroy(x);
    nn_rsmnorm_destroy(r);
}

/* Central differences of L = Σ dy⊙y(x) against the reference backward. */
static void test_rsmnorm_backward_fd(void **state)
{
    (void)state;
    const uint32_t dim = 7, rows = 3;
    const double h = 1e-6;
    size_t n = (size_t)rows * dim;
    float *fx = th_rand(n, 41), *fdy = th_rand(n, 42), *fb = th_rand(4 * n, 43);
    double *x = to_double(fx, n), *dy = to_double(fdy, n), *batch = to_double(fb, 4 * n);
    rsm_host st = rsm_host_new(dim);
    for (int k = 0; k < 3; k++)   /* non-trivial statistics */
        ref_rsmnorm_update(st.stats, st.stats + dim, st.stats + 2 * dim, batch + k * n, rows, dim);
    double *y = dalloc(n), *g = dalloc(n), *fd = dalloc(n);
    ref_rsmnorm_backward(g, dy, st.stats + dim, rows, dim);
    for (size_t i = 0; i < n; i++) {
        double keep = x[i], l[2];
        for (int s = 0; s < 2; s++) {
            x[i] = keep + (s ? -h : h);
            ref_rsmnorm_forward(y, x, st.stats, st.stats + dim, rows, dim);
            l[s] = 0.0;
            for (size_t j = 0; j < n; j++)
                l[s] += dy[j] * y[j];
        }
        x[i] = keep;
        fd[i] = (l[0] - l[1]) / (2.0 * h);
    }
    double e = nmse_d(g, fd, n);
    if (!(e <= 1e-12))
        print_error("rsmnorm reference backward vs finite differences: nmse %.3g\n", e);
    assert_true(e <= 1e-12);
    free(fx), free(fdy), free(fb), free(x), free(dy), free(batch), free(st.stats), free(y), free(g), free(fd);
}

static void test_rsmnorm_bad_args(void **state)
{
    (void)state;
    vks_ctx *ctx = th.ctx;
    th_clear_error(ctx);
    nn_rsmnorm *r = NULL;
    expect_err(nn_rsmnorm_create(ctx, 0, &r), VKSAC_E_ARG, "dim is 0", "dim 0");
    expect_err(nn_rsmnorm_create(ctx, 4, NULL), VKSAC_E_ARG, "out", "NULL out");
    assert_null(r);
    assert_int_equal(nn_rsmnorm_create(NULL, 4, &r), VKSAC_E_ARG);
    TH_OK(nn_rsmnorm_create(ctx, 5, &r));
    vks_tensor *x = th_tensor(3, 5, NULL), *x4 = th_tensor(3, 4, NULL), *y2 = th_tensor(2, 5, NULL);
    vks_seq *seq = th_seq_begin(0);
    expect_err(nn_rsmnorm_update(seq, r, x4), VKSAC_E_ARG, "'x' is 3x4, expected 3x5", "update width");
    expect_err(nn_rsmnorm_update(seq, r, NULL), VKSAC_E_ARG, "'x'", "update NULL x");
    expect_err(nn_rsmnorm_update(seq, NULL, x), VKSAC_E_ARG, "'r'", "update NULL r");
    expect_err(nn_rsmnorm_forward(seq, r, y2, x), VKSAC_E_ARG, "'y' is 2x5, expected 3x5", "forward y");
    expect_err(nn_rsmnorm_forward(seq, r, x4, x4), VKSAC_E_ARG, "'x' is 3x4", "forward width");
    expect_err(nn_rsmnorm_forward(seq, r, NULL, x), VKSAC_E_ARG, "'y'", "forward NULL y");
    expect_err(nn_rsmnorm_forward(seq, NULL, x, x), VKSAC_E_ARG, "'r'", "forward NULL r");
    expect_err(nn_rsmnorm_backward(seq, r, y2, x), VKSAC_E_ARG, "'dx' is 2x5", "backward dx");
    expect_err(nn_rsmnorm_backward(seq, r, x, NULL), VKSAC_E_ARG, "'dy'", "backward NULL dy");
    assert_int_equal(nn_rsmnorm_update(NULL, r, x), VKSAC_E_ARG);
    nn_rsmnorm_destroy(NULL);
    TH_OK(nn_rsmnorm_forward(seq, r, x, x));   /* in place is fine */
    th_seq_finish(seq);
    vks_tensor_destroy(x), vks_tensor_destroy(x4), vks_tensor_destroy(y2);
    nn_rsmnorm_destroy(r);
}

int main(int argc, char **argv)
{
    if (th_parse_args(argc, argv, "softmax_rsm") != 0)
        return 2;
    const struct CMUnitTest tests[] = {
        TH_TEST(test_segments_create),
        TH_TEST(test_softmax_forward),
        TH_TEST(test_softmax_stable),
        TH_TEST(test_softmax_backward),
        TH_TEST(test_softmax_backward_in_place),
        TH_TEST(test_softmax_backward_fd),
        TH_TEST(test_softmax_bad_args),
        TH_TEST(test_rsmnorm),
        TH_TEST(test_rsmnorm_first_update),
        TH_TEST(test_rsmnorm_backward_fd),
        TH_TEST(test_rsmnorm_bad_args),
    };
    return cmocka_run_group_tests_name(th.group_name, tests, th_group_setup, th_group_teardown);
}
