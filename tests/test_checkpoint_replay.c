/* Checkpoints with the replay buffer and the caller's metadata
 * (src/rl/checkpoint_replay.c, docs/checkpoint.md): the replay buffer's
 * bulk read-back and restore, resuming training bit-identically from a
 * wrapped ring, the metadata string round trip (escapes, UTF-8) and its
 * limits, files without a replay buffer, hostile replay tensors and
 * metadata, and the public API (vksac_agent_save_with,
 * vksac_agent_metadata). */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent_fixture.h"
#include "rl/checkpoint.h"
#include "rl/safetensors.h"

#define N AF_N
#define CAP 256

/* Quotes, backslashes, control characters, 2-, 3- and 4-byte UTF-8, and
 * something that looks like the JSON around it. */
static const char META[] = "{\"env\": \"Pendulum\\\"v1\", \"path\": \"C:\\\\runs\\\\x\"}\n\ttab\x01\x1f\x7f "
                           "\xc3\xa9t\xc3\xa9 \xe2\x88\x9e \xf0\x9f\x98\x80 \"},\"actor.x\":{\"dtype\":\"F16\"}";

static vksac_agent_config hybrid_config(void)
{
    return af_config(41, CAP);
}

static vksac_transitions make_data(af_data *x, uint64_t seed)
{
    return af_make_data(x, seed, seed, true);
}

/* Observes `batches` batches of N transitions, seeds from `seed`. */
static void observe(rl_agent *a, int batches, uint64_t seed)
{
    af_data d;
    for (int b = 0; b < batches; b++) {
        vksac_transitions t = make_data(&d, seed + 10 * (uint64_t)b);
        TH_OK(rl_agent_observe(a, &t));
    }
}

/* ---- comparing replay buffers -------------------------------------------------- */

/* The whole replay buffer as one host array: size × (2S + C + D + 3). */
static float *replay_of(rl_agent *a, size_t *len)
{
    const vksac_agent_config *c = &a->cfg;
    size_t size = rl_replay_size(a->replay), w = 2 * c->dim_state + c->num_cont_actions + c->num_discrete_heads + 3;
    *len = size * w;
    float *f = calloc(size * w + 1, sizeof *f), *p = f;
    float *st = p, *cont = (p += size * c->dim_state), *disc = (p += size * c->num_cont_actions);
    float *rew = (p += size * c->num_discrete_heads), *term = (p += size), *trunc = (p += size), *next = p + size;
    TH_OK(rl_replay_read_all(a->replay, st, c->num_cont_actions ? cont : NULL, c->num_discrete_heads ? disc : NULL,
                             rew, term, trunc, next));
    return f;
}

static void assert_same_replay(rl_agent *x, rl_agent *y)
{
    assert_int_equal(rl_replay_count(x->replay), rl_replay_count(y->replay));
    assert_int_equal(rl_replay_size(x->replay), rl_replay_size(y->replay));
    assert_int_equal(rl_replay_head(x->replay), rl_replay_head(y->replay));
    size_t n, m;
    float *a = replay_of(x, &n), *b = replay_of(y, &m);
    assert_int_equal(n, m);
    assert_memory_equal(a, b, n * sizeof *a);
    free(a);
    free(b);
}

/* ---- the replay buffer alone -------------------------------------------------------- */

