/* The residual MLP: parameter layout, initialisation, and the recorded
 * forward and backward passes (see mlp.h for the equations). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn/mlp.h"
#include "nn/philox.h"

void nn_mlp_defaults(nn_mlp_config *c)
{
    *c = (nn_mlp_config){.hidden = 256, .depth = 2, .expansion = 2, .act = NN_ACT_RELU2,
                         .dropout = 0.0f, .final_norm = false, .out_scale = 1.0f, .seed = 0};
}

/* Widths beyond this would overflow the GEMM grids long before memory. */
#define MLP_MAX_WIDTH (1u << 20)
#define MLP_MAX_DEPTH 64u

static vksac_status check_size(vks_ctx *ctx, const char *field, uint32_t v, uint32_t lo, uint32_t hi)
{
    if (v < lo || v > hi)
        return vks_fail(ctx, VKSAC_E_ARG, "nn_mlp_create: field '%s' must be in [%u, %u], got %u", field, lo, hi, v);
    return VKSAC_OK;
}

static vksac_status check_config(vks_ctx *ctx, const nn_mlp_config *c)
{
    VKS_TRY(check_size(ctx, "in", c->in, 1, MLP_MAX_WIDTH));
    VKS_TRY(check_size(ctx, "out", c->out, 1, MLP_MAX_WIDTH));
    VKS_TRY(check_size(ctx, "hidden", c->hidden, 1, MLP_MAX_WIDTH));
    VKS_TRY(check_size(ctx, "depth", c->depth, 0, MLP_MAX_DEPTH));
    VKS_TRY(check_size(ctx, "expansion", c->expansion, 1, MLP_MAX_WIDTH / c->hidden));
    if ((unsigned)c->act > NN_ACT_CRELU || c->act == NN_ACT_NONE)
        return vks_fail(ctx, VKSAC_E_ARG, "nn_mlp_create: field 'act' must be relu, relu2 or crelu, got %d",
                        (int)c->act);
    if (!(c->dropout >= 0.0f && c->dropout < 1.0f))
        return vks_fail(ctx, VKSAC_E_ARG, "nn_mlp_create: field 'dropout' must be in [0, 1), got %g",
                        (double)c->dropout);
    if (!(isfinite(c->out_scale) && c->out_scale > 0.0f))
        return vks_fail(ctx, VKSAC_E_ARG, "nn_mlp_create: field 'out_scale' must be positive and finite, got %g",
                        (double)c->out_scale);
    return VKSAC_OK;
}

/* ---- layout --------------------------------------------------------------- */

typedef struct layout {
    nn_param *shapes;
    uint32_t n;
} layout;

static int add(layout *l, const char *name, uint32_t rows, uint32_t cols)
{
    nn_param *p = &l->shapes[l->n];
    snprintf(p->name, sizeof p->name, "%s", name);
    p->rows = rows;
    p->cols = cols;
    return (int)l->n++;
}

static int add_block(layout *l, uint32_t b, const char *part, uint32_t rows, uint32_t cols)
{
    char name[NN_NAME_LEN];
    snprintf(name, sizeof name, "blocks.%u.%s", b, part);
    return add(l, name, rows, cols);
}

static void lay_out(nn_mlp *m, layout *l)
{
    const nn_mlp_config *c = &m->cfg;
    m->in_w = add(l, "proj_in.weight", c->hidden, c->in);
    m->in_b = add(l, "proj_in.bias", 1, c->hidden);
    m->ln_in = add(l, "ln_in.gain", 1, m->hs);
    for (uint32_t b = 0; b < c->depth; b++) {
        nn_mlp_block *k = &m->block[b];
        k->fc1_w = add_block(l, b, "fc1.weight", m->eh, m->hs);
        k->fc1_b = add_block(l, b, "fc1.bias", 1, m->eh);
        k->ln_a = add_block(l, b, "ln_a.gain", 1, m->ea);
        k->fc2_w = add_block(l, b, "fc2.weight", m->hs, m->ea);
        k->fc2_b = add_block(l, b, "fc2.bias", 1, m->hs);
        k->ln_b = add_block(l, b, "ln_b.gain", 1, m->hs);
    }
    m->ln_f = c->final_norm ? add(l, "ln_final.gain", 1, m->hs) : -1;
    m->out_w = add(l, "proj_out.weight", c->out, m->hs);
    m->out_b = add(l, "proj_out.bias", 1, c->out);
}

