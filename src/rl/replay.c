/* The replay buffer (replay.h): a ring of transitions on the device.
 *
 * Storage is one device tensor holding every field one after the other,
 * each field a capacity×width block at a 64-float boundary, followed by a
 * 4-float meta row ([0] = size). Each field (and meta) is a view of that
 * tensor, written from the host with vks_tensor_write_rows; the sampling
 * kernel binds the whole tensor once and addresses the fields by offsets,
 * which keeps one dispatch within the runtime's bindings (VKS_MAX_BINDINGS). */
#include "rl/replay.h"

#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

enum { F_S, F_NS, F_C, F_D, F_RTD, F_COUNT };
static const char *const FIELD_NAMES[F_COUNT] = {"states", "next_states", "cont", "disc", "rtd"};

/* Field offsets are multiples of 64 floats: a texel-buffer offset that
 * suits every device (runtime.h, vks_tensor_view). */
#define ALIGN_FLOATS 64u

struct rl_replay {
    vks_ctx *ctx;
    rl_replay_config cfg;
    vks_tensor *store;              /* all fields + meta */
    vks_tensor *field[F_COUNT];     /* views; NULL for an absent field */
    uint64_t off[F_COUNT];          /* float offsets in store */
    vks_tensor *meta;               /* view, 1×4: [0] size */
    uint64_t meta_off;
    vks_tensor *sink;               /* bound for absent batch outputs, never written */
    uint64_t count;
    uint32_t head, meta_size;       /* meta_size: the size meta holds */
};

static uint32_t field_cols(const rl_replay_config *c, int f)
{
    switch (f) {
    case F_S:
    case F_NS: return c->S;
    case F_C: return c->C;
    case F_D: return c->D;
    default: return 3;
    }
}

static uint64_t align_up(uint64_t x) { return (x + ALIGN_FLOATS - 1) / ALIGN_FLOATS * ALIGN_FLOATS; }

void rl_replay_destroy(rl_replay *r)
{
    if (!r)
        return;
    for (int f = 0; f < F_COUNT; f++)
        vks_tensor_destroy(r->field[f]);
    vks_tensor_destroy(r->meta);
    vks_tensor_destroy(r->store);
    vks_tensor_destroy(r->sink);
    free(r);
}

vksac_status rl_replay_create(vks_ctx *ctx, const rl_replay_config *cfg, rl_replay **out)
{
    if (!ctx)
        return VKSAC_E_ARG;
    if (!out)
        return vks_fail(ctx, VKSAC_E_ARG, "replay: out must not be NULL");
    *out = NULL;
    if (!cfg)
        return vks_fail(ctx, VKSAC_E_ARG, "replay: the config must not be NULL");
    if (cfg->capacity < 1 || cfg->capacity > RL_REPLAY_MAX_CAPACITY)
        return vks_fail(ctx, VKSAC_E_ARG, "replay: field 'capacity' must be in [1, %u], got %u",
                        RL_REPLAY_MAX_CAPACITY, cfg->capacity);
    if (cfg->S < 1)
        return vks_fail(ctx, VKSAC_E_ARG, "replay: field 'S' (state size) must be at least 1, got %u", cfg->S);
    /* Widths beyond 2^24 cannot fit a texel buffer anyway; the bound keeps
     * the offset arithmetic below far from overflow. */
    const uint32_t max_w = 1u << 24;
    if (cfg->S > max_w || cfg->C > max_w || cfg->D > max_w)
        return vks_fail(ctx, VKSAC_E_ARG, "replay: fields 'S', 'C', 'D' must be at most %u, got %u, %u, %u", max_w,
                        cfg->S, cfg->C, cfg->D);

    rl_replay *r = calloc(1, sizeof *r);
    if (!r)
        return vks_fail(ctx, VKSAC_E_OOM, "replay: out of host memory");
    r->ctx = ctx;
    r->cfg = *cfg;
    uint64_t total = 0;
    for (int f = 0; f < F_COUNT; f++) {
        uint32_t cols = field_cols(cfg, f);
        r->off[f] = total;
        if (cols)
            total = align_up(total + (uint64_t)cfg->capacity * ((cols + 3u) & ~3u));
    }
    r->meta_off = total;
    total += 4;

    vksac_device_info info;
    vksac_status st = vks_ctx_device(ctx, &info);
    uint64_t max = info.max_texel_buffer_elements < INT32_MAX ? info.max_texel_buffer_elements : INT32_MAX;
    if (st == VKSAC_OK && total > max)
        st = vks_fail(ctx, VKSAC_E_ARG,
                      "replay: capacity %u with S %u, C %u, D %u needs %llu floats of storage, beyond the device's "
                      "texel-buffer limit of %llu; lower 'capacity'",
                      cfg->capacity, cfg->S, cfg->C, cfg->D, (unsigned long long)total, (unsigned long long)max);
    if (st == VKSAC_OK)
        st = vks_tensor_create(ctx, (uint32_t)(total / 4), 4, &r->store);
    for (int f = 0; f < F_COUNT && st == VKSAC_OK; f++)
        if (field_cols(cfg, f))
            st = vks_tensor_view(r->store, r->off[f], cfg->capacity, field_cols(cfg, f), &r->field[f]);
    if (st == VKSAC_OK)
        st = vks_tensor_view(r->store, r->meta_off, 1, 4, &r->meta);
    if (st == VKSAC_OK)
        st = vks_tensor_create(ctx, 1, 4, &r->sink);
    if (st != VKSAC_OK) {
        rl_replay_destroy(r);
        return st;
    }
    *out = r;   /* the store is zero-filled: size 0 */
    return VKSAC_OK;
}

