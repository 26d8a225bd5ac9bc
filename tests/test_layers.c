/* Activations, dropout and LayerNorm (src/nn/act.c, layernorm.c) against
 * the double-precision reference (reference/layers_ref.c). The reference
 * is pinned down first: its Philox by Random123's known-answer vectors, its
 * backward passes by central finite differences. Then every device forward
 * and backward is compared with it, the dropout mask exactly. */
#include "harness.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn/nn.h"
#include "nn/philox.h"
#include "reference/nn_ref.h"

#define SEED 0x2545F491u
#define STREAM 3u
/* A counter with a non-zero high word, so a kernel ignoring it shows. */
#define COUNTER_LO 5.0f
#define COUNTER_HI 3.0f
#define COUNTER_INDEX 1u

static const nn_act ACTS[] = {NN_ACT_NONE, NN_ACT_RELU, NN_ACT_RELU2, NN_ACT_CRELU};
static const float RATES[] = {0.0f, 0.1f, 0.5f};
typedef struct shape { uint32_t rows, cols; } shape;
/* Widths below, at and past a texel, not multiples of 4, batch 1, rows
 * ln_fwd holds in 32 and 16 texels on a CPU (100, 64 columns), large
 * (200: streamed). */
static const shape SHAPES[] = {{1, 7}, {5, 13}, {3, 4}, {2, 1}, {4, 100}, {3, 64}, {256, 200}};
#define NACTS (sizeof ACTS / sizeof ACTS[0])
#define NRATES (sizeof RATES / sizeof RATES[0])
#define NSHAPES (sizeof SHAPES / sizeof SHAPES[0])

/* The counter pair at COUNTER_INDEX of a 1×4 tensor, with other values
 * around it so a kernel reading the wrong index shows. */
static vks_tensor *counter_values(float lo, float hi)
{
    float v[4] = {11.0f, lo, hi, 13.0f};
    return th_tensor(1, 4, v);
}

static nn_dropout drop_of(float rate, const vks_tensor *values)
{
    return (nn_dropout){.rate = rate, .seed = SEED, .stream = STREAM, .values = values,
                        .counter_index = COUNTER_INDEX};
}

/* The reference's 64-bit counter is lo + hi·2^24, the value nn_tick carries. */
static ref_dropout ref_drop_of(double rate, float lo, float hi)
{
    return (ref_dropout){rate, SEED, STREAM, (uint64_t)lo + ((uint64_t)hi << 24)};
}

static ref_dropout ref_drop_seeded(double rate, uint32_t seed)
{
    ref_dropout d = ref_drop_of(rate, COUNTER_LO, COUNTER_HI);
    d.seed = seed;
    return d;
}

/* ---- the reference on its own ------------------------------------------- */

/* Random123's kat_vectors for philox4x32_10. */
static void test_philox_kat(void **state)
{
    (void)state;
    static const uint32_t kat[3][10] = {
        {0, 0, 0, 0, 0, 0, 0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8},
        {0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff,
         0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd},
        {0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344, 0xa4093822, 0x299f31d0,
         0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1},
    };
    for (int i = 0; i < 3; i++) {
        uint32_t got[4], host[4];
        ref_philox4x32_10(kat[i], kat[i] + 4, got);
        nn_philox(kat[i], kat[i] + 4, host);   /* the library's host twin too */
        for (int j = 0; j < 4; j++) {
            assert_int_equal(got[j], kat[i][6 + j]);
            assert_int_equal(host[j], kat[i][6 + j]);
        }
    }
}

/* Σ dy ⊙ f(x) for f = act(drop(·)), or LN with gain, whose gradient the
 * reference backward claims; central differences check it. */
typedef struct fd_case {
    uint32_t rows, cols;
    int act;
    ref_dropout drop;
    const double *dy, *res;
    double *gain;   /* NULL: the activation alone */
} fd_case;

static double fd_loss(const fd_case *c, const double *x)
{
    uint32_t w = ref_act_width(c->act, c->cols);
    size_t n = (size_t)c->rows * w;
    double *y = malloc(n * sizeof *y), sum = 0.0;
    assert_non_null(y);
    if (c->gain)
        ref_ln_forward(y, NULL, x, c->gain, c->res, c->rows, c->cols, c->act, &c->drop);
    else
        ref_act_forward(y, x, c->rows, c->cols, c->act, &c->drop);
    for (size_t i = 0; i < n; i++)
        sum += c->dy[i] * y[i];
    free(y);
    return sum;
}

/* ||fd − analytic|| / ||analytic|| over the n entries of v (x or gain),
 * whose analytic gradient is `grad`. */
static double fd_error(const fd_case *c, double *v, size_t n, const double *x, const double *grad)
{
    /* Not 1e-6: rounding (ε·|L|/h) then reaches 1e-6 on rows where the
     * LayerNorm gradient nearly cancels; at 1e-5 every case is below 1e-7. */
    const double h = 1e-5;
    double err = 0.0, norm = 0.0;
    for (size_t i = 0; i < n; i++) {
        double keep = v[i];
        v[i] = keep + h;
        double lp = fd_loss(c, x);
        v[i] = keep - h;
        double lm = fd_loss(c, x);
        v[i] = keep;
        double fd = (lp - lm) / (2.0 * h);
        err += (fd - grad[i]) * (fd - grad[i]);
        norm += grad[i] * grad[i];
    }
    return sqrt(err / fmax(norm, 1e-300));
}

static double *rand_double(size_t n, uint64_t seed)
{
    float *f = th_rand(n, seed);
    double *d = th_to_double(f, n);
    free(f);
    return d;
}

