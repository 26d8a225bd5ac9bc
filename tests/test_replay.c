/* The replay buffer (src/rl/replay.c) and vks_tensor_write_rows: ring
 * contents against a host model that appends row by row, sampled batches
 * against the reference sampler (tests/reference/replay_ref.c), and bad
 * arguments with their messages. */
#include "harness.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn/nn.h"
#include "reference/replay_ref.h"
#include "rl/replay.h"

/* ---- helpers ------------------------------------------------------------ */

/* Expects status `want` with a message containing `needle`. */
static void expect_err(vksac_status s, vksac_status want, const char *needle, const char *what)
{
    const char *msg = vks_ctx_error(th.ctx);
    if (s == want && !strstr(msg, needle)) {
        print_error("%s: message \"%s\" does not mention \"%s\"\n", what, msg, needle);
        fail();
    }
    TH_ERR(th.ctx, s, want);
}

static void *xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size);
    assert_non_null(p);
    return p;
}

/* n transitions of a S/C/D configuration; row i's values are distinct
 * from every other row's (the state's first column is 1000 + i + seed). */
typedef struct trans {
    uint32_t n, S, C, D;
    float *s, *c, *d, *rew, *term, *trunc, *ns;
} trans;

static trans trans_make(uint32_t n, uint32_t S, uint32_t C, uint32_t D, uint64_t seed)
{
    trans t = {n, S, C, D, th_rand((size_t)n * S, seed), C ? th_rand((size_t)n * C, seed + 1) : NULL,
               D ? xcalloc((size_t)n * D, sizeof(float)) : NULL, th_rand(n, seed + 2), xcalloc(n, sizeof(float)),
               xcalloc(n, sizeof(float)), th_rand((size_t)n * S, seed + 3)};
    for (uint32_t i = 0; i < n; i++) {
        t.s[(size_t)i * S] = 1000.0f + (float)i + (float)seed;
        for (uint32_t j = 0; j < D; j++)
            t.d[(size_t)i * D + j] = (float)((i * 7 + j * 3 + seed) % 5);
        t.term[i] = (float)((i + seed) % 3 == 0);
        t.trunc[i] = (float)((i + seed) % 4 == 1);
    }
    return t;
}

static void trans_free(trans *t)
{
    free(t->s), free(t->c), free(t->d), free(t->rew), free(t->term), free(t->trunc), free(t->ns);
}

static vksac_status trans_add(rl_replay *r, const trans *t)
{
    return rl_replay_add(r, t->n, t->s, t->c, t->d, t->rew, t->term, t->trunc, t->ns);
}

/* Host model of the ring: per slot, a copy of the transition it holds,
 * concatenated as [s | c | d | reward, terminated, truncated | s']. */
typedef struct model {
    uint32_t cap, S, C, D, w, head;
    uint64_t count;
    float *slots;
} model;

static model model_make(const rl_replay_config *cfg)
{
    model m = {cfg->capacity, cfg->S, cfg->C, cfg->D, 2 * cfg->S + cfg->C + cfg->D + 3, 0, 0, NULL};
    m.slots = xcalloc((size_t)m.cap * m.w, sizeof(float));
    return m;
}

static void model_add(model *m, const trans *t)
{
    for (uint32_t i = 0; i < t->n; i++) {
        float *p = m->slots + (size_t)m->head * m->w;
        memcpy(p, t->s + (size_t)i * m->S, m->S * sizeof(float));
        p += m->S;
        if (m->C)
            memcpy(p, t->c + (size_t)i * m->C, m->C * sizeof(float));
        p += m->C;
        if (m->D)
            memcpy(p, t->d + (size_t)i * m->D, m->D * sizeof(float));
        p += m->D;
        p[0] = t->rew[i], p[1] = t->term[i], p[2] = t->trunc[i];
        memcpy(p + 3, t->ns + (size_t)i * m->S, m->S * sizeof(float));
        m->head = (m->head + 1) % m->cap;
        m->count++;
    }
}

static uint32_t model_size(const model *m) { return (uint32_t)(m->count < m->cap ? m->count : m->cap); }

/* Every written slot of the device ring equals the model's, and the
 * counters agree. */