/* ---- initial weights ------------------------------------------------------ */

static bool is_gain(const char *name) { return strstr(name, ".gain") != NULL; }

vksac_status nn_mlp_initial_weights(const nn_mlp *m, float *dst)
{
    if (!m || !dst)
        return VKSAC_E_ARG;
    const nn_params *p = m->params;
    for (uint32_t i = 0; i < p->count; i++) {
        const nn_param *t = &p->param[i];
        size_t n = (size_t)t->rows * t->cols;
        /* Linear weight and bias both draw from U(±1/√fan_in), as PyTorch's
         * nn.Linear (kaiming_uniform with a = √5); fan_in is the weight's
         * cols, which the bias that follows its weight shares. */
        bool bias = strstr(t->name, ".bias") != NULL;
        uint32_t fan_in = bias ? p->param[i - 1].cols : t->cols;
        float bound = 1.0f / sqrtf((float)fan_in);
        if ((int)i == m->out_w)
            bound *= m->cfg.out_scale;
        float gain = strstr(t->name, "ln_b.gain") ? 1e-5f : 1.0f;
        nn_rng rng = nn_rng_make(m->cfg.seed, i);
        for (size_t j = 0; j < n; j++)
            dst[j] = is_gain(t->name) ? gain : (2.0f * nn_rng_uniform(&rng) - 1.0f) * bound;
        dst += n;
    }
    return VKSAC_OK;
}

void nn_mlp_destroy(nn_mlp *m)
{
    if (!m)
        return;
    for (uint32_t z = 0; m->member && z < m->params->copies; z++)
        nn_mlp_destroy(m->member[z]);   /* their parameters alias ours */
    free(m->member);
    nn_params_destroy(m->params);
    free(m->block);
    free(m);
}

static vksac_status upload_initial(nn_mlp *m)
{
    float *w = malloc(nn_params_dense_size(m->params) * sizeof *w);
    if (!w)
        return vks_fail(m->params->ctx, VKSAC_E_OOM, "out of host memory for the initial weights");
    vksac_status st = nn_mlp_initial_weights(m, w);
    if (st == VKSAC_OK)
        st = nn_params_init(m->params, w);
    free(w);
    return st;
}

/* A network's struct and parameter layout for cfg (not yet its
 * parameters): the tensor shapes in *l, to be freed by the caller. */
static vksac_status shell(vks_ctx *ctx, const nn_mlp_config *cfg, nn_mlp **out, layout *l)
{
    nn_mlp *m = calloc(1, sizeof *m);
    uint32_t count = 5 + 6 * cfg->depth + (cfg->final_norm ? 1 : 0);
    *l = (layout){calloc(count, sizeof *l->shapes), 0};
    if (m)
        m->block = calloc(cfg->depth + 1, sizeof *m->block);
    if (!m || !m->block || !l->shapes) {
        free(l->shapes);
        nn_mlp_destroy(m);
        return vks_fail(ctx, VKSAC_E_OOM, "out of host memory for an MLP");
    }
    m->cfg = *cfg;
    m->hs = nn_act_width(cfg->act, cfg->hidden);
    m->eh = cfg->expansion * cfg->hidden;
    m->ea = nn_act_width(cfg->act, m->eh);
    lay_out(m, l);
    *out = m;
    return VKSAC_OK;
}

static uint32_t seed32(uint64_t seed) { return (uint32_t)seed ^ (uint32_t)(seed >> 32); }

/* A single network whose parameters were just made (status st): its
 * initial weights from cfg.seed, or destroyed on failure. */