/* One reference backward (act alone, or LN) against finite differences.
 * Random inputs keep every ReLU kink (and the exact zeros of dropped
 * elements, whose gradient is 0 both ways) away from the ±h steps. */
static int fd_check(uint32_t rows, uint32_t cols, int act, double rate, int ln, uint64_t seed)
{
    uint32_t w = ref_act_width(act, cols);
    size_t nx = (size_t)rows * cols, ny = (size_t)rows * w;
    double *x = rand_double(nx, seed), *dy = rand_double(ny, seed + 1), *res = rand_double(ny, seed + 2);
    double *gain = rand_double(w, seed + 3), *dx = malloc(nx * sizeof *dx), *dgain = malloc(w * sizeof *dgain);
    assert_non_null(dx);
    assert_non_null(dgain);
    fd_case c = {rows, cols, act, ref_drop_of(rate, COUNTER_LO, COUNTER_HI), dy, res, ln ? gain : NULL};
    double ex, eg = 0.0;
    if (ln) {
        ref_ln_backward(dx, dgain, dy, x, gain, rows, cols, act, &c.drop, 0);
        ex = fd_error(&c, x, nx, x, dx);
        eg = fd_error(&c, gain, w, x, dgain);
    } else {
        ref_act_backward(dx, dy, x, rows, cols, act, &c.drop);
        ex = fd_error(&c, x, nx, x, dx);
    }
    int bad = !(ex < 1e-6 && eg < 1e-6);
    if (bad)
        print_error("reference %s backward %ux%u act %d rate %g: finite-difference error dx %.3g dgain %.3g\n",
                    ln ? "LN" : "act", rows, cols, act, rate, ex, eg);
    free(x), free(dy), free(res), free(gain), free(dx), free(dgain);
    return bad;
}

static void test_reference_finite_differences(void **state)
{
    (void)state;
    static const shape fd_shapes[] = {{3, 7}, {2, 4}, {1, 5}};
    int failures = 0;
    for (size_t s = 0; s < 3; s++)
        for (size_t a = 0; a < NACTS; a++)
            for (int r = 0; r < 2; r++)
                for (int ln = 0; ln <= 1; ln++)
                    failures += fd_check(fd_shapes[s].rows, fd_shapes[s].cols, (int)ACTS[a], r ? 0.5 : 0.0, ln,
                                         1000 + 10 * s + a);
    assert_int_equal(failures, 0);
}

/* ---- the dropout mask on the device ------------------------------------- */

/* act(drop(1)) with act none: each element is exactly 0 or 1/(1−rate). */
static float *device_mask(uint32_t rows, uint32_t cols, float rate, const vks_tensor *values, uint32_t seed,
                          uint32_t stream)
{
    size_t n = (size_t)rows * cols;
    float *ones = malloc(n * sizeof *ones);
    assert_non_null(ones);
    for (size_t i = 0; i < n; i++)
        ones[i] = 1.0f;
    vks_tensor *x = th_tensor(rows, cols, ones), *y = th_tensor(rows, cols, NULL);
    nn_dropout drop = drop_of(rate, values);
    drop.seed = seed;
    drop.stream = stream;
    vks_seq *seq = th_seq_begin(0);
    TH_OK(nn_act_forward(seq, y, x, NN_ACT_NONE, &drop));
    th_seq_finish(seq);
    assert_true(th_padding_zero(y, "dropout mask"));
    float *got = th_read(y);
    free(ones);
    vks_tensor_destroy(x), vks_tensor_destroy(y);
    return got;
}

static size_t count_differences(const float *a, const float *b, size_t n)
{
    size_t d = 0;
    for (size_t i = 0; i < n; i++)
        d += a[i] != b[i];
    return d;
}

/* Every element equals the reference's multiplier, as a float, exactly;
 * the kept fraction is near 1 − rate. */
static void check_mask_exact(uint32_t rows, uint32_t cols, float rate)
{
    vks_tensor *values = counter_values(COUNTER_LO, COUNTER_HI);
    float *got = device_mask(rows, cols, rate, values, SEED, STREAM);
    ref_dropout rd = ref_drop_of(rate, COUNTER_LO, COUNTER_HI);
    size_t kept = 0, n = (size_t)rows * cols;
    for (uint32_t r = 0; r < rows; r++)
        for (uint32_t c = 0; c < cols; c++) {
            float want = (float)ref_dropout_scale(&rd, r, c), g = got[(size_t)r * cols + c];
            if (g != want)
                fail_msg("mask %ux%u rate %g [%u][%u]: got %.9g want %.9g", rows, cols, (double)rate, r, c,
                         (double)g, (double)want);
            kept += g != 0.0f;
        }
    /* Binomial: 5 standard deviations either side. */
    double expect = n * (1.0 - rate), sd = sqrt(n * rate * (1.0 - rate));
    if (fabs((double)kept - expect) > 5.0 * sd + 1.0)
        fail_msg("mask %ux%u rate %g keeps %zu of %zu", rows, cols, (double)rate, kept, n);
    free(got);
    vks_tensor_destroy(values);
}

static void test_dropout_mask_exact(void **state)
{
    (void)state;
    check_mask_exact(37, 13, 0.1f);
    check_mask_exact(37, 13, 0.5f);
    check_mask_exact(1, 7, 0.5f);
    check_mask_exact(256, 200, 0.1f);
}

/* Same parameters, same mask; changing the seed, the stream or either
 * counter word changes it. */