static void check_ring(rl_replay *r, const model *m)
{
    assert_int_equal(rl_replay_count(r), m->count);
    assert_int_equal(rl_replay_size(r), model_size(m));
    assert_int_equal(rl_replay_head(r), m->head);
    float *got = xcalloc(m->w, sizeof(float));
    for (uint32_t slot = 0; slot < model_size(m); slot++) {
        float *p = got;
        TH_OK(rl_replay_read_slot(r, slot, p, p + m->S, p + m->S + m->C, p + m->S + m->C + m->D,
                                  p + m->S + m->C + m->D + 3));
        if (memcmp(got, m->slots + (size_t)slot * m->w, m->w * sizeof(float)) != 0) {
            print_error("slot %u differs from the model (state[0] %g, want %g)\n", slot, (double)got[0],
                        (double)m->slots[(size_t)slot * m->w]);
            fail();
        }
    }
    free(got);
}

static rl_replay *replay_make(uint32_t cap, uint32_t S, uint32_t C, uint32_t D)
{
    rl_replay_config cfg = {cap, S, C, D};
    rl_replay *r = NULL;
    TH_OK(rl_replay_create(th.ctx, &cfg, &r));
    assert_non_null(r);
    return r;
}

typedef struct batch {
    rl_replay_batch t;
    uint32_t B;
} batch;

/* Batch tensors filled with junk first, so a row the kernel skips shows. */
static batch batch_make(uint32_t B, uint32_t S, uint32_t C, uint32_t D)
{
    batch b = {{th_rand_tensor(B, S, 11, NULL), th_rand_tensor(B, S, 12, NULL),
                C ? th_rand_tensor(B, C, 13, NULL) : NULL, D ? th_rand_tensor(B, D, 14, NULL) : NULL,
                th_rand_tensor(B, 3, 15, NULL)},
               B};
    return b;
}

static void batch_free(batch *b)
{
    vks_tensor_destroy(b->t.states), vks_tensor_destroy(b->t.next_states), vks_tensor_destroy(b->t.cont);
    vks_tensor_destroy(b->t.disc), vks_tensor_destroy(b->t.rtd);
}

/* Batch rows as model-layout rows (B × w); checks every padding column. */
static float *batch_read(const batch *b, const model *m)
{
    float *out = xcalloc((size_t)b->B * m->w, sizeof(float));
    const vks_tensor *ts[5] = {b->t.states, b->t.cont, b->t.disc, b->t.rtd, b->t.next_states};
    uint32_t widths[5] = {m->S, m->C, m->D, 3, m->S}, at = 0;
    for (int f = 0; f < 5; f++) {
        if (!widths[f])
            continue;
        float *h = th_read(ts[f]);
        for (uint32_t i = 0; i < b->B; i++)
            memcpy(out + (size_t)i * m->w + at, h + (size_t)i * widths[f], widths[f] * sizeof(float));
        free(h);
        assert_true(th_padding_zero(ts[f], "replay batch"));
        at += widths[f];
    }
    return out;
}

static vks_tensor *counters_make(uint64_t counter)
{
    float v[8] = {0};
    v[2] = (float)(counter & 0xFFFFFFu);
    v[3] = (float)(counter >> 24);
    return th_tensor(1, 8, v);
}

static void counters_set(vks_tensor *t, uint64_t counter)
{
    float v[8] = {0};
    v[2] = (float)(counter & 0xFFFFFFu);
    v[3] = (float)(counter >> 24);
    TH_OK(vks_tensor_write(t, v));
}

/* Checks a read-back batch: row b must be the model's slot
 * ref_replay_index(key, b, counter, size) (or zeros when size is 0).
 * Counts the draws per slot into hist when non-NULL. */
static void check_batch(const float *got, const model *m, uint32_t B, uint32_t key, uint64_t counter,
                        uint32_t *hist)
{
    uint32_t size = model_size(m);
    float *zeros = xcalloc(m->w, sizeof(float));
    for (uint32_t b = 0; b < B; b++) {
        uint32_t slot = ref_replay_index(key, b, counter, size);
        assert_true(size == 0 || slot < size);
        const float *want = size ? m->slots + (size_t)slot * m->w : zeros;
        if (memcmp(got + (size_t)b * m->w, want, m->w * sizeof(float)) != 0) {
            print_error("batch row %u (counter %llu, size %u): state[0] %g, want slot %u (state[0] %g)\n", b,
                        (unsigned long long)counter, size, (double)got[(size_t)b * m->w], slot, (double)want[0]);
            fail();
        }
        if (hist)
            hist[slot]++;
    }
    free(zeros);
}