static vksac_status finish_one(nn_mlp *m, vksac_status st, nn_mlp **out)
{
    if (st == VKSAC_OK)
        st = upload_initial(m);
    if (st != VKSAC_OK) {
        nn_mlp_destroy(m);
        return st;
    }
    *out = m;
    return VKSAC_OK;
}

vksac_status nn_mlp_create(vks_ctx *ctx, const nn_mlp_config *cfg, nn_mlp **out)
{
    if (!ctx)
        return VKSAC_E_ARG;
    if (!cfg || !out)
        return vks_fail(ctx, VKSAC_E_ARG, "nn_mlp_create: cfg and out must not be NULL");
    *out = NULL;
    VKS_TRY(check_config(ctx, cfg));
    nn_mlp *m;
    layout l;
    VKS_TRY(shell(ctx, cfg, &m, &l));
    vksac_status st = nn_params_create(ctx, l.shapes, l.n, &m->params);
    free(l.shapes);
    return finish_one(m, st, out);
}

/* Network z of an ensemble: the ensemble's layout with its own seed, and
 * parameters aliasing set z. */
static vksac_status make_member(nn_mlp *e, uint32_t z, uint64_t seed, nn_mlp **out)
{
    vks_ctx *ctx = e->params->ctx;
    nn_mlp_config c = e->cfg;
    c.seed = seed;
    nn_mlp *m;
    layout l;
    VKS_TRY(shell(ctx, &c, &m, &l));
    free(l.shapes);
    return finish_one(m, nn_params_member(e->params, z, &m->params), out);
}

nn_mlp *nn_mlp_member(nn_mlp *m, uint32_t z)
{
    if (!m || z >= m->params->copies)
        return NULL;
    return m->member ? m->member[z] : m;
}

vksac_status nn_mlp_create_ensemble(vks_ctx *ctx, const nn_mlp_config *cfg, const uint64_t *seeds, uint32_t copies,
                                    nn_mlp **out)
{
    if (!ctx)
        return VKSAC_E_ARG;
    if (!cfg || !seeds || !out)
        return vks_fail(ctx, VKSAC_E_ARG, "nn_mlp_create_ensemble: cfg, seeds and out must not be NULL");
    *out = NULL;
    if (copies < 2 || copies > NN_MAX_STACK)
        return vks_fail(ctx, VKSAC_E_ARG, "nn_mlp_create_ensemble: copies must be in [2, %u], got %u", NN_MAX_STACK,
                        copies);
    VKS_TRY(check_config(ctx, cfg));
    nn_mlp *m;
    layout l;
    VKS_TRY(shell(ctx, cfg, &m, &l));
    m->cfg.seed = seeds[0];
    vksac_status st = nn_params_create_copies(ctx, l.shapes, l.n, copies, &m->params);
    free(l.shapes);
    if (st == VKSAC_OK && !(m->member = calloc(copies, sizeof *m->member)))
        st = vks_fail(ctx, VKSAC_E_OOM, "out of host memory for an ensemble");
    for (uint32_t z = 0; z < copies && st == VKSAC_OK; z++)
        st = make_member(m, z, seeds[z], &m->member[z]);
    if (st != VKSAC_OK) {
        nn_mlp_destroy(m);
        return st;
    }
    *out = m;
    return VKSAC_OK;
}

/* ---- workspaces ----------------------------------------------------------- */

typedef struct ws_block {
    vks_tensor *z;          /* block input (B×hs) */
    vks_tensor *u1, *a;     /* W₁z + b₁ (B×eh), LN_a(act(drop(u1))) (B×ea) */
    vks_tensor *v;          /* W₂a + b₂ (B×hs) */
    vks_tensor *stats_a, *stats_b;
} ws_block;

struct nn_mlp_ws {
    const nn_mlp *m;
    uint32_t batch, depth;  /* depth kept: the network may go first */
    const vks_tensor *values;
    uint32_t counter_index, stream_base;
    vks_tensor *u0, *stats_in;
    ws_block *blk;          /* depth + 1: blk[depth].z is the last stream */
    vks_tensor *zf, *stats_f;
    /* backward scratch */
    vks_tensor *g, *g2, *dv, *da, *du1, *du0, *scr_h, *scr_e;
    bool train;             /* of the last recorded forward */
    nn_stack stack;         /* the networks (one unless an ensemble), `batch` rows each */
};