uint64_t rl_replay_count(const rl_replay *r) { return r ? r->count : 0; }
uint32_t rl_replay_size(const rl_replay *r)
{
    return r ? (uint32_t)(r->count < r->cfg.capacity ? r->count : r->cfg.capacity) : 0;
}
uint32_t rl_replay_head(const rl_replay *r) { return r ? r->head : 0; }
rl_replay_config rl_replay_get_config(const rl_replay *r) { return r ? r->cfg : (rl_replay_config){0}; }

/* ---- appending ------------------------------------------------------------ */

/* cols 0: one value per row (reward), reported without a column. */
static vksac_status need_finite(vks_ctx *ctx, const char *name, const float *x, uint32_t n, uint32_t cols)
{
    bool per_row = cols == 0;
    if (per_row)
        cols = 1;
    for (uint32_t i = 0; i < n; i++)
        for (uint32_t j = 0; j < cols; j++) {
            float v = x[(size_t)i * cols + j];
            if (isfinite(v))
                continue;
            if (per_row)
                return vks_fail(ctx, VKSAC_E_ARG, "replay: %s of row %u is %g", name, i, (double)v);
            return vks_fail(ctx, VKSAC_E_ARG, "replay: %s of row %u column %u is %g", name, i, j, (double)v);
        }
    return VKSAC_OK;
}

static vksac_status need_flag(vks_ctx *ctx, const char *name, const float *x, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++)
        if (x[i] != 0.0f && x[i] != 1.0f)
            return vks_fail(ctx, VKSAC_E_ARG, "replay: %s of row %u is %g, must be 0 or 1", name, i, (double)x[i]);
    return VKSAC_OK;
}

/* Writes rows [src0, src0 + m) of a dense n×cols array to slots
 * [slot, slot + m) of field t (m ≤ capacity − slot). */
static vksac_status put(vks_tensor *t, uint32_t slot, uint32_t m, const float *src, uint32_t src0, uint32_t cols)
{
    return m ? vks_tensor_write_rows(t, slot, m, src + (size_t)src0 * cols) : VKSAC_OK;
}

/* reward, terminated, truncated rows [src0, src0 + m) interleaved into
 * rows of 3 at slots start… (wrapping at the capacity), in pieces of at
 * most RTD_CHUNK rows so nothing is allocated. */
static vksac_status put_rtd(rl_replay *r, uint32_t start, uint32_t m, uint32_t src0, const float *reward,
                            const float *terminated, const float *truncated)
{
    enum { RTD_CHUNK = 256 };
    float rtd[3 * RTD_CHUNK];
    uint32_t cap = r->cfg.capacity;
    for (uint32_t done = 0; done < m;) {
        uint32_t slot = (uint32_t)(((uint64_t)start + done) % cap);
        uint32_t k = m - done;
        if (k > RTD_CHUNK)
            k = RTD_CHUNK;
        if (k > cap - slot)
            k = cap - slot;
        for (uint32_t i = 0; i < k; i++) {
            uint32_t row = src0 + done + i;
            rtd[3 * i] = reward[row];
            rtd[3 * i + 1] = terminated[row];
            rtd[3 * i + 2] = truncated[row];
        }
        VKS_TRY(vks_tensor_write_rows(r->field[F_RTD], slot, k, rtd));
        done += k;
    }
    return VKSAC_OK;
}