/* ---- vks_tensor_write_rows ---------------------------------------------- */

static void test_write_rows(void **state)
{
    (void)state;
    const uint32_t shapes[][2] = {{6, 5}, {4, 4}, {3, 1}, {1, 7}};
    for (size_t k = 0; k < sizeof shapes / sizeof shapes[0]; k++) {
        uint32_t rows = shapes[k][0], cols = shapes[k][1];
        float *host = NULL;
        vks_tensor *t = th_rand_tensor(rows, cols, 100 + k, &host);
        /* Every [row0, row0 + n) range in turn, the host copy updated along. */
        uint64_t seed = 200 + 10 * k;
        for (uint32_t row0 = 0; row0 < rows; row0++)
            for (uint32_t n = 1; row0 + n <= rows; n++) {
                float *src = th_rand((size_t)n * cols, seed++);
                TH_OK(vks_tensor_write_rows(t, row0, n, src));
                memcpy(host + (size_t)row0 * cols, src, (size_t)n * cols * sizeof *src);
                free(src);
                char what[96];
                snprintf(what, sizeof what, "write_rows %ux%u rows [%u, %u)", rows, cols, row0, row0 + n);
                assert_true(th_check(t, host, 0.0, what));   /* neighbours untouched, padding zero */
            }
        free(host);
        vks_tensor_destroy(t);
    }
    /* A view: rows land inside the parent at the view's offset only. */
    float *ph = NULL;
    vks_tensor *parent = th_rand_tensor(64, 4, 300, &ph), *view = NULL;
    TH_OK(vks_tensor_view(parent, 64, 8, 3, &view));
    float src[6] = {1, 2, 3, 4, 5, 6};
    TH_OK(vks_tensor_write_rows(view, 2, 2, src));
    for (int i = 0; i < 2; i++) {
        for (int j = 0; j < 3; j++)
            ph[64 + (2 + i) * 4 + j] = src[i * 3 + j];
        ph[64 + (2 + i) * 4 + 3] = 0.0f;
    }
    assert_true(th_check(parent, ph, 0.0, "write_rows through a view"));
    free(ph);
    vks_tensor_destroy(view);
    vks_tensor_destroy(parent);
}

static void test_write_rows_bad_args(void **state)
{
    (void)state;
    float src[40] = {0};
    vks_tensor *t = th_tensor(6, 5, NULL);
    expect_err(vks_tensor_write_rows(t, 5, 2, src), VKSAC_E_ARG, "rows [5, 7) do not lie within the 6 rows",
               "past the end");
    expect_err(vks_tensor_write_rows(t, 6, 1, src), VKSAC_E_ARG, "rows [6, 7)", "row0 = rows");
    expect_err(vks_tensor_write_rows(t, UINT32_MAX, 2, src), VKSAC_E_ARG, "do not lie within", "row0 huge");
    expect_err(vks_tensor_write_rows(t, 1, UINT32_MAX, src), VKSAC_E_ARG, "do not lie within", "nrows huge");
    expect_err(vks_tensor_write_rows(t, 0, 0, src), VKSAC_E_ARG, "nrows is 0", "nrows 0");
    expect_err(vks_tensor_write_rows(t, 0, 1, NULL), VKSAC_E_ARG, "must not be NULL", "NULL src");
    assert_int_equal(vks_tensor_write_rows(NULL, 0, 1, src), VKSAC_E_ARG);
    float *got = th_read(t);   /* nothing was written */
    for (int i = 0; i < 30; i++)
        assert_true(got[i] == 0.0f);
    free(got);
    vks_tensor_destroy(t);
}

/* ---- ring contents -------------------------------------------------------- */