static void test_read_all_restore(void **state)
{
    (void)state;
    rl_replay_config cfg = {5, 3, 2, 1};
    rl_replay *r = NULL, *q = NULL;
    TH_OK(rl_replay_create(th.ctx, &cfg, &r));
    TH_OK(rl_replay_create(th.ctx, &cfg, &q));
    enum { M = 7 };
    float s[M * 3], c[M * 2], d[M], rew[M], term[M], trunc[M], ns[M * 3];
    th_rand_fill(s, M * 3, 1);
    th_rand_fill(c, M * 2, 2);
    th_rand_fill(rew, M, 3);
    th_rand_fill(ns, M * 3, 4);
    for (int i = 0; i < M; i++) {
        d[i] = (float)(i % 4);
        term[i] = (float)(i % 2);
        trunc[i] = (float)(i % 3 == 0);
    }
    /* Empty: nothing read, nothing needed. */
    TH_OK(rl_replay_read_all(r, s, c, d, rew, term, trunc, ns));
    TH_OK(rl_replay_add(r, 3, s, c, d, rew, term, trunc, ns));
    TH_OK(rl_replay_add(r, 4, s + 9, c + 6, d + 3, rew + 3, term + 3, trunc + 3, ns + 9));
    assert_int_equal(rl_replay_head(r), 2);
    float gs[5 * 3], gc[5 * 2], gd[5], gr[5], gt[5], gu[5], gn[5 * 3];
    TH_OK(rl_replay_read_all(r, gs, gc, gd, gr, gt, gu, gn));
    for (uint32_t slot = 0; slot < 5; slot++) {
        float one[3 + 2 + 1 + 3 + 3];
        TH_OK(rl_replay_read_slot(r, slot, one, one + 3, one + 5, one + 6, one + 9));
        assert_memory_equal(one, gs + 3 * slot, 3 * sizeof(float));
        assert_memory_equal(one + 3, gc + 2 * slot, 2 * sizeof(float));
        assert_true(one[5] == gd[slot] && one[6] == gr[slot] && one[7] == gt[slot] && one[8] == gu[slot]);
        assert_memory_equal(one + 9, gn + 3 * slot, 3 * sizeof(float));
    }
    /* Slot 0 holds row 5 (7 rows into 5 slots). */
    assert_memory_equal(gs, s + 15, 3 * sizeof(float));
    TH_OK(rl_replay_restore(q, 7, 2, gs, gc, gd, gr, gt, gu, gn));
    assert_int_equal(rl_replay_count(q), 7);
    assert_int_equal(rl_replay_size(q), 5);
    assert_int_equal(rl_replay_head(q), 2);
    float hs[5 * 3], hr[5], hn[5 * 3];
    TH_OK(rl_replay_read_all(q, hs, NULL, NULL, hr, NULL, NULL, hn));
    assert_memory_equal(hs, gs, sizeof hs);
    assert_memory_equal(hr, gr, sizeof hr);
    assert_memory_equal(hn, gn, sizeof hn);
    /* A partial ring: head = count. */
    TH_OK(rl_replay_restore(q, 3, 3, gs, gc, gd, gr, gt, gu, gn));
    assert_int_equal(rl_replay_size(q), 3);
    /* Bad restores change nothing. */
    th_expect_error(rl_replay_restore(q, 7, 5, gs, gc, gd, gr, gt, gu, gn), VKSAC_E_ARG,
                    "replay: head 5 must be below the capacity 5");
    th_expect_error(rl_replay_restore(q, 7, 1, gs, gc, gd, gr, gt, gu, gn), VKSAC_E_ARG,
                    "replay: head 1 does not go with count 7: a ring of capacity 5 has its head at count mod "
                    "capacity = 2");
    gr[4] = NAN;
    th_expect_error(rl_replay_restore(q, 7, 2, gs, gc, gd, gr, gt, gu, gn), VKSAC_E_ARG, "replay: reward of row 4 is");
    gr[4] = 0.0f;
    gu[1] = 0.5f;
    th_expect_error(rl_replay_restore(q, 7, 2, gs, gc, gd, gr, gt, gu, gn), VKSAC_E_ARG,
                    "replay: truncated of row 1 is 0.5, must be 0 or 1");
    th_expect_error(rl_replay_restore(q, 7, 2, NULL, gc, gd, gr, gt, gu, gn), VKSAC_E_ARG,
                    "replay: array 'states' must not be NULL");
    gu[1] = 1.0f;
    assert_int_equal(rl_replay_count(q), 3);
    /* Empty again. */
    TH_OK(rl_replay_restore(q, 0, 0, gs, gc, gd, gr, gt, gu, gn));
    assert_int_equal(rl_replay_size(q), 0);
    rl_replay_destroy(r);
    rl_replay_destroy(q);
}

/* ---- resuming ------------------------------------------------------------------- */