static void test_dropout_mask_parameters(void **state)
{
    (void)state;
    const uint32_t rows = 16, cols = 13;
    const size_t n = (size_t)rows * cols;
    vks_tensor *base = counter_values(COUNTER_LO, COUNTER_HI);
    vks_tensor *lo = counter_values(COUNTER_LO + 1.0f, COUNTER_HI);
    vks_tensor *hi = counter_values(COUNTER_LO, COUNTER_HI + 1.0f);
    float *a = device_mask(rows, cols, 0.5f, base, SEED, STREAM);
    float *again = device_mask(rows, cols, 0.5f, base, SEED, STREAM);
    float *other[4] = {
        device_mask(rows, cols, 0.5f, lo, SEED, STREAM),
        device_mask(rows, cols, 0.5f, hi, SEED, STREAM),
        device_mask(rows, cols, 0.5f, base, SEED + 1, STREAM),
        device_mask(rows, cols, 0.5f, base, SEED, STREAM + 1),
    };
    static const char *what[4] = {"counter_lo", "counter_hi", "seed", "stream"};
    assert_int_equal(count_differences(a, again, n), 0);
    for (int i = 0; i < 4; i++) {
        /* Independent masks at rate 0.5 differ in about half the elements. */
        size_t d = count_differences(a, other[i], n);
        if (d < n / 4)
            fail_msg("changing %s changed only %zu of %zu mask elements", what[i], d, n);
        free(other[i]);
    }
    free(a), free(again);
    vks_tensor_destroy(base), vks_tensor_destroy(lo), vks_tensor_destroy(hi);
}

/* ---- activations on the device ------------------------------------------ */

static int check_act(uint32_t rows, uint32_t cols, nn_act act, float rate, const vks_tensor *values, uint64_t seed)
{
    uint32_t w = nn_act_width(act, cols);
    size_t nx = (size_t)rows * cols, ny = (size_t)rows * w;
    float *hx, *hdy;
    vks_tensor *x = th_rand_tensor(rows, cols, seed, &hx), *dy = th_rand_tensor(rows, w, seed + 1, &hdy);
    /* Junk in the outputs, so an element the kernel skips shows. */
    vks_tensor *y = th_rand_tensor(rows, w, seed + 2, NULL), *dx = th_rand_tensor(rows, cols, seed + 3, NULL);
    nn_dropout drop = drop_of(rate, values);
    vks_seq *seq = th_seq_begin(0);
    TH_OK(nn_act_forward(seq, y, x, act, &drop));
    TH_OK(nn_act_backward(seq, dx, dy, x, act, &drop));
    th_seq_finish(seq);

    ref_dropout rd = ref_drop_of(rate, COUNTER_LO, COUNTER_HI);
    double *xd = th_to_double(hx, nx), *dyd = th_to_double(hdy, ny);
    double *yd = malloc(ny * sizeof *yd), *dxd = malloc(nx * sizeof *dxd);
    assert_non_null(yd);
    assert_non_null(dxd);
    ref_act_forward(yd, xd, rows, cols, (int)act, &rd);
    ref_act_backward(dxd, dyd, xd, rows, cols, (int)act, &rd);
    float *yf = th_to_float(yd, ny), *dxf = th_to_float(dxd, nx);
    char what[96];
    snprintf(what, sizeof what, "act %s %ux%u rate %g forward", nn_act_name(act), rows, cols, (double)rate);
    int failures = !th_check(y, yf, TH_TOL, what);
    snprintf(what, sizeof what, "act %s %ux%u rate %g backward", nn_act_name(act), rows, cols, (double)rate);
    failures += !th_check(dx, dxf, TH_TOL, what);
    free(hx), free(hdy), free(xd), free(dyd), free(yd), free(dxd), free(yf), free(dxf);
    vks_tensor_destroy(x), vks_tensor_destroy(dy), vks_tensor_destroy(y), vks_tensor_destroy(dx);
    return failures;
}

static void test_act(void **state)
{
    (void)state;
    vks_tensor *values = counter_values(COUNTER_LO, COUNTER_HI);
    int failures = 0;
    for (size_t s = 0; s < NSHAPES; s++)
        for (size_t a = 0; a < NACTS; a++)
            for (size_t r = 0; r < NRATES; r++)
                failures += check_act(SHAPES[s].rows, SHAPES[s].cols, ACTS[a], RATES[r], values,
                                      100 * s + 10 * a + r);
    vks_tensor_destroy(values);
    assert_int_equal(failures, 0);
}

/* ---- LayerNorm on the device -------------------------------------------- */

typedef struct ln_case {
    uint32_t rows, cols;
    nn_act act;
    float rate;
    int residual, accumulate;
} ln_case;

typedef struct ln_host {
    float *u, *gain, *res, *dy, *dgain;
} ln_host;

/* The reference outputs of a case, as floats for the comparisons. */
typedef struct ln_want {
    float *y, *stats, *du, *du_scale, *dgain;
} ln_want;

/* The size of the terms du is a difference of: |∂a/∂u|·rstd·|dy ⊙ gain|
 * (the LayerNorm backward before subtracting the row means). */
static float *du_term_scale(const ln_case *c, const double *u, const double *dy, const double *gain,
                            const double *stats, const ref_dropout *rd)
{
    uint32_t w = nn_act_width(c->act, c->cols);
    size_t nu = (size_t)c->rows * c->cols, ny = (size_t)c->rows * w;
    double *g = malloc(ny * sizeof *g), *t = malloc(nu * sizeof *t);
    assert_true(g && t);
    for (size_t i = 0; i < ny; i++)
        g[i] = fabs(dy[i] * gain[i % w]) * stats[2 * (i / w) + 1];
    ref_act_backward(t, g, u, c->rows, c->cols, (int)c->act, rd);
    for (size_t i = 0; i < nu; i++)
        t[i] = fabs(t[i]);
    float *f = th_to_float(t, nu);
    free(g), free(t);
    return f;
}