/* The meta row's size, written when it changed. */
static vksac_status sync_meta(rl_replay *r)
{
    uint32_t size = rl_replay_size(r);
    if (size != r->meta_size) {
        const float meta[4] = {(float)size, 0.0f, 0.0f, 0.0f};
        VKS_TRY(vks_tensor_write(r->meta, meta));
        r->meta_size = size;
    }
    return VKSAC_OK;
}

/* The arrays of one append or restore: NULL where not needed, else E_ARG
 * naming it; then every value of n rows checked. */
static vksac_status check_arrays(rl_replay *r, uint32_t n, const float *states, const float *cont, const float *disc,
                                 const float *reward, const float *terminated, const float *truncated,
                                 const float *next_states)
{
    vks_ctx *ctx = r->ctx;
    const rl_replay_config *c = &r->cfg;
    struct { const char *name; const float *p; bool needed; } arrays[] = {
        {"states", states, true},       {"cont", cont, c->C > 0},         {"disc", disc, c->D > 0},
        {"reward", reward, true},       {"terminated", terminated, true}, {"truncated", truncated, true},
        {"next_states", next_states, true},
    };
    for (size_t i = 0; i < sizeof arrays / sizeof arrays[0]; i++)
        if (arrays[i].needed && !arrays[i].p)
            return vks_fail(ctx, VKSAC_E_ARG, "replay: array '%s' must not be NULL", arrays[i].name);
    if (n == 0)
        return VKSAC_OK;
    VKS_TRY(need_finite(ctx, "states", states, n, c->S));
    VKS_TRY(need_finite(ctx, "next_states", next_states, n, c->S));
    if (c->C)
        VKS_TRY(need_finite(ctx, "cont", cont, n, c->C));
    if (c->D)
        VKS_TRY(need_finite(ctx, "disc", disc, n, c->D));
    VKS_TRY(need_finite(ctx, "reward", reward, n, 0));
    VKS_TRY(need_flag(ctx, "terminated", terminated, n));
    return need_flag(ctx, "truncated", truncated, n);
}

vksac_status rl_replay_add(rl_replay *r, uint32_t n, const float *states, const float *cont, const float *disc,
                           const float *reward, const float *terminated, const float *truncated,
                           const float *next_states)
{
    if (!r)
        return VKSAC_E_ARG;
    const rl_replay_config *c = &r->cfg;
    /* Check everything before writing anything: a bad row appends nothing. */
    VKS_TRY(check_arrays(r, n, states, cont, disc, reward, terminated, truncated, next_states));
    if (n == 0)
        return VKSAC_OK;

    /* Rows [skip, n) land at slots start…, wrapping once at most. */
    uint32_t cap = c->capacity, skip = n > cap ? n - cap : 0, m = n - skip;
    uint32_t start = (uint32_t)(((uint64_t)r->head + skip) % cap);
    uint32_t m1 = m < cap - start ? m : cap - start, m2 = m - m1;

    const float *src[F_COUNT] = {states, next_states, cont, disc, NULL};
    for (int f = 0; f < F_RTD; f++) {
        uint32_t cols = field_cols(c, f);
        if (!cols)
            continue;
        VKS_TRY(put(r->field[f], start, m1, src[f], skip, cols));
        VKS_TRY(put(r->field[f], 0, m2, src[f], skip + m1, cols));
    }
    VKS_TRY(put_rtd(r, start, m, skip, reward, terminated, truncated));
    r->count += n;
    r->head = (uint32_t)(((uint64_t)r->head + n) % cap);
    return sync_meta(r);
}

/* ---- sampling -------------------------------------------------------------- */

