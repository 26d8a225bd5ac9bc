/* LayerNorm with the activation and dropout before it fused in (nn.h):
 * one dispatch forward, one plus a column sum backward. The kernels'
 * passes are described in shaders/ln_fwd.comp and ln_bwd.comp. */
#include "nn/act.h"

enum { LN_RESIDUAL = 4u };   /* ln_fwd: add the residual operand */

/* Specialization of ln_fwd / ln_bwd: dropout compiled in only when on;
 * how rows meet lanes (constant 3, shaders/ln_fwd.comp): a subgroup per
 * row on GPUs, a row per invocation on CPU devices. With `held`, a row
 * that fits in 8, 16 or 32 texels, without CReLU, stays in registers
 * between ln_fwd's passes (the fewest texels that fit: lavapipe runs a
 * held texel past the row as one in it). ln_bwd holds none: its four held
 * values per texel measured slower on lavapipe than reading u, dy and gain
 * again (hybrid's update: 1.57 -> 1.67 ms). */
static const uint32_t *ln_spec(const vks_ctx *ctx, const nn_fused_push *pc, nn_act act, bool held,
                               uint32_t spec[2])
{
    static const uint32_t texels[] = {8, 16, 32};
    spec[0] = pc->rate > 0.0f;
    spec[1] = vks_ctx_cpu_threads(ctx) > 0;
    for (size_t i = 0; held && spec[1] && act != NN_ACT_CRELU && i < sizeof texels / sizeof *texels; i++)
        if (pc->ldx4 <= texels[i]) {
            spec[1] = texels[i];
            break;
        }
    return spec;
}

/* The kernels' push constants: the fused ones, then the stack's (see
 * shaders/ln_fwd.comp). */
typedef struct ln_push {
    nn_fused_push f;
    uint32_t zrows, zgain;
    uint32_t zseed[NN_MAX_STACK];
} ln_push;
_Static_assert(sizeof(ln_push) == 112, "ln_push is the Push block of shaders/ln_fwd.comp and ln_bwd.comp "
                                       "(zseed[16]) and the push size of their kernel table rows");

/* One network, or a stack of them over all rows of u. */
static vksac_status stack_push(vks_ctx *ctx, const char *fn, const nn_stack *stack, const vks_tensor *u,
                               ln_push *pc)
{
    pc->zrows = pc->f.rows;
    pc->zgain = 0;
    pc->zseed[0] = pc->f.seed;
    if (!stack)
        return VKSAC_OK;
    if (stack->count == 0 || stack->count > NN_MAX_STACK)
        return vks_fail(ctx, VKSAC_E_ARG, "%s: a stack holds 1 to %u networks, got %u", fn, NN_MAX_STACK,
                        stack->count);
    if (stack->rows == 0 || (uint64_t)stack->count * stack->rows != vks_tensor_rows(u))
        return vks_fail(ctx, VKSAC_E_ARG, "%s: a stack of %u networks of %u rows needs u of %llu rows, u has %u",
                        fn, stack->count, stack->rows, (unsigned long long)stack->count * stack->rows,
                        vks_tensor_rows(u));
    pc->zrows = stack->rows;
    pc->zgain = (uint32_t)stack->step;
    for (uint32_t z = 0; z < stack->count; z++)
        pc->zseed[z] = stack->seed[z];
    return VKSAC_OK;
}

/* gain (or dgain) holds one 1×w gain per network of the stack. */
static vksac_status need_gain(vks_ctx *ctx, const char *fn, const vks_tensor *g, uint32_t w, const nn_stack *stack,
                              bool written, const char *name)
{
    if (!stack)
        return vks_need_shape(ctx, g, 1, w, fn, name);
    return vks_need_copies(ctx, g, 1, w, stack->count, stack->step, written, fn, name);
}

/* u (B×N), gain (1×N'), y (B×N'), stats (B×2), residual (B×N' or NULL).
 * The kernels read some inputs at texels other than the one a lane is
 * writing (gain for every row, CReLU's windows, u again in later passes),
 * so an output must not overlap such an input, nor another output. */