static void test_resume_bit_identical(void **state)
{
    (void)state;
    vksac_agent_config c = hybrid_config();
    rl_agent *x = af_make(&c);
    observe(x, 5, 100);   /* 320 transitions into 256 slots: wrapped, head 64 */
    assert_int_equal(rl_replay_head(x->replay), 64);
    TH_OK(rl_agent_update(x, 3));
    const char *path = af_tmp_path(0, "resume");
    vksac_save_options o = {.replay = 1, .metadata = META};
    TH_OK(rl_checkpoint_save_with(x, path, &o));
    rl_agent *y = NULL;
    TH_OK(rl_checkpoint_load(th.ctx, path, &y));
    assert_non_null(y->metadata);
    assert_int_equal(strlen(y->metadata), strlen(META));
    assert_memory_equal(y->metadata, META, sizeof META);
    assert_null(x->metadata);
    assert_same_replay(x, y);
    assert_true(af_same_params(x, y));
    /* Sampled updates from the restored ring. */
    for (int round = 0; round < 2; round++) {
        TH_OK(rl_agent_update(x, 4));
        TH_OK(rl_agent_update(y, 4));
        assert_true(af_same_params(x, y));
        af_assert_same_stats(x, y);
        af_data d;
        make_data(&d, 7 + round);
        af_assert_same_acts(x, y, d.s, 2);
        /* New transitions land at the same head on both. */
        observe(x, 1, 500 + round);
        observe(y, 1, 500 + round);
        assert_same_replay(x, y);
    }
    TH_OK(rl_agent_update(x, 2));
    TH_OK(rl_agent_update(y, 2));
    assert_true(af_same_params(x, y));
    af_assert_same_stats(x, y);
    /* A second save of the loaded agent keeps its ring; metadata may change. */
    const char *again = af_tmp_path(1, "again");
    o.metadata = "";
    TH_OK(rl_checkpoint_save_with(y, again, &o));
    rl_agent *z = NULL;
    TH_OK(rl_checkpoint_load(th.ctx, again, &z));
    assert_same_replay(y, z);
    assert_non_null(z->metadata);
    assert_string_equal(z->metadata, "");
    unlink(path);
    unlink(again);
    rl_agent_destroy(x);
    rl_agent_destroy(y);
    rl_agent_destroy(z);
}

/* Continuous-only and discrete-only agents store no tensor for the other
 * kind of action; a partly filled ring keeps its head. */
static void test_one_kind_of_action(void **state)
{
    (void)state;
    for (int kind = 0; kind < 2; kind++) {
        vksac_agent_config c = hybrid_config();
        if (kind == 0)
            c.num_discrete_heads = 0;
        else
            c.num_cont_actions = 0;
        rl_agent *x = af_make(&c);
        af_data d;
        vksac_transitions t = make_data(&d, 3);
        t.n = 40;
        if (kind == 0)
            t.discrete_actions = NULL;
        else
            t.cont_actions = NULL;
        TH_OK(rl_agent_observe(x, &t));
        const char *path = af_tmp_path(0, "kind");
        vksac_save_options o = {.replay = 1};
        TH_OK(rl_checkpoint_save_with(x, path, &o));
        st_file *f;
        char err[256];
        assert_int_equal(st_load(path, &f, err, sizeof err), 0);
        assert_true((st_find(f, "replay.cont_actions") != NULL) == (kind == 0));
        assert_true((st_find(f, "replay.discrete_actions") != NULL) == (kind == 1));
        assert_non_null(st_find(f, "replay.truncated"));
        assert_string_equal(st_meta_get(f, "replay.count"), "40");
        assert_string_equal(st_meta_get(f, "replay.head"), "40");
        assert_null(st_meta_get(f, "user"));
        st_free(f);
        rl_agent *y = NULL;
        TH_OK(rl_checkpoint_load(th.ctx, path, &y));
        assert_null(y->metadata);
        assert_same_replay(x, y);
        TH_OK(rl_agent_update(x, 3));
        TH_OK(rl_agent_update(y, 3));
        assert_true(af_same_params(x, y));
        unlink(path);
        rl_agent_destroy(x);
        rl_agent_destroy(y);
    }
}

/* Without the replay buffer (save, or save_with replay = 0, or an empty
 * one) the loaded agent's buffer is empty and update says so. */
