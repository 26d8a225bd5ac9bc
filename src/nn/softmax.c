/* Softmax and log-softmax over the segments of a row, one segment per
 * discrete action head (SPEC.md §2), with the matching backward. Rows are
 * a few dozen logits, so each kernel runs one invocation per row. */
#include <math.h>
#include <stdlib.h>

#include "nn/nn.h"

/* Push-constant flags: which of the optional operands are present. */
enum { HAS_FIRST = 1u, HAS_SECOND = 2u };

typedef struct softmax_push { uint32_t rows, cols, stride, nseg, flags; } softmax_push;

vksac_status nn_segments_create(vks_ctx *ctx, const uint32_t *sizes, uint32_t n, vks_tensor **out)
{
    static const char fn[] = "nn_segments_create";
    if (!ctx)
        return VKSAC_E_ARG;
    if (!out)
        return vks_fail(ctx, VKSAC_E_ARG, "%s: out must not be NULL", fn);
    *out = NULL;
    if (!sizes || n == 0)
        return vks_fail(ctx, VKSAC_E_ARG, "%s: n is %u and sizes is %s; at least one segment is needed", fn, n,
                        sizes ? "set" : "NULL");
    float *bounds = malloc(((size_t)n + 1) * sizeof *bounds);
    if (!bounds)
        return vks_fail(ctx, VKSAC_E_OOM, "%s: out of host memory for %u boundaries", fn, n + 1);
    vksac_status st = VKSAC_OK;
    uint64_t total = 0;
    bounds[0] = 0.0f;
    for (uint32_t i = 0; i < n && st == VKSAC_OK; i++) {
        total += sizes[i];
        if (sizes[i] == 0)
            st = vks_fail(ctx, VKSAC_E_ARG, "%s: sizes[%u] is 0, every segment needs at least one column", fn, i);
        else if (sizes[i] > VKS_MAX_LOOP)   /* the kernels loop over a segment */
            st = vks_fail(ctx, VKSAC_E_UNSUPPORTED, "%s: sizes[%u] is %u, at most %u columns per segment", fn, i,
                          sizes[i], VKS_MAX_LOOP);
        else if (total > (1u << 24))   /* boundaries are floats: stay exact */
            st = vks_fail(ctx, VKSAC_E_ARG, "%s: sizes[%u] = %u brings the total to %llu, above 2^24", fn, i,
                          sizes[i], (unsigned long long)total);
        bounds[i + 1] = (float)total;
    }
    vks_tensor *t = NULL;
    if (st == VKSAC_OK)
        st = vks_tensor_create(ctx, 1, n + 1, &t);
    if (st == VKSAC_OK)
        st = vks_tensor_write(t, bounds);
    free(bounds);
    if (st != VKSAC_OK) {
        vks_tensor_destroy(t);
        return st;
    }
    *out = t;
    return VKSAC_OK;
}

/* Boundary i of a segments tensor must be an integer above boundary i−1
 * (the first is 0). */
static vksac_status check_bound(vks_ctx *ctx, const float *b, uint32_t i, const char *fn)
{
    float prev = i ? b[i - 1] : 0.0f;
    bool ok = b[i] == floorf(b[i]) && (i == 0 ? b[i] == 0.0f : b[i] > prev && b[i] - prev <= VKS_MAX_LOOP);
    if (!ok)
        return vks_fail(ctx, VKSAC_E_ARG, "%s: segs boundary %u is %g after %g; boundaries must be integers "
                        "rising from 0, segments of at most 65535 (see nn_segments_create)", fn, i, (double)b[i], (double)prev);
    return VKSAC_OK;
}

/* Reads the boundaries back at record time and checks that they cover
 * exactly `cols` columns: the kernels index rows with them, so a mismatch
 * must fail here rather than read or write out of bounds on the device.
 * Segments are constant, so the read never races a running sequence. */
static vksac_status read_segments(vks_ctx *ctx, const vks_tensor *segs, uint32_t cols, const char *fn,
                                  uint32_t *nseg)
{
    VKS_TRY(vks_need_tensor(ctx, segs, fn, "segs"));
    uint32_t n = vks_tensor_cols(segs);
    if (vks_tensor_rows(segs) != 1 || n < 2)
        return vks_fail(ctx, VKSAC_E_ARG, "%s: tensor 'segs' is %ux%u, expected 1x(n+1) boundaries with n >= 1",
                        fn, vks_tensor_rows(segs), n);
    float *b = malloc((size_t)n * sizeof *b);
    if (!b)
        return vks_fail(ctx, VKSAC_E_OOM, "%s: out of host memory for %u boundaries", fn, n);
    vksac_status st = vks_tensor_read(segs, b);
    for (uint32_t i = 0; i < n && st == VKSAC_OK; i++)
        st = check_bound(ctx, b, i, fn);
    if (st == VKSAC_OK && b[n - 1] != (float)cols)
        st = vks_fail(ctx, VKSAC_E_ARG, "%s: the segments sum to %g columns but the input has %u", fn,
                      (double)b[n - 1], cols);
    free(b);
    *nseg = n - 1;
    return st;
}

