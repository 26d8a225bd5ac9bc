/* The shared agent fixture (agent_fixture.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent_fixture.h"
#include "rl/checkpoint.h"
#include "rl/safetensors.h"
#include "rl/shards.h"

vksac_agent_config af_config(uint64_t seed, uint32_t replay_capacity)
{
    vksac_agent_config c = {.dim_state = AF_S, .num_cont_actions = 2, .num_discrete_heads = 2,
                            .num_discrete_actions = {3, 2}, .batch_size = 32, .replay_capacity = replay_capacity,
                            .seed = seed};
    c.actor.dim_hidden = c.critic.dim_hidden = 16;
    c.actor.mlp_depth = c.critic.mlp_depth = 1;
    c.critic.dropout = 0.05f;
    return c;
}

rl_agent *af_make(const vksac_agent_config *in)
{
    vksac_agent_config c;
    rl_agent *a = NULL;
    TH_OK(rl_agent_resolve(th.ctx, "test", in, &c));
    TH_OK(rl_agent_create_sharded(th.ctx, &c, &a));
    return a;
}

vksac_transitions af_make_data(af_data *x, uint64_t seed, uint64_t disc_offset, bool truncated)
{
    th_rand_fill(x->s, AF_N * AF_S, seed);
    th_rand_fill(x->s2, AF_N * AF_S, seed + 1);
    th_rand_fill(x->a, AF_N * 2, seed + 2);
    th_rand_fill(x->r, AF_N, seed + 3);
    for (int i = 0; i < AF_N; i++) {
        x->d[2 * i] = (int32_t)((i + disc_offset) % 3);
        x->d[2 * i + 1] = (i / 3) % 2;
        x->term[i] = i % 9 == 0;
        x->trunc[i] = i % 7 == 3;
    }
    return (vksac_transitions){.n = AF_N, .states = x->s, .cont_actions = x->a, .discrete_actions = x->d,
                               .rewards = x->r, .terminated = x->term, .truncated = truncated ? x->trunc : NULL,
                               .next_states = x->s2};
}

/* ---- comparing agents ----------------------------------------------------------- */

int af_same_net(const nn_params *x, const nn_params *y)
{
    size_t n = nn_params_dense_size(x), m = nn_params_dense_size(y);
    float *a = malloc(n * sizeof *a), *b = malloc(m * sizeof *b);
    TH_OK(nn_params_read(x, NN_THETA, a));
    TH_OK(nn_params_read(y, NN_THETA, b));
    int same = n == m && !memcmp(a, b, n * sizeof *a);
    free(a);
    free(b);
    return same;
}

int af_same_params(const rl_agent *x, const rl_agent *y)
{
    int same = af_same_net(x->actor->params, y->actor->params) && af_same_net(x->alpha, y->alpha);
    for (uint32_t n = 0; n < x->cfg.num_critics; n++)
        same = same && af_same_net(x->critic[n]->params, y->critic[n]->params) &&
               af_same_net(x->target[n]->params, y->target[n]->params);
    return same;
}

void af_assert_same_acts(rl_agent *x, rl_agent *y, const float *states, int samples)
{
    float cx[AF_N * 2], cy[AF_N * 2], lx[AF_N], ly[AF_N], dlx[AF_N * 2], dly[AF_N * 2];
    int32_t dx[AF_N * 2], dy[AF_N * 2];
    for (int sample = 0; sample < samples; sample++) {
        TH_OK(rl_agent_act(x, states, AF_N, sample, cx, dx, lx, dlx));
        TH_OK(rl_agent_act(y, states, AF_N, sample, cy, dy, ly, dly));
        assert_memory_equal(cx, cy, sizeof cx);
        assert_memory_equal(dx, dy, sizeof dx);
        assert_memory_equal(lx, ly, sizeof lx);
        assert_memory_equal(dlx, dly, sizeof dlx);
    }
}