static ln_want ln_reference(const ln_case *c, const ln_host *h, uint32_t seed)
{
    uint32_t w = nn_act_width(c->act, c->cols);
    size_t nu = (size_t)c->rows * c->cols, ny = (size_t)c->rows * w;
    ref_dropout rd = ref_drop_seeded(c->rate, seed);
    double *u = th_to_double(h->u, nu), *gain = th_to_double(h->gain, w), *dy = th_to_double(h->dy, ny);
    double *res = c->residual ? th_to_double(h->res, ny) : NULL, *dg = th_to_double(h->dgain, w);
    double *yd = malloc(ny * sizeof *yd), *sd = malloc(2 * (size_t)c->rows * sizeof *sd);
    double *dud = malloc(nu * sizeof *dud);
    assert_true(yd && sd && dud);
    ref_ln_forward(yd, sd, u, gain, res, c->rows, c->cols, (int)c->act, &rd);
    ref_ln_backward(dud, dg, dy, u, gain, c->rows, c->cols, (int)c->act, &rd, c->accumulate);
    ln_want want = {th_to_float(yd, ny), th_to_float(sd, 2 * (size_t)c->rows), th_to_float(dud, nu),
                    du_term_scale(c, u, dy, gain, sd, &rd), th_to_float(dg, w)};
    free(u), free(gain), free(dy), free(res), free(dg), free(yd), free(sd), free(dud);
    return want;
}

/* du through LayerNorm is a difference of terms (du_term_scale) that can
 * nearly cancel: CReLU of one column, or a ReLU row with one survivor,
 * normalises to values that barely depend on u. fp32 keeps du's error
 * relative to the terms, so the error is normalised by max(Σ du², Σ term²):
 * plain NMSE on well-conditioned rows, and still about 1 for a wrong index. */
static int check_du(const vks_tensor *du, const float *want, const float *scale, const char *what)
{
    size_t n = (size_t)vks_tensor_rows(du) * vks_tensor_cols(du);
    float *got = th_read(du);
    double err = 0.0, norm = 0.0, terms = 0.0;
    for (size_t i = 0; i < n; i++) {
        double d = (double)got[i] - want[i];
        err += d * d;
        norm += (double)want[i] * want[i];
        terms += (double)scale[i] * scale[i];
    }
    double e = err / fmax(fmax(norm, terms), 1e-30);
    int ok = e <= TH_TOL;   /* false for NaN */
    if (!ok)
        print_error("%s: error %.3g > %.3g (relative to max(Σ du², Σ term²) = max(%.3g, %.3g))\n", what, e,
                    TH_TOL, norm, terms);
    free(got);
    return th_padding_zero(du, what) && ok;
}

static void ln_want_free(ln_want *w)
{
    free(w->y), free(w->stats), free(w->du), free(w->du_scale), free(w->dgain);
}

/* A case's device tensors: inputs (their host copies in h) and outputs,
 * `rows` rows of u and y, `gain_rows` rows of gain and dgain. */
typedef struct ln_io {
    ln_host h;
    vks_tensor *u, *gain, *res, *dy, *dgain, *y, *stats, *du, *scratch;
} ln_io;

static ln_io ln_io_create(const ln_case *c, uint32_t rows, uint32_t gain_rows, uint64_t seed)
{
    uint32_t w = nn_act_width(c->act, c->cols);
    ln_io io = {0};
    io.u = th_rand_tensor(rows, c->cols, seed, &io.h.u);
    io.gain = th_rand_tensor(gain_rows, w, seed + 1, &io.h.gain);
    io.res = c->residual ? th_rand_tensor(rows, w, seed + 2, &io.h.res) : NULL;
    io.dy = th_rand_tensor(rows, w, seed + 3, &io.h.dy);
    io.dgain = th_rand_tensor(gain_rows, w, seed + 4, &io.h.dgain);
    io.y = th_rand_tensor(rows, w, seed + 5, NULL);
    io.stats = th_rand_tensor(rows, 2, seed + 6, NULL);
    io.du = th_rand_tensor(rows, c->cols, seed + 7, NULL);
    io.scratch = th_rand_tensor(rows, w, seed + 8, NULL);
    return io;
}

static void ln_io_free(ln_io *io)
{
    free(io->h.u), free(io->h.gain), free(io->h.res), free(io->h.dy), free(io->h.dgain);
    vks_tensor *all[] = {io->u, io->gain, io->res, io->dy, io->dgain, io->y, io->stats, io->du, io->scratch};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        vks_tensor_destroy(all[i]);
}

/* y, stats, du and dgain against want; `what` holds the case's name, n
 * characters of it. */
static int compare_ln(char *what, size_t size, int n, const vks_tensor *y, const vks_tensor *stats,
                      const vks_tensor *du, const vks_tensor *dgain, const ln_want *want)
{
    int failures = 0;
    snprintf(what + n, size - n, " y");
    failures += !th_check(y, want->y, TH_TOL, what);
    snprintf(what + n, size - n, " stats");
    failures += !th_check(stats, want->stats, TH_TOL, what);
    snprintf(what + n, size - n, " du");
    failures += !check_du(du, want->du, want->du_scale, what);
    snprintf(what + n, size - n, " dgain");
    failures += !th_check(dgain, want->dgain, TH_TOL, what);
    return failures;
}

/* Forward then backward in one recording (stats flow from one to the
 * other as in a network), each output against the reference. */
