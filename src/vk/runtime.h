/*
 * The Vulkan runtime (src/vk): contexts, device tensors, kernels, recorded
 * sequences and the basic tensor kernels. The layers above (nn, rl, the C
 * API) use only this header; Vulkan types stay inside src/vk.
 *
 * Tensors are row-major float matrices whose row stride is padded to a
 * multiple of 4 floats so every row starts on a vec4 texel. Invariant: the
 * padding columns always hold zero. Tensor creation zero-fills, uploads
 * write zero padding, and every kernel writes zero there; the GEMM kernels
 * rely on it to run whole vec4 steps over K without masking the tail.
 */
#ifndef VKSAC_VK_RUNTIME_H
#define VKSAC_VK_RUNTIME_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>

#include "vksac.h"

/* Returns from the calling function when expr fails. */
#define VKS_TRY(expr)                        \
    do {                                     \
        vksac_status st_ = (expr);           \
        if (st_ != VKSAC_OK)                 \
            return st_;                      \
    } while (0)

typedef struct vks_ctx vks_ctx;
typedef struct vks_tensor vks_tensor;
typedef struct vks_seq vks_seq;

/* ---- context ------------------------------------------------------------ */

vksac_status vks_ctx_create(const vksac_context_config *config, vks_ctx **out);
void vks_ctx_destroy(vks_ctx *ctx);
const char *vks_ctx_error(const vks_ctx *ctx);
uint64_t vks_ctx_validation_messages(const vks_ctx *ctx);
vksac_status vks_ctx_device(vks_ctx *ctx, vksac_device_info *out);
/* Records a failure on ctx and returns `status` (printf-style message). */
vksac_status vks_fail(vks_ctx *ctx, vksac_status status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
vksac_status vks_failv(vks_ctx *ctx, vksac_status status, const char *fmt, va_list ap);
/* A message to the context's log callback, if any. */
void vks_log(vks_ctx *ctx, vksac_log_level level, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Which kernel family the context uses for GEMM (1 blocked, 2 tiled). */
int vks_ctx_gemm_variant(const vks_ctx *ctx);
/* On a CPU device (lavapipe) the threads that run kernels, at least 1;
 * 0 on GPUs. Kernels with grid-stride loops launch about this many
 * workgroups on a CPU: each workgroup costs ~0.4 µs of set-up there. */
uint32_t vks_ctx_cpu_threads(const vks_ctx *ctx);
/* Replicas an agent keeps (config.cpu_shards on a CPU device, else 1). */
#define VKS_MAX_SHARDS VKSAC_MAX_CPU_SHARDS
uint32_t vks_ctx_shards(const vks_ctx *ctx);
/* A context on the same device with the same options, for one shard;
 * on failure ctx's error says why. */
vksac_status vks_ctx_create_replica(vks_ctx *ctx, vks_ctx **out);

vksac_status vks_list_devices(vksac_device_info *out, int capacity, int *count,
                              char *err, size_t err_size);

/* ---- tensors ------------------------------------------------------------ */

vksac_status vks_tensor_create(vks_ctx *ctx, uint32_t rows, uint32_t cols, vks_tensor **out);
/* A rows×cols tensor (usual padded stride) aliasing the parent's storage
 * from float `offset` on. The offset must be a multiple of 4 floats and of
 * the device's texel-buffer and storage-buffer offset alignments; a
 * multiple of 64 floats suits every device. Its padding must be zero like
 * any tensor's. The parent must outlive the view; destroying a view frees
 * no memory. Flat parameter buffers use views. */
vksac_status vks_tensor_view(vks_tensor *parent, uint64_t offset, uint32_t rows, uint32_t cols,
                             vks_tensor **out);
void vks_tensor_destroy(vks_tensor *t);
uint32_t vks_tensor_rows(const vks_tensor *t);
uint32_t vks_tensor_cols(const vks_tensor *t);
uint32_t vks_tensor_stride(const vks_tensor *t);
/* Copies rows×cols dense host floats in (zero padding) or out. The device
 * must not be using the tensor (wait for sequences that touch it). */
vksac_status vks_tensor_write(vks_tensor *t, const float *src);
/* Copies nrows×cols dense host floats into rows row0 … row0+nrows−1 (zero
 * padding); only those rows' bytes are copied (or staged). E_ARG when the
 * range does not lie within the tensor or nrows is 0. Same rule as
 * vks_tensor_write: the device must not be using the tensor. */
vksac_status vks_tensor_write_rows(vks_tensor *t, uint32_t row0, uint32_t nrows, const float *src);
vksac_status vks_tensor_read(const vks_tensor *t, float *dst);
/* The tensor's padded storage (rows × stride floats) when its memory is
 * mapped (host-visible, as on CPU devices), else NULL. The host may read
 * and write it between submissions that touch it. */
float *vks_tensor_host_ptr(vks_tensor *t);
/* Raw copy of the padded storage (rows × stride floats), for tests. */
vksac_status vks_tensor_read_padded(const vks_tensor *t, float *dst);

/* Argument checks for ops: E_ARG with "fn: tensor 'name' …" messages when
 * t is NULL, of another context, or not rows×cols. */
vksac_status vks_need_tensor(vks_ctx *ctx, const vks_tensor *t, const char *fn, const char *name);
vksac_status vks_need_shape(vks_ctx *ctx, const vks_tensor *t, uint32_t rows, uint32_t cols, const char *fn,
                            const char *name);
/* E_ARG when a and b (either may be NULL) share any storage, views included. */
vksac_status vks_need_distinct(vks_ctx *ctx, const vks_tensor *a, const char *a_name, const vks_tensor *b,
                               const char *b_name, const char *fn);

/* Shader loops stay within this many iterations: llvmpipe stops a loop
 * after 65535 (its infinite-loop guard), which would silently truncate a
 * reduction. Ops whose kernels loop over a dimension check it. */
#define VKS_MAX_LOOP 65535u
vksac_status vks_need_loop(vks_ctx *ctx, uint64_t n, const char *fn, const char *what);

/* ---- recorded sequences ------------------------------------------------- */

/* A sequence is recorded once (begin, kernels, end) and run many times.
 * With `timestamps`, each run measures the GPU time of every dispatch.
 * A recording refers to its tensors: destroying one of them invalidates the
 * recording, which must not be run again before it is re-recorded. */
vksac_status vks_seq_create(vks_ctx *ctx, int timestamps, vks_seq **out);
void vks_seq_destroy(vks_seq *seq);
/* Starts a new recording, discarding the previous one. */
vksac_status vks_seq_begin(vks_seq *seq);
vksac_status vks_seq_end(vks_seq *seq);
/* Submits `repeats` back-to-back replays in one submit; _wait blocks until
 * they finish. vks_seq_run does both. */
vksac_status vks_seq_submit(vks_seq *seq, uint32_t repeats);
vksac_status vks_seq_wait(vks_seq *seq);
vksac_status vks_seq_run(vks_seq *seq, uint32_t repeats);
uint32_t vks_seq_dispatches(const vks_seq *seq);
uint32_t vks_seq_barriers(const vks_seq *seq);
/* Microseconds between the timestamps written after consecutive dispatches
 * in the last replay of the last run (needs timestamps); n must equal
 * vks_seq_dispatches(). Dispatches with no barrier between them may overlap,
 * so an interval then covers what ran in parallel. */
vksac_status vks_seq_times(vks_seq *seq, double *us, uint32_t n);

/* ---- kernels ------------------------------------------------------------ */

/* The one kernel-launch helper: kernel + operands + sizes + grid. Operands
 * follow the kernel's binding order (see kernels.c); a NULL operand binds
 * the context's placeholder tensor. Barriers are inserted as needed. */
typedef enum vks_kernel_id {
    VKS_K_FILL,
    VKS_K_SCALE_ADD,
    VKS_K_SUM_ROWS,
    VKS_K_SUM_COLS,
    VKS_K_GEMM_FWD,
    VKS_K_GEMM_FWD_BIG,
    VKS_K_GEMM_DX,
    VKS_K_GEMM_DX_BIG,
    VKS_K_GEMM_DW,
    VKS_K_GEMM_DW_BIG,
    VKS_K_GEMM_TILED,
    /* src/nn kernels */
    VKS_K_TICK,
    VKS_K_POINTWISE,
    VKS_K_LN_FWD,
    VKS_K_LN_BWD,
    VKS_K_SOFTMAX_FWD,
    VKS_K_SOFTMAX_BWD,
    VKS_K_RSM_UPDATE,
    VKS_K_RSM_APPLY,
    VKS_K_SUMSQ,
    VKS_K_OPTIM,
    VKS_K_BITONIC,
    VKS_K_REGEN_WASS,
    /* src/rl kernels */
    VKS_K_REPLAY_SAMPLE,
    VKS_K_RSM_CONCAT,
    VKS_K_ACTOR_HEAD,
    VKS_K_ACTOR_HEAD_BWD,
    VKS_K_CRITIC_TARGET,
    VKS_K_CRITIC_LOSS,
    VKS_K_ACTOR_LOSS,
    VKS_K_COUNT
} vks_kernel_id;

vksac_status vks_launch(vks_seq *seq, vks_kernel_id kernel, const vks_tensor *const *operands,
                        const void *push, uint32_t push_size, uint32_t gx, uint32_t gy, uint32_t gz);
/* vks_launch with the kernel's specialization constants 2 and 3 set to
 * spec23[0], spec23[1] instead of the table's (NULL: the table's). Each
 * kernel keeps up to 12 specializations (a JIT compile each on lavapipe);
 * kernels that take them say what they mean (e.g. ln_fwd: dropout
 * compiled in, one row per invocation). */
vksac_status vks_launch_spec(vks_seq *seq, vks_kernel_id kernel, const uint32_t *spec23,
                             const vks_tensor *const *operands, const void *push, uint32_t push_size, uint32_t gx,
                             uint32_t gy, uint32_t gz);
/* Workgroup size and per-invocation tile of a kernel (for grids). */
void vks_kernel_local_size(const vks_ctx *ctx, vks_kernel_id kernel, uint32_t *x, uint32_t *y);
void vks_kernel_tile(const vks_ctx *ctx, vks_kernel_id kernel, uint32_t *tm, uint32_t *tn);
/* Workgroups for a grid-stride loop over n items of a 1-D kernel. */
uint32_t vks_groups_1d(const vks_ctx *ctx, vks_kernel_id id, uint64_t n);
/* Dispatch i of a sequence created with timestamps: its kernel (id and
 * shader name) and grid, for profiles that pair vks_seq_times with what
 * ran. E_STATE without timestamps, E_ARG past the last dispatch. */
typedef struct vks_dispatch_info {
    vks_kernel_id kernel;
    const char *name;
    uint32_t grid[3];
} vks_dispatch_info;
vksac_status vks_seq_dispatch_info(const vks_seq *seq, uint32_t i, vks_dispatch_info *out);
/* The context a sequence records for. */
vks_ctx *vks_seq_ctx(const vks_seq *seq);

/* ---- batches: several copies of an op in one dispatch ------------------- */

/* A batch runs `count` copies of an op in one dispatch (grid z), e.g. the
 * same layer of several networks of one shape (src/nn ensembles). Each
 * operand tensor holds every copy: copy z of operand i starts z·step[i]
 * floats into it and has the tensor's cols and stride, and as many rows as
 * the op says (`rows`, the M of every copy, for its row operands). Step 0
 * shares one copy among all (inputs only); copies an op writes must not
 * overlap. Steps are multiples of 4 floats. Operands are counted in the
 * order of the op's arguments, except where an op says otherwise. */
#define VKS_BATCH_OPS 6
typedef struct vks_batch {
    uint32_t count, rows;
    uint64_t step[VKS_BATCH_OPS];
} vks_batch;

/* E_ARG unless t (checked with vks_need_tensor) has `cols` columns and
 * holds `count` copies of `rows` rows, `step` floats apart (see vks_batch;
 * `written`: the copies must not overlap). */
vksac_status vks_need_copies(vks_ctx *ctx, const vks_tensor *t, uint32_t rows, uint32_t cols, uint32_t count,
                             uint64_t step, bool written, const char *fn, const char *name);

/* ---- basic tensor kernels (ops_basic.c, ops_gemm.c) --------------------- */

typedef enum vks_act { VKS_ACT_NONE = 0, VKS_ACT_RELU = 1, VKS_ACT_RELU2 = 2 } vks_act;

/* y = value */
vksac_status vks_fill(vks_seq *seq, vks_tensor *y, float value);
/* y = a·x + b·y (same shape) */
vksac_status vks_scale_add(vks_seq *seq, vks_tensor *y, float a, const vks_tensor *x, float b);
/* The same over `count` texels of the tensors' storage (rows × stride/4
 * texels, padding included) from texel `first` on; the rest of y is left
 * as it is. */
vksac_status vks_scale_add_texels(vks_seq *seq, vks_tensor *y, float a, const vks_tensor *x, float b,
                                  uint32_t first, uint32_t count);
/* out (1×M) (+)= row sums of x (M×N) */
vksac_status vks_sum_rows(vks_seq *seq, vks_tensor *out, const vks_tensor *x, int accumulate);
/* out (1×N) (+)= column sums of x (M×N) */
vksac_status vks_sum_cols(vks_seq *seq, vks_tensor *out, const vks_tensor *x, int accumulate);
/* Y (M×N) = act(X (M×K) · Wᵀ (W is N×K) + b (1×N, may be NULL)) */
vksac_status vks_gemm_fwd(vks_seq *seq, vks_tensor *y, const vks_tensor *x, const vks_tensor *w,
                          const vks_tensor *b, vks_act act);
/* dX (M×K) (+)= dY (M×N) · W (N×K) */
vksac_status vks_gemm_dx(vks_seq *seq, vks_tensor *dx, const vks_tensor *dy, const vks_tensor *w,
                         int accumulate);
/* dW (N×K) (+)= dYᵀ · X, dY M×N, X M×K */
vksac_status vks_gemm_dw(vks_seq *seq, vks_tensor *dw, const vks_tensor *dy, const vks_tensor *x,
                         int accumulate);
/* The same ops over a batch (NULL: one copy, as above). Each copy's M is
 * batch->rows; N and K are the operands' cols (y, x for the forward; dy,
 * dx for dx; dy, x for dw). */
vksac_status vks_sum_cols_batched(vks_seq *seq, vks_tensor *out, const vks_tensor *x, int accumulate,
                                  const vks_batch *batch);
vksac_status vks_gemm_fwd_batched(vks_seq *seq, vks_tensor *y, const vks_tensor *x, const vks_tensor *w,
                                  const vks_tensor *b, vks_act act, const vks_batch *batch);
vksac_status vks_gemm_dx_batched(vks_seq *seq, vks_tensor *dx, const vks_tensor *dy, const vks_tensor *w,
                                 int accumulate, const vks_batch *batch);
/* dw also gives a linear layer's bias gradient db (1×N) (+)= column sums of
 * dY when db is non-NULL, in the same dispatch on the blocked kernels.
 * Batch operands: 0 dw, 1 dy, 2 x, 3 db. */
vksac_status vks_gemm_dw_batched(vks_seq *seq, vks_tensor *dw, vks_tensor *db, const vks_tensor *dy,
                                 const vks_tensor *x, int accumulate, const vks_batch *batch);
/* The same, and one more column sum in the dispatch: gsum (1×N) (+)=
 * column sums of gsrc (M×N), adding to gsum when
 * accumulate_g; batch operands 4 gsrc, 5 gsum. src/nn folds a LayerNorm's
 * gain gradient into the next linear layer's dW so. gsum NULL:
 * vks_gemm_dw_batched. */
vksac_status vks_gemm_dw_sums(vks_seq *seq, vks_tensor *dw, vks_tensor *db, const vks_tensor *dy,
                              const vks_tensor *x, int accumulate, vks_tensor *gsum, const vks_tensor *gsrc,
                              int accumulate_g, const vks_batch *batch);

#endif