void nn_mlp_ws_destroy(nn_mlp_ws *ws)
{
    if (!ws)
        return;
    vks_tensor *t[] = {ws->u0, ws->stats_in, ws->zf, ws->stats_f, ws->g, ws->g2,
                         ws->dv, ws->da, ws->du1, ws->du0, ws->scr_h, ws->scr_e};
    for (size_t i = 0; i < sizeof t / sizeof *t; i++)
        vks_tensor_destroy(t[i]);
    for (uint32_t b = 0; ws->blk && b <= ws->depth; b++) {
        ws_block *k = &ws->blk[b];
        vks_tensor *t[] = {k->z, k->u1, k->a, k->v, k->stats_a, k->stats_b};
        for (size_t i = 0; i < sizeof t / sizeof *t; i++)
            vks_tensor_destroy(t[i]);
    }
    free(ws->blk);
    free(ws);
}

static vksac_status ws_alloc(nn_mlp_ws *ws, vks_ctx *ctx)
{
    const nn_mlp *m = ws->m;
    uint32_t B = ws->batch * ws->stack.count;   /* an ensemble's networks' rows, stacked */
    VKS_TRY(vks_tensor_create(ctx, B, m->cfg.hidden, &ws->u0));
    VKS_TRY(vks_tensor_create(ctx, B, 2, &ws->stats_in));
    for (uint32_t b = 0; b <= m->cfg.depth; b++) {
        ws_block *k = &ws->blk[b];
        VKS_TRY(vks_tensor_create(ctx, B, m->hs, &k->z));
        if (b == m->cfg.depth)
            break;
        VKS_TRY(vks_tensor_create(ctx, B, m->eh, &k->u1));
        VKS_TRY(vks_tensor_create(ctx, B, m->ea, &k->a));
        VKS_TRY(vks_tensor_create(ctx, B, m->hs, &k->v));
        VKS_TRY(vks_tensor_create(ctx, B, 2, &k->stats_a));
        VKS_TRY(vks_tensor_create(ctx, B, 2, &k->stats_b));
    }
    if (m->ln_f >= 0) {
        VKS_TRY(vks_tensor_create(ctx, B, m->hs, &ws->zf));
        VKS_TRY(vks_tensor_create(ctx, B, 2, &ws->stats_f));
    }
    VKS_TRY(vks_tensor_create(ctx, B, m->hs, &ws->g));
    VKS_TRY(vks_tensor_create(ctx, B, m->hs, &ws->g2));
    VKS_TRY(vks_tensor_create(ctx, B, m->hs, &ws->dv));
    VKS_TRY(vks_tensor_create(ctx, B, m->cfg.hidden, &ws->du0));
    VKS_TRY(vks_tensor_create(ctx, B, m->hs, &ws->scr_h));
    if (m->cfg.depth > 0) {
        VKS_TRY(vks_tensor_create(ctx, B, m->ea, &ws->da));
        VKS_TRY(vks_tensor_create(ctx, B, m->eh, &ws->du1));
        VKS_TRY(vks_tensor_create(ctx, B, m->ea, &ws->scr_e));
    }
    return VKSAC_OK;
}