static int check_ln(const ln_case *c, const vks_tensor *values, uint64_t seed)
{
    ln_io io = ln_io_create(c, c->rows, 1, seed);
    nn_dropout drop = drop_of(c->rate, values);
    vks_seq *seq = th_seq_begin(0);
    TH_OK(nn_ln_forward(seq, io.y, io.stats, io.u, io.gain, io.res, c->act, c->rate > 0.0f ? &drop : NULL));
    TH_OK(nn_ln_backward(seq, io.du, io.dgain, io.scratch, io.dy, io.u, io.gain, io.stats, c->act, &drop,
                         c->accumulate));
    th_seq_finish(seq);

    ln_want want = ln_reference(c, &io.h, SEED);
    char what[128];
    int n = snprintf(what, sizeof what, "LN %s %ux%u rate %g%s%s", nn_act_name(c->act), c->rows, c->cols,
                     (double)c->rate, c->residual ? " residual" : "", c->accumulate ? " accumulate" : "");
    int failures = compare_ln(what, sizeof what, n, io.y, io.stats, io.du, io.dgain, &want);
    snprintf(what + n, sizeof what - n, " scratch");
    failures += !th_padding_zero(io.scratch, what);
    ln_want_free(&want);
    ln_io_free(&io);
    return failures;
}

static void test_layernorm(void **state)
{
    (void)state;
    vks_tensor *values = counter_values(COUNTER_LO, COUNTER_HI);
    int failures = 0, k = 0;
    for (size_t s = 0; s < NSHAPES; s++)
        for (size_t a = 0; a < NACTS; a++)
            for (size_t r = 0; r < NRATES; r++)
                for (int res = 0; res <= 1; res++, k++) {
                    ln_case c = {SHAPES[s].rows, SHAPES[s].cols, ACTS[a], RATES[r], res, k % 3 == 0};
                    failures += check_ln(&c, values, 5000 + 100 * (uint64_t)k);
                }
    vks_tensor_destroy(values);
    assert_int_equal(failures, 0);
}

/* A stack of networks (nn_stack) computes what each would alone: three
 * networks with their own rows, gains (a spare row apart, which the gain
 * gradient must leave alone) and dropout seeds, each against the
 * reference on its own rows. */
enum { NETS = 3 };

static void copy_want(float *dst, const float *src, size_t n) { memcpy(dst, src, n * sizeof *dst); }

static int check_ln_stacked(const ln_case *c, const vks_tensor *values, uint64_t seed)
{
    static const uint32_t seeds[NETS] = {SEED + 5u, SEED + 17u, SEED ^ 0xABCDEFu};   /* none is drop.seed */
    uint32_t w = nn_act_width(c->act, c->cols), b = c->rows;
    size_t nu = (size_t)b * c->cols, ny = (size_t)b * w;
    ln_io io = ln_io_create(c, NETS * b, 2 * NETS, seed);
    ln_host h = io.h;
    nn_dropout drop = drop_of(c->rate, values);
    nn_stack st = {NETS, b, 2 * (uint64_t)vks_tensor_stride(io.gain), {seeds[0], seeds[1], seeds[2]}};
    vks_seq *seq = th_seq_begin(0);
    TH_OK(nn_ln_forward_stacked(seq, io.y, io.stats, io.u, io.gain, io.res, c->act, c->rate > 0.0f ? &drop : NULL,
                                &st));
    TH_OK(nn_ln_backward_stacked(seq, io.du, io.dgain, io.scratch, io.dy, io.u, io.gain, io.stats, c->act, &drop,
                                 c->accumulate, &st));
    th_seq_finish(seq);

    /* Each network's reference in its rows; the spare gain rows keep dgain's start. */
    ln_want all = {malloc(NETS * ny * sizeof(float)), malloc(NETS * 2 * (size_t)b * sizeof(float)),
                   malloc(NETS * nu * sizeof(float)), malloc(NETS * nu * sizeof(float)),
                   malloc(2 * NETS * (size_t)w * sizeof(float))};
    assert_true(all.y && all.stats && all.du && all.du_scale && all.dgain);
    copy_want(all.dgain, h.dgain, 2 * NETS * (size_t)w);
    for (uint32_t z = 0; z < NETS; z++) {
        ln_host hz = {h.u + z * nu, h.gain + 2 * z * w, c->residual ? h.res + z * ny : NULL, h.dy + z * ny,
                      h.dgain + 2 * z * w};
        ln_want want = ln_reference(c, &hz, seeds[z]);
        copy_want(all.y + z * ny, want.y, ny);
        copy_want(all.stats + 2 * z * b, want.stats, 2 * (size_t)b);
        copy_want(all.du + z * nu, want.du, nu);
        copy_want(all.du_scale + z * nu, want.du_scale, nu);
        copy_want(all.dgain + 2 * z * w, want.dgain, w);
        ln_want_free(&want);
    }
    char what[128];
    int n = snprintf(what, sizeof what, "stacked LN %s %ux%u rate %g%s", nn_act_name(c->act), b, c->cols,
                     (double)c->rate, c->residual ? " residual" : "");
    int failures = compare_ln(what, sizeof what, n, io.y, io.stats, io.du, io.dgain, &all);
    ln_want_free(&all);
    ln_io_free(&io);
    return failures;
}

