/* The kernel table: each compute shader's bindings, push-constant size and
 * specialization constants. Pipelines are created on a kernel's first use
 * (each costs a JIT compile on lavapipe) and then live with the context. */

#include "vk/internal.h"

#define SPV(name)                                \
    extern const uint32_t vks_spv_##name[];      \
    extern const size_t vks_spv_##name##_words;
SPV(fill) SPV(scale_add) SPV(sum_rows) SPV(sum_cols)
SPV(gemm_fwd) SPV(gemm_fwd_big) SPV(gemm_dx) SPV(gemm_dx_big) SPV(gemm_dw) SPV(gemm_dw_big) SPV(gemm_tiled)
SPV(tick) SPV(pointwise) SPV(ln_fwd) SPV(ln_bwd) SPV(softmax_fwd) SPV(softmax_bwd)
SPV(rsm_update) SPV(rsm_apply) SPV(sumsq) SPV(optim) SPV(bitonic) SPV(regen_wass)
SPV(replay_sample) SPV(rsm_concat) SPV(actor_head) SPV(actor_head_bwd) SPV(critic_target)
SPV(critic_loss) SPV(actor_loss)
#undef SPV

typedef struct kernel_desc {
    const char *name;
    const uint32_t *spv;
    const size_t *words;
    uint32_t bindings;
    uint32_t vec4_mask;    /* bit b: binding b holds vec4s (RGBA32F view, vec4 buffer), else floats */
    uint32_t write_mask;   /* bit b: the kernel writes binding b */
    uint32_t push_size;
    uint32_t spec[4];      /* local_size_x, local_size_y, then tile M, tile N (GEMMs) or the
                            * kernel's own constants 2, 3 (vks_launch_spec overrides those) */
} kernel_desc;