static void test_wrap_around(void **state)
{
    (void)state;
    rl_replay_config cfg = {5, 3, 2, 1};
    rl_replay *r = replay_make(5, 3, 2, 1);
    model m = model_make(&cfg);
    assert_int_equal(rl_replay_count(r), 0);
    assert_int_equal(rl_replay_size(r), 0);
    trans a = trans_make(3, 3, 2, 1, 0), b = trans_make(4, 3, 2, 1, 100);
    TH_OK(trans_add(r, &a));
    model_add(&m, &a);
    check_ring(r, &m);
    assert_int_equal(rl_replay_head(r), 3);
    TH_OK(trans_add(r, &b));
    model_add(&m, &b);
    check_ring(r, &m);
    assert_int_equal(rl_replay_count(r), 7);
    assert_int_equal(rl_replay_size(r), 5);
    assert_int_equal(rl_replay_head(r), 2);
    /* Spelled out: slots 0, 1 hold b's rows 2, 3; slots 2..4 a's row 2 and
     * b's rows 0, 1. */
    float s[3], rtd[3];
    const float *want[5] = {b.s + 2 * 3, b.s + 3 * 3, a.s + 2 * 3, b.s, b.s + 3};
    for (uint32_t slot = 0; slot < 5; slot++) {
        TH_OK(rl_replay_read_slot(r, slot, s, NULL, NULL, rtd, NULL));
        assert_memory_equal(s, want[slot], sizeof s);
    }
    TH_OK(rl_replay_read_slot(r, 0, NULL, NULL, NULL, rtd, NULL));
    assert_true(rtd[0] == b.rew[2] && rtd[1] == b.term[2] && rtd[2] == b.trunc[2]);
    expect_err(rl_replay_read_slot(r, 5, s, NULL, NULL, NULL, NULL), VKSAC_E_ARG, "slot 5 is not written",
               "read past size");
    trans_free(&a), trans_free(&b);
    free(m.slots);
    rl_replay_destroy(r);
}

/* More rows than capacity in one add keeps the last `capacity`, placed as
 * if appended one by one, from an empty ring and from every head. */
static void test_overfill(void **state)
{
    (void)state;
    for (uint32_t first = 0; first < 6; first++) {
        rl_replay_config cfg = {5, 2, 1, 2};
        rl_replay *r = replay_make(5, 2, 1, 2);
        model m = model_make(&cfg);
        trans a = trans_make(first, 2, 1, 2, 7), b = trans_make(12, 2, 1, 2, 50), c = trans_make(5, 2, 1, 2, 90);
        if (first) {
            TH_OK(trans_add(r, &a));
            model_add(&m, &a);
        }
        TH_OK(trans_add(r, &b));
        model_add(&m, &b);
        check_ring(r, &m);
        assert_int_equal(rl_replay_count(r), first + 12);
        assert_int_equal(rl_replay_head(r), (first + 12) % 5);
        TH_OK(trans_add(r, &c));   /* exactly capacity */
        model_add(&m, &c);
        check_ring(r, &m);
        trans_free(&a), trans_free(&b), trans_free(&c);
        free(m.slots);
        rl_replay_destroy(r);
    }
    /* Capacity 1. */
    rl_replay_config cfg = {1, 3, 0, 0};
    rl_replay *r = replay_make(1, 3, 0, 0);
    model m = model_make(&cfg);
    trans a = trans_make(4, 3, 0, 0, 3);
    TH_OK(trans_add(r, &a));
    model_add(&m, &a);
    check_ring(r, &m);
    assert_int_equal(rl_replay_head(r), 0);
    trans_free(&a);
    free(m.slots);
    rl_replay_destroy(r);
}

/* ---- sampling ------------------------------------------------------------- */

/* Size 3 in a capacity-1000 ring: 4096 rows per batch, all from written
 * slots, each the slot the reference picks, for several counters (some
 * with a high half); the same counter twice gives the same batch, another
 * counter another; every slot is drawn about equally often. */
