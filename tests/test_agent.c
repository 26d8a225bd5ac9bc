/* The public agent API: same seed → bit-identical training, checkpoints
 * (save → load → identical actions, resumed training bit-identical, policy
 * export), hostile checkpoint files, and bad calls. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "rl/agent.h"
#include "rl/checkpoint.h"
#include "rl/safetensors.h"

#define S 4
#define N 64

static vksac_agent_config hybrid_config(void)
{
    vksac_agent_config c = {.dim_state = S, .num_cont_actions = 2, .num_discrete_heads = 2,
                            .num_discrete_actions = {3, 2}, .batch_size = 32, .replay_capacity = 256, .seed = 99};
    c.actor.dim_hidden = c.critic.dim_hidden = 16;
    c.actor.mlp_depth = c.critic.mlp_depth = 1;
    c.critic.dropout = 0.05f;
    return c;
}

static rl_agent *make(const vksac_agent_config *in)
{
    vksac_agent_config c;
    rl_agent *a = NULL;
    TH_OK(rl_agent_resolve(th.ctx, "test", in, &c));
    TH_OK(rl_agent_create(th.ctx, &c, &a));
    return a;
}

typedef struct data {
    float s[N * S], s2[N * S], a[N * 2], r[N];
    int32_t d[N * 2];
    uint8_t term[N];
} data;

static vksac_transitions make_data(data *x, uint64_t seed)
{
    th_rand_fill(x->s, N * S, seed);
    th_rand_fill(x->s2, N * S, seed + 1);
    th_rand_fill(x->a, N * 2, seed + 2);
    th_rand_fill(x->r, N, seed + 3);
    for (int i = 0; i < N; i++) {
        x->d[2 * i] = i % 3;
        x->d[2 * i + 1] = (i / 3) % 2;
        x->term[i] = i % 9 == 0;
    }
    return (vksac_transitions){.n = N, .states = x->s, .cont_actions = x->a, .discrete_actions = x->d,
                               .rewards = x->r, .terminated = x->term, .next_states = x->s2};
}

static float *params_of(const nn_params *p, size_t *n)
{
    *n = nn_params_dense_size(p);
    float *f = malloc(*n * sizeof *f);
    TH_OK(nn_params_read(p, NN_THETA, f));
    return f;
}

static int same_net(const nn_params *x, const nn_params *y)
{
    size_t n, m;
    float *a = params_of(x, &n), *b = params_of(y, &m);
    int same = n == m && !memcmp(a, b, n * sizeof *a);
    free(a);
    free(b);
    return same;
}

/* 1 when every network's parameters are bit-identical. */
static int same_params(const rl_agent *x, const rl_agent *y)
{
    return same_net(x->actor->params, y->actor->params) && same_net(x->critic[0]->params, y->critic[0]->params) &&
           same_net(x->critic[1]->params, y->critic[1]->params) &&
           same_net(x->target[0]->params, y->target[0]->params) && same_net(x->alpha, y->alpha);
}

static void test_same_seed_bit_identical(void **state)
{
    (void)state;
    vksac_agent_config c = hybrid_config();
    rl_agent *x = make(&c), *y = make(&c);
    data d;
    vksac_transitions t = make_data(&d, 5);
    TH_OK(rl_agent_observe(x, &t));
    TH_OK(rl_agent_observe(y, &t));
    TH_OK(rl_agent_update(x, 4));
    TH_OK(rl_agent_update(y, 2));
    TH_OK(rl_agent_update(y, 2));
    assert_true(same_params(x, y));
    c.seed = 100;
    rl_agent *z = make(&c);
    TH_OK(rl_agent_observe(z, &t));
    TH_OK(rl_agent_update(z, 4));
    assert_false(same_params(x, z));
    vksac_stats st;
    TH_OK(rl_agent_stats(x, &st));
    assert_int_equal(st.updates, 4);
    assert_int_equal(st.observed, N);
    assert_true(isfinite(st.critic_loss) && st.critic_loss > 0.0f && isfinite(st.actor_loss));
    rl_agent_destroy(x);
    rl_agent_destroy(y);
    rl_agent_destroy(z);
}