vksac_status nn_mlp_ws_create(const nn_mlp *m, uint32_t batch, const vks_tensor *values,
                              uint32_t counter_index, uint32_t stream_base, nn_mlp_ws **out)
{
    if (!m || !out)
        return VKSAC_E_ARG;
    vks_ctx *ctx = m->params->ctx;
    *out = NULL;
    if (batch == 0)
        return vks_fail(ctx, VKSAC_E_ARG, "nn_mlp_ws_create: batch must be positive, got 0");
    uint32_t copies = m->params->copies;
    if ((uint64_t)batch * copies > UINT32_MAX / 4)
        return vks_fail(ctx, VKSAC_E_ARG, "nn_mlp_ws_create: batch %u for each of %u networks is too large "
                        "(at most %u rows in all)", batch, copies, UINT32_MAX / 4);
    if (m->cfg.dropout > 0.0f && !values)
        return vks_fail(ctx, VKSAC_E_ARG, "nn_mlp_ws_create: the network has dropout %g, so 'values' (the "
                        "tensor holding the RNG counter) must not be NULL", (double)m->cfg.dropout);
    if (values && counter_index + 2 > vks_tensor_cols(values))
        return vks_fail(ctx, VKSAC_E_ARG, "nn_mlp_ws_create: counter_index %u needs 2 values, 'values' has %u",
                        counter_index, vks_tensor_cols(values));
    nn_mlp_ws *ws = calloc(1, sizeof *ws);
    if (ws)
        ws->blk = calloc(m->cfg.depth + 1, sizeof *ws->blk);
    if (!ws || !ws->blk) {
        free(ws);
        return vks_fail(ctx, VKSAC_E_OOM, "out of host memory for an MLP workspace");
    }
    *ws = (nn_mlp_ws){.m = m, .batch = batch, .depth = m->cfg.depth, .values = values, .counter_index = counter_index,
                      .stream_base = stream_base, .blk = ws->blk,
                      .stack = {.count = copies, .rows = batch, .step = m->params->step}};
    for (uint32_t z = 0; z < copies; z++)   /* each network's dropout key */
        ws->stack.seed[z] = seed32(m->member ? m->member[z]->cfg.seed : m->cfg.seed);
    vksac_status st = ws_alloc(ws, ctx);
    if (st != VKSAC_OK) {
        nn_mlp_ws_destroy(ws);
        return st;
    }
    *out = ws;
    return VKSAC_OK;
}

/* ---- passes --------------------------------------------------------------- */

static vks_tensor *P(const nn_mlp *m, int role, int i) { return m->params->view[role][i]; }

static nn_dropout block_dropout(const nn_mlp_ws *ws, uint32_t b)
{
    const nn_mlp_config *c = &ws->m->cfg;
    return (nn_dropout){.rate = c->dropout, .seed = ws->stack.seed[0], .stream = ws->stream_base + b,
                        .values = ws->values, .counter_index = ws->counter_index};
}

/* A tensor of the pass with the floats between the networks' copies of it
 * in an ensemble (0: one copy, shared). */
typedef struct io {
    vks_tensor *t;
    uint64_t step;
} io;

/* A workspace tensor: the networks' B rows each, stacked. */
static io W(const nn_mlp_ws *ws, vks_tensor *t)
{
    return (io){t, ws->stack.count > 1 ? (uint64_t)ws->batch * vks_tensor_stride(t) : 0};
}

/* The batch of a layer for all networks, or NULL for one network (whose
 * ops then check exact shapes). */
static const vks_batch *batch_of(const nn_mlp_ws *ws, vks_batch *bt, uint64_t s0, uint64_t s1, uint64_t s2,
                                 uint64_t s3)
{
    *bt = (vks_batch){ws->stack.count, ws->batch, {s0, s1, s2, s3}};
    return ws->stack.count > 1 ? bt : NULL;
}

static const nn_stack *stack_of(const nn_mlp_ws *ws) { return ws->stack.count > 1 ? &ws->stack : NULL; }

/* y = x·Wᵀ + b for every network. */
static vksac_status linear(vks_seq *seq, const nn_mlp *m, const nn_mlp_ws *ws, io y, io x, int w, int b)
{
    vks_batch bt;
    uint64_t ps = m->params->step;
    return vks_gemm_fwd_batched(seq, y.t, x.t, P(m, NN_THETA, w), P(m, NN_THETA, b), VKS_ACT_NONE,
                                batch_of(ws, &bt, y.step, x.step, ps, ps));
}

/* dx (+)= dy·W for every network. */
static vksac_status linear_dx(vks_seq *seq, const nn_mlp *m, const nn_mlp_ws *ws, io dx, io dy, int w, int acc)
{
    vks_batch bt;
    return vks_gemm_dx_batched(seq, dx.t, dy.t, P(m, NN_THETA, w), acc,
                               batch_of(ws, &bt, dx.step, dy.step, m->params->step, 0));
}