static void test_sample_bounds(void **state)
{
    (void)state;
    const uint32_t S = 5, C = 2, D = 2, B = 4096, key = 0x5AC0FFEEu ^ 12345u;
    rl_replay_config cfg = {1000, S, C, D};
    rl_replay *r = replay_make(1000, S, C, D);
    model m = model_make(&cfg);
    trans a = trans_make(3, S, C, D, 1);
    TH_OK(trans_add(r, &a));
    model_add(&m, &a);
    batch b = batch_make(B, S, C, D);
    vks_tensor *counters = counters_make(0);
    vks_seq *seq = th_seq_begin(0);
    TH_OK(rl_replay_record_sample(seq, r, counters, 2, key, &b.t));
    TH_OK(vks_seq_end(seq));

    const uint64_t ctrs[] = {1, 2, 7, 1, 12345, (5ull << 24) + 123, (1ull << 24) - 1, 1ull << 24};
    const size_t nctrs = sizeof ctrs / sizeof ctrs[0];
    float *first = NULL, *prev = NULL;
    uint32_t hist[3] = {0};
    for (size_t k = 0; k < nctrs; k++) {
        counters_set(counters, ctrs[k]);
        TH_OK(vks_seq_run(seq, 1));
        float *got = batch_read(&b, &m);
        check_batch(got, &m, B, key, ctrs[k], hist);
        if (k == 3)   /* counter 1 again */
            assert_memory_equal(got, first, (size_t)B * m.w * sizeof(float));
        if (prev && ctrs[k] != ctrs[k - 1] && memcmp(got, prev, (size_t)B * m.w * sizeof(float)) == 0) {
            print_error("counters %llu and %llu gave the same batch\n", (unsigned long long)ctrs[k - 1],
                        (unsigned long long)ctrs[k]);
            fail();
        }
        free(prev);
        prev = got;
        if (k == 0) {
            first = xcalloc((size_t)B * m.w, sizeof(float));
            memcpy(first, got, (size_t)B * m.w * sizeof(float));
        }
    }
    /* Rough uniformity: χ² with 2 degrees of freedom; 30 is p ≈ 3e-7. */
    double n = (double)B * nctrs, e = n / 3.0, chi2 = 0.0;
    for (int s = 0; s < 3; s++) {
        assert_true(hist[s] > 0);
        chi2 += (hist[s] - e) * (hist[s] - e) / e;
    }
    if (chi2 > 30.0) {
        print_error("slot counts %u %u %u: chi2 %.1f\n", hist[0], hist[1], hist[2], chi2);
        fail();
    }
    free(first), free(prev);
    vks_seq_destroy(seq);
    vks_tensor_destroy(counters);
    batch_free(&b);
    trans_free(&a);
    free(m.slots);
    rl_replay_destroy(r);
}

/* One recording (tick the counter, sample) replayed while the buffer
 * fills: zeros while empty, then slot 0 only, then the reference's picks
 * over the growing size, the counter advanced by nn_tick on the device. */
static void test_sample_tick_and_fill(void **state)
{
    (void)state;
    const uint32_t S = 6, C = 1, D = 1, B = 37, key = 99;
    rl_replay_config cfg = {8, S, C, D};
    rl_replay *r = replay_make(8, S, C, D);
    model m = model_make(&cfg);
    batch b = batch_make(B, S, C, D);
    vks_tensor *counters = counters_make(0);
    vks_seq *seq = th_seq_begin(0);
    TH_OK(nn_tick(seq, counters, 1u << 2, 1u << 2));
    TH_OK(rl_replay_record_sample(seq, r, counters, 2, key, &b.t));
    TH_OK(vks_seq_end(seq));

    uint64_t counter = 0;
    const uint32_t adds[] = {0, 1, 2, 4, 3, 9};
    for (size_t k = 0; k < sizeof adds / sizeof adds[0]; k++) {
        trans t = trans_make(adds[k], S, C, D, 10 * k);
        if (adds[k]) {
            TH_OK(trans_add(r, &t));
            model_add(&m, &t);
        }
        TH_OK(vks_seq_run(seq, 2));   /* two updates per add */
        counter += 2;
        float *got = batch_read(&b, &m);
        check_batch(got, &m, B, key, counter, NULL);
        free(got);
        trans_free(&t);
    }
    float *cv = th_read(counters);
    assert_true(cv[2] == (float)counter && cv[3] == 0.0f);
    free(cv);
    vks_seq_destroy(seq);
    vks_tensor_destroy(counters);
    batch_free(&b);
    free(m.slots);
    rl_replay_destroy(r);
}

/* Configurations without continuous or discrete actions, widths on and off
 * vec4 boundaries, batch sizes around the workgroup size, and an add of
 * 1.5 × capacity rows (wrapping, rtd uploaded in several pieces). */
