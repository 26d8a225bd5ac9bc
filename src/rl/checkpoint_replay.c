/* The optional parts of a full checkpoint (checkpoint_replay.h,
 * docs/checkpoint.md): the replay buffer, as replay.* tensors holding its
 * written slots in slot order with replay.count and replay.head in the
 * metadata, and the caller's string as __metadata__["user"]. On loading
 * both are hostile input: every shape, count and value is checked before
 * anything reaches the device. */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rl/checkpoint_replay.h"

enum { R_STATES, R_CONT, R_DISC, R_REWARDS, R_TERM, R_TRUNC, R_NEXT, R_COUNT };
static const char *const NAMES[R_COUNT] = {
    "replay.states",  "replay.cont_actions", "replay.discrete_actions", "replay.rewards",
    "replay.terminated", "replay.truncated", "replay.next_states"};

/* Columns of tensor k; 0 for an action tensor the agent has no use for. */
static uint32_t cols_of(const vksac_agent_config *c, int k)
{
    switch (k) {
    case R_STATES:
    case R_NEXT: return c->dim_state;
    case R_CONT: return c->num_cont_actions;
    case R_DISC: return c->num_discrete_heads;
    default: return 1;
    }
}

/* ---- saving ------------------------------------------------------------------ */

void rl_replay_dump_free(rl_replay_dump *d)
{
    free(d->data);
    memset(d, 0, sizeof *d);
}

vksac_status rl_replay_dump_read(rl_agent *a, const char *fn, rl_replay_dump *d)
{
    memset(d, 0, sizeof *d);
    const vksac_agent_config *c = &a->cfg;
    uint32_t size = rl_replay_size(a->replay);
    size_t total = 0, off[R_COUNT];
    for (int k = 0; k < R_COUNT; k++) {
        off[k] = total;
        total += (size_t)size * cols_of(c, k);
    }
    d->data = malloc((total ? total : 1) * sizeof *d->data);
    if (!d->data)
        return vks_fail(a->ctx, VKSAC_E_OOM, "%s: out of host memory for the replay buffer's %" PRIu32 " transitions",
                        fn, size);
    float *p[R_COUNT];
    for (int k = 0; k < R_COUNT; k++)
        p[k] = cols_of(c, k) ? d->data + off[k] : NULL;
    vksac_status st = rl_replay_read_all(a->replay, p[R_STATES], p[R_CONT], p[R_DISC], p[R_REWARDS], p[R_TERM],
                                         p[R_TRUNC], p[R_NEXT]);
    if (st != VKSAC_OK) {
        rl_replay_dump_free(d);
        return st;
    }
    for (int k = 0; k < R_COUNT; k++)
        if (p[k])
            d->t[d->n++] = (st_tensor){NAMES[k], size, cols_of(c, k), p[k]};
    snprintf(d->count, sizeof d->count, "%" PRIu64, rl_replay_count(a->replay));
    snprintf(d->head, sizeof d->head, "%" PRIu32, rl_replay_head(a->replay));
    d->meta[0] = (st_meta){"replay.count", d->count};
    d->meta[1] = (st_meta){"replay.head", d->head};
    return VKSAC_OK;
}

/* ---- loading ----------------------------------------------------------------- */