vksac_status rl_replay_record_sample(vks_seq *seq, rl_replay *r, const vks_tensor *counters, uint32_t counter_index,
                                     uint32_t key, const rl_replay_batch *out)
{
    static const char fn[] = "replay";
    if (!seq)
        return VKSAC_E_ARG;
    vks_ctx *ctx = vks_seq_ctx(seq);
    if (!r)
        return vks_fail(ctx, VKSAC_E_ARG, "replay: the replay buffer must not be NULL");
    if (r->ctx != ctx)
        return vks_fail(ctx, VKSAC_E_ARG, "replay: the replay buffer belongs to another context");
    if (!out)
        return vks_fail(ctx, VKSAC_E_ARG, "replay: the batch must not be NULL");
    const rl_replay_config *c = &r->cfg;
    VKS_TRY(vks_need_tensor(ctx, counters, fn, "counters"));
    uint32_t ccols = vks_tensor_cols(counters);
    if (counter_index >= ccols || ccols - counter_index < 2)
        return vks_fail(ctx, VKSAC_E_ARG,
                        "replay: 'counter_index' %u needs values %u and %u in the first row, but tensor 'counters' is "
                        "%ux%u",
                        counter_index, counter_index, counter_index + 1, vks_tensor_rows(counters), ccols);

    vks_tensor *bt[F_COUNT] = {out->states, out->next_states, out->cont, out->disc, out->rtd};
    static const char *const bn[F_COUNT] = {"batch.states", "batch.next_states", "batch.cont", "batch.disc",
                                            "batch.rtd"};
    VKS_TRY(vks_need_tensor(ctx, bt[F_S], fn, bn[F_S]));
    uint32_t B = vks_tensor_rows(bt[F_S]), q4 = 1;
    for (int f = 0; f < F_COUNT; f++) {
        uint32_t cols = field_cols(c, f);
        if (!cols) {
            if (bt[f])
                return vks_fail(ctx, VKSAC_E_ARG, "replay: tensor '%s' must be NULL when %s is 0", bn[f],
                                f == F_C ? "C" : "D");
            continue;
        }
        VKS_TRY(vks_need_tensor(ctx, bt[f], fn, bn[f]));
        VKS_TRY(vks_need_shape(ctx, bt[f], B, cols, fn, bn[f]));
        if ((cols + 3) / 4 > q4)
            q4 = (cols + 3) / 4;
        VKS_TRY(vks_need_distinct(ctx, bt[f], bn[f], counters, "counters", fn));
        for (int g = 0; g < f; g++)
            VKS_TRY(vks_need_distinct(ctx, bt[f], bn[f], bt[g], bn[g], fn));
    }

    struct {
        uint32_t rows, q4, S, C, D, key, counter;
        uint32_t off_s, off_ns, off_c, off_d, off_rtd, off_meta;
    } pc = {B, q4, c->S, c->C, c->D, key, counter_index,
            (uint32_t)(r->off[F_S] / 4), (uint32_t)(r->off[F_NS] / 4), (uint32_t)(r->off[F_C] / 4),
            (uint32_t)(r->off[F_D] / 4), (uint32_t)(r->off[F_RTD] / 4), (uint32_t)(r->meta_off / 4)};
    const vks_tensor *ops[] = {r->store, counters, bt[F_S], bt[F_NS], bt[F_C] ? bt[F_C] : r->sink,
                               bt[F_D] ? bt[F_D] : r->sink, bt[F_RTD]};
    return vks_launch(seq, VKS_K_REPLAY_SAMPLE, ops, &pc, sizeof pc,
                      vks_groups_1d(ctx, VKS_K_REPLAY_SAMPLE, (uint64_t)B * q4), 1, 1);
}

/* ---- reading back ---------------------------------------------------------- */

static vksac_status read_row(rl_replay *r, int f, uint32_t slot, float *dst)
{
    uint32_t cols = field_cols(&r->cfg, f);
    if (!dst || !cols)
        return VKSAC_OK;
    float *all = malloc((size_t)r->cfg.capacity * cols * sizeof *all);
    if (!all)
        return vks_fail(r->ctx, VKSAC_E_OOM, "replay: out of host memory reading field '%s'", FIELD_NAMES[f]);
    vksac_status st = vks_tensor_read(r->field[f], all);
    if (st == VKSAC_OK)
        memcpy(dst, all + (size_t)slot * cols, cols * sizeof *dst);
    free(all);
    return st;
}