static void test_sample_shapes(void **state)
{
    (void)state;
    const uint32_t cases[][5] = {
        /* capacity, S, C, D, B */
        {10, 4, 0, 3, 64},  {10, 3, 2, 0, 65},  {7, 1, 0, 0, 1},   {300, 17, 6, 0, 256},
        {50, 9, 4, 5, 100}, {4, 13, 0, 1, 129}, {20, 2, 9, 2, 3},   {1000, 3, 1, 1, 300},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        uint32_t cap = cases[k][0], S = cases[k][1], C = cases[k][2], D = cases[k][3], B = cases[k][4];
        rl_replay_config cfg = {cap, S, C, D};
        rl_replay *r = replay_make(cap, S, C, D);
        model m = model_make(&cfg);
        trans t = trans_make(cap + cap / 2, S, C, D, 5 * k);   /* wraps */
        TH_OK(trans_add(r, &t));
        model_add(&m, &t);
        check_ring(r, &m);
        batch b = batch_make(B, S, C, D);
        vks_tensor *counters = counters_make(0);
        uint32_t key = 1234567u + (uint32_t)k;
        counters_set(counters, 42 + k);
        vks_seq *seq = th_seq_begin(0);
        TH_OK(rl_replay_record_sample(seq, r, counters, 2, key, &b.t));
        th_seq_finish(seq);
        float *got = batch_read(&b, &m);
        check_batch(got, &m, B, key, 42 + k, NULL);
        free(got);
        /* Two samplings in one recording (different keys) share the sink
         * of absent fields without a validation message. */
        batch b2 = batch_make(B, S, C, D);
        seq = th_seq_begin(0);
        TH_OK(rl_replay_record_sample(seq, r, counters, 2, key, &b.t));
        TH_OK(rl_replay_record_sample(seq, r, counters, 2, key + 1, &b2.t));
        th_seq_finish(seq);
        got = batch_read(&b2, &m);
        check_batch(got, &m, B, key + 1, 42 + k, NULL);
        free(got);
        batch_free(&b2);
        vks_tensor_destroy(counters);
        batch_free(&b);
        trans_free(&t);
        free(m.slots);
        rl_replay_destroy(r);
    }
}

/* ---- bad arguments ------------------------------------------------------ */

static void test_create_bad_args(void **state)
{
    (void)state;
    rl_replay *r = (rl_replay *)&r;
    rl_replay_config cfg = {0, 3, 1, 1};
    expect_err(rl_replay_create(th.ctx, &cfg, &r), VKSAC_E_ARG,
               "replay: field 'capacity' must be in [1, 16777215], got 0", "capacity 0");
    assert_null(r);
    cfg.capacity = 1u << 24;
    expect_err(rl_replay_create(th.ctx, &cfg, &r), VKSAC_E_ARG, "got 16777216", "capacity 2^24");
    cfg = (rl_replay_config){10, 0, 1, 1};
    expect_err(rl_replay_create(th.ctx, &cfg, &r), VKSAC_E_ARG, "field 'S' (state size) must be at least 1, got 0",
               "S 0");
    cfg = (rl_replay_config){16777215, 4096, 0, 0};
    expect_err(rl_replay_create(th.ctx, &cfg, &r), VKSAC_E_ARG, "texel-buffer limit", "storage too large");
    expect_err(rl_replay_create(th.ctx, NULL, &r), VKSAC_E_ARG, "config must not be NULL", "NULL config");
    cfg = (rl_replay_config){10, 3, 1, 1};
    expect_err(rl_replay_create(th.ctx, &cfg, NULL), VKSAC_E_ARG, "out must not be NULL", "NULL out");
    assert_int_equal(rl_replay_create(NULL, &cfg, &r), VKSAC_E_ARG);
    assert_int_equal(rl_replay_add(NULL, 1, NULL, NULL, NULL, NULL, NULL, NULL, NULL), VKSAC_E_ARG);
    assert_int_equal(rl_replay_count(NULL), 0);
    rl_replay_destroy(NULL);
}

