/* Activations and dropout (nn.h): names, widths, and the pointwise kernel
 * that applies act(drop(x)) or its backward in one dispatch. */
#include <string.h>

#include "nn/act.h"

static const struct {
    const char *name;
    nn_act act;
} ACT_NAMES[] = {
    {"none", NN_ACT_NONE}, {"relu", NN_ACT_RELU}, {"relu2", NN_ACT_RELU2},
    {"relu\xc2\xb2", NN_ACT_RELU2},   /* "relu²" in UTF-8 */
    {"crelu", NN_ACT_CRELU},
};

vksac_status nn_act_parse(vks_ctx *ctx, const char *name, const char *field, nn_act *out)
{
    if (!field)
        field = "act";
    if (!out)
        return vks_fail(ctx, VKSAC_E_ARG, "nn_act_parse: out must not be NULL (field '%s')", field);
    for (size_t i = 0; name && i < sizeof ACT_NAMES / sizeof ACT_NAMES[0]; i++)
        if (strcmp(name, ACT_NAMES[i].name) == 0) {
            *out = ACT_NAMES[i].act;
            return VKSAC_OK;
        }
    return vks_fail(ctx, VKSAC_E_ARG, "field '%s' must be one of none, relu, relu2 (relu²), crelu; got %s%s%s",
                    field, name ? "'" : "", name ? name : "NULL", name ? "'" : "");
}

const char *nn_act_name(nn_act act)
{
    switch (act) {
    case NN_ACT_NONE: return "none";
    case NN_ACT_RELU: return "relu";
    case NN_ACT_RELU2: return "relu2";
    case NN_ACT_CRELU: return "crelu";
    }
    return "unknown";
}

uint32_t nn_act_width(nn_act act, uint32_t n)
{
    return act == NN_ACT_CRELU ? 2 * n : n;
}

vksac_status nn_act_check(vks_ctx *ctx, nn_act act, const char *fn)
{
    if ((unsigned)act > NN_ACT_CRELU)
        return vks_fail(ctx, VKSAC_E_ARG, "%s: act is %d, not an nn_act (0 none, 1 relu, 2 relu2, 3 crelu)", fn,
                        (int)act);
    return VKSAC_OK;
}

/* Dropout on: the counter pair must lie in the values tensor's first row,
 * where the kernels read it (flat index = counter_index). */
static vksac_status dropout_values(vks_ctx *ctx, const char *fn, const nn_dropout *drop)
{
    VKS_TRY(vks_need_tensor(ctx, drop->values, fn, "drop.values"));
    uint32_t cols = vks_tensor_cols(drop->values);
    if (drop->counter_index >= cols || cols - drop->counter_index < 2)
        return vks_fail(ctx, VKSAC_E_ARG,
                        "%s: dropout 'counter_index' %u needs values %u and %u, but tensor 'drop.values' is %ux%u",
                        fn, drop->counter_index, drop->counter_index, drop->counter_index + 1,
                        vks_tensor_rows(drop->values), cols);
    return VKSAC_OK;
}

vksac_status nn_fused_push_init(vks_ctx *ctx, const char *fn, const vks_tensor *x, nn_act act,
                                const nn_dropout *drop, nn_fused_push *pc, const vks_tensor **values)
{
    uint32_t n = vks_tensor_cols(x);
    *pc = (nn_fused_push){.rows = vks_tensor_rows(x), .n = n, .ldx4 = vks_tensor_stride(x) / 4,
                          .ldy4 = (nn_act_width(act, n) + 3) / 4, .flags = (uint32_t)act, .scale = 1.0f};
    *values = NULL;
    if (!drop)
        return VKSAC_OK;
    if (!(drop->rate >= 0.0f && drop->rate < 1.0f))   /* also catches NaN */
        return vks_fail(ctx, VKSAC_E_ARG, "%s: dropout 'rate' must be in [0, 1), got %g", fn, (double)drop->rate);
    if (drop->rate == 0.0f)
        return VKSAC_OK;
    VKS_TRY(dropout_values(ctx, fn, drop));
    pc->rate = drop->rate;
    /* In double, then rounded once: the reference's 1/(1-rate) as a float. */
    pc->scale = (float)(1.0 / (1.0 - (double)drop->rate));
    pc->seed = drop->seed;
    pc->stream = drop->stream;
    pc->counter = drop->counter_index;
    *values = drop->values;
    return VKSAC_OK;
}