static void test_without_replay(void **state)
{
    (void)state;
    vksac_agent_config c = hybrid_config();
    rl_agent *x = af_make(&c), *e = af_make(&c);
    observe(x, 1, 9);
    const char *plain = af_tmp_path(0, "plain"), *meta_only = af_tmp_path(1, "meta"), *empty = af_tmp_path(2, "empty");
    TH_OK(rl_checkpoint_save(x, plain, true));
    vksac_save_options o = {.metadata = "just this"};
    TH_OK(rl_checkpoint_save_with(x, meta_only, &o));
    vksac_save_options r = {.replay = 1};
    TH_OK(rl_checkpoint_save_with(e, empty, &r));
    const char *paths[3] = {plain, meta_only, empty};
    for (int i = 0; i < 3; i++) {
        rl_agent *y = NULL;
        TH_OK(rl_checkpoint_load(th.ctx, paths[i], &y));
        assert_int_equal(rl_replay_size(y->replay), 0);
        assert_int_equal(rl_replay_count(y->replay), 0);
        if (i == 1)
            assert_string_equal(y->metadata, "just this");
        else
            assert_null(y->metadata);
        th_clear_error(th.ctx);
        th_expect_error(rl_agent_update(y, 1), VKSAC_E_STATE, "the replay buffer is empty");
        observe(y, 1, 9);
        TH_OK(rl_agent_update(y, 1));
        rl_agent_destroy(y);
        unlink(paths[i]);
    }
    st_file *f;
    char err[256];
    TH_OK(rl_checkpoint_save_with(x, plain, NULL));   /* NULL options: a plain save */
    assert_int_equal(st_load(plain, &f, err, sizeof err), 0);
    assert_null(st_find(f, "replay.states"));
    assert_null(st_meta_get(f, "replay.count"));
    st_free(f);
    unlink(plain);
    rl_agent_destroy(x);
    rl_agent_destroy(e);
}

static void test_metadata_limits(void **state)
{
    (void)state;
    vksac_agent_config c = hybrid_config();
    rl_agent *x = af_make(&c);
    const char *path = af_tmp_path(0, "limits");
    unlink(path);
    vksac_save_options o = {.metadata = "caf\xc3"};   /* a cut 2-byte sequence */
    th_clear_error(th.ctx);
    th_expect_error(rl_checkpoint_save_with(x, path, &o), VKSAC_E_ARG,
                    "vksac_agent_save_with: metadata is not valid UTF-8 at byte 3 (0xc3)");
    o.metadata = "\xff";
    th_expect_error(rl_checkpoint_save_with(x, path, &o), VKSAC_E_ARG, "not valid UTF-8 at byte 0 (0xff)");
    size_t big = (size_t)VKSAC_MAX_METADATA_BYTES + 1;
    char *m = malloc(big + 1);
    memset(m, 'a', big);
    m[big] = 0;
    o.metadata = m;
    th_expect_error(rl_checkpoint_save_with(x, path, &o), VKSAC_E_ARG,
                    "metadata is 67108865 bytes, above the limit of 67108864 (VKSAC_MAX_METADATA_BYTES)");
    /* Within the limit, but control characters take 6 bytes each escaped. */
    memset(m, '\x01', 20000000);
    m[20000000] = 0;
    th_expect_error(rl_checkpoint_save_with(x, path, &o), VKSAC_E_ARG,
                    "metadata takes 120000002 bytes once escaped as a JSON string");
    assert_int_equal(access(path, F_OK), -1);   /* nothing written */
    /* A large ordinary one is fine and comes back whole. */
    static const char pattern[] = "{\"k\\\n\t\xc3\xa9,}";   /* 10 bytes */
    for (size_t i = 0; i < 3000000; i++)
        m[i] = pattern[i % 10];
    m[3000000] = 0;
    TH_OK(rl_checkpoint_save_with(x, path, &o));
    rl_agent *y = NULL;
    TH_OK(rl_checkpoint_load(th.ctx, path, &y));
    assert_string_equal(y->metadata, m);
    unlink(path);
    free(m);
    rl_agent_destroy(x);
    rl_agent_destroy(y);
}

/* ---- hostile files ------------------------------------------------------------------- */

