/* The public agent API: same seed → bit-identical training, checkpoints
 * (save → load → identical actions, resumed training bit-identical, policy
 * export), hostile checkpoint files, and bad calls. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent_fixture.h"
#include "rl/checkpoint.h"
#include "rl/safetensors.h"

#define N AF_N

static vksac_agent_config hybrid_config(void)
{
    return af_config(99, 256);
}

static vksac_transitions make_data(af_data *x, uint64_t seed)
{
    return af_make_data(x, seed, 0, false);
}

static void test_same_seed_bit_identical(void **state)
{
    (void)state;
    vksac_agent_config c = hybrid_config();
    rl_agent *x = af_make(&c), *y = af_make(&c);
    af_data d;
    vksac_transitions t = make_data(&d, 5);
    TH_OK(rl_agent_observe(x, &t));
    TH_OK(rl_agent_observe(y, &t));
    TH_OK(rl_agent_update(x, 4));
    TH_OK(rl_agent_update(y, 2));
    TH_OK(rl_agent_update(y, 2));
    assert_true(af_same_params(x, y));
    c.seed = 100;
    rl_agent *z = af_make(&c);
    TH_OK(rl_agent_observe(z, &t));
    TH_OK(rl_agent_update(z, 4));
    assert_false(af_same_params(x, z));
    vksac_stats st;
    TH_OK(rl_agent_stats(x, &st));
    assert_int_equal(st.updates, 4);
    assert_int_equal(st.observed, N);
    assert_true(isfinite(st.critic_loss) && st.critic_loss > 0.0f && isfinite(st.actor_loss));
    rl_agent_destroy(x);
    rl_agent_destroy(y);
    rl_agent_destroy(z);
}

static void test_save_load_resume(void **state)
{
    (void)state;
    vksac_agent_config c = hybrid_config();
    rl_agent *x = af_make(&c);
    af_data d;
    vksac_transitions t = make_data(&d, 7);
    TH_OK(rl_agent_observe(x, &t));
    TH_OK(rl_agent_update(x, 3));
    const char *path = af_tmp_path(0, "full");
    TH_OK(rl_checkpoint_save(x, path, true));
    rl_agent *y = NULL;
    TH_OK(rl_checkpoint_load(th.ctx, path, &y));
    assert_true(af_same_params(x, y));
    af_assert_same_acts(x, y, d.s, 2);
    /* Resume: the same updates from here give the same bits. */
    vksac_transitions b = t;
    b.n = 32;
    for (int i = 0; i < 3; i++) {
        TH_OK(rl_agent_update_batch(x, &b));
        TH_OK(rl_agent_update_batch(y, &b));
    }
    assert_true(af_same_params(x, y));
    vksac_stats sx, sy;
    TH_OK(rl_agent_stats(x, &sx));
    TH_OK(rl_agent_stats(y, &sy));
    assert_int_equal(sx.updates, sy.updates);
    assert_memory_equal(&sx.critic_loss, &sy.critic_loss, sizeof(float));
    /* A policy export acts the same and carries no critics. */
    const char *ppath = af_tmp_path(1, "policy");
    TH_OK(rl_checkpoint_save(x, ppath, false));
    rl_agent *z = NULL;
    TH_OK(rl_checkpoint_load(th.ctx, ppath, &z));
    af_assert_same_acts(x, z, d.s, 1);
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

static void test_bad_checkpoints(void **state)
{
    (void)state;
    vksac_agent_config c = hybrid_config();
    rl_agent *x = af_make(&c);
    const char *good = af_tmp_path(0, "good"), *bad = af_tmp_path(1, "bad");
    TH_OK(rl_checkpoint_save(x, good, true));
    size_t len;
    unsigned char *bytes = af_slurp(good, &len);
    af_expect_load_error(af_tmp_path(2, "missing_file"), VKSAC_OK, "No such file");
    af_spit(bad, bytes, 5);
    af_expect_load_error(bad, VKSAC_OK, "shorter than");
    af_spit(bad, bytes, len - 10);
    af_expect_load_error(bad, VKSAC_OK, "");
    unsigned char *copy = malloc(len);
    memcpy(copy, bytes, len);
    copy[8] = 'x';   /* header no longer JSON */
    af_spit(bad, copy, len);
    af_expect_load_error(bad, VKSAC_OK, "JSON");
    memcpy(copy, bytes, len);
    copy[7] = 0x7f;   /* header length beyond the file */
    af_spit(bad, copy, len);
    af_expect_load_error(bad, VKSAC_OK, "header");
    memcpy(copy, bytes, len);
    char *dt = NULL;
    for (size_t i = 0; i + 5 <= len && !dt; i++)
        if (!memcmp(copy + i, "\"F32\"", 5))
            dt = (char *)copy + i;
    assert_non_null(dt);
    memcpy(dt, "\"F16\"", 5);
    af_spit(bad, copy, len);
    af_expect_load_error(bad, VKSAC_OK, "F16");
    af_rewrite(good, bad, (af_edit){.drop = "critics.1.blocks.0.ln_a.gain"});
    af_expect_load_error(bad, VKSAC_OK, "'critics.1.blocks.0.ln_a.gain' is missing");
    af_rewrite(good, bad, (af_edit){.reshape = "actor.proj_in.weight"});
    af_expect_load_error(bad, VKSAC_OK, "'actor.proj_in.weight' has shape");
    remove(good);
    remove(bad);
    free(copy);
    free(bytes);
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

static void test_bad_calls(void **state)
{
    (void)state;
    vksac_agent_config c = hybrid_config();
    rl_agent *a = af_make(&c);
    th_expect_error(rl_agent_update(a, 1), VKSAC_E_STATE, "the replay buffer is empty");
    af_data d;
    vksac_transitions t = make_data(&d, 3);
    d.d[5] = 2;   /* head 2 has 2 choices */
    th_expect_error(rl_agent_observe(a, &t), VKSAC_E_ARG, "discrete action 2 of row 3 is 2, expected 0..1");
    d.d[5] = 1;
    d.r[4] = NAN;
    th_expect_error(rl_agent_observe(a, &t), VKSAC_E_ARG, "reward of row 5 is NaN");
    d.r[4] = 0.0f;
    d.term[0] = 2;
    th_expect_error(rl_agent_observe(a, &t), VKSAC_E_ARG, "terminated of row 1 is 2, expected 0 or 1");
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
    rl_agent *x = af_make(&c);
    assert_int_equal(x->cfg.actor_seed, 2);
    assert_int_equal(x->cfg.critic_seeds[0], 3);
    assert_int_equal(x->cfg.critic_seeds[1], 4);
    c.seed = 50;
    c.actor_seed = 2;
    c.critic_seeds[1] = 3;
    rl_agent *y = af_make(&c);
    assert_true(af_same_net(x->actor->params, y->actor->params));
    assert_true(af_same_net(x->critic[0]->params, y->critic[1]->params));
    assert_true(af_same_net(y->critic[1]->params, y->target[1]->params));
    assert_false(af_same_net(x->critic[0]->params, y->critic[0]->params));
    assert_int_equal(y->cfg.critic_seeds[0], 52);
    const char *path = af_tmp_path(0, "seeds");
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