static void test_add_bad_args(void **state)
{
    (void)state;
    const uint32_t S = 3, C = 2, D = 1;
    rl_replay_config cfg = {10, S, C, D};
    rl_replay *r = replay_make(10, S, C, D);
    model m = model_make(&cfg);
    trans ok = trans_make(2, S, C, D, 1);
    TH_OK(trans_add(r, &ok));
    model_add(&m, &ok);

    trans t = trans_make(5, S, C, D, 20);
    t.rew[3] = NAN;
    expect_err(trans_add(r, &t), VKSAC_E_ARG, "replay: reward of row 3 is nan", "NaN reward");
    t.rew[3] = 0.5f;
    t.s[2 * S + 1] = INFINITY;
    expect_err(trans_add(r, &t), VKSAC_E_ARG, "replay: states of row 2 column 1 is inf", "inf state");
    t.s[2 * S + 1] = 0.0f;
    t.ns[4 * S] = -INFINITY;
    expect_err(trans_add(r, &t), VKSAC_E_ARG, "next_states of row 4 column 0 is -inf", "-inf next state");
    t.ns[4 * S] = 0.0f;
    t.c[1] = NAN;
    expect_err(trans_add(r, &t), VKSAC_E_ARG, "cont of row 0 column 1", "NaN cont");
    t.c[1] = 0.0f;
    t.d[3] = INFINITY;
    expect_err(trans_add(r, &t), VKSAC_E_ARG, "disc of row 3 column 0 is inf", "inf disc");
    t.d[3] = 1.0f;
    t.term[2] = 2.0f;
    expect_err(trans_add(r, &t), VKSAC_E_ARG, "replay: terminated of row 2 is 2, must be 0 or 1", "terminated 2");
    t.term[2] = 1.0f;
    t.trunc[1] = 0.5f;
    expect_err(trans_add(r, &t), VKSAC_E_ARG, "truncated of row 1 is 0.5, must be 0 or 1", "truncated 0.5");
    t.trunc[1] = NAN;
    expect_err(trans_add(r, &t), VKSAC_E_ARG, "truncated of row 1 is nan", "truncated NaN");
    t.trunc[1] = 0.0f;

    const char *names[] = {"states", "cont", "disc", "reward", "terminated", "truncated", "next_states"};
    for (int k = 0; k < 7; k++) {
        const float *p[7] = {t.s, t.c, t.d, t.rew, t.term, t.trunc, t.ns};
        p[k] = NULL;
        char needle[64];
        snprintf(needle, sizeof needle, "replay: array '%s' must not be NULL", names[k]);
        expect_err(rl_replay_add(r, t.n, p[0], p[1], p[2], p[3], p[4], p[5], p[6]), VKSAC_E_ARG, needle, names[k]);
    }
    /* Nothing above was appended. */
    check_ring(r, &m);
    TH_OK(trans_add(r, &t));
    model_add(&m, &t);
    TH_OK(rl_replay_add(r, 0, t.s, t.c, t.d, t.rew, t.term, t.trunc, t.ns));   /* n = 0: nothing */
    check_ring(r, &m);
    trans_free(&t), trans_free(&ok);
    free(m.slots);
    rl_replay_destroy(r);

    /* C = D = 0: cont and disc may be NULL (and are ignored when not). */
    rl_replay *r0 = replay_make(4, 2, 0, 0);
    trans t0 = trans_make(3, 2, 0, 0, 5);
    TH_OK(rl_replay_add(r0, 3, t0.s, NULL, NULL, t0.rew, t0.term, t0.trunc, t0.ns));
    assert_int_equal(rl_replay_size(r0), 3);
    trans_free(&t0);
    rl_replay_destroy(r0);
}

