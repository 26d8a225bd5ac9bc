/* Shards (src/rl/shards.h): replicas of an agent, each on a context of its
 * own, split each update's batch and average their gradients between the
 * update's phases. Checked: the replicas stay bit-identical while drawing
 * different samples; the average is a mean (two shards drawing the same
 * samples train exactly like one agent at half the batch, moments
 * included); save → load → resume with shards is bit-identical; bad
 * configurations fail with clear errors, and a batch the shards cannot
 * split runs unsharded. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent_fixture.h"
#include "rl/checkpoint.h"
#include "rl/shards.h"

/* *ctx: a context with n shards; the test skips on a device that takes
 * none (a GPU). */
static void sharded_ctx(int n, vks_ctx **ctx)
{
    th_opts o = th.opts;
    o.cpu_shards = n;
    TH_OK(th_ctx_create(&o, NULL, ctx));
    if (vks_ctx_shards(*ctx) == 1) {
        vks_ctx_destroy(*ctx);
        skip();
    }
    assert_int_equal(vks_ctx_shards(*ctx), n);
}

/* An agent and its replicas on a new context of n shards (*ctx), as
 * vksac_agent_create makes them. */
static rl_agent *sharded_agent(int n, const vksac_agent_config *in, vks_ctx **ctx)
{
    sharded_ctx(n, ctx);
    vksac_agent_config c;
    rl_agent *a = NULL;
    TH_OK(rl_agent_resolve(*ctx, "test", in, &c));
    TH_OK(rl_agent_create_sharded(*ctx, &c, &a));
    assert_non_null(a->shards);
    return a;
}

/* Two tensors of the same shape, padding included, bit for bit. */
static int same_tensor(const vks_tensor *x, const vks_tensor *y)
{
    size_t n = (size_t)vks_tensor_rows(x) * vks_tensor_stride(x);
    if (vks_tensor_rows(y) != vks_tensor_rows(x) || vks_tensor_stride(y) != vks_tensor_stride(x))
        return 0;
    float *a = malloc(n * sizeof *a), *b = malloc(n * sizeof *b);
    TH_OK(vks_tensor_read_padded(x, a));
    TH_OK(vks_tensor_read_padded(y, b));
    int same = !memcmp(a, b, n * sizeof *a);
    free(a);
    free(b);
    return same;
}

/* Every role of a flat parameter buffer but the gradients. */
static int same_flat(const nn_params *x, const nn_params *y)
{
    int same = 1;
    for (int role = 0; role < NN_BUFS && same; role++)
        same = role == NN_GRAD || same_tensor(x->flat[role], y->flat[role]);
    return same;
}

/* θ, θ₀ and Adam's moments of every network, α, the state statistics,
 * the RNG counters and the counts. */
static int same_state(const rl_agent *x, const rl_agent *y)
{
    return same_flat(x->actor->params, y->actor->params) && same_flat(x->critics->params, y->critics->params) &&
           same_flat(x->targets->params, y->targets->params) && same_flat(x->alpha, y->alpha) &&
           same_tensor(x->rsm->stats, y->rsm->stats) && same_tensor(x->heads.counters, y->heads.counters) &&
           x->updates == y->updates && x->observed == y->observed &&
           rl_replay_size(x->replay) == rl_replay_size(y->replay);
}

/* Replica 0 and every other replica of a. */
static int replicas_same(rl_agent *a)
{
    int same = 1;
    for (uint32_t i = 1; i < rl_shards_count(a->shards); i++)
        same = same && same_state(a, rl_shards_replica(a->shards, i));
    return same;
}

/* The end of a test on a sharded context: no validation message from any
 * replica (they count into ctx), then a and ctx destroyed. */
static void finish(rl_agent *a, vks_ctx *ctx)
{
    assert_int_equal(vks_ctx_validation_messages(ctx), 0);
    rl_agent_destroy(a);
    vks_ctx_destroy(ctx);
}

static void stats_of(rl_agent *a, float *st)
{
    TH_OK(vks_tensor_read(a->heads.stats, st));
}

