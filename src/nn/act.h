/* Internal to src/nn: the push constants shared by the kernels that fuse an
 * activation with dropout (pointwise, ln_fwd, ln_bwd; shaders/philox.glsl
 * and shaders/act.glsl read them), and their argument checks. */
#ifndef VKSAC_NN_ACT_H
#define VKSAC_NN_ACT_H

#include "nn/nn.h"

/* n: columns of the input; ldx4, ldy4: texels per row of the input and of
 * the activated output (width nn_act_width(n)); flags: bits 0-1 the
 * activation, higher bits per kernel. Dropout off is rate 0, scale 1. */
typedef struct nn_fused_push {
    uint32_t rows, n, ldx4, ldy4, flags;
    float rate, scale;
    uint32_t seed, stream, counter;
} nn_fused_push;

/* E_ARG naming `fn` unless act is an nn_act. */
vksac_status nn_act_check(vks_ctx *ctx, nn_act act, const char *fn);

/* Fills *pc for an input x (rows×n) and the activation `act`, checking
 * `drop` (NULL = off): rate in [0, 1), and with rate > 0 a values tensor
 * holding the counter at counter_index, +1 in its first row. *values is
 * the operand to bind (NULL when off). */
vksac_status nn_fused_push_init(vks_ctx *ctx, const char *fn, const vks_tensor *x, nn_act act,
                                const nn_dropout *drop, nn_fused_push *pc, const vks_tensor **values);

/* Workgroups for kernels that take rows in a grid-stride loop (src/nn's
 * row kernels): one per row up to 4096, which fills any GPU. On a CPU
 * device few: a workgroup costs ~0.4 µs of set-up on lavapipe (1.0 of the
 * 2.9 ms the 24 ln_fwd of a `small` update took with one per row). One on
 * the submitting thread or a single worker; with two or more lavapipe
 * workers four per worker, which measured faster than one (ms per update,
 * 2 workers, best of 3-6 runs interleaved with one per worker: hybrid
 * 22.7-23.2 → 20.4-21.3, cheetah 98.8-99.4 → 94.6-95.4, pendulum 52.0 →
 * 50.8, small 6.0 → 5.5-5.6; eight or sixteen per worker no better). Never
 * more than `rows`. The loop covers the rest. */
uint32_t nn_row_groups(const vks_ctx *ctx, uint32_t rows);

#endif