void af_assert_same_stats_of(const vksac_stats *x, const vksac_stats *y)
{
    const float fx[] = {x->critic_loss, x->actor_loss, x->alpha, x->mean_q, x->entropy, x->temperature_loss,
                        x->mean_target};
    const float fy[] = {y->critic_loss, y->actor_loss, y->alpha, y->mean_q, y->entropy, y->temperature_loss,
                        y->mean_target};
    assert_memory_equal(fx, fy, sizeof fx);
    assert_int_equal(x->updates, y->updates);
    assert_int_equal(x->observed, y->observed);
}

void af_assert_same_stats(rl_agent *x, rl_agent *y)
{
    vksac_stats sx, sy;
    TH_OK(rl_agent_stats(x, &sx));
    TH_OK(rl_agent_stats(y, &sy));
    af_assert_same_stats_of(&sx, &sy);
}

/* ---- errors ------------------------------------------------------------------------ */

void af_expect_load_error(const char *path, vksac_status want, const char *needle)
{
    rl_agent *a = (rl_agent *)1;
    th_clear_error(th.ctx);
    vksac_status st = rl_checkpoint_load(th.ctx, path, &a);
    const char *msg = vks_ctx_error(th.ctx);
    if (st == VKSAC_OK || (want != VKSAC_OK && st != want) || !strstr(msg, needle))
        fail_msg("loading %s: got %s \"%s\", want %s containing '%s'", path, vksac_status_name(st), msg,
                 want != VKSAC_OK ? vksac_status_name(want) : "an error", needle);
    assert_null(a);
}

/* ---- files ------------------------------------------------------------------------ */

static char path_buf[4][256];

const char *af_tmp_path(int k, const char *name)
{
    const char *dir = getenv("TMPDIR");
    snprintf(path_buf[k], sizeof path_buf[k], "%s/vksac_test_%d_%s.safetensors", dir && *dir ? dir : "/tmp",
             (int)getpid(), name);
    return path_buf[k];
}

void *af_slurp(const char *path, size_t *len)
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

void af_spit(const char *path, const void *p, size_t len)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(p, 1, len, f), len);
    fclose(f);
}

static bool matches(const char *name, const char *pattern)
{
    size_t n = pattern ? strlen(pattern) : 0;
    return n && (pattern[n - 1] == '.' ? !strncmp(name, pattern, n) : !strcmp(name, pattern));
}

void af_rewrite(const char *src, const char *dst, af_edit e)
{
    st_file *f;
    char err[256];
    assert_int_equal(st_load(src, &f, err, sizeof err), 0);
    size_t n = st_count(f), k = 0, nm = st_meta_count(f);
    st_tensor *t = calloc(n, sizeof *t);
    float *poked = NULL;
    for (size_t i = 0; i < n; i++) {
        t[k] = *st_tensor_at(f, i);
        if (matches(t[k].name, e.drop))
            continue;
        if (e.reshape && !strcmp(t[k].name, e.reshape)) {
            t[k].rows *= t[k].cols;
            t[k].cols = 1;
        }
        if (e.poke && !strcmp(t[k].name, e.poke)) {
            size_t len = (size_t)t[k].rows * t[k].cols;
            assert_true(e.at < len);
            poked = malloc(len * sizeof *poked);
            memcpy(poked, t[k].data, len * sizeof *poked);
            poked[e.at] = e.value;
            t[k].data = poked;
        }
        k++;
    }
    st_meta *m = calloc(nm + 1, sizeof *m);
    bool set = false;
    size_t km = 0;
    for (size_t i = 0; i < nm; i++) {
        m[km] = *st_meta_at(f, i);
        if (matches(m[km].key, e.drop_key))
            continue;
        if (e.key && !strcmp(m[km].key, e.key)) {
            m[km].value = e.meta_value;
            set = true;
        }
        km++;
    }
    if (e.key && !set)
        m[km++] = (st_meta){e.key, e.meta_value};
    assert_int_equal(st_save(dst, t, k, m, km, err, sizeof err), 0);
    free(m);
    free(poked);
    free(t);
    st_free(f);
}
