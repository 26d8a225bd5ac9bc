/* Reference residual MLP (see mlp_ref.h). */
#include <stdlib.h>
#include <string.h>

#include "reference/mlp_ref.h"

static size_t add(ref_mlp *m, uint32_t rows, uint32_t cols)
{
    ref_tensor_span *s = &m->span[m->ntensors++];
    s->offset = m->size;
    s->n = (size_t)rows * cols;
    m->size += s->n;
    return m->ntensors - 1;
}

int ref_mlp_init(ref_mlp *m, const ref_mlp_cfg *cfg)
{
    memset(m, 0, sizeof *m);
    m->cfg = *cfg;
    if (cfg->depth > 64)
        return -1;
    m->hs = ref_act_width(cfg->act, cfg->hidden);
    m->eh = cfg->expansion * cfg->hidden;
    m->ea = ref_act_width(cfg->act, m->eh);
    add(m, cfg->hidden, cfg->in);
    add(m, 1, cfg->hidden);
    add(m, 1, m->hs);
    for (uint32_t b = 0; b < cfg->depth; b++) {
        add(m, m->eh, m->hs);
        add(m, 1, m->eh);
        add(m, 1, m->ea);
        add(m, m->hs, m->ea);
        add(m, 1, m->hs);
        add(m, 1, m->hs);
    }
    if (cfg->final_norm)
        add(m, 1, m->hs);
    add(m, cfg->out, m->hs);
    add(m, 1, cfg->out);
    return 0;
}

/* y (B×n) = x (B×k) · wᵀ + b */
static void linear(double *y, const double *x, const double *w, const double *b, uint32_t B, uint32_t n,
                   uint32_t k)
{
    for (uint32_t r = 0; r < B; r++)
        for (uint32_t j = 0; j < n; j++) {
            double s = b[j];
            for (uint32_t i = 0; i < k; i++)
                s += x[(size_t)r * k + i] * w[(size_t)j * k + i];
            y[(size_t)r * n + j] = s;
        }
}

/* dw += dyᵀx, db += Σ dy, dx (=, when non-NULL) dy·w; dx may alias nothing. */
static void linear_back(double *dw, double *db, double *dx, const double *dy, const double *x, const double *w,
                        uint32_t B, uint32_t n, uint32_t k)
{
    for (uint32_t r = 0; r < B; r++)
        for (uint32_t j = 0; j < n; j++) {
            double g = dy[(size_t)r * n + j];
            db[j] += g;
            for (uint32_t i = 0; i < k; i++)
                dw[(size_t)j * k + i] += g * x[(size_t)r * k + i];
        }
    if (dx)
        for (uint32_t r = 0; r < B; r++)
            for (uint32_t i = 0; i < k; i++) {
                double s = 0;
                for (uint32_t j = 0; j < n; j++)
                    s += dy[(size_t)r * n + j] * w[(size_t)j * k + i];
                dx[(size_t)r * k + i] = s;
            }
}

typedef struct cache {
    double *u0, *z[65], *u1[64], *a[64], *v[64], *zf;
} cache;

static double *zalloc(size_t n) { return calloc(n ? n : 1, sizeof(double)); }

static ref_dropout block_drop(const ref_mlp *m, uint32_t b, int train, uint64_t counter)
{
    return (ref_dropout){train ? m->cfg.dropout : 0.0, m->cfg.drop_seed, m->cfg.stream_base + b, counter};
}

#define T(i) (theta + m->span[i].offset)
#define G(i) (grad + m->span[i].offset)