static void act_all(rl_agent *a, const float *s, int sample, float *out)
{
    float cont[N * 2], lpc[N], lpd[N * 2];
    int32_t disc[N * 2];
    TH_OK(rl_agent_act(a, s, N, sample, cont, disc, lpc, lpd));
    for (int i = 0; i < N * 2; i++) {
        out[i] = cont[i];
        out[2 * N + i] = (float)disc[i];
        out[4 * N + i] = lpd[i];
    }
    memcpy(out + 6 * N, lpc, sizeof lpc);
}

static char path_buf[256];
static const char *tmp_path(const char *name)
{
    const char *dir = getenv("TMPDIR");
    snprintf(path_buf, sizeof path_buf, "%s/vksac_test_%d_%s.safetensors", dir && *dir ? dir : "/tmp",
             (int)getpid(), name);
    return path_buf;
}

static void test_save_load_resume(void **state)
{
    (void)state;
    vksac_agent_config c = hybrid_config();
    rl_agent *x = make(&c);
    data d;
    vksac_transitions t = make_data(&d, 7);
    TH_OK(rl_agent_observe(x, &t));
    TH_OK(rl_agent_update(x, 3));
    const char *path = tmp_path("full");
    TH_OK(rl_checkpoint_save(x, path, true));
    rl_agent *y = NULL;
    TH_OK(rl_checkpoint_load(th.ctx, path, &y));
    assert_true(same_params(x, y));
    float ax[7 * N], ay[7 * N];
    for (int sample = 0; sample < 2; sample++) {
        act_all(x, d.s, sample, ax);
        act_all(y, d.s, sample, ay);
        assert_memory_equal(ax, ay, sizeof ax);
    }
    /* Resume: the same updates from here give the same bits. */
    vksac_transitions b = t;
    b.n = 32;
    for (int i = 0; i < 3; i++) {
        TH_OK(rl_agent_update_batch(x, &b));
        TH_OK(rl_agent_update_batch(y, &b));
    }
    assert_true(same_params(x, y));
    vksac_stats sx, sy;
    TH_OK(rl_agent_stats(x, &sx));
    TH_OK(rl_agent_stats(y, &sy));
    assert_int_equal(sx.updates, sy.updates);
    assert_memory_equal(&sx.critic_loss, &sy.critic_loss, sizeof(float));
    /* A policy export acts the same and carries no critics. */
    const char *ppath = tmp_path("policy");
    TH_OK(rl_checkpoint_save(x, ppath, false));
    rl_agent *z = NULL;
    TH_OK(rl_checkpoint_load(th.ctx, ppath, &z));
    act_all(x, d.s, 0, ax);
    act_all(z, d.s, 0, ay);
    assert_memory_equal(ax, ay, sizeof ax);
    st_file *f;
    char err[256];
    assert_int_equal(st_load(ppath, &f, err, sizeof err), 0);
    assert_null(st_find(f, "critics.0.proj_in.weight"));
    assert_non_null(st_find(f, "actor.proj_in.weight"));
    assert_non_null(st_find(f, "actor.rsmnorm.mean"));
    st_free(f);
    remove(path);
    remove(ppath);
    rl_agent_destroy(x);
    rl_agent_destroy(y);
    rl_agent_destroy(z);
}

/* ---- hostile checkpoints ------------------------------------------------------ */

static void *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    *len = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    void *p = malloc(*len);
    assert_int_equal(fread(p, 1, *len, f), *len);
    fclose(f);
    return p;
}

static void spit(const char *path, const void *p, size_t len)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(p, 1, len, f), len);
    fclose(f);
}

static void expect_load_error(const char *path, const char *needle)
{
    rl_agent *a = (rl_agent *)1;
    th_clear_error(th.ctx);
    vksac_status st = rl_checkpoint_load(th.ctx, path, &a);
    const char *msg = vks_ctx_error(th.ctx);
    if (st == VKSAC_OK || !strstr(msg, needle))
        fail_msg("loading %s: got %s \"%s\", want an error containing '%s'", path, vksac_status_name(st), msg,
                 needle);
    assert_null(a);
}