/* A caller's tensor of a pass: B×cols for one network; for an ensemble a
 * stack of `copies` blocks of at least B rows (mlp.h), or B×cols shared
 * by every network when `shared_ok`. */
static vksac_status check_arg(const nn_mlp *m, const nn_mlp_ws *ws, const vks_tensor *t, uint32_t cols,
                              bool shared_ok, bool written, const char *fn, const char *name, io *out)
{
    vks_ctx *ctx = m->params->ctx;
    VKS_TRY(vks_need_tensor(ctx, t, fn, name));
    *out = (io){(vks_tensor *)t, 0};
    uint32_t c = ws->stack.count, rows = vks_tensor_rows(t);
    if (c == 1 || (shared_ok && rows == ws->batch))
        return vks_need_shape(ctx, t, ws->batch, cols, fn, name);
    if (rows % c != 0 || rows / c < ws->batch)
        return vks_fail(ctx, VKSAC_E_ARG, "%s: tensor '%s' has %u rows: an ensemble of %u networks needs %sa stack "
                        "of %u blocks of at least %u rows", fn, name, rows, c, shared_ok ? "shared rows or " : "", c,
                        ws->batch);
    out->step = (uint64_t)(rows / c) * vks_tensor_stride(t);
    return vks_need_copies(ctx, t, ws->batch, cols, c, out->step, written, fn, name);
}

static vksac_status check_io(const nn_mlp *m, const nn_mlp_ws *ws, const vks_tensor *x, const vks_tensor *y,
                             const char *fn, const char *yname, io *xo, io *yo)
{
    if (ws->m != m)
        return vks_fail(m->params->ctx, VKSAC_E_ARG, "%s: the workspace belongs to another network", fn);
    VKS_TRY(check_arg(m, ws, x, m->cfg.in, true, false, fn, "x", xo));
    return check_arg(m, ws, y, m->cfg.out, false, true, fn, yname, yo);
}

vksac_status nn_mlp_forward(vks_seq *seq, const nn_mlp *m, nn_mlp_ws *ws, const vks_tensor *x, vks_tensor *y,
                            bool train)
{
    if (!seq || !m || !ws)
        return VKSAC_E_ARG;
    io xo, yo;
    VKS_TRY(check_io(m, ws, x, y, "nn_mlp_forward", "y", &xo, &yo));
    nn_act act = m->cfg.act;
    const nn_stack *st = stack_of(ws);
    VKS_TRY(linear(seq, m, ws, W(ws, ws->u0), xo, m->in_w, m->in_b));
    VKS_TRY(nn_ln_forward_stacked(seq, ws->blk[0].z, ws->stats_in, ws->u0, P(m, NN_THETA, m->ln_in), NULL, act,
                                  NULL, st));
    for (uint32_t b = 0; b < m->cfg.depth; b++) {
        const nn_mlp_block *k = &m->block[b];
        ws_block *w = &ws->blk[b];
        nn_dropout drop = block_dropout(ws, b);
        VKS_TRY(linear(seq, m, ws, W(ws, w->u1), W(ws, w->z), k->fc1_w, k->fc1_b));
        VKS_TRY(nn_ln_forward_stacked(seq, w->a, w->stats_a, w->u1, P(m, NN_THETA, k->ln_a), NULL, act,
                                      train && drop.rate > 0.0f ? &drop : NULL, st));
        VKS_TRY(linear(seq, m, ws, W(ws, w->v), W(ws, w->a), k->fc2_w, k->fc2_b));
        VKS_TRY(nn_ln_forward_stacked(seq, ws->blk[b + 1].z, w->stats_b, w->v, P(m, NN_THETA, k->ln_b), w->z,
                                      NN_ACT_NONE, NULL, st));
    }
    vks_tensor *z = ws->blk[m->cfg.depth].z;
    if (m->ln_f >= 0) {
        VKS_TRY(nn_ln_forward_stacked(seq, ws->zf, ws->stats_f, z, P(m, NN_THETA, m->ln_f), NULL, NN_ACT_NONE, NULL,
                                      st));
        z = ws->zf;
    }
    ws->train = train;
    return linear(seq, m, ws, yo, W(ws, z), m->out_w, m->out_b);
}