static void test_layernorm_stacked(void **state)
{
    (void)state;
    static const shape stacked[] = {{5, 13}, {2, 1}, {64, 200}};
    vks_tensor *values = counter_values(COUNTER_LO, COUNTER_HI);
    int failures = 0, k = 0;
    for (size_t s = 0; s < sizeof stacked / sizeof *stacked; s++)
        for (size_t a = 0; a < NACTS; a++)
            for (int r = 0; r <= 1; r++, k++) {
                ln_case c = {stacked[s].rows, stacked[s].cols, ACTS[a], r ? 0.5f : 0.0f, k % 2, k % 3 == 0};
                failures += check_ln_stacked(&c, values, 9000 + 100 * (uint64_t)k);
            }
    vks_tensor_destroy(values);
    assert_int_equal(failures, 0);
}

/* In-place forms: y = residual (the residual block's z += LN(...)), y = u
 * for LN and the activation, dx = dy for the activation backward. */
static void test_in_place(void **state)
{
    (void)state;
    const uint32_t b = 9, n = 13;
    float *hu, *hg, *hr;
    vks_tensor *u = th_rand_tensor(b, n, 71, &hu), *gain = th_rand_tensor(1, n, 72, &hg);
    vks_tensor *z = th_rand_tensor(b, n, 73, &hr), *stats = th_tensor(b, 2, NULL);
    vks_tensor *values = counter_values(COUNTER_LO, COUNTER_HI);
    nn_dropout drop = drop_of(0.25f, values);
    ref_dropout rd = ref_drop_of(0.25, COUNTER_LO, COUNTER_HI);
    double *ud = th_to_double(hu, (size_t)b * n), *gd = th_to_double(hg, n), *rdd = th_to_double(hr, (size_t)b * n);
    double *want = malloc((size_t)b * n * sizeof *want);
    assert_non_null(want);

    vks_seq *seq = th_seq_begin(0);
    TH_OK(nn_ln_forward(seq, z, stats, u, gain, z, NN_ACT_RELU2, &drop));
    th_seq_finish(seq);
    ref_ln_forward(want, NULL, ud, gd, rdd, b, n, REF_NN_RELU2, &rd);
    float *wf = th_to_float(want, (size_t)b * n);
    assert_true(th_check(z, wf, TH_TOL, "LN y = residual"));
    free(wf);

    seq = th_seq_begin(0);
    TH_OK(nn_ln_forward(seq, u, stats, u, gain, NULL, NN_ACT_RELU, &drop));
    th_seq_finish(seq);
    ref_ln_forward(want, NULL, ud, gd, NULL, b, n, REF_NN_RELU, &rd);
    wf = th_to_float(want, (size_t)b * n);
    assert_true(th_check(u, wf, TH_TOL, "LN y = u"));
    free(wf);

    /* u now holds the LN output; run the activation in place on it. */
    float *hv = th_read(u);
    double *vd = th_to_double(hv, (size_t)b * n), *dyd = th_to_double(hr, (size_t)b * n);
    vks_tensor *dy = th_tensor(b, n, hr);
    seq = th_seq_begin(0);
    TH_OK(nn_act_backward(seq, dy, dy, u, NN_ACT_RELU2, &drop));
    TH_OK(nn_act_forward(seq, u, u, NN_ACT_RELU2, &drop));
    th_seq_finish(seq);
    ref_act_backward(want, dyd, vd, b, n, REF_NN_RELU2, &rd);
    wf = th_to_float(want, (size_t)b * n);
    assert_true(th_check(dy, wf, TH_TOL, "act backward dx = dy"));
    free(wf);
    ref_act_forward(want, vd, b, n, REF_NN_RELU2, &rd);
    wf = th_to_float(want, (size_t)b * n);
    assert_true(th_check(u, wf, TH_TOL, "act forward y = x"));
    free(wf);

    free(hu), free(hg), free(hr), free(hv), free(ud), free(gd), free(rdd), free(vd), free(dyd), free(want);
    vks_tensor *all[] = {u, gain, z, stats, values, dy};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        vks_tensor_destroy(all[i]);
}

/* More rows than the 4096 workgroups of a dispatch (a row at least per
 * workgroup): the kernels' loops over rows. */
static void test_beyond_grid_cap(void **state)
{
    (void)state;
    const uint32_t rows = 4096 * 2 + 5;
    vks_tensor *values = counter_values(COUNTER_LO, COUNTER_HI);
    int failures = check_act(rows, 3, NN_ACT_CRELU, 0.1f, values, 61);
    failures += check_act(rows, 5, NN_ACT_RELU2, 0.1f, values, 63);
    ln_case c = {rows, 3, NN_ACT_RELU2, 0.1f, 1, 1};
    failures += check_ln(&c, values, 62);
    vks_tensor_destroy(values);
    assert_int_equal(failures, 0);
}

/* ---- bad arguments ------------------------------------------------------ */

/* The call failed with E_ARG and a message holding both needles. */
static void expect_arg_error(vksac_status st, const char *a, const char *b)
{
    const char *msg = vks_ctx_error(th.ctx);
    if (st != VKSAC_E_ARG || !strstr(msg, a) || (b && !strstr(msg, b)))
        fail_msg("got %s \"%s\", want VKSAC_E_ARG naming '%s'%s%s", vksac_status_name(st), msg, a,
                 b ? " and " : "", b ? b : "");
    TH_ERR(th.ctx, st, VKSAC_E_ARG);
}