uint32_t nn_row_groups(const vks_ctx *ctx, uint32_t rows)
{
    uint32_t threads = vks_ctx_cpu_threads(ctx);
    uint32_t cap = threads == 0 ? 4096 : threads > 1 ? 4 * threads : 1;
    return rows < 1 ? 1 : rows > cap ? cap : rows;
}

enum { POINTWISE_BACKWARD = 4u };

vksac_status nn_act_forward(vks_seq *seq, vks_tensor *y, const vks_tensor *x, nn_act act,
                            const nn_dropout *drop)
{
    static const char fn[] = "nn_act_forward";
    if (!seq)
        return VKSAC_E_ARG;
    vks_ctx *ctx = vks_seq_ctx(seq);
    VKS_TRY(nn_act_check(ctx, act, fn));
    VKS_TRY(vks_need_tensor(ctx, y, fn, "y"));
    VKS_TRY(vks_need_tensor(ctx, x, fn, "x"));
    VKS_TRY(vks_need_shape(ctx, y, vks_tensor_rows(x), nn_act_width(act, vks_tensor_cols(x)), fn, "y"));
    nn_fused_push pc;
    const vks_tensor *values;
    VKS_TRY(nn_fused_push_init(ctx, fn, x, act, drop, &pc, &values));
    /* Each texel of y is written by the invocation that reads that texel
     * of x (and, for CReLU, neighbours of x it never writes), so y may be x. */
    const vks_tensor *ops[] = {x, NULL, y, values};
    return vks_launch_spec(seq, VKS_K_POINTWISE, (const uint32_t[]){pc.rate > 0.0f, 0}, ops, &pc, sizeof pc,
                           nn_row_groups(ctx, pc.rows), 1, 1);
}

vksac_status nn_act_backward(vks_seq *seq, vks_tensor *dx, const vks_tensor *dy, const vks_tensor *x,
                             nn_act act, const nn_dropout *drop)
{
    static const char fn[] = "nn_act_backward";
    if (!seq)
        return VKSAC_E_ARG;
    vks_ctx *ctx = vks_seq_ctx(seq);
    VKS_TRY(nn_act_check(ctx, act, fn));
    VKS_TRY(vks_need_tensor(ctx, dx, fn, "dx"));
    VKS_TRY(vks_need_tensor(ctx, dy, fn, "dy"));
    VKS_TRY(vks_need_tensor(ctx, x, fn, "x"));
    uint32_t rows = vks_tensor_rows(x), n = vks_tensor_cols(x);
    VKS_TRY(vks_need_shape(ctx, dy, rows, nn_act_width(act, n), fn, "dy"));
    VKS_TRY(vks_need_shape(ctx, dx, rows, n, fn, "dx"));
    nn_fused_push pc;
    const vks_tensor *values;
    VKS_TRY(nn_fused_push_init(ctx, fn, x, act, drop, &pc, &values));
    pc.flags |= POINTWISE_BACKWARD;
    /* The invocation writing a texel of dx reads only that texel of x and
     * of dy (but for CReLU's second half of dy), so dx may be x or dy. */
    const vks_tensor *ops[] = {x, dy, dx, values};
    return vks_launch_spec(seq, VKS_K_POINTWISE, (const uint32_t[]){pc.rate > 0.0f, 0}, ops, &pc, sizeof pc,
                           nn_row_groups(ctx, pc.rows), 1, 1);
}