static void hostile(const char *good, const char *bad, af_edit e, const char *needle)
{
    af_rewrite(good, bad, e);
    af_expect_load_error(bad, VKSAC_E_ARG, needle);
}

static void test_hostile_replay(void **state)
{
    (void)state;
    vksac_agent_config c = hybrid_config();
    rl_agent *x = af_make(&c), *p = af_make(&c);
    observe(x, 5, 300);   /* wrapped: count 320, head 64 */
    observe(p, 1, 300);   /* partial: count 64, head 64 */
    const char *good = af_tmp_path(0, "good"), *part = af_tmp_path(1, "part"), *bad = af_tmp_path(2, "bad");
    vksac_save_options o = {.replay = 1, .metadata = "12345"};
    TH_OK(rl_checkpoint_save_with(x, good, &o));
    TH_OK(rl_checkpoint_save_with(p, part, &o));
    rl_agent *y = NULL;
    TH_OK(rl_checkpoint_load(th.ctx, good, &y));   /* the unedited file loads */
    rl_agent_destroy(y);

    hostile(good, bad, (af_edit){.reshape = "replay.states"},
            "tensor 'replay.states' has shape [1024, 1], expected [256, 4]");
    hostile(good, bad, (af_edit){.reshape = "replay.cont_actions"},
            "tensor 'replay.cont_actions' has shape [512, 1], expected [256, 2]");
    /* count beyond the capacity when the tensors hold fewer slots */
    hostile(part, bad, (af_edit){.key = "replay.count", .meta_value = "320"},
            "tensor 'replay.states' has shape [64, 4], expected [256, 4]");
    hostile(good, bad, (af_edit){.key = "replay.head", .meta_value = "256"},
            "metadata 'replay.head' is 256, expected below replay_capacity 256");
    hostile(good, bad, (af_edit){.key = "replay.count", .meta_value = "321"},
            "metadata 'replay.head' is 64 but 'replay.count' 321 puts it at 65");
    hostile(good, bad, (af_edit){.key = "replay.count", .meta_value = "-1"},
            "metadata 'replay.count' is '-1', expected an unsigned integer");
    hostile(good, bad, (af_edit){.key = "replay.head", .meta_value = " 64"},
            "metadata 'replay.head' is ' 64', expected an unsigned integer");
    hostile(good, bad, (af_edit){.key = "replay.count", .meta_value = "99999999999999999999999"},
            "'replay.count' is '99999999999999999999999', expected an unsigned integer");
    hostile(good, bad, (af_edit){.poke = "replay.rewards", .at = 3, .value = NAN},
            "tensor 'replay.rewards' slot 3 is nan, expected a finite number");
    hostile(good, bad, (af_edit){.poke = "replay.states", .at = 4 * 7 + 2, .value = INFINITY},
            "tensor 'replay.states' slot 7 column 2 is inf, expected a finite number");
    hostile(good, bad, (af_edit){.poke = "replay.next_states", .at = 0, .value = -NAN}, "'replay.next_states' slot 0");
    hostile(good, bad, (af_edit){.poke = "replay.cont_actions", .at = 5, .value = NAN},
            "tensor 'replay.cont_actions' slot 2 column 1 is");
    hostile(good, bad, (af_edit){.poke = "replay.terminated", .at = 5, .value = 2.0f},
            "tensor 'replay.terminated' slot 5 is 2, expected 0 or 1");
    hostile(good, bad, (af_edit){.poke = "replay.truncated", .at = 9, .value = -0.5f},
            "tensor 'replay.truncated' slot 9 is -0.5, expected 0 or 1");
    hostile(good, bad, (af_edit){.poke = "replay.discrete_actions", .at = 2 * 11 + 1, .value = 2.0f},
            "tensor 'replay.discrete_actions' slot 11 column 1 is 2, expected an integer index in 0..1");
    hostile(good, bad, (af_edit){.poke = "replay.discrete_actions", .at = 0, .value = 0.5f},
            "slot 0 column 0 is 0.5, expected an integer index in 0..2");
    hostile(good, bad, (af_edit){.poke = "replay.discrete_actions", .at = 2, .value = -1.0f},
            "slot 1 column 0 is -1, expected an integer index in 0..2");
    hostile(good, bad, (af_edit){.drop = "replay.truncated"}, "tensor 'replay.truncated' is missing");
    hostile(good, bad, (af_edit){.drop = "replay.states"}, "tensor 'replay.states' is missing");
    hostile(good, bad, (af_edit){.drop = "replay.discrete_actions"}, "tensor 'replay.discrete_actions' is missing");
    /* Counts without tensors, or tensors without counts. */
    hostile(good, bad, (af_edit){.drop_key = "replay.head"},
            "'replay.count' is present but metadata 'replay.head' is missing");
    hostile(good, bad, (af_edit){.drop_key = "replay."},
            "'replay.states' is present but metadata 'replay.count' is missing");
    hostile(good, bad, (af_edit){.drop = "replay."},
            "tensor 'replay.states' is missing ('replay.count' is present");
    /* The metadata is a string, not a number: edit the header bytes. */
    size_t len;
    char *bytes = af_slurp(good, &len);
    char *at = NULL;
    for (size_t i = 0; i + 13 < len && !at; i++)
        if (!memcmp(bytes + i, "\"user\":\"12345\"", 14))
            at = bytes + i;
    assert_non_null(at);
    memcpy(at, "\"user\": 12345 ", 14);
    af_spit(bad, bytes, len);
    af_expect_load_error(bad, VKSAC_E_ARG,
                         "__metadata__ value for key 'user' must be a string, found a number");
    free(bytes);
    /* A policy export holds no replay buffer. */
    TH_OK(rl_checkpoint_save(x, part, false));
    hostile(part, bad, (af_edit){.key = "replay.count", .meta_value = "0"},
            "a policy checkpoint holds 'replay.count'; only a full checkpoint can hold a replay buffer");
    unlink(good);
    unlink(part);
    unlink(bad);
    rl_agent_destroy(x);
    rl_agent_destroy(p);
}