static void test_act_names(void **state)
{
    (void)state;
    static const char *names[] = {"none", "relu", "relu2", "relu\xc2\xb2", "crelu"};
    static const nn_act want[] = {NN_ACT_NONE, NN_ACT_RELU, NN_ACT_RELU2, NN_ACT_RELU2, NN_ACT_CRELU};
    for (int i = 0; i < 5; i++) {
        nn_act a = NN_ACT_NONE;
        TH_OK(nn_act_parse(th.ctx, names[i], "act", &a));
        assert_int_equal(a, want[i]);
    }
    for (size_t i = 0; i < NACTS; i++) {
        nn_act a;
        TH_OK(nn_act_parse(th.ctx, nn_act_name(ACTS[i]), "act", &a));
        assert_int_equal(a, ACTS[i]);
        assert_int_equal(nn_act_width(ACTS[i], 7), ACTS[i] == NN_ACT_CRELU ? 14 : 7);
    }
    nn_act a;
    expect_arg_error(nn_act_parse(th.ctx, "tanh", "critic.act", &a), "critic.act", "'tanh'");
    expect_arg_error(nn_act_parse(th.ctx, "ReLU", "act", &a), "'act'", "'ReLU'");
    expect_arg_error(nn_act_parse(th.ctx, "", "act", &a), "'act'", "''");
    expect_arg_error(nn_act_parse(th.ctx, NULL, "act", &a), "'act'", "NULL");
    expect_arg_error(nn_act_parse(th.ctx, "relu", "act", NULL), "act", NULL);
    /* Without a context there is nowhere to put a message, but no crash. */
    assert_int_equal(nn_act_parse(NULL, "tanh", "act", &a), VKSAC_E_ARG);
}

static void test_bad_dropout(void **state)
{
    (void)state;
    vks_tensor *x = th_tensor(3, 5, NULL), *y = th_tensor(3, 5, NULL), *values = counter_values(0, 0);
    vks_tensor *gain = th_tensor(1, 5, NULL), *stats = th_tensor(3, 2, NULL);
    vks_tensor *dgain = th_tensor(1, 5, NULL), *scratch = th_tensor(3, 5, NULL);
    vks_seq *seq = th_seq_begin(0);
    static const float bad[] = {-0.1f, 1.0f, 1.5f, NAN, INFINITY};
    static const char *shown[] = {"-0.1", "1", "1.5", "nan", "inf"};
    for (int i = 0; i < 5; i++) {
        nn_dropout d = drop_of(bad[i], values);
        expect_arg_error(nn_act_forward(seq, y, x, NN_ACT_RELU, &d), "'rate'", shown[i]);
        expect_arg_error(nn_act_backward(seq, y, x, x, NN_ACT_RELU, &d), "'rate'", shown[i]);
        expect_arg_error(nn_ln_forward(seq, y, stats, x, gain, NULL, NN_ACT_RELU, &d), "'rate'", shown[i]);
        expect_arg_error(nn_ln_backward(seq, y, dgain, scratch, x, x, gain, stats, NN_ACT_RELU, &d, 0), "'rate'",
                         shown[i]);
    }
    nn_dropout d = drop_of(0.1f, NULL);
    expect_arg_error(nn_act_forward(seq, y, x, NN_ACT_RELU, &d), "'drop.values'", "NULL");
    d = drop_of(0.1f, values);
    d.counter_index = 3;   /* the high word would be past the 1×4 tensor */
    expect_arg_error(nn_act_forward(seq, y, x, NN_ACT_RELU, &d), "'counter_index'", "3");
    /* rate 0 is off, and then values may be NULL. */
    d = drop_of(0.0f, NULL);
    TH_OK(nn_act_forward(seq, y, x, NN_ACT_RELU, &d));
    th_seq_finish(seq);
    vks_tensor *all[] = {x, y, values, gain, stats, dgain, scratch};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        vks_tensor_destroy(all[i]);
}