static vksac_status bad(vks_ctx *ctx, const char *path, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static vksac_status bad(vks_ctx *ctx, const char *path, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return vks_fail(ctx, VKSAC_E_ARG, "vksac_agent_load: %s: %s", path, msg);
}

/* A plain decimal unsigned integer (no sign, space or exponent). */
static bool parse_u64(const char *v, uint64_t *out)
{
    if (*v < '0' || *v > '9')
        return false;
    char *end;
    errno = 0;
    unsigned long long u = strtoull(v, &end, 10);
    if (*end || errno)
        return false;
    *out = u;
    return true;
}

/* Every value of tensor k (rows × its columns): states, next states,
 * continuous actions and rewards finite, flags 0 or 1, discrete actions
 * integer indices below their head's number of choices. */
static vksac_status check_values(vks_ctx *ctx, const char *path, const vksac_agent_config *c, int k, const float *x,
                                 uint32_t rows)
{
    uint32_t cols = cols_of(c, k);
    for (uint32_t i = 0; i < rows; i++)
        for (uint32_t j = 0; j < cols; j++) {
            float v = x[(size_t)i * cols + j];
            char want[64] = "";
            if (k == R_TERM || k == R_TRUNC) {
                if (v != 0.0f && v != 1.0f)
                    snprintf(want, sizeof want, "0 or 1");
            } else if (k == R_DISC) {
                uint32_t n = c->num_discrete_actions[j];
                if (!(v >= 0.0f && v < (float)n && v == floorf(v)))
                    snprintf(want, sizeof want, "an integer index in 0..%" PRIu32, n - 1);
            } else if (!isfinite(v)) {
                snprintf(want, sizeof want, "a finite number");
            }
            if (!*want)
                continue;
            char col[32] = "";
            if (cols > 1)
                snprintf(col, sizeof col, " column %" PRIu32, j);
            return bad(ctx, path, "tensor '%s' slot %" PRIu32 "%s is %g, expected %s", NAMES[k], i, col, (double)v,
                       want);
        }
    return VKSAC_OK;
}

/* replay.count and replay.head, checked against each other and the
 * capacity. */
static vksac_status read_counts(vks_ctx *ctx, const st_file *f, const char *path, const char *any, uint32_t cap,
                                uint64_t *count, uint32_t *head)
{
    static const char *const keys[2] = {"replay.count", "replay.head"};
    uint64_t v[2];
    for (int i = 0; i < 2; i++) {
        const char *s = st_meta_get(f, keys[i]);
        if (!s)
            return bad(ctx, path, "'%s' is present but metadata '%s' is missing (a replay buffer needs "
                       "'replay.count' and 'replay.head')", any, keys[i]);
        if (!parse_u64(s, &v[i]))
            return bad(ctx, path, "metadata '%s' is '%.40s', expected an unsigned integer", keys[i], s);
    }
    if (v[1] >= cap)
        return bad(ctx, path, "metadata 'replay.head' is %" PRIu64 ", expected below replay_capacity %" PRIu32, v[1],
                   cap);
    if (v[1] != v[0] % cap)
        return bad(ctx, path, "metadata 'replay.head' is %" PRIu64 " but 'replay.count' %" PRIu64 " puts it at %" PRIu64
                   " (count mod replay_capacity %" PRIu32 ")", v[1], v[0], v[0] % cap, cap);
    *count = v[0];
    *head = (uint32_t)v[1];
    return VKSAC_OK;
}

vksac_status rl_replay_load(vks_ctx *ctx, const st_file *f, const char *path, rl_agent *a, bool full)
{
    const vksac_agent_config *c = &a->cfg;
    const char *any = st_meta_get(f, "replay.count") ? "replay.count" : st_meta_get(f, "replay.head") ? "replay.head"
                                                                                                        : NULL;
    for (int k = 0; k < R_COUNT && !any; k++)
        if (st_find(f, NAMES[k]))
            any = NAMES[k];
    if (!any)
        return VKSAC_OK;   /* no replay buffer: it stays empty */
    if (!full)
        return bad(ctx, path, "a policy checkpoint holds '%s'; only a full checkpoint can hold a replay buffer", any);
    uint64_t count = 0;
    uint32_t head = 0;
    VKS_TRY(read_counts(ctx, f, path, any, c->replay_capacity, &count, &head));
    uint32_t size = count < c->replay_capacity ? (uint32_t)count : c->replay_capacity;
    const float *p[R_COUNT] = {NULL};
    for (int k = 0; k < R_COUNT; k++) {
        uint32_t cols = cols_of(c, k);
        const st_tensor *t = st_find(f, NAMES[k]);
        if (!cols && t)
            return bad(ctx, path, "tensor '%s' is present but the agent has no %s actions", NAMES[k],
                       k == R_CONT ? "continuous" : "discrete");
        if (!cols)
            continue;
        if (!t)
            return bad(ctx, path, "tensor '%s' is missing ('%s' is present, and a replay buffer needs every replay.* "
                       "tensor of its action space)", NAMES[k], any);
        if (t->rows != size || t->cols != cols)
            return bad(ctx, path, "tensor '%s' has shape [%" PRIu32 ", %" PRIu32 "], expected [%" PRIu32 ", %" PRIu32
                       "] (min(replay.count, replay_capacity) slots)", NAMES[k], t->rows, t->cols, size, cols);
        VKS_TRY(check_values(ctx, path, c, k, t->data, size));
        p[k] = t->data;
    }
    return rl_replay_restore(a->replay, count, head, p[R_STATES], p[R_CONT], p[R_DISC], p[R_REWARDS], p[R_TERM],
                             p[R_TRUNC], p[R_NEXT]);
}

/* ---- the caller's metadata ------------------------------------------------------ */

vksac_status rl_metadata_check(vks_ctx *ctx, const char *fn, const char *m)
{
    if (!m)
        return VKSAC_OK;
    size_t n = strlen(m);
    if (n > VKSAC_MAX_METADATA_BYTES)
        return vks_fail(ctx, VKSAC_E_ARG, "%s: metadata is %zu bytes, above the limit of %u (VKSAC_MAX_METADATA_BYTES)",
                        fn, n, VKSAC_MAX_METADATA_BYTES);
    size_t ok = st_utf8_prefix(m, n);
    if (ok < n)
        return vks_fail(ctx, VKSAC_E_ARG, "%s: metadata is not valid UTF-8 at byte %zu (0x%02x); the checkpoint "
                        "header is JSON, whose strings are UTF-8 text", fn, ok, (unsigned)(unsigned char)m[ok]);
    size_t esc = st_json_len(m);
    if (esc > ST_HEADER_MAX)
        return vks_fail(ctx, VKSAC_E_ARG, "%s: metadata takes %zu bytes once escaped as a JSON string (quotes and "
                        "backslashes take 2 bytes, control characters 6), beyond the checkpoint header's limit of %u",
                        fn, esc, ST_HEADER_MAX);
    return VKSAC_OK;
}

vksac_status rl_metadata_load(vks_ctx *ctx, const st_file *f, const char *path, rl_agent *a)
{
    const char *m = st_meta_get(f, RL_CKPT_USER_KEY);
    if (!m)
        return VKSAC_OK;
    size_t n = strlen(m);
    if (n > VKSAC_MAX_METADATA_BYTES)
        return bad(ctx, path, "metadata '" RL_CKPT_USER_KEY "' is %zu bytes, above the limit of %u "
                   "(VKSAC_MAX_METADATA_BYTES)", n, VKSAC_MAX_METADATA_BYTES);
    char *copy = malloc(n + 1);
    if (!copy)
        return vks_fail(ctx, VKSAC_E_OOM, "vksac_agent_load: out of host memory for %zu bytes of metadata", n);
    memcpy(copy, m, n + 1);
    free(a->metadata);
    a->metadata = copy;
    return VKSAC_OK;
}