static vksac_status ln_forward_args(vks_ctx *ctx, const char *fn, const vks_tensor *y, const vks_tensor *stats,
                                    const vks_tensor *u, const vks_tensor *gain, const vks_tensor *residual,
                                    nn_act act, const nn_stack *stack)
{
    VKS_TRY(nn_act_check(ctx, act, fn));
    VKS_TRY(vks_need_tensor(ctx, y, fn, "y"));
    VKS_TRY(vks_need_tensor(ctx, stats, fn, "stats"));
    VKS_TRY(vks_need_tensor(ctx, u, fn, "u"));
    VKS_TRY(vks_need_tensor(ctx, gain, fn, "gain"));
    uint32_t b = vks_tensor_rows(u), w = nn_act_width(act, vks_tensor_cols(u));
    VKS_TRY(need_gain(ctx, fn, gain, w, stack, false, "gain"));
    VKS_TRY(vks_need_shape(ctx, y, b, w, fn, "y"));
    VKS_TRY(vks_need_shape(ctx, stats, b, 2, fn, "stats"));
    if (residual) {
        VKS_TRY(vks_need_tensor(ctx, residual, fn, "residual"));
        VKS_TRY(vks_need_shape(ctx, residual, b, w, fn, "residual"));
    }
    /* y may be u or residual (an in-place residual add): the lane writing
     * a texel of y is the last to read that texel of either. */
    VKS_TRY(vks_need_distinct(ctx, y, "y", gain, "gain", fn));
    VKS_TRY(vks_need_distinct(ctx, stats, "stats", u, "u", fn));
    VKS_TRY(vks_need_distinct(ctx, stats, "stats", gain, "gain", fn));
    VKS_TRY(vks_need_distinct(ctx, stats, "stats", y, "y", fn));
    return vks_need_distinct(ctx, stats, "stats", residual, "residual", fn);
}

vksac_status nn_ln_forward(vks_seq *seq, vks_tensor *y, vks_tensor *stats, const vks_tensor *u,
                           const vks_tensor *gain, const vks_tensor *residual, nn_act act,
                           const nn_dropout *drop)
{
    return nn_ln_forward_stacked(seq, y, stats, u, gain, residual, act, drop, NULL);
}

vksac_status nn_ln_forward_stacked(vks_seq *seq, vks_tensor *y, vks_tensor *stats, const vks_tensor *u,
                                   const vks_tensor *gain, const vks_tensor *residual, nn_act act,
                                   const nn_dropout *drop, const nn_stack *stack)
{
    static const char fn[] = "nn_ln_forward";
    if (!seq)
        return VKSAC_E_ARG;
    vks_ctx *ctx = vks_seq_ctx(seq);
    VKS_TRY(ln_forward_args(ctx, fn, y, stats, u, gain, residual, act, stack));
    ln_push pc = {0};
    const vks_tensor *values;
    VKS_TRY(nn_fused_push_init(ctx, fn, u, act, drop, &pc.f, &values));
    VKS_TRY(stack_push(ctx, fn, stack, u, &pc));
    if (residual)
        pc.f.flags |= LN_RESIDUAL;
    const vks_tensor *ops[] = {u, gain, residual, y, stats, values};
    uint32_t spec[2];
    return vks_launch_spec(seq, VKS_K_LN_FWD, ln_spec(ctx, &pc.f, act, true, spec), ops, &pc, sizeof pc,
                           nn_row_groups(ctx, pc.f.rows), 1, 1);
}

/* du (B×N), dgain (1×N' or NULL), scratch (B×N'), dy (B×N'), u (B×N),
 * gain (1×N'), stats (B×2); outputs distinct from each other and from the
 * inputs. */