/* A discrete-only agent refuses continuous actions in its replay buffer. */
static void test_hostile_extra_tensor(void **state)
{
    (void)state;
    vksac_agent_config c = hybrid_config();
    rl_agent *x = af_make(&c);
    observe(x, 1, 5);
    c.num_cont_actions = 0;
    rl_agent *y = af_make(&c);
    af_data d;
    vksac_transitions t = make_data(&d, 5);
    t.cont_actions = NULL;
    TH_OK(rl_agent_observe(y, &t));
    const char *hy = af_tmp_path(0, "hy"), *dy = af_tmp_path(1, "dy"), *bad = af_tmp_path(2, "bad2");
    vksac_save_options o = {.replay = 1};
    TH_OK(rl_checkpoint_save_with(x, hy, &o));
    TH_OK(rl_checkpoint_save_with(y, dy, &o));
    /* dy's tensors plus hy's replay.cont_actions */
    st_file *fh, *fd;
    char err[256];
    assert_int_equal(st_load(hy, &fh, err, sizeof err), 0);
    assert_int_equal(st_load(dy, &fd, err, sizeof err), 0);
    size_t n = st_count(fd), nm = st_meta_count(fd);
    st_tensor *ts = calloc(n + 1, sizeof *ts);
    st_meta *ms = calloc(nm, sizeof *ms);
    for (size_t i = 0; i < n; i++)
        ts[i] = *st_tensor_at(fd, i);
    ts[n] = *st_find(fh, "replay.cont_actions");
    for (size_t i = 0; i < nm; i++)
        ms[i] = *st_meta_at(fd, i);
    assert_int_equal(st_save(bad, ts, n + 1, ms, nm, err, sizeof err), 0);
    af_expect_load_error(bad, VKSAC_E_ARG,
                         "tensor 'replay.cont_actions' is present but the agent has no continuous actions");
    free(ts);
    free(ms);
    st_free(fh);
    st_free(fd);
    unlink(hy);
    unlink(dy);
    unlink(bad);
    rl_agent_destroy(x);
    rl_agent_destroy(y);
}

/* ---- the public API ------------------------------------------------------------------- */