static void test_replicas_stay_identical(void **state)
{
    (void)state;
    vksac_agent_config c = af_config(3, 256);
    c.actor_update_every = 2;   /* updates with and without the actor step */
    vks_ctx *ctx;
    rl_agent *a = sharded_agent(2, &c, &ctx);
    rl_agent *r = rl_shards_replica(a->shards, 1);
    assert_int_equal(rl_shards_count(a->shards), 2);
    af_data d;
    vksac_transitions t = af_make_data(&d, 11, 0, true);
    TH_OK(rl_agent_observe(a, &t));
    assert_int_equal(rl_replay_size(r->replay), AF_N);
    const vks_tensor *theta = a->actor->params->flat[NN_THETA];
    size_t n = vks_tensor_cols(theta);
    float *before = malloc(n * sizeof *before), *after = malloc(n * sizeof *after);
    TH_OK(vks_tensor_read(theta, before));
    TH_OK(rl_agent_update(a, 5));
    assert_int_equal(a->updates, 5);
    assert_true(replicas_same(a));
    TH_OK(vks_tensor_read(theta, after));
    assert_memory_not_equal(before, after, n * sizeof *before);
    free(before);
    free(after);
    /* Each shard drew its own samples: their losses differ, and the agent
     * reports their mean. */
    float s0[RL_STAT_COUNT], s1[RL_STAT_COUNT];
    stats_of(a, s0);
    stats_of(r, s1);
    assert_true(s0[RL_STAT_CRITIC] != s1[RL_STAT_CRITIC]);
    vksac_stats st;
    TH_OK(rl_agent_stats(a, &st));
    assert_true(st.critic_loss == 0.5f * (s0[RL_STAT_CRITIC] + s1[RL_STAT_CRITIC]));
    assert_int_equal(st.updates, 5);
    /* A given batch: every replica takes all of it. */
    af_data e;
    vksac_transitions u = af_make_data(&e, 15, 1, false);
    u.n = c.batch_size;
    TH_OK(rl_agent_update_batch(a, &u));
    assert_true(replicas_same(a));
    finish(a, ctx);
}

/* Both shards drawing shard 0's samples: the mean of two equal gradients
 * is that gradient, so the replicas, each stepping its part of the
 * parameters and copying it to the other, train exactly as one agent at
 * half the batch. A sum instead of a mean fails on Adam's moments; a part
 * not copied fails on both replicas. */
static void test_average_is_mean(void **state)
{
    (void)state;
    vksac_agent_config c = af_config(4, 256);
    vks_ctx *ctx;
    rl_agent *a = sharded_agent(2, &c, &ctx);
    rl_agent *r = rl_shards_replica(a->shards, 1);
    rl_graph_destroy(r->graph);
    r->graph = NULL;
    TH_OK(rl_graph_create_shard(r, c.batch_size / 2, true, 1, 2, 0, &r->graph));
    c.batch_size /= 2;
    vksac_agent_config oc;
    rl_agent *one = NULL;   /* unsharded, whatever VKSAC_CPU_SHARDS says */
    TH_OK(rl_agent_resolve(th.ctx, "test", &c, &oc));
    TH_OK(rl_agent_create(th.ctx, &oc, &one));
    af_data d;
    vksac_transitions t = af_make_data(&d, 12, 1, false);
    TH_OK(rl_agent_observe(a, &t));
    TH_OK(rl_agent_observe(one, &t));
    TH_OK(rl_agent_update(a, 3));
    TH_OK(rl_agent_update(one, 3));
    /* The replicas' counters and count of updates agree with one's; the
     * parameters and moments too. */
    assert_true(same_state(a, one));
    assert_true(same_state(r, one));
    rl_agent_destroy(one);
    finish(a, ctx);
}

/* Three shards: uneven slices of each gradient, a three-way barrier, and a
 * batch of 33 split 11 ways each. */
static void test_three_shards(void **state)
{
    (void)state;
    vksac_agent_config c = af_config(7, 256);
    c.batch_size = 33;
    vks_ctx *ctx;
    rl_agent *a = sharded_agent(3, &c, &ctx);
    assert_int_equal(rl_shards_count(a->shards), 3);
    af_data d;
    vksac_transitions t = af_make_data(&d, 16, 2, true);
    TH_OK(rl_agent_observe(a, &t));
    TH_OK(rl_agent_update(a, 3));
    assert_int_equal(a->updates, 3);
    assert_true(replicas_same(a));
    finish(a, ctx);
}

static void test_save_load_resume(void **state)
{
    (void)state;
    vksac_agent_config c = af_config(5, 256);
    vks_ctx *ctx;
    rl_agent *a = sharded_agent(2, &c, &ctx);
    af_data d;
    vksac_transitions t = af_make_data(&d, 13, 2, false);
    TH_OK(rl_agent_observe(a, &t));
    TH_OK(rl_agent_update(a, 2));
    const char *path = af_tmp_path(0, "shards");
    TH_OK(rl_checkpoint_save_with(a, path, &(vksac_save_options){.replay = 1}));
    rl_agent *b = NULL;
    TH_OK(rl_checkpoint_load(ctx, path, &b));
    unlink(path);
    assert_non_null(b->shards);
    assert_true(replicas_same(b));
    assert_true(same_state(a, b));
    TH_OK(rl_agent_update(a, 2));
    TH_OK(rl_agent_update(b, 2));
    assert_true(same_state(a, b));
    assert_true(same_state(rl_shards_replica(a->shards, 1), rl_shards_replica(b->shards, 1)));
    af_assert_same_stats(a, b);
    af_assert_same_acts(a, b, d.s, 2);
    rl_agent_destroy(b);
    finish(a, ctx);
}