static void test_sample_bad_args(void **state)
{
    (void)state;
    const uint32_t S = 3, C = 2, D = 1, B = 8;
    rl_replay *r = replay_make(10, S, C, D), *r0 = replay_make(10, S, 0, 0);
    batch b = batch_make(B, S, C, D);
    vks_tensor *counters = counters_make(0), *c3 = th_tensor(1, 3, NULL);
    vks_tensor *s7 = th_tensor(B - 1, S, NULL), *rtd4 = th_tensor(B, 4, NULL), *c1 = th_tensor(B, 1, NULL);
    vks_seq *seq = th_seq_begin(0);
    rl_replay_batch bad;

    bad = b.t, bad.next_states = s7;
    expect_err(rl_replay_record_sample(seq, r, counters, 2, 0, &bad), VKSAC_E_ARG,
               "tensor 'batch.next_states' is 7x3, expected 8x3", "next_states rows");
    bad = b.t, bad.rtd = rtd4;
    expect_err(rl_replay_record_sample(seq, r, counters, 2, 0, &bad), VKSAC_E_ARG,
               "tensor 'batch.rtd' is 8x4, expected 8x3", "rtd cols");
    bad = b.t, bad.cont = c1;
    expect_err(rl_replay_record_sample(seq, r, counters, 2, 0, &bad), VKSAC_E_ARG,
               "tensor 'batch.cont' is 8x1, expected 8x2", "cont cols");
    bad = b.t, bad.disc = NULL;
    expect_err(rl_replay_record_sample(seq, r, counters, 2, 0, &bad), VKSAC_E_ARG,
               "tensor 'batch.disc' must not be NULL", "disc NULL");
    bad = b.t, bad.states = NULL;
    expect_err(rl_replay_record_sample(seq, r, counters, 2, 0, &bad), VKSAC_E_ARG,
               "tensor 'batch.states' must not be NULL", "states NULL");
    bad = b.t, bad.next_states = b.t.states;
    expect_err(rl_replay_record_sample(seq, r, counters, 2, 0, &bad), VKSAC_E_ARG,
               "tensors 'batch.next_states' and 'batch.states' overlap", "aliased outputs");
    bad = b.t;
    expect_err(rl_replay_record_sample(seq, r0, counters, 2, 0, &bad), VKSAC_E_ARG,
               "tensor 'batch.cont' must be NULL when C is 0", "cont given with C = 0");
    bad.cont = NULL;
    expect_err(rl_replay_record_sample(seq, r0, counters, 2, 0, &bad), VKSAC_E_ARG,
               "tensor 'batch.disc' must be NULL when D is 0", "disc given with D = 0");
    expect_err(rl_replay_record_sample(seq, r, c3, 2, 0, &b.t), VKSAC_E_ARG,
               "'counter_index' 2 needs values 2 and 3", "counter past the end");
    expect_err(rl_replay_record_sample(seq, r, counters, 7, 0, &b.t), VKSAC_E_ARG, "'counter_index' 7",
               "counter_index 7");
    expect_err(rl_replay_record_sample(seq, r, NULL, 2, 0, &b.t), VKSAC_E_ARG, "tensor 'counters' must not be NULL",
               "NULL counters");
    expect_err(rl_replay_record_sample(seq, NULL, counters, 2, 0, &b.t), VKSAC_E_ARG,
               "replay buffer must not be NULL", "NULL replay");
    expect_err(rl_replay_record_sample(seq, r, counters, 2, 0, NULL), VKSAC_E_ARG, "batch must not be NULL",
               "NULL batch");
    assert_int_equal(rl_replay_record_sample(NULL, r, counters, 2, 0, &b.t), VKSAC_E_ARG);
    /* Nothing was recorded; the sequence still records fine. */
    assert_int_equal(vks_seq_dispatches(seq), 0);
    TH_OK(rl_replay_record_sample(seq, r, counters, 2, 0, &b.t));
    th_seq_finish(seq);
    /* Empty buffer: the batch is zeros, not whatever it held. */
    float *z = th_read(b.t.states);
    for (uint32_t i = 0; i < B * S; i++)
        assert_true(z[i] == 0.0f);
    free(z);

    vks_tensor_destroy(s7), vks_tensor_destroy(rtd4), vks_tensor_destroy(c1);
    vks_tensor_destroy(counters), vks_tensor_destroy(c3);
    batch_free(&b);
    rl_replay_destroy(r), rl_replay_destroy(r0);
}

int main(int argc, char **argv)
{
    if (th_parse_args(argc, argv, "replay") != 0)
        return 2;
    const struct CMUnitTest tests[] = {
        TH_TEST(test_write_rows),
        TH_TEST(test_write_rows_bad_args),
        TH_TEST(test_wrap_around),
        TH_TEST(test_overfill),
        TH_TEST(test_sample_bounds),
        TH_TEST(test_sample_tick_and_fill),
        TH_TEST(test_sample_shapes),
        TH_TEST(test_create_bad_args),
        TH_TEST(test_add_bad_args),
        TH_TEST(test_sample_bad_args),
    };
    return cmocka_run_group_tests_name(th.group_name, tests, th_group_setup, th_group_teardown);
}