static void forward(const ref_mlp *m, const double *theta, const double *x, uint32_t B, int train,
                    uint64_t counter, double *y, cache *c)
{
    const ref_mlp_cfg *k = &m->cfg;
    size_t t = 0;
    c->u0 = zalloc((size_t)B * k->hidden);
    linear(c->u0, x, T(0), T(1), B, k->hidden, k->in);
    c->z[0] = zalloc((size_t)B * m->hs);
    ref_ln_forward(c->z[0], NULL, c->u0, T(2), NULL, B, k->hidden, k->act, NULL);
    t = 3;
    for (uint32_t b = 0; b < k->depth; b++, t += 6) {
        ref_dropout d = block_drop(m, b, train, counter);
        c->u1[b] = zalloc((size_t)B * m->eh);
        c->a[b] = zalloc((size_t)B * m->ea);
        c->v[b] = zalloc((size_t)B * m->hs);
        c->z[b + 1] = zalloc((size_t)B * m->hs);
        linear(c->u1[b], c->z[b], T(t), T(t + 1), B, m->eh, m->hs);
        ref_ln_forward(c->a[b], NULL, c->u1[b], T(t + 2), NULL, B, m->eh, k->act, &d);
        linear(c->v[b], c->a[b], T(t + 3), T(t + 4), B, m->hs, m->ea);
        ref_ln_forward(c->z[b + 1], NULL, c->v[b], T(t + 5), c->z[b], B, m->hs, REF_NN_NONE, NULL);
    }
    c->zf = c->z[k->depth];
    if (k->final_norm) {
        c->zf = zalloc((size_t)B * m->hs);
        ref_ln_forward(c->zf, NULL, c->z[k->depth], T(t), NULL, B, m->hs, REF_NN_NONE, NULL);
        t++;
    }
    linear(y, c->zf, T(t), T(t + 1), B, k->out, m->hs);
}

static void backward(const ref_mlp *m, const double *theta, const double *x, uint32_t B, int train,
                     uint64_t counter, const double *dy, double *grad, double *dx, const cache *c)
{
    const ref_mlp_cfg *k = &m->cfg;
    size_t t = m->ntensors - 2, hs = m->hs;
    double *g = zalloc(B * hs), *g2 = zalloc(B * hs), *dv = zalloc(B * hs);
    double *da = zalloc((size_t)B * m->ea), *du1 = zalloc((size_t)B * m->eh), *du0 = zalloc((size_t)B * k->hidden);
    linear_back(G(t), G(t + 1), g, dy, c->zf, T(t), B, k->out, m->hs);
    if (k->final_norm) {
        t--;
        memcpy(g2, g, B * hs * sizeof *g);
        ref_ln_backward(g, G(t), g2, c->z[k->depth], T(t), B, m->hs, REF_NN_NONE, NULL, 1);
    }
    for (uint32_t b = k->depth; b-- > 0;) {
        t -= 6;
        ref_dropout d = block_drop(m, b, train, counter);
        ref_ln_backward(dv, G(t + 5), g, c->v[b], T(t + 5), B, m->hs, REF_NN_NONE, NULL, 1);
        linear_back(G(t + 3), G(t + 4), da, dv, c->a[b], T(t + 3), B, m->hs, m->ea);
        ref_ln_backward(du1, G(t + 2), da, c->u1[b], T(t + 2), B, m->eh, k->act, &d, 1);
        linear_back(G(t), G(t + 1), g2, du1, c->z[b], T(t), B, m->eh, m->hs);
        for (size_t i = 0; i < B * hs; i++)
            g[i] += g2[i];   /* the residual's own path */
    }
    ref_ln_backward(du0, G(2), g, c->u0, T(2), B, k->hidden, k->act, NULL, 1);
    linear_back(G(0), G(1), dx, du0, x, T(0), B, k->hidden, k->in);
    free(g), free(g2), free(dv), free(da), free(du1), free(du0);
}

void ref_mlp_run(const ref_mlp *m, const double *theta, const double *x, uint32_t batch, int train,
                 uint64_t counter, double *y, const double *dy, double *grad, double *dx)
{
    cache c = {0};
    forward(m, theta, x, batch, train, counter, y, &c);
    if (grad) {
        memset(grad, 0, m->size * sizeof *grad);
        backward(m, theta, x, batch, train, counter, dy, grad, dx, &c);
    }
    free(c.u0);
    if (c.zf != c.z[m->cfg.depth])
        free(c.zf);
    for (uint32_t b = 0; b <= m->cfg.depth && b < 65; b++)
        free(c.z[b]);
    for (uint32_t b = 0; b < m->cfg.depth && b < 64; b++)
        free(c.u1[b]), free(c.a[b]), free(c.v[b]);
}