static void test_bad_shapes(void **state)
{
    (void)state;
    const uint32_t b = 3, n = 5;
    vks_tensor *u = th_tensor(b, n, NULL), *y2 = th_tensor(b, 2 * n, NULL), *y = th_tensor(b, n, NULL);
    vks_tensor *gain = th_tensor(1, n, NULL), *gain2 = th_tensor(1, 2 * n, NULL), *stats = th_tensor(b, 2, NULL);
    vks_tensor *stats_bad = th_tensor(b, 3, NULL), *dgain = th_tensor(1, n, NULL), *scratch = th_tensor(b, n, NULL);
    vks_tensor *dy = th_tensor(b, n, NULL), *du = th_tensor(b, n, NULL), *short_rows = th_tensor(b - 1, n, NULL);
    vks_seq *seq = th_seq_begin(0);

    /* CReLU doubles the width: y must be 3x10. */
    expect_arg_error(nn_act_forward(seq, y, u, NN_ACT_CRELU, NULL), "tensor 'y' is 3x5", "expected 3x10");
    expect_arg_error(nn_act_forward(seq, y2, u, NN_ACT_RELU, NULL), "tensor 'y' is 3x10", "expected 3x5");
    expect_arg_error(nn_act_backward(seq, du, y, u, NN_ACT_CRELU, NULL), "tensor 'dy' is 3x5", "expected 3x10");
    expect_arg_error(nn_act_backward(seq, short_rows, dy, u, NN_ACT_RELU, NULL), "tensor 'dx' is 2x5",
                     "expected 3x5");
    expect_arg_error(nn_act_forward(seq, y, u, (nn_act)7, NULL), "act", "7");

    expect_arg_error(nn_ln_forward(seq, y2, stats, u, gain, NULL, NN_ACT_CRELU, NULL), "tensor 'gain' is 1x5",
                     "expected 1x10");
    expect_arg_error(nn_ln_forward(seq, y, stats_bad, u, gain, NULL, NN_ACT_RELU, NULL), "tensor 'stats' is 3x3",
                     "expected 3x2");
    expect_arg_error(nn_ln_forward(seq, y, stats, u, gain, short_rows, NN_ACT_RELU, NULL),
                     "tensor 'residual' is 2x5", "expected 3x5");
    expect_arg_error(nn_ln_forward(seq, y, stats, u, gain, y2, NN_ACT_RELU, NULL), "tensor 'residual' is 3x10",
                     "expected 3x5");
    expect_arg_error(nn_ln_backward(seq, du, dgain, scratch, y2, u, gain, stats, NN_ACT_RELU, NULL, 0),
                     "tensor 'dy' is 3x10", "expected 3x5");
    expect_arg_error(nn_ln_backward(seq, du, gain2, scratch, dy, u, gain, stats, NN_ACT_RELU, NULL, 0),
                     "tensor 'dgain' is 1x10", "expected 1x5");
    expect_arg_error(nn_ln_backward(seq, du, dgain, y2, dy, u, gain, stats, NN_ACT_RELU, NULL, 0),
                     "tensor 'scratch' is 3x10", "expected 3x5");
    expect_arg_error(nn_ln_backward(seq, short_rows, dgain, scratch, dy, u, gain, stats, NN_ACT_RELU, NULL, 0),
                     "tensor 'du' is 2x5", "expected 3x5");

    /* Outputs must not be inputs that the kernels read beyond the texel being written. */
    vks_tensor *u2 = th_tensor(b, 2, NULL), *y_2 = th_tensor(b, 2, NULL), *gain_2 = th_tensor(1, 2, NULL);
    expect_arg_error(nn_ln_forward(seq, y_2, u2, u2, gain_2, NULL, NN_ACT_NONE, NULL), "'stats' and 'u'",
                     "overlap");
    expect_arg_error(nn_ln_forward(seq, u2, u2, y_2, gain_2, NULL, NN_ACT_NONE, NULL), "'stats' and 'y'",
                     "overlap");
    vks_tensor_destroy(u2), vks_tensor_destroy(y_2), vks_tensor_destroy(gain_2);
    expect_arg_error(nn_ln_backward(seq, dy, dgain, scratch, dy, u, gain, stats, NN_ACT_RELU, NULL, 0), "'du'",
                     "'dy'");
    expect_arg_error(nn_ln_backward(seq, du, dgain, du, dy, u, gain, stats, NN_ACT_RELU, NULL, 0), "'du'",
                     "'scratch'");

    /* NULL tensors, each named. */
    expect_arg_error(nn_act_forward(seq, NULL, u, NN_ACT_RELU, NULL), "'y'", "NULL");
    expect_arg_error(nn_act_forward(seq, y, NULL, NN_ACT_RELU, NULL), "'x'", "NULL");
    expect_arg_error(nn_act_backward(seq, du, NULL, u, NN_ACT_RELU, NULL), "'dy'", "NULL");
    expect_arg_error(nn_ln_forward(seq, y, NULL, u, gain, NULL, NN_ACT_RELU, NULL), "'stats'", "NULL");
    expect_arg_error(nn_ln_forward(seq, y, stats, u, NULL, NULL, NN_ACT_RELU, NULL), "'gain'", "NULL");
    expect_arg_error(nn_ln_forward(seq, y, stats, NULL, gain, NULL, NN_ACT_RELU, NULL), "'u'", "NULL");
    /* dgain NULL is allowed: it skips the gain gradient (a frozen network). */
    TH_OK(nn_ln_backward(seq, du, NULL, scratch, dy, u, gain, stats, NN_ACT_RELU, NULL, 0));
    expect_arg_error(nn_ln_backward(seq, du, dgain, NULL, dy, u, gain, stats, NN_ACT_RELU, NULL, 0), "'scratch'",
                     "NULL");
    expect_arg_error(nn_ln_backward(seq, du, dgain, scratch, dy, u, gain, NULL, NN_ACT_RELU, NULL, 0), "'stats'",
                     "NULL");
    /* No sequence: no context to hold a message, but no crash either. */
    assert_int_equal(nn_act_forward(NULL, y, u, NN_ACT_RELU, NULL), VKSAC_E_ARG);
    assert_int_equal(nn_act_backward(NULL, du, dy, u, NN_ACT_RELU, NULL), VKSAC_E_ARG);
    assert_int_equal(nn_ln_forward(NULL, y, stats, u, gain, NULL, NN_ACT_RELU, NULL), VKSAC_E_ARG);
    assert_int_equal(nn_ln_backward(NULL, du, dgain, scratch, dy, u, gain, stats, NN_ACT_RELU, NULL, 0),
                     VKSAC_E_ARG);

    /* Nothing was recorded by the failed calls; the sequence still runs. */
    th_seq_finish(seq);
    vks_tensor *all[] = {u, y2, y, gain, gain2, stats, stats_bad, dgain, scratch, dy, du, short_rows};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        vks_tensor_destroy(all[i]);
}

int main(int argc, char **argv)
{
    if (th_parse_args(argc, argv, "layers") != 0)
        return 2;
    const struct CMUnitTest tests[] = {
        TH_TEST(test_philox_kat),
        TH_TEST(test_reference_finite_differences),
        TH_TEST(test_dropout_mask_exact),
        TH_TEST(test_dropout_mask_parameters),
        TH_TEST(test_act),
        TH_TEST(test_layernorm),
        TH_TEST(test_layernorm_stacked),
        TH_TEST(test_in_place),
        TH_TEST(test_beyond_grid_cap),
        TH_TEST(test_act_names),
        TH_TEST(test_bad_dropout),
        TH_TEST(test_bad_shapes),
    };
    return cmocka_run_group_tests_name(th.group_name, tests, th_group_setup, th_group_teardown);
}