/* After a replica failed where the others did not, the agent refuses to
 * observe or update rather than train replicas that may differ. */
static void test_failed_shard_stops_the_agent(void **state)
{
    (void)state;
    vksac_agent_config c = af_config(8, 256);
    vks_ctx *ctx;
    rl_agent *a = sharded_agent(2, &c, &ctx);
    af_data d;
    vksac_transitions t = af_make_data(&d, 17, 0, false);
    TH_OK(rl_agent_observe(a, &t));
    assert_int_equal(rl_shards_failed(a->shards, 1, VKSAC_E_VULKAN, "test"), VKSAC_E_VULKAN);
    assert_int_equal(rl_agent_update(a, 1), VKSAC_E_STATE);
    assert_non_null(strstr(vks_ctx_error(ctx), "vksac_agent_update: the agent's shards may differ since one of "
                                               "them failed"));
    assert_int_equal(rl_agent_observe(a, &t), VKSAC_E_STATE);
    assert_int_equal(rl_agent_update_batch(a, &t), VKSAC_E_STATE);
    assert_int_equal(a->updates, 0);
    finish(a, ctx);
}

static void expect_ctx_error(vksac_context_config cfg, const char *needle)
{
    vks_ctx *ctx = NULL;
    assert_int_equal(vks_ctx_create(&cfg, &ctx), VKSAC_E_ARG);
    assert_non_null(strstr(vks_ctx_error(ctx), needle));
    vks_ctx_destroy(ctx);
}

static void test_bad_configs(void **state)
{
    (void)state;
    expect_ctx_error((vksac_context_config){.cpu_shards = VKS_MAX_SHARDS + 1}, "cpu_shards must be 0 (off) to 8");
    expect_ctx_error((vksac_context_config){.cpu_shards = -1}, "cpu_shards must be");
    expect_ctx_error((vksac_context_config){.cpu_shards = 2, .cpu_threads = 2}, "needs cpu_threads 0 or -1");
    /* VKSAC_CPU_SHARDS stands in for a 0 in the config, except beside
     * worker threads. */
    setenv("VKSAC_CPU_SHARDS", "x2", 1);
    expect_ctx_error((vksac_context_config){0}, "VKSAC_CPU_SHARDS must be 0 (off) to 8, got 'x2'");
    setenv("VKSAC_CPU_SHARDS", "2", 1);
    vks_ctx *env = NULL;
    TH_OK(vks_ctx_create(&(vksac_context_config){0}, &env));
    assert_int_equal(vks_ctx_shards(env), 2);
    vks_ctx_destroy(env);
    TH_OK(vks_ctx_create(&(vksac_context_config){.cpu_threads = 2}, &env));
    assert_int_equal(vks_ctx_shards(env), 1);
    vks_ctx_destroy(env);
    TH_OK(vks_ctx_create(&(vksac_context_config){.cpu_shards = 1}, &env));
    assert_int_equal(vks_ctx_shards(env), 1);
    vks_ctx_destroy(env);
    unsetenv("VKSAC_CPU_SHARDS");

    /* A batch the shards cannot split equally: the agent runs unsharded. */
    vks_ctx *ctx;
    sharded_ctx(2, &ctx);
    vksac_agent_config in = af_config(6, 256), c;
    in.batch_size = 33;
    rl_agent *a = NULL;
    TH_OK(rl_agent_resolve(ctx, "test", &in, &c));
    TH_OK(rl_agent_create_sharded(ctx, &c, &a));
    assert_null(a->shards);
    assert_non_null(strstr(th_last_log(), "an agent of batch_size 33 runs unsharded: not a multiple of the "
                                          "context's cpu_shards 2"));
    af_data d;
    vksac_transitions t = af_make_data(&d, 14, 0, false);
    TH_OK(rl_agent_observe(a, &t));
    TH_OK(rl_agent_update(a, 2));
    finish(a, ctx);
}

int main(int argc, char **argv)
{
    if (th_parse_args(argc, argv, "shards") != 0)
        return 2;
    const struct CMUnitTest tests[] = {
        TH_TEST(test_replicas_stay_identical),
        TH_TEST(test_average_is_mean),
        TH_TEST(test_three_shards),
        TH_TEST(test_save_load_resume),
        TH_TEST(test_failed_shard_stops_the_agent),
        TH_TEST(test_bad_configs),
    };
    return cmocka_run_group_tests_name(th.group_name, tests, th_group_setup, th_group_teardown);
}
