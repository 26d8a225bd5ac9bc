/* Checkpoints (docs/checkpoint.md): an agent as a safetensors file. The
 * configuration goes into "__metadata__" as one string per field, the
 * state into named fp32 tensors. Loading builds a fresh agent from the
 * stored configuration and then overwrites its state in place, so the
 * recorded update stays valid. The optional replay buffer and caller's
 * metadata are in checkpoint_replay.c. */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rl/agent.h"
#include "rl/checkpoint.h"
#include "rl/checkpoint_replay.h"
#include "rl/safetensors.h"
#include "rl/shards.h"

#define FORMAT "vksac-checkpoint-1"

/* ---- configuration as metadata ------------------------------------------ */

typedef enum { F_U32, F_U64, F_F32, F_STR, F_BOOL } field_kind;
typedef struct field {
    const char *key;
    field_kind kind;
    size_t offset;
} field;

#define A(k, kind, member) {k, kind, offsetof(vksac_agent_config, member)}
static const field AGENT_FIELDS[] = {
    A("dim_state", F_U32, dim_state), A("num_cont_actions", F_U32, num_cont_actions),
    A("num_discrete_heads", F_U32, num_discrete_heads), A("num_critics", F_U32, num_critics),
    A("use_softmin", F_BOOL, use_softmin), A("softmin_temperature", F_F32, softmin_temperature),
    A("quantiled_critics", F_BOOL, quantiled_critics), A("num_quantiles", F_U32, num_quantiles),
    A("frac_atom_keep", F_F32, frac_atom_keep), A("reward_discount_rate", F_F32, reward_discount_rate),
    A("reward_scale", F_F32, reward_scale), A("ema_decay", F_F32, ema_decay),
    A("temperature_learning_rate", F_F32, temperature_learning_rate),
    A("initial_log_alpha", F_F32, initial_log_alpha), A("target_entropy_cont", F_F32, target_entropy_cont),
    A("sigma", F_STR, sigma), A("gumbel_temperature", F_F32, gumbel_temperature),
    A("no_rsmnorm", F_BOOL, no_rsmnorm), A("batch_size", F_U32, batch_size),
    A("replay_capacity", F_U32, replay_capacity), A("updates_per_step", F_U32, updates_per_step),
    A("actor_update_every", F_U32, actor_update_every), A("seed", F_U64, seed),
    A("actor_seed", F_U64, actor_seed),
};
#undef A
#define N(k, kind, member) {k, kind, offsetof(vksac_net_config, member)}
static const field NET_FIELDS[] = {
    N("dim_hidden", F_U32, dim_hidden), N("mlp_depth", F_U32, mlp_depth), N("expansion", F_U32, expansion),
    N("activation", F_STR, activation), N("dropout", F_F32, dropout), N("final_norm", F_BOOL, final_norm),
    N("learning_rate", F_F32, learning_rate), N("optimizer", F_STR, optimizer), N("betas1", F_F32, betas[0]),
    N("betas2", F_F32, betas[1]), N("weight_decay", F_F32, weight_decay), N("max_grad_norm", F_F32, max_grad_norm),
    N("regen", F_STR, regen), N("regen_reg_rate", F_F32, regen_reg_rate),
};
#undef N
#define NAGENT (sizeof AGENT_FIELDS / sizeof *AGENT_FIELDS)
#define NNET (sizeof NET_FIELDS / sizeof *NET_FIELDS)

/* Host-side pieces of a checkpoint being written: metadata strings and
 * tensor names and data, all freed together. */
typedef struct writer {
    st_meta meta[NAGENT + 2 * NNET + 24];
    size_t nmeta;
    st_tensor *t;
    size_t n, cap;
    void **owned;
    size_t nowned, owned_cap;
    int oom;
} writer;

static void *own(writer *w, void *p)
{
    if (!p || w->oom) {
        w->oom = 1;
        free(p);
        return NULL;
    }
    if (w->nowned == w->owned_cap) {
        size_t cap = w->owned_cap ? 2 * w->owned_cap : 64;
        void **o = realloc(w->owned, cap * sizeof *o);
        if (!o) {
            w->oom = 1;
            free(p);
            return NULL;
        }
        w->owned = o;
        w->owned_cap = cap;
    }
    return w->owned[w->nowned++] = p;
}