/* An optional operand: absent (NULL) or of the reference's shape. */
static vksac_status need_optional(vks_ctx *ctx, const vks_tensor *t, const vks_tensor *like, const char *fn,
                                  const char *name)
{
    if (!t)
        return VKSAC_OK;
    VKS_TRY(vks_need_tensor(ctx, t, fn, name));
    return vks_need_shape(ctx, t, vks_tensor_rows(like), vks_tensor_cols(like), fn, name);
}

vksac_status nn_softmax_forward(vks_seq *seq, vks_tensor *p, vks_tensor *logp, const vks_tensor *x,
                                const vks_tensor *segs)
{
    static const char fn[] = "nn_softmax_forward";
    if (!seq)
        return VKSAC_E_ARG;
    vks_ctx *ctx = vks_seq_ctx(seq);
    VKS_TRY(vks_need_tensor(ctx, x, fn, "x"));
    if (!p && !logp)
        return vks_fail(ctx, VKSAC_E_ARG, "%s: outputs 'p' and 'logp' are both NULL; at least one is needed", fn);
    VKS_TRY(need_optional(ctx, p, x, fn, "p"));
    VKS_TRY(need_optional(ctx, logp, x, fn, "logp"));
    VKS_TRY(vks_need_distinct(ctx, p, "p", logp, "logp", fn));
    softmax_push pc = {vks_tensor_rows(x), vks_tensor_cols(x), vks_tensor_stride(x), 0, (p ? HAS_FIRST : 0u) | (logp ? HAS_SECOND : 0u)};
    VKS_TRY(read_segments(ctx, segs, vks_tensor_cols(x), fn, &pc.nseg));
    /* An absent output binds the present one, which the kernel then leaves
     * alone: vks_launch refuses NULL for a written binding, and binding the
     * shared placeholder as written would add false hazards elsewhere. */
    const vks_tensor *ops[] = {x, segs, p ? p : logp, logp ? logp : p};
    return vks_launch(seq, VKS_K_SOFTMAX_FWD, ops, &pc, sizeof pc,
                      vks_groups_1d(ctx, VKS_K_SOFTMAX_FWD, vks_tensor_rows(x)), 1, 1);
}

vksac_status nn_softmax_backward(vks_seq *seq, vks_tensor *dx, const vks_tensor *p, const vks_tensor *dp,
                                 const vks_tensor *dlogp, const vks_tensor *segs)
{
    static const char fn[] = "nn_softmax_backward";
    if (!seq)
        return VKSAC_E_ARG;
    vks_ctx *ctx = vks_seq_ctx(seq);
    VKS_TRY(vks_need_tensor(ctx, p, fn, "p"));
    VKS_TRY(vks_need_tensor(ctx, dx, fn, "dx"));
    VKS_TRY(vks_need_shape(ctx, dx, vks_tensor_rows(p), vks_tensor_cols(p), fn, "dx"));
    if (!dp && !dlogp)
        return vks_fail(ctx, VKSAC_E_ARG, "%s: gradients 'dp' and 'dlogp' are both NULL; at least one is needed",
                        fn);
    VKS_TRY(need_optional(ctx, dp, p, fn, "dp"));
    VKS_TRY(need_optional(ctx, dlogp, p, fn, "dlogp"));
    softmax_push pc = {vks_tensor_rows(p), vks_tensor_cols(p), vks_tensor_stride(p), 0, (dp ? HAS_FIRST : 0u) | (dlogp ? HAS_SECOND : 0u)};
    VKS_TRY(read_segments(ctx, segs, vks_tensor_cols(p), fn, &pc.nseg));
    /* Absent gradients bind the placeholder (read-only, never read). */
    const vks_tensor *ops[] = {p, segs, dp, dlogp, dx};
    return vks_launch(seq, VKS_K_SOFTMAX_BWD, ops, &pc, sizeof pc,
                      vks_groups_1d(ctx, VKS_K_SOFTMAX_BWD, vks_tensor_rows(p)), 1, 1);
}