static vksac_status ln_backward_args(vks_ctx *ctx, const char *fn, const vks_tensor *du, const vks_tensor *dgain,
                                     const vks_tensor *scratch, const vks_tensor *dy, const vks_tensor *u,
                                     const vks_tensor *gain, const vks_tensor *stats, nn_act act,
                                     const nn_stack *stack)
{
    VKS_TRY(nn_act_check(ctx, act, fn));
    const vks_tensor *outs[] = {du, dgain, scratch}, *ins[] = {dy, u, gain, stats};
    static const char *out_names[] = {"du", "dgain", "scratch"}, *in_names[] = {"dy", "u", "gain", "stats"};
    for (int i = 0; i < 3; i++)
        if (i != 1 || dgain)
            VKS_TRY(vks_need_tensor(ctx, outs[i], fn, out_names[i]));
    for (int i = 0; i < 4; i++)
        VKS_TRY(vks_need_tensor(ctx, ins[i], fn, in_names[i]));
    uint32_t b = vks_tensor_rows(u), n = vks_tensor_cols(u), w = nn_act_width(act, n);
    VKS_TRY(vks_need_shape(ctx, dy, b, w, fn, "dy"));
    VKS_TRY(need_gain(ctx, fn, gain, w, stack, false, "gain"));
    VKS_TRY(vks_need_shape(ctx, stats, b, 2, fn, "stats"));
    VKS_TRY(vks_need_shape(ctx, du, b, n, fn, "du"));
    if (dgain)
        VKS_TRY(need_gain(ctx, fn, dgain, w, stack, true, "dgain"));
    VKS_TRY(vks_need_shape(ctx, scratch, b, w, fn, "scratch"));
    for (int i = 0; i < 3; i++) {
        for (int j = i + 1; j < 3; j++)
            VKS_TRY(vks_need_distinct(ctx, outs[i], out_names[i], outs[j], out_names[j], fn));
        for (int j = 0; j < 4; j++)
            VKS_TRY(vks_need_distinct(ctx, outs[i], out_names[i], ins[j], in_names[j], fn));
    }
    return VKSAC_OK;
}

vksac_status nn_ln_backward(vks_seq *seq, vks_tensor *du, vks_tensor *dgain, vks_tensor *scratch,
                            const vks_tensor *dy, const vks_tensor *u, const vks_tensor *gain,
                            const vks_tensor *stats, nn_act act, const nn_dropout *drop,
                            int accumulate_dgain)
{
    return nn_ln_backward_stacked(seq, du, dgain, scratch, dy, u, gain, stats, act, drop, accumulate_dgain, NULL);
}

vksac_status nn_ln_backward_stacked(vks_seq *seq, vks_tensor *du, vks_tensor *dgain, vks_tensor *scratch,
                                    const vks_tensor *dy, const vks_tensor *u, const vks_tensor *gain,
                                    const vks_tensor *stats, nn_act act, const nn_dropout *drop,
                                    int accumulate_dgain, const nn_stack *stack)
{
    static const char fn[] = "nn_ln_backward";
    if (!seq)
        return VKSAC_E_ARG;
    vks_ctx *ctx = vks_seq_ctx(seq);
    VKS_TRY(ln_backward_args(ctx, fn, du, dgain, scratch, dy, u, gain, stats, act, stack));
    ln_push pc = {0};
    const vks_tensor *values;
    VKS_TRY(nn_fused_push_init(ctx, fn, u, act, drop, &pc.f, &values));
    VKS_TRY(stack_push(ctx, fn, stack, u, &pc));
    const vks_tensor *ops[] = {u, gain, stats, dy, du, scratch, values};
    uint32_t spec[2];
    VKS_TRY(vks_launch_spec(seq, VKS_K_LN_BWD, ln_spec(ctx, &pc.f, act, false, spec), ops, &pc, sizeof pc,
                            nn_row_groups(ctx, pc.f.rows), 1, 1));
    if (!dgain)
        return VKSAC_OK;
    if (!stack)
        return vks_sum_cols(seq, dgain, scratch, accumulate_dgain);
    /* Σ over each network's rows of scratch into its own gain gradient. */
    vks_batch per = {stack->count, stack->rows, {stack->step, (uint64_t)stack->rows * vks_tensor_stride(scratch)}};
    return vks_sum_cols_batched(seq, dgain, scratch, accumulate_dgain, &per);
}