/* Rewrites a checkpoint with one tensor dropped or reshaped. */
static void rewrite(const char *src, const char *dst, const char *victim, int reshape)
{
    st_file *f;
    char err[256];
    assert_int_equal(st_load(src, &f, err, sizeof err), 0);
    size_t n = st_count(f), k = 0;
    st_tensor *t = calloc(n, sizeof *t);
    for (size_t i = 0; i < n; i++) {
        t[k] = *st_tensor_at(f, i);
        if (strcmp(t[k].name, victim)) {
            k++;
        } else if (reshape) {
            t[k].rows = t[k].rows * t[k].cols;
            t[k].cols = 1;
            k++;
        }
    }
    st_meta m[256];
    size_t nm = st_meta_count(f);
    for (size_t i = 0; i < nm && i < 256; i++)
        m[i] = *st_meta_at(f, i);
    assert_int_equal(st_save(dst, t, k, m, nm, err, sizeof err), 0);
    free(t);
    st_free(f);
}

static void test_bad_checkpoints(void **state)
{
    (void)state;
    vksac_agent_config c = hybrid_config();
    rl_agent *x = make(&c);
    const char *good = strdup(tmp_path("good")), *bad = strdup(tmp_path("bad"));
    TH_OK(rl_checkpoint_save(x, good, true));
    size_t len;
    unsigned char *bytes = slurp(good, &len);
    expect_load_error(tmp_path("missing_file"), "No such file");
    spit(bad, bytes, 5);
    expect_load_error(bad, "shorter than");
    spit(bad, bytes, len - 10);
    expect_load_error(bad, "");
    unsigned char *copy = malloc(len);
    memcpy(copy, bytes, len);
    copy[8] = 'x';   /* header no longer JSON */
    spit(bad, copy, len);
    expect_load_error(bad, "JSON");
    memcpy(copy, bytes, len);
    copy[7] = 0x7f;   /* header length beyond the file */
    spit(bad, copy, len);
    expect_load_error(bad, "header");
    memcpy(copy, bytes, len);
    char *dt = NULL;
    for (size_t i = 0; i + 5 <= len && !dt; i++)
        if (!memcmp(copy + i, "\"F32\"", 5))
            dt = (char *)copy + i;
    assert_non_null(dt);
    memcpy(dt, "\"F16\"", 5);
    spit(bad, copy, len);
    expect_load_error(bad, "F16");
    rewrite(good, bad, "critics.1.blocks.0.ln_a.gain", 0);
    expect_load_error(bad, "'critics.1.blocks.0.ln_a.gain' is missing");
    rewrite(good, bad, "actor.proj_in.weight", 1);
    expect_load_error(bad, "'actor.proj_in.weight' has shape");
    remove(good);
    remove(bad);
    free(copy);
    free(bytes);
    free((void *)good);
    free((void *)bad);
    rl_agent_destroy(x);
}

/* ---- bad calls -------------------------------------------------------------------- */

static void expect_config_error(vksac_agent_config c, const char *needle)
{
    vksac_agent_config out;
    th_clear_error(th.ctx);
    vksac_status st = rl_agent_resolve(th.ctx, "vksac_agent_create", &c, &out);
    const char *msg = vks_ctx_error(th.ctx);
    if (st != VKSAC_E_ARG || !strstr(msg, needle))
        fail_msg("got %s \"%s\", want E_ARG containing '%s'", vksac_status_name(st), msg, needle);
}

static void test_bad_config(void **state)
{
    (void)state;
    vksac_agent_config c = hybrid_config();
    c.dim_state = 0;
    expect_config_error(c, "field 'dim_state' must be in [1, 65535], got 0");
    c = hybrid_config();
    c.num_cont_actions = 0;
    c.num_discrete_heads = 0;
    expect_config_error(c, "the agent has no actions");
    c = hybrid_config();
    c.num_discrete_actions[1] = 1;
    expect_config_error(c, "field 'num_discrete_actions[2]' must be in [2, 256], got 1");
    c = hybrid_config();
    c.critic.dropout = 1.0f;
    expect_config_error(c, "field 'critic.dropout' must be in [0, 1), got 1");
    c = hybrid_config();
    c.actor.activation = "gelu";
    expect_config_error(c, "field 'actor.activation' must be one of 'relu2', 'relu', 'crelu', got 'gelu'");
    c = hybrid_config();
    c.quantiled_critics = 1;
    c.num_quantiles = 200;
    expect_config_error(c, "num_critics × num_quantiles must be at most 256, got 2 × 200");
    c = hybrid_config();
    float low[2] = {1.0f, 0.0f}, high[2] = {0.0f, 1.0f};
    c.action_low = low;
    c.action_high = high;
    expect_config_error(c, "action bounds of dimension 1 must be finite with low < high, got [1, 0]");
    c = hybrid_config();
    c.sigma = "softplus";
    expect_config_error(c, "field 'sigma' must be one of 'exp', 'sigmoid', got 'softplus'");
}