static void test_public_api(void **state)
{
    (void)state;
    vksac_context_config cc = {.validation = 1};
    vksac_context *ctx = NULL;
    assert_int_equal(vksac_context_create(&cc, &ctx), VKSAC_OK);
    vksac_agent_config c = hybrid_config();
    c.replay_capacity = 50;
    vksac_agent *x = NULL, *y = NULL, *z = NULL;
    assert_int_equal(vksac_agent_create(ctx, &c, &x), VKSAC_OK);
    assert_string_equal(vksac_agent_metadata(x), "");
    assert_string_equal(vksac_agent_metadata(NULL), "");
    af_data d;
    vksac_transitions t = make_data(&d, 77);
    assert_int_equal(vksac_agent_observe(x, &t), VKSAC_OK);
    assert_int_equal(vksac_agent_update(x, 2), VKSAC_OK);
    const char *path = af_tmp_path(0, "public"), *plain = af_tmp_path(1, "public_plain");
    vksac_save_options o = {.replay = 1, .metadata = META};
    assert_int_equal(vksac_agent_save_with(x, path, &o), VKSAC_OK);
    assert_int_equal(vksac_agent_save_with(x, plain, NULL), VKSAC_OK);
    assert_int_equal(vksac_agent_load(ctx, path, &y), VKSAC_OK);
    assert_int_equal(vksac_agent_load(ctx, plain, &z), VKSAC_OK);
    assert_string_equal(vksac_agent_metadata(y), META);
    assert_string_equal(vksac_agent_metadata(z), "");
    assert_int_equal(vksac_agent_update(z, 1), VKSAC_E_STATE);
    assert_non_null(strstr(vksac_error(ctx), "the replay buffer is empty"));
    assert_int_equal(vksac_agent_update(x, 3), VKSAC_OK);
    assert_int_equal(vksac_agent_update(y, 3), VKSAC_OK);
    vksac_stats sx, sy;
    assert_int_equal(vksac_agent_stats(x, &sx), VKSAC_OK);
    assert_int_equal(vksac_agent_stats(y, &sy), VKSAC_OK);
    af_assert_same_stats_of(&sx, &sy);
    float cx[N * 2], cy[N * 2];
    int32_t dx[N * 2], dy[N * 2];
    assert_int_equal(vksac_agent_act(x, d.s, N, 0, cx, dx, NULL, NULL), VKSAC_OK);
    assert_int_equal(vksac_agent_act(y, d.s, N, 0, cy, dy, NULL, NULL), VKSAC_OK);
    assert_memory_equal(cx, cy, sizeof cx);
    assert_memory_equal(dx, dy, sizeof dx);
    o.metadata = "\xc0\xaf";   /* an overlong '/' */
    assert_int_equal(vksac_agent_save_with(x, path, &o), VKSAC_E_ARG);
    assert_non_null(strstr(vksac_error(ctx), "vksac_agent_save_with: metadata is not valid UTF-8 at byte 0"));
    assert_int_equal(vksac_agent_save_with(NULL, path, &o), VKSAC_E_ARG);
    o.metadata = NULL;
    assert_int_equal(vksac_agent_save_with(x, "", &o), VKSAC_E_ARG);
    assert_non_null(strstr(vksac_error(ctx), "vksac_agent_save_with: path must be a non-empty string"));
    assert_int_equal(vksac_validation_messages(ctx), 0);
    unlink(path);
    unlink(plain);
    vksac_agent_destroy(x);
    vksac_agent_destroy(y);
    vksac_agent_destroy(z);
    vksac_context_destroy(ctx);
}

int main(int argc, char **argv)
{
    if (th_parse_args(argc, argv, "checkpoint_replay") != 0)
        return 2;
    const struct CMUnitTest tests[] = {
        TH_TEST(test_read_all_restore),   TH_TEST(test_resume_bit_identical), TH_TEST(test_one_kind_of_action),
        TH_TEST(test_without_replay),     TH_TEST(test_metadata_limits),      TH_TEST(test_hostile_replay),
        TH_TEST(test_hostile_extra_tensor), TH_TEST(test_public_api),
    };
    return cmocka_run_group_tests_name(th.group_name, tests, th_group_setup, th_group_teardown);
}