#define K(id, nm, nb, v4, wr, push, lx, ly, tm, tn) \
    [id] = {#nm, vks_spv_##nm, &vks_spv_##nm##_words, nb, v4, wr, push, {lx, ly, tm, tn}}
/* Tile sizes: measured on lavapipe, 8×8 outputs per invocation in 8×1
 * workgroups is the largest block NIR keeps out of scratch memory as loops
 * over arrays; the _big kernels write 32×16 blocks out, 16×16 for dX (see
 * gemm_fwd_big.comp, gemm_dx_big.comp); the tiled kernel uses 16×16
 * threads × 4×4 outputs (a 64×64 tile), the usual shape for GPUs. */
static const kernel_desc KERNELS[VKS_K_COUNT] = {
    K(VKS_K_FILL,       fill,       1, 0x1, 0x1, 16, 64, 1, 0, 0),
    K(VKS_K_SCALE_ADD,  scale_add,  3, 0x7, 0x4, 24, 64, 1, 0, 0),
    K(VKS_K_SUM_ROWS,   sum_rows,   2, 0x1, 0x2, 16, 64, 1, 0, 0),
    K(VKS_K_SUM_COLS,   sum_cols,   2, 0x3, 0x2, 20, 64, 1, 0, 0),
    K(VKS_K_GEMM_FWD,   gemm_fwd,   4, 0xb, 0x8, 44, 8, 1, 8, 8),
    K(VKS_K_GEMM_FWD_BIG, gemm_fwd_big, 4, 0xb, 0x8, 44, 8, 1, 32, 16),   /* tile fixed in the shader */
    K(VKS_K_GEMM_DX,    gemm_dx,    3, 0x7, 0x4, 40, 8, 1, 8, 8),
    K(VKS_K_GEMM_DX_BIG, gemm_dx_big, 3, 0x7, 0x4, 40, 8, 1, 16, 16),
    K(VKS_K_GEMM_DW,    gemm_dw,    6, 0x3f, 0x2c, 60, 8, 1, 8, 8),
    K(VKS_K_GEMM_DW_BIG, gemm_dw_big, 6, 0x3f, 0x2c, 60, 8, 1, 32, 16),
    K(VKS_K_GEMM_TILED, gemm_tiled, 4, 0x0, 0x8, 52, 16, 16, 4, 4),
    /* src/nn */
    K(VKS_K_TICK,        tick,        1, 0x00, 0x01,  8,  1, 1, 0, 0),
    /* pointwise, ln_fwd, ln_bwd: constant 2 = dropout compiled in; the
     * LayerNorms' constant 3 = one row per invocation (nn picks both). */
    K(VKS_K_POINTWISE,   pointwise,   4, 0x07, 0x04, 40,  8, 1, 1, 0),
    K(VKS_K_LN_FWD,      ln_fwd,      6, 0x1f, 0x18, 112,  8, 1, 1, 0),
    K(VKS_K_LN_BWD,      ln_bwd,      7, 0x3f, 0x30, 112,  8, 1, 1, 0),
    K(VKS_K_SOFTMAX_FWD, softmax_fwd, 4, 0x00, 0x0c, 20, 64, 1, 0, 0),
    K(VKS_K_SOFTMAX_BWD, softmax_bwd, 5, 0x00, 0x10, 20, 64, 1, 0, 0),
    K(VKS_K_RSM_UPDATE,  rsm_update,  2, 0x03, 0x02, 12, 64, 1, 0, 0),
    K(VKS_K_RSM_APPLY,   rsm_apply,   3, 0x07, 0x04, 16, 64, 1, 0, 0),
    K(VKS_K_SUMSQ,       sumsq,       2, 0x01, 0x02,  8, 64, 1, 0, 0),
    K(VKS_K_OPTIM,       optim,      11, 0x79f, 0x780, 56, 64, 1, 1, 0),   /* 2: clip, 3: kind */
    K(VKS_K_BITONIC,     bitonic,     3, 0x00, 0x04, 16, 256, 1, 0, 0),
    K(VKS_K_REGEN_WASS,  regen_wass,  4, 0x00, 0x01, 12, 64, 1, 0, 0),
    /* src/rl */
    K(VKS_K_REPLAY_SAMPLE, replay_sample, 7, 0x7d, 0x7c, 52, 64, 1, 0, 0),
    K(VKS_K_RSM_CONCAT,     rsm_concat,      4, 0x00, 0x008, 16, 64, 1, 0, 0),
    K(VKS_K_ACTOR_HEAD,     actor_head,     11, 0x00, 0x7f0, 36, 64, 1, 0, 0),
    K(VKS_K_ACTOR_HEAD_BWD, actor_head_bwd,  6, 0x00, 0x020, 28, 64, 1, 0, 0),
    K(VKS_K_CRITIC_TARGET,  critic_target,   8, 0x00, 0x080, 48, 64, 1, 0, 0),
    K(VKS_K_CRITIC_LOSS,    critic_loss,     6, 0x00, 0x030, 36, 64, 1, 0, 0),
    K(VKS_K_ACTOR_LOSS,     actor_loss,     11, 0x00, 0x780, 40, 64, 1, 0, 0),
};
#undef K

/* Kernels that need subgroup arithmetic (an optional Vulkan 1.1 feature
 * that lavapipe and desktop GPUs have) for their row reductions. */
static const uint64_t NEEDS_SUBGROUP_ARITHMETIC = 1ull << VKS_K_LN_FWD | 1ull << VKS_K_LN_BWD;

uint32_t vks_kernel_bindings(vks_kernel_id id) { return KERNELS[id].bindings; }
bool vks_kernel_binding_is_vec4(vks_kernel_id id, uint32_t b) { return KERNELS[id].vec4_mask >> b & 1; }
bool vks_kernel_binding_writes(vks_kernel_id id, uint32_t b) { return KERNELS[id].write_mask >> b & 1; }
/* Kernels read through texel views and write through storage buffers:
 * on lavapipe a texel view loads 1.6-2.5x faster than a buffer and a buffer
 * stores 1.8-3.4x faster than a texel view (docs/runtime.md). A kernel that
 * reads much of what it writes (optim, scale_add) binds it twice, a view
 * to read and a buffer to write. */
bool vks_kernel_binding_is_buffer(vks_kernel_id id, uint32_t b) { return vks_kernel_binding_writes(id, b); }
const char *vks_kernel_name(vks_kernel_id id) { return KERNELS[id].name; }
uint32_t vks_kernel_push_size(vks_kernel_id id) { return KERNELS[id].push_size; }

void vks_kernel_local_size(const vks_ctx *ctx, vks_kernel_id id, uint32_t *x, uint32_t *y)
{
    (void)ctx;
    *x = KERNELS[id].spec[0];
    *y = KERNELS[id].spec[1];
}

void vks_kernel_tile(const vks_ctx *ctx, vks_kernel_id id, uint32_t *tm, uint32_t *tn)
{
    (void)ctx;
    *tm = KERNELS[id].spec[2];
    *tn = KERNELS[id].spec[3];
}

static vksac_status layouts_create(vks_ctx *ctx, vks_kernel_id id, vks_kernel *k)
{
    const kernel_desc *d = &KERNELS[id];
    VkDescriptorSetLayoutBinding b[VKS_MAX_BINDINGS];
    for (uint32_t i = 0; i < d->bindings; i++)
        b[i] = (VkDescriptorSetLayoutBinding){.binding = i,
                                              .descriptorType = vks_kernel_binding_is_buffer(id, i)
                                                                    ? VK_DESCRIPTOR_TYPE_STORAGE_BUFFER
                                                                    : VK_DESCRIPTOR_TYPE_STORAGE_TEXEL_BUFFER,
                                              .descriptorCount = 1,
                                              .stageFlags = VK_SHADER_STAGE_COMPUTE_BIT};
    VkDescriptorSetLayoutCreateInfo si = {
        .sType = VK_STRUCTURE_TYPE_DESCRIPTOR_SET_LAYOUT_CREATE_INFO,
        .flags = ctx->push_descriptors ? VK_DESCRIPTOR_SET_LAYOUT_CREATE_PUSH_DESCRIPTOR_BIT_KHR : 0,
        .bindingCount = d->bindings, .pBindings = b};
    vksac_status st = vks_check(ctx, vkCreateDescriptorSetLayout(ctx->device, &si, NULL, &k->set_layout),
                                "vkCreateDescriptorSetLayout");
    VkPushConstantRange range = {VK_SHADER_STAGE_COMPUTE_BIT, 0, d->push_size};
    VkPipelineLayoutCreateInfo li = {.sType = VK_STRUCTURE_TYPE_PIPELINE_LAYOUT_CREATE_INFO,
                                     .setLayoutCount = 1, .pSetLayouts = &k->set_layout,
                                     .pushConstantRangeCount = 1, .pPushConstantRanges = &range};
    if (st == VKSAC_OK)
        st = vks_check(ctx, vkCreatePipelineLayout(ctx->device, &li, NULL, &k->layout),
                       "vkCreatePipelineLayout");
    return st;
}

vksac_status vks_kernels_init(vks_ctx *ctx)
{
    VkPipelineCacheCreateInfo ci = {.sType = VK_STRUCTURE_TYPE_PIPELINE_CACHE_CREATE_INFO};
    vksac_status st = vks_check(ctx, vkCreatePipelineCache(ctx->device, &ci, NULL, &ctx->pipeline_cache),
                                "vkCreatePipelineCache");
    for (int id = 0; id < VKS_K_COUNT && st == VKSAC_OK; id++)
        st = layouts_create(ctx, (vks_kernel_id)id, &ctx->kernels[id]);
    return st;
}

void vks_kernels_free(vks_ctx *ctx)
{
    for (int id = 0; id < VKS_K_COUNT; id++) {
        vks_kernel *k = &ctx->kernels[id];
        for (uint32_t v = 0; v < k->variants; v++)
            vkDestroyPipeline(ctx->device, k->pipeline[v], NULL);
        if (k->layout)
            vkDestroyPipelineLayout(ctx->device, k->layout, NULL);
        if (k->set_layout)
            vkDestroyDescriptorSetLayout(ctx->device, k->set_layout, NULL);
    }
    if (ctx->pipeline_cache)
        vkDestroyPipelineCache(ctx->device, ctx->pipeline_cache, NULL);
}

static vksac_status pipeline_create(vks_ctx *ctx, vks_kernel_id id, vks_kernel *k, const uint32_t *spec23,
                                    VkPipeline *out)
{
    const kernel_desc *d = &KERNELS[id];
    uint32_t values[4] = {d->spec[0], d->spec[1], spec23[0], spec23[1]};
    VkShaderModuleCreateInfo mi = {.sType = VK_STRUCTURE_TYPE_SHADER_MODULE_CREATE_INFO,
                                   .codeSize = *d->words * sizeof(uint32_t), .pCode = d->spv};
    VkShaderModule module;
    vksac_status st = vks_check(ctx, vkCreateShaderModule(ctx->device, &mi, NULL, &module),
                                "vkCreateShaderModule");
    if (st != VKSAC_OK)
        return st;
    VkSpecializationMapEntry entries[4];
    for (uint32_t i = 0; i < 4; i++)
        entries[i] = (VkSpecializationMapEntry){i, i * sizeof(uint32_t), sizeof(uint32_t)};
    VkSpecializationInfo spec = {4, entries, sizeof values, values};
    VkComputePipelineCreateInfo pi = {
        .sType = VK_STRUCTURE_TYPE_COMPUTE_PIPELINE_CREATE_INFO,
        .stage = {.sType = VK_STRUCTURE_TYPE_PIPELINE_SHADER_STAGE_CREATE_INFO,
                  .stage = VK_SHADER_STAGE_COMPUTE_BIT, .module = module, .pName = "main",
                  .pSpecializationInfo = &spec},
        .layout = k->layout};
    VkResult r = vkCreateComputePipelines(ctx->device, ctx->pipeline_cache, 1, &pi, NULL, out);
    vkDestroyShaderModule(ctx->device, module, NULL);
    if (r != VK_SUCCESS) {
        *out = VK_NULL_HANDLE;
        st = vks_check(ctx, r, "vkCreateComputePipelines");
        return vks_fail(ctx, st, "creating the pipeline of kernel '%s': %s", d->name, vks_result_name(r));
    }
    return VKSAC_OK;
}

vksac_status vks_kernel_pipeline(vks_ctx *ctx, vks_kernel_id id, const uint32_t *spec23, vks_kernel **kout,
                                 VkPipeline *out)
{
    if ((unsigned)id >= VKS_K_COUNT)
        return vks_fail(ctx, VKSAC_E_ARG, "kernel id %d is out of range (0..%d)", (int)id, VKS_K_COUNT - 1);
    if ((NEEDS_SUBGROUP_ARITHMETIC >> id & 1) && !ctx->subgroup_arithmetic)
        return vks_fail(ctx, VKSAC_E_UNSUPPORTED, "kernel '%s' needs subgroup arithmetic in compute shaders, "
                        "which device '%s' lacks", KERNELS[id].name, ctx->info.name);
    vks_kernel *k = &ctx->kernels[id];
    *kout = k;
    uint32_t want[2] = {spec23 ? spec23[0] : KERNELS[id].spec[2], spec23 ? spec23[1] : KERNELS[id].spec[3]};
    for (uint32_t v = 0; v < k->variants; v++)
        if (k->spec23[v][0] == want[0] && k->spec23[v][1] == want[1]) {
            *out = k->pipeline[v];
            return VKSAC_OK;
        }
    if (k->variants == VKS_MAX_VARIANTS)
        return vks_fail(ctx, VKSAC_E_UNSUPPORTED, "kernel '%s': more than %d specializations", KERNELS[id].name,
                        VKS_MAX_VARIANTS);
    VKS_TRY(pipeline_create(ctx, id, k, want, out));
    k->pipeline[k->variants] = *out;
    k->spec23[k->variants][0] = want[0];
    k->spec23[k->variants][1] = want[1];
    k->variants++;
    return VKSAC_OK;
}