static void expect_error(vksac_status st, vksac_status want, const char *needle)
{
    const char *msg = vks_ctx_error(th.ctx);
    if (st != want || !strstr(msg, needle))
        fail_msg("got %s \"%s\", want %s containing '%s'", vksac_status_name(st), msg, vksac_status_name(want),
                 needle);
}

static void test_bad_calls(void **state)
{
    (void)state;
    vksac_agent_config c = hybrid_config();
    rl_agent *a = make(&c);
    expect_error(rl_agent_update(a, 1), VKSAC_E_STATE, "the replay buffer is empty");
    data d;
    vksac_transitions t = make_data(&d, 3);
    d.d[5] = 2;   /* head 2 has 2 choices */
    expect_error(rl_agent_observe(a, &t), VKSAC_E_ARG, "discrete action 2 of row 3 is 2, expected 0..1");
    d.d[5] = 1;
    d.r[4] = NAN;
    expect_error(rl_agent_observe(a, &t), VKSAC_E_ARG, "reward of row 5 is NaN");
    d.r[4] = 0.0f;
    d.term[0] = 2;
    expect_error(rl_agent_observe(a, &t), VKSAC_E_ARG, "terminated of row 1 is 2, expected 0 or 1");
    th_clear_error(th.ctx);
    TH_ERR(th.ctx, rl_agent_act(a, NULL, 3, 0, NULL, NULL, NULL, NULL), VKSAC_E_ARG);
    rl_agent_destroy(a);
}

/* Per-network seeds: a network's initial weights depend on its own seed
 * alone, so another agent can start a critic from the same weights; the
 * seeds survive a checkpoint. */
static void test_network_seeds(void **state)
{
    (void)state;
    vksac_agent_config c = hybrid_config();
    c.seed = 1;
    rl_agent *x = make(&c);
    assert_int_equal(x->cfg.actor_seed, 2);
    assert_int_equal(x->cfg.critic_seeds[0], 3);
    assert_int_equal(x->cfg.critic_seeds[1], 4);
    c.seed = 50;
    c.actor_seed = 2;
    c.critic_seeds[1] = 3;
    rl_agent *y = make(&c);
    assert_true(same_net(x->actor->params, y->actor->params));
    assert_true(same_net(x->critic[0]->params, y->critic[1]->params));
    assert_true(same_net(y->critic[1]->params, y->target[1]->params));
    assert_false(same_net(x->critic[0]->params, y->critic[0]->params));
    assert_int_equal(y->cfg.critic_seeds[0], 52);
    const char *path = tmp_path("seeds");
    TH_OK(rl_checkpoint_save(y, path, true));
    rl_agent *z = NULL;
    TH_OK(rl_checkpoint_load(th.ctx, path, &z));
    assert_int_equal(z->cfg.actor_seed, 2);
    assert_int_equal(z->cfg.critic_seeds[0], 52);
    assert_int_equal(z->cfg.critic_seeds[1], 3);
    unlink(path);
    rl_agent_destroy(x);
    rl_agent_destroy(y);
    rl_agent_destroy(z);
}

int main(int argc, char **argv)
{
    if (th_parse_args(argc, argv, "agent") != 0)
        return 2;
    const struct CMUnitTest tests[] = {
        TH_TEST(test_same_seed_bit_identical),
        TH_TEST(test_save_load_resume),
        TH_TEST(test_bad_checkpoints),
        TH_TEST(test_bad_config),
        TH_TEST(test_bad_calls),
        TH_TEST(test_network_seeds),
    };
    return cmocka_run_group_tests_name(th.group_name, tests, th_group_setup, th_group_teardown);
}