vksac_status rl_replay_read_slot(rl_replay *r, uint32_t slot, float *states, float *cont, float *disc, float *rtd,
                                 float *next_states)
{
    if (!r)
        return VKSAC_E_ARG;
    uint32_t size = rl_replay_size(r);
    if (slot >= size)
        return vks_fail(r->ctx, VKSAC_E_ARG, "replay: slot %u is not written (size %u)", slot, size);
    VKS_TRY(read_row(r, F_S, slot, states));
    VKS_TRY(read_row(r, F_NS, slot, next_states));
    VKS_TRY(read_row(r, F_C, slot, cont));
    VKS_TRY(read_row(r, F_D, slot, disc));
    return read_row(r, F_RTD, slot, rtd);
}

/* ---- whole-buffer copies (checkpoints) --------------------------------------- */

vksac_status rl_replay_read_all(rl_replay *r, float *states, float *cont, float *disc, float *reward,
                                float *terminated, float *truncated, float *next_states)
{
    if (!r)
        return VKSAC_E_ARG;
    const rl_replay_config *c = &r->cfg;
    uint32_t size = rl_replay_size(r), cap = c->capacity;
    float *dst[F_COUNT] = {states, next_states, cont, disc, NULL};
    bool rtd = reward || terminated || truncated;
    uint32_t widest = rtd ? 3 : 0;
    for (int f = 0; f < F_RTD; f++)
        if (dst[f] && field_cols(c, f) > widest)
            widest = field_cols(c, f);
    if (size == 0 || widest == 0)
        return VKSAC_OK;
    /* A full ring reads straight into the caller's arrays; otherwise the
     * field goes through tmp and its first size rows are kept. */
    float *tmp = NULL;
    if (size < cap || rtd) {
        tmp = malloc((size_t)cap * widest * sizeof *tmp);
        if (!tmp)
            return vks_fail(r->ctx, VKSAC_E_OOM, "replay: out of host memory reading %u slots back", cap);
    }
    vksac_status st = VKSAC_OK;
    for (int f = 0; f < F_RTD && st == VKSAC_OK; f++) {
        uint32_t cols = field_cols(c, f);
        if (!dst[f] || !cols)
            continue;
        if (size == cap) {
            st = vks_tensor_read(r->field[f], dst[f]);
        } else {
            st = vks_tensor_read(r->field[f], tmp);
            if (st == VKSAC_OK)
                memcpy(dst[f], tmp, (size_t)size * cols * sizeof *tmp);
        }
    }
    if (st == VKSAC_OK && rtd)
        st = vks_tensor_read(r->field[F_RTD], tmp);
    float *out[3] = {reward, terminated, truncated};
    for (int k = 0; k < 3 && st == VKSAC_OK; k++)
        for (uint32_t i = 0; out[k] && i < size; i++)
            out[k][i] = tmp[3 * (size_t)i + k];
    free(tmp);
    return st;
}

vksac_status rl_replay_restore(rl_replay *r, uint64_t count, uint32_t head, const float *states, const float *cont,
                               const float *disc, const float *reward, const float *terminated,
                               const float *truncated, const float *next_states)
{
    if (!r)
        return VKSAC_E_ARG;
    const rl_replay_config *c = &r->cfg;
    uint32_t cap = c->capacity;
    if (head >= cap)
        return vks_fail(r->ctx, VKSAC_E_ARG, "replay: head %u must be below the capacity %u", head, cap);
    if (head != count % cap)
        return vks_fail(r->ctx, VKSAC_E_ARG,
                        "replay: head %u does not go with count %llu: a ring of capacity %u has its head at count "
                        "mod capacity = %u",
                        head, (unsigned long long)count, cap, (unsigned)(count % cap));
    uint32_t size = count < cap ? (uint32_t)count : cap;
    VKS_TRY(check_arrays(r, size, states, cont, disc, reward, terminated, truncated, next_states));
    const float *src[F_COUNT] = {states, next_states, cont, disc, NULL};
    for (int f = 0; f < F_RTD; f++)
        if (field_cols(c, f))
            VKS_TRY(put(r->field[f], 0, size, src[f], 0, field_cols(c, f)));
    VKS_TRY(put_rtd(r, 0, size, 0, reward, terminated, truncated));
    r->count = count;
    r->head = head;
    return sync_meta(r);
}