static char *ownf(writer *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static char *ownf(writer *w, const char *fmt, ...)
{
    char buf[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    return own(w, strdup(buf));
}

static void meta(writer *w, const char *key, const char *value)
{
    if (key && value && w->nmeta < sizeof w->meta / sizeof *w->meta)
        w->meta[w->nmeta++] = (st_meta){key, value};
    else
        w->oom = 1;
}

static void meta_fields(writer *w, const char *prefix, const field *f, size_t n, const void *base)
{
    for (size_t i = 0; i < n; i++) {
        const char *p = (const char *)base + f[i].offset;
        char *v = NULL;
        switch (f[i].kind) {
        case F_U32: v = ownf(w, "%" PRIu32, *(const uint32_t *)p); break;
        case F_U64: v = ownf(w, "%" PRIu64, *(const uint64_t *)p); break;
        case F_F32: v = ownf(w, "%.9g", (double)*(const float *)p); break;
        case F_BOOL: v = ownf(w, "%d", *(const int *)p != 0); break;
        case F_STR: v = ownf(w, "%s", *(const char *const *)p); break;
        }
        meta(w, ownf(w, "config.%s%s", prefix, f[i].key), v);
    }
}

/* "a,b,c" of n values. */
static char *list_f(writer *w, const float *x, uint32_t n)
{
    char buf[VKSAC_MAX_CONT_ACTIONS * 20] = "";
    for (uint32_t i = 0; i < n; i++)
        snprintf(buf + strlen(buf), sizeof buf - strlen(buf), "%s%.9g", i ? "," : "", (double)x[i]);
    return own(w, strdup(buf));
}

static void meta_config(writer *w, const vksac_agent_config *c, const char *kind, const rl_agent *a)
{
    meta(w, "format", FORMAT);
    meta(w, "kind", kind);
    meta_fields(w, "", AGENT_FIELDS, NAGENT, c);
    meta_fields(w, "actor.", NET_FIELDS, NNET, &c->actor);
    meta_fields(w, "critic.", NET_FIELDS, NNET, &c->critic);
    float nd[VKSAC_MAX_DISCRETE_HEADS];
    for (uint32_t i = 0; i < c->num_discrete_heads; i++)
        nd[i] = (float)c->num_discrete_actions[i];
    meta(w, "config.num_discrete_actions", list_f(w, nd, c->num_discrete_heads));
    meta(w, "config.target_entropy_discrete", list_f(w, c->target_entropy_discrete, c->num_discrete_heads));
    meta(w, "config.action_low", list_f(w, c->action_low, c->num_cont_actions));
    meta(w, "config.action_high", list_f(w, c->action_high, c->num_cont_actions));
    char seeds[VKSAC_MAX_CRITICS * 24] = "";
    for (uint32_t n = 0; n < c->num_critics; n++)
        snprintf(seeds + strlen(seeds), sizeof seeds - strlen(seeds), "%s%" PRIu64, n ? "," : "", c->critic_seeds[n]);
    meta(w, "config.critic_seeds", ownf(w, "%s", seeds));
    meta(w, "updates", ownf(w, "%" PRIu64, a->updates));
    meta(w, "observed", ownf(w, "%" PRIu64, a->observed));
}

static void tensor(writer *w, char *name, uint32_t rows, uint32_t cols, float *data)
{
    if (!name || !data || w->oom) {
        w->oom = 1;
        return;
    }
    if (w->n == w->cap) {
        size_t cap = w->cap ? 2 * w->cap : 64;
        st_tensor *t = realloc(w->t, cap * sizeof *t);
        if (!t) {
            w->oom = 1;
            return;
        }
        w->t = t;
        w->cap = cap;
    }
    w->t[w->n++] = (st_tensor){name, rows, cols, data};
}

/* Every tensor of one role of a parameter set, named prefix.<param>. */
static vksac_status params(writer *w, const nn_params *p, int role, const char *prefix)
{
    float *all = own(w, malloc(nn_params_dense_size(p) * sizeof(float)));
    if (!all)
        return VKSAC_OK;
    VKS_TRY(nn_params_read(p, role, all));
    for (uint32_t i = 0; i < p->count; i++) {
        tensor(w, ownf(w, "%s.%s", prefix, p->param[i].name), p->param[i].rows, p->param[i].cols, all);
        all += (size_t)p->param[i].rows * p->param[i].cols;
    }
    return VKSAC_OK;
}

static vksac_status device_tensor(writer *w, const vks_tensor *t, char *name)
{
    uint32_t r = vks_tensor_rows(t), c = vks_tensor_cols(t);
    float *d = own(w, malloc((size_t)r * c * sizeof *d));
    if (d)
        VKS_TRY(vks_tensor_read(t, d));
    tensor(w, name, r, c, d);
    return VKSAC_OK;
}

/* θ of a network plus, for full checkpoints, its optimiser's state. */
static vksac_status network(writer *w, const nn_params *p, const nn_optim *o, const char *name, bool full)
{
    VKS_TRY(params(w, p, NN_THETA, name));
    if (!full)
        return VKSAC_OK;
    static const char *roles[] = {[NN_M] = "m", [NN_V] = "v", [NN_THETA0] = "theta0"};
    for (int r = NN_M; r <= NN_THETA0; r++)
        VKS_TRY(params(w, p, r, ownf(w, "optim.%s.%s", name, roles[r])));
    return device_tensor(w, o->values, ownf(w, "optim.%s.values", name));
}

/* The normaliser under a network's name: μ, σ², t. */
static vksac_status rsmnorm(writer *w, const rl_agent *a, const char *name)
{
    uint32_t S = a->cfg.dim_state;
    float *st = own(w, malloc(3 * (size_t)S * sizeof *st));
    if (!st)
        return VKSAC_OK;
    VKS_TRY(vks_tensor_read(a->rsm->stats, st));
    static const char *rows[] = {"mean", "var", "count"};
    for (int r = 0; r < 3; r++)
        tensor(w, ownf(w, "%s.rsmnorm.%s", name, rows[r]), 1, S, st + (size_t)r * S);
    return VKSAC_OK;
}

static vksac_status collect(writer *w, rl_agent *a, bool full)
{
    meta_config(w, &a->cfg, full ? "full" : "policy", a);
    VKS_TRY(network(w, a->actor->params, a->actor_opt, "actor", full));
    VKS_TRY(rsmnorm(w, a, "actor"));
    if (!full)
        return VKSAC_OK;
    for (uint32_t n = 0; n < a->cfg.num_critics; n++) {
        VKS_TRY(network(w, a->critic[n]->params, a->critic_opt[n], ownf(w, "critics.%u", n), true));
        VKS_TRY(rsmnorm(w, a, ownf(w, "critics.%u", n)));
        VKS_TRY(params(w, a->target[n]->params, NN_THETA, ownf(w, "targets.%u", n)));
    }
    VKS_TRY(network(w, a->alpha, a->alpha_opt, "temperature", true));
    return device_tensor(w, a->heads.counters, "rng.counters");
}

/* The replay buffer's tensors and counts, and the caller's string. */
static vksac_status collect_options(writer *w, rl_agent *a, const vksac_save_options *o, const char *fn,
                                    rl_replay_dump *dump)
{
    if (o->replay) {
        VKS_TRY(rl_replay_dump_read(a, fn, dump));
        for (size_t i = 0; i < dump->n; i++)
            tensor(w, (char *)dump->t[i].name, dump->t[i].rows, dump->t[i].cols, (float *)dump->t[i].data);
        for (size_t i = 0; i < 2; i++)
            meta(w, dump->meta[i].key, dump->meta[i].value);
    }
    if (o->metadata)
        meta(w, RL_CKPT_USER_KEY, o->metadata);
    return VKSAC_OK;
}

static vksac_status save(rl_agent *a, const char *path, bool full, const vksac_save_options *options,
                         const char *fn)
{
    if (!path || !*path)
        return vks_fail(a->ctx, VKSAC_E_ARG, "%s: path must be a non-empty string", fn);
    if (options)
        VKS_TRY(rl_metadata_check(a->ctx, fn, options->metadata));
    writer w = {0};
    rl_replay_dump dump = {0};
    vksac_status st = collect(&w, a, full);
    if (st == VKSAC_OK && options)
        st = collect_options(&w, a, options, fn, &dump);
    char err[512];
    if (st == VKSAC_OK && w.oom)
        st = vks_fail(a->ctx, VKSAC_E_OOM, "%s: out of host memory for the checkpoint", fn);
    if (st == VKSAC_OK && st_save(path, w.t, w.n, w.meta, w.nmeta, err, sizeof err) != 0)
        st = vks_fail(a->ctx, VKSAC_E_ARG, "%s: %s", fn, err);
    rl_replay_dump_free(&dump);
    for (size_t i = 0; i < w.nowned; i++)
        free(w.owned[i]);
    free(w.owned);
    free(w.t);
    return st;
}

vksac_status rl_checkpoint_save(rl_agent *a, const char *path, bool full)
{
    return save(a, path, full, NULL, "vksac_agent_save");
}

vksac_status rl_checkpoint_save_with(rl_agent *a, const char *path, const vksac_save_options *options)
{
    return save(a, path, true, options, options ? "vksac_agent_save_with" : "vksac_agent_save");
}

/* ---- loading ----------------------------------------------------------------- */

typedef struct reader {
    vks_ctx *ctx;
    const st_file *f;
    const char *path;
} reader;

static vksac_status corrupt(const reader *r, const char *what)
{
    return vks_fail(r->ctx, VKSAC_E_ARG, "vksac_agent_load: %s: %s", r->path, what);
}

static const char *need_meta(const reader *r, const char *key, vksac_status *st)
{
    const char *v = st_meta_get(r->f, key);
    if (!v) {
        char msg[160];
        snprintf(msg, sizeof msg, "the metadata lacks '%s' (not a vksac checkpoint?)", key);
        *st = corrupt(r, msg);
    }
    return v;
}

static vksac_status parse_number(const reader *r, const char *key, const char *v, double lo, double hi, double *out)
{
    char *end;
    errno = 0;
    double x = strtod(v, &end);
    if (end == v || *end || errno || !(x >= lo && x <= hi)) {
        char msg[256];
        snprintf(msg, sizeof msg, "metadata '%s' is '%.40s', expected a number in [%g, %g]", key, v, lo, hi);
        return corrupt(r, msg);
    }
    *out = x;
    return VKSAC_OK;
}

static vksac_status read_fields(const reader *r, const char *prefix, const field *f, size_t n, void *base)
{
    for (size_t i = 0; i < n; i++) {
        char key[96];
        snprintf(key, sizeof key, "config.%s%s", prefix, f[i].key);
        vksac_status st = VKSAC_OK;
        const char *v = need_meta(r, key, &st);
        VKS_TRY(st);
        char *p = (char *)base + f[i].offset;
        double x = 0.0;
        switch (f[i].kind) {
        case F_STR: *(const char **)p = v; continue;   /* resolution swaps in a static copy */
        case F_U32: VKS_TRY(parse_number(r, key, v, 0, 4294967295.0, &x)); *(uint32_t *)p = (uint32_t)x; break;
        case F_U64: {
            char *end;
            errno = 0;
            unsigned long long u = strtoull(v, &end, 10);
            if (end == v || *end || errno || *v == '-')
                return corrupt(r, "metadata 'config.seed' is not an unsigned integer");
            *(uint64_t *)p = u;
            break;
        }
        case F_F32: VKS_TRY(parse_number(r, key, v, -INFINITY, INFINITY, &x)); *(float *)p = (float)x; break;
        case F_BOOL: VKS_TRY(parse_number(r, key, v, 0, 1, &x)); *(int *)p = (int)x; break;
        }
    }
    return VKSAC_OK;
}

static vksac_status read_list(const reader *r, const char *key, uint32_t n, float *out)
{
    vksac_status st = VKSAC_OK;
    const char *v = need_meta(r, key, &st);
    VKS_TRY(st);
    for (uint32_t i = 0; i < n; i++) {
        char *end;
        out[i] = strtof(v, &end);
        if (end == v || (*end != (i + 1 < n ? ',' : '\0')))
            return corrupt(r, "a metadata list is malformed (expected comma-separated numbers)");
        v = end + (i + 1 < n);
    }
    if (n == 0 && *v)
        return corrupt(r, "a metadata list should be empty");
    return VKSAC_OK;
}

static vksac_status read_seeds(const reader *r, uint32_t n, uint64_t *out)
{
    vksac_status st = VKSAC_OK;
    const char *v = need_meta(r, "config.critic_seeds", &st);
    VKS_TRY(st);
    for (uint32_t i = 0; i < n; i++) {
        char *end;
        errno = 0;
        out[i] = strtoull(v, &end, 10);
        if (end == v || *v == '-' || errno || (*end != (i + 1 < n ? ',' : '\0')))
            return corrupt(r, "metadata 'config.critic_seeds' is malformed (expected comma-separated seeds)");
        v = end + (i + 1 < n);
    }
    return VKSAC_OK;
}

static vksac_status read_config(const reader *r, vksac_agent_config *c, float *low, float *high)
{
    vksac_status st = VKSAC_OK;
    const char *format = need_meta(r, "format", &st);
    VKS_TRY(st);
    if (strcmp(format, FORMAT))
        return corrupt(r, "metadata 'format' is not '" FORMAT "'");
    memset(c, 0, sizeof *c);
    VKS_TRY(read_fields(r, "", AGENT_FIELDS, NAGENT, c));
    VKS_TRY(read_fields(r, "actor.", NET_FIELDS, NNET, &c->actor));
    VKS_TRY(read_fields(r, "critic.", NET_FIELDS, NNET, &c->critic));
    if (c->num_discrete_heads > VKSAC_MAX_DISCRETE_HEADS || c->num_cont_actions > VKSAC_MAX_CONT_ACTIONS)
        return corrupt(r, "the stored action space is larger than this build supports");
    float nd[VKSAC_MAX_DISCRETE_HEADS];
    VKS_TRY(read_list(r, "config.num_discrete_actions", c->num_discrete_heads, nd));
    for (uint32_t i = 0; i < c->num_discrete_heads; i++)
        c->num_discrete_actions[i] = nd[i] >= 0 && nd[i] < 1e6f ? (uint32_t)nd[i] : 0;
    VKS_TRY(read_list(r, "config.target_entropy_discrete", c->num_discrete_heads, c->target_entropy_discrete));
    VKS_TRY(read_list(r, "config.action_low", c->num_cont_actions, low));
    VKS_TRY(read_list(r, "config.action_high", c->num_cont_actions, high));
    if (c->num_critics > VKSAC_MAX_CRITICS)
        return corrupt(r, "the stored number of critics is larger than this build supports");
    VKS_TRY(read_seeds(r, c->num_critics, c->critic_seeds));
    c->action_low = low;
    c->action_high = high;
    c->override_target_entropy = 1;   /* the stored values are the resolved ones */
    return VKSAC_OK;
}

static vksac_status expect(const reader *r, const char *name, uint32_t rows, uint32_t cols, const float **data)
{
    char err[320];
    if (st_expect(r->f, name, rows, cols, data, err, sizeof err) != 0)
        return vks_fail(r->ctx, VKSAC_E_ARG, "vksac_agent_load: %s: %s", r->path, err);
    return VKSAC_OK;
}

static vksac_status load_params(const reader *r, nn_params *p, int role, const char *prefix)
{
    float *all = malloc(nn_params_dense_size(p) * sizeof *all);
    if (!all)
        return vks_fail(r->ctx, VKSAC_E_OOM, "vksac_agent_load: out of host memory");
    vksac_status st = VKSAC_OK;
    float *dst = all;
    for (uint32_t i = 0; i < p->count && st == VKSAC_OK; i++) {
        char name[160];
        snprintf(name, sizeof name, "%s.%s", prefix, p->param[i].name);
        const float *src;
        size_t n = (size_t)p->param[i].rows * p->param[i].cols;
        st = expect(r, name, p->param[i].rows, p->param[i].cols, &src);
        if (st == VKSAC_OK)
            memcpy(dst, src, n * sizeof *dst);
        dst += n;
    }
    if (st == VKSAC_OK)
        st = nn_params_write(p, role, all);
    free(all);
    return st;
}

static vksac_status load_tensor(const reader *r, vks_tensor *t, const char *name)
{
    const float *src;
    VKS_TRY(expect(r, name, vks_tensor_rows(t), vks_tensor_cols(t), &src));
    return vks_tensor_write(t, src);
}

static vksac_status load_network(const reader *r, nn_params *p, nn_optim *o, const char *name, bool full)
{
    VKS_TRY(load_params(r, p, NN_THETA, name));
    if (!full)
        return VKSAC_OK;
    static const char *roles[] = {[NN_M] = "m", [NN_V] = "v", [NN_THETA0] = "theta0"};
    char prefix[96];
    for (int k = NN_M; k <= NN_THETA0; k++) {
        snprintf(prefix, sizeof prefix, "optim.%s.%s", name, roles[k]);
        VKS_TRY(load_params(r, p, k, prefix));
    }
    snprintf(prefix, sizeof prefix, "optim.%s.values", name);
    return load_tensor(r, o->values, prefix);
}

static vksac_status load_state(const reader *r, rl_agent *a, bool full)
{
    VKS_TRY(load_network(r, a->actor->params, a->actor_opt, "actor", full));
    uint32_t S = a->cfg.dim_state;
    float *st = malloc(3 * (size_t)S * sizeof *st);
    if (!st)
        return vks_fail(r->ctx, VKSAC_E_OOM, "vksac_agent_load: out of host memory");
    static const char *rows[] = {"actor.rsmnorm.mean", "actor.rsmnorm.var", "actor.rsmnorm.count"};
    vksac_status s = VKSAC_OK;
    for (int k = 0; k < 3 && s == VKSAC_OK; k++) {
        const float *src;
        s = expect(r, rows[k], 1, S, &src);
        if (s == VKSAC_OK)
            memcpy(st + (size_t)k * S, src, S * sizeof *st);
    }
    if (s == VKSAC_OK)
        s = vks_tensor_write(a->rsm->stats, st);
    free(st);
    VKS_TRY(s);
    if (!full)
        return VKSAC_OK;
    for (uint32_t n = 0; n < a->cfg.num_critics; n++) {
        char name[32];
        snprintf(name, sizeof name, "critics.%u", n);
        VKS_TRY(load_network(r, a->critic[n]->params, a->critic_opt[n], name, true));
        snprintf(name, sizeof name, "targets.%u", n);
        VKS_TRY(load_params(r, a->target[n]->params, NN_THETA, name));
    }
    VKS_TRY(load_network(r, a->alpha, a->alpha_opt, "temperature", true));
    return load_tensor(r, a->heads.counters, "rng.counters");
}

static vksac_status load_counts(const reader *r, rl_agent *a)
{
    const char *keys[] = {"updates", "observed"};
    uint64_t *dst[] = {&a->updates, &a->observed};
    for (int i = 0; i < 2; i++) {
        vksac_status st = VKSAC_OK;
        const char *v = need_meta(r, keys[i], &st);
        VKS_TRY(st);
        char *end;
        errno = 0;
        unsigned long long u = strtoull(v, &end, 10);
        if (end == v || *end || errno || *v == '-')
            return corrupt(r, "metadata 'updates' or 'observed' is not an unsigned integer");
        *dst[i] = u;
    }
    return VKSAC_OK;
}

/* An agent on ctx from a parsed checkpoint, unsharded. */
static vksac_status load_parsed(vks_ctx *ctx, st_file *f, const char *path, rl_agent **out)
{
    reader r = {ctx, f, path};
    vksac_agent_config stored, cfg;
    float low[VKSAC_MAX_CONT_ACTIONS], high[VKSAC_MAX_CONT_ACTIONS];
    rl_agent *a = NULL;
    vksac_status st = read_config(&r, &stored, low, high);
    const char *kind = st == VKSAC_OK ? need_meta(&r, "kind", &st) : NULL;
    if (st == VKSAC_OK && strcmp(kind, "full") && strcmp(kind, "policy"))
        st = corrupt(&r, "metadata 'kind' must be 'full' or 'policy'");
    if (st == VKSAC_OK)
        st = rl_agent_resolve(ctx, "vksac_agent_load: stored config", &stored, &cfg);
    if (st == VKSAC_OK)
        st = rl_agent_create(ctx, &cfg, &a);
    bool full = st == VKSAC_OK && !strcmp(kind, "full");
    if (st == VKSAC_OK)
        st = load_state(&r, a, full);
    if (st == VKSAC_OK && full)
        st = load_counts(&r, a);
    if (st == VKSAC_OK)
        st = rl_replay_load(ctx, f, path, a, full);
    if (st == VKSAC_OK)
        st = rl_metadata_load(ctx, f, path, a);
    if (st != VKSAC_OK) {
        rl_agent_destroy(a);
        return st;
    }
    *out = a;
    return VKSAC_OK;
}

typedef struct parsed {
    st_file *f;
    const char *path;
} parsed;

static vksac_status replica_from_parsed(vks_ctx *ctx, void *arg, rl_agent **out)
{
    const parsed *p = arg;
    return load_parsed(ctx, p->f, p->path, out);
}

/* Replica 0 and each shard's replica (rl_agent_shard) come from the same
 * parse of the file, so all start identical even if it changes meanwhile. */
vksac_status rl_checkpoint_load(vks_ctx *ctx, const char *path, rl_agent **out)
{
    *out = NULL;
    if (!path || !*path)
        return vks_fail(ctx, VKSAC_E_ARG, "vksac_agent_load: path must be a non-empty string");
    char err[512];
    st_file *f;
    if (st_load(path, &f, err, sizeof err) != 0)
        return vks_fail(ctx, VKSAC_E_ARG, "vksac_agent_load: %s", err);
    rl_agent *a = NULL;
    vksac_status st = load_parsed(ctx, f, path, &a);
    if (st == VKSAC_OK)
        st = rl_agent_shard(a, replica_from_parsed, &(parsed){f, path});
    st_free(f);
    if (st != VKSAC_OK) {
        rl_agent_destroy(a);
        return st;
    }
    *out = a;
    return VKSAC_OK;
}