/* A LayerNorm whose gain gradient (Σ_rows of its scratch, dy ⊙ x̂) the
 * next linear layer's dW dispatch sums, or none (ln < 0). */
typedef struct ln_gain { int ln; vks_tensor *scratch; } ln_gain;
static const ln_gain NO_GAIN = {-1, NULL};

/* dW (+)= dYᵀX, db (+)= Σ_rows dY: a linear layer's parameter gradients,
 * one dispatch, which also sums g's gain gradient. */
static vksac_status linear_grads(vks_seq *seq, nn_mlp *m, const nn_mlp_ws *ws, int w, int b, io dy, io x,
                                 nn_grads grads, ln_gain g)
{
    if (grads == NN_GRADS_NONE)
        return VKSAC_OK;
    bool acc = grads == NN_GRADS_ADD;
    vks_batch bt;
    uint64_t ps = m->params->step;
    const vks_batch *batch = batch_of(ws, &bt, ps, dy.step, x.step, ps);
    bt.step[4] = g.scratch ? W(ws, g.scratch).step : 0;
    bt.step[5] = ps;
    return vks_gemm_dw_sums(seq, P(m, NN_GRAD, w), P(m, NN_GRAD, b), dy.t, x.t, acc,
                            g.ln >= 0 ? P(m, NN_GRAD, g.ln) : NULL, g.scratch, acc, batch);
}

/* The gain gradient of a LayerNorm, or NULL when gradients are skipped. */
static vks_tensor *dgain(nn_mlp *m, int i, nn_grads grads) { return grads == NN_GRADS_NONE ? NULL : P(m, NN_GRAD, i); }

/* LayerNorm ln's gain gradient for linear_grads to sum, when its scratch
 * has the shape of the dY that follows it (not after CReLU, which makes
 * the LayerNorm twice as wide): one dispatch fewer per LayerNorm. */
static ln_gain gain_with_dw(int ln, vks_tensor *scratch, const vks_tensor *dy, nn_grads grads)
{
    bool same = vks_tensor_cols(scratch) == vks_tensor_cols(dy);
    return grads != NN_GRADS_NONE && same ? (ln_gain){ln, scratch} : NO_GAIN;
}

/* ln's gain gradient for nn_ln_backward to sum itself (NULL when g takes it). */
static vks_tensor *dgain_unless(nn_mlp *m, int ln, ln_gain g, nn_grads grads)
{
    return g.ln == ln ? NULL : dgain(m, ln, grads);
}

static vksac_status block_backward(vks_seq *seq, nn_mlp *m, nn_mlp_ws *ws, uint32_t b, nn_grads grads)
{
    const nn_mlp_block *k = &m->block[b];
    ws_block *w = &ws->blk[b];
    nn_dropout drop = block_dropout(ws, b);
    const nn_dropout *d = ws->train && drop.rate > 0.0f ? &drop : NULL;
    const nn_stack *st = stack_of(ws);
    /* ws->g holds ∂L/∂z_{b+1}; the residual passes it straight to z_b. */
    bool acc = grads == NN_GRADS_ADD;
    ln_gain gb = gain_with_dw(k->ln_b, ws->scr_h, ws->dv, grads);
    VKS_TRY(nn_ln_backward_stacked(seq, ws->dv, dgain_unless(m, k->ln_b, gb, grads), ws->scr_h, ws->g, w->v,
                                   P(m, NN_THETA, k->ln_b), w->stats_b, NN_ACT_NONE, NULL, acc, st));
    VKS_TRY(linear_grads(seq, m, ws, k->fc2_w, k->fc2_b, W(ws, ws->dv), W(ws, w->a), grads, gb));
    VKS_TRY(linear_dx(seq, m, ws, W(ws, ws->da), W(ws, ws->dv), k->fc2_w, 0));
    ln_gain ga = gain_with_dw(k->ln_a, ws->scr_e, ws->du1, grads);
    VKS_TRY(nn_ln_backward_stacked(seq, ws->du1, dgain_unless(m, k->ln_a, ga, grads), ws->scr_e, ws->da, w->u1,
                                   P(m, NN_THETA, k->ln_a), w->stats_a, m->cfg.act, d, acc, st));
    VKS_TRY(linear_grads(seq, m, ws, k->fc1_w, k->fc1_b, W(ws, ws->du1), W(ws, w->z), grads, ga));
    return linear_dx(seq, m, ws, W(ws, ws->g), W(ws, ws->du1), k->fc1_w, 1);
}

vksac_status nn_mlp_backward(vks_seq *seq, nn_mlp *m, nn_mlp_ws *ws, const vks_tensor *x, const vks_tensor *dy,
                             vks_tensor *dx, nn_grads grads)
{
    static const char fn[] = "nn_mlp_backward";
    if (!seq || !m || !ws)
        return VKSAC_E_ARG;
    vks_ctx *ctx = m->params->ctx;
    io xo, dyo, dxo = {dx, 0};
    VKS_TRY(check_io(m, ws, x, dy, fn, "dy", &xo, &dyo));
    if (grads > NN_GRADS_NONE)
        return vks_fail(ctx, VKSAC_E_ARG, "%s: grads must be write, add or none, got %d", fn, (int)grads);
    if (grads == NN_GRADS_NONE && !dx)
        return vks_fail(ctx, VKSAC_E_ARG, "%s: with no parameter gradients, dx must not be NULL", fn);
    if (dx)
        VKS_TRY(check_arg(m, ws, dx, m->cfg.in, false, true, fn, "dx", &dxo));
    bool acc = grads == NN_GRADS_ADD;
    uint32_t L = m->cfg.depth;
    const nn_stack *st = stack_of(ws);
    vks_tensor *zf = m->ln_f >= 0 ? ws->zf : ws->blk[L].z;
    VKS_TRY(linear_grads(seq, m, ws, m->out_w, m->out_b, dyo, W(ws, zf), grads, NO_GAIN));
    if (m->ln_f >= 0) {
        VKS_TRY(linear_dx(seq, m, ws, W(ws, ws->g2), dyo, m->out_w, 0));
        VKS_TRY(nn_ln_backward_stacked(seq, ws->g, dgain(m, m->ln_f, grads), ws->scr_h, ws->g2, ws->blk[L].z,
                                       P(m, NN_THETA, m->ln_f), ws->stats_f, NN_ACT_NONE, NULL, acc, st));
    } else {
        VKS_TRY(linear_dx(seq, m, ws, W(ws, ws->g), dyo, m->out_w, 0));
    }
    for (uint32_t b = L; b-- > 0;)
        VKS_TRY(block_backward(seq, m, ws, b, grads));
    ln_gain gi = gain_with_dw(m->ln_in, ws->scr_h, ws->du0, grads);
    VKS_TRY(nn_ln_backward_stacked(seq, ws->du0, dgain_unless(m, m->ln_in, gi, grads), ws->scr_h, ws->g, ws->u0,
                                   P(m, NN_THETA, m->ln_in), ws->stats_in, m->cfg.act, NULL, acc, st));
    VKS_TRY(linear_grads(seq, m, ws, m->in_w, m->in_b, W(ws, ws->du0), xo, grads, gi));
    return dx ? linear_dx(seq, m, ws, dxo, W(ws, ws->du0), m->in_w, 0) : VKSAC_OK;
}

double nn_mlp_forward_flops(const nn_mlp *m, uint32_t batch)
{
    const nn_mlp_config *c = &m->cfg;
    double macs = (double)c->in * c->hidden + (double)m->hs * c->out +
                  (double)c->depth * ((double)m->hs * m->eh + (double)m->ea * m->hs);
    return 2.0 * macs * batch;
}
