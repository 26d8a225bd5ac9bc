/* Definitions shared by the files of src/vk; nothing outside src/vk (but
 * white-box tests) includes this. */
#ifndef VKSAC_VK_INTERNAL_H
#define VKSAC_VK_INTERNAL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <vulkan/vulkan.h>

#include "vk/runtime.h"

#define VKS_MAX_BINDINGS 12
#define VKS_MAX_PUSH 128
#define VKS_ERR_LEN 512

/* One large device allocation, bound to one buffer, sub-allocated into
 * tensors with a first-fit free list (kept sorted, neighbours merged). */
typedef struct vks_range { VkDeviceSize offset, size; } vks_range;
typedef struct vks_chunk {
    VkDeviceMemory memory;
    VkBuffer buffer;
    VkDeviceSize size;
    void *map;               /* non-NULL when host-visible */
    vks_range *free;
    size_t nfree, capfree;
    struct vks_chunk *next;
} vks_chunk;

typedef struct vks_arena {
    uint32_t memory_type;
    bool host_visible;
    VkDeviceSize chunk_size;
    vks_chunk *chunks;
} vks_arena;

struct vks_tensor {
    vks_ctx *ctx;
    uint32_t rows, cols, stride;   /* stride: floats per row, multiple of 4 */
    vks_chunk *chunk;
    VkDeviceSize offset, bytes;
    VkBufferView view4, view1;     /* RGBA32F and R32F texel views */
    bool is_view;                  /* aliases another tensor's memory */
};

/* Pipelines of one kernel, up to VKS_MAX_VARIANTS: the table's
 * specialization and others with constants 2 and 3 overridden
 * (vks_launch_spec), each created on its first use and kept in the order
 * of first use (spec23[v] says which is which). */
#define VKS_MAX_VARIANTS 12   /* 8 on a CPU (ln_fwd: 4 row forms × dropout on/off), and headroom */
typedef struct vks_kernel {
    VkDescriptorSetLayout set_layout;
    VkPipelineLayout layout;
    VkPipeline pipeline[VKS_MAX_VARIANTS];
    uint32_t spec23[VKS_MAX_VARIANTS][2];
    uint32_t variants;             /* pipelines created */
} vks_kernel;

struct vks_ctx {
    char err[VKS_ERR_LEN];
    vksac_log_fn log;
    void *log_user;
    atomic_uint_fast64_t validation_messages;   /* layers may call back from any thread */
    struct vks_ctx *counts_to;     /* a shard's replica: count its messages there */

    VkInstance instance;
    VkDebugUtilsMessengerEXT messenger;
    VkPhysicalDevice phys;
    VkDevice device;
    VkQueue queue;
    uint32_t queue_family;
    vksac_device_info info;
    VkPhysicalDeviceProperties props;
    bool push_descriptors;
    bool subgroup_arithmetic;      /* subgroupAdd & co. in compute shaders */
    bool timestamps;
    int gemm_variant;
    uint32_t big_gemm_forms;       /* VKS_GEMM_* bits: forms that may run the big blocks */
    uint32_t cpu_threads;          /* CPU device: threads running kernels (>= 1); else 0 */
    uint32_t shards;               /* replicas an agent keeps (config.cpu_shards, 1 = none) */
    vksac_context_config config;   /* as given, for replicas; device points at device_name */
    char *device_name;
    PFN_vkCmdPushDescriptorSetKHR cmd_push_descriptor_set;
    PFN_vkDestroyDebugUtilsMessengerEXT destroy_messenger;

    vks_arena arena;               /* tensors */
    vks_arena staging;             /* host-visible bounce space, when the arena is not */
    vks_tensor *placeholder;       /* bound where a kernel's operand is absent */
    VkCommandPool cmd_pool;
    VkCommandBuffer xfer_cmd;      /* one-shot transfers */
    VkFence xfer_fence;
    VkPipelineCache pipeline_cache;
    vks_kernel kernels[VKS_K_COUNT];
};

/* Maps a VkResult to a status and message naming the call. */
vksac_status vks_check(vks_ctx *ctx, VkResult r, const char *what);
const char *vks_result_name(VkResult r);

vksac_status vks_arena_init(vks_ctx *ctx, vks_arena *a, bool want_host_visible, bool require_host_visible);
void vks_arena_free(vks_ctx *ctx, vks_arena *a);
vksac_status vks_arena_alloc(vks_ctx *ctx, vks_arena *a, VkDeviceSize size, vks_chunk **chunk,
                             VkDeviceSize *offset);
void vks_arena_release(vks_chunk *chunk, VkDeviceSize offset, VkDeviceSize size);

/* Runs a one-shot copy between two buffers and waits for it. */
vksac_status vks_copy_now(vks_ctx *ctx, VkBuffer src, VkDeviceSize src_off, VkBuffer dst,
                          VkDeviceSize dst_off, VkDeviceSize size);

/* Operand i of a batchable op (ops_basic.c): exactly rows×cols without a
 * batch, else the batch's copies of rows×cols (vks_need_copies). */
vksac_status vks_need_operand(vks_ctx *ctx, const char *fn, const vks_batch *batch, int i, const vks_tensor *t,
                              uint32_t rows, uint32_t cols, bool written, const char *name);

/* Kernel table lookups and lazy pipeline creation (kernels.c). */
vksac_status vks_kernels_init(vks_ctx *ctx);
void vks_kernels_free(vks_ctx *ctx);
/* The pipeline of kernel id with specialization constants 2 and 3 set to
 * spec23 (NULL: the table's), created on first use. */
vksac_status vks_kernel_pipeline(vks_ctx *ctx, vks_kernel_id id, const uint32_t *spec23, vks_kernel **k,
                                 VkPipeline *out);
uint32_t vks_kernel_bindings(vks_kernel_id id);
bool vks_kernel_binding_is_vec4(vks_kernel_id id, uint32_t binding);
bool vks_kernel_binding_writes(vks_kernel_id id, uint32_t binding);
bool vks_kernel_binding_is_buffer(vks_kernel_id id, uint32_t binding);
const char *vks_kernel_name(vks_kernel_id id);
uint32_t vks_kernel_push_size(vks_kernel_id id);

/* Choices per driver, from its name and info string (tuning.c): the
 * blocked GEMM forms, as bits of vks_ctx.big_gemm_forms, that a device
 * runs as big blocks (gemm_*_big.comp), and whether it binds operands by
 * push descriptors where they are offered. */
enum { VKS_GEMM_FWD = 1, VKS_GEMM_DX = 2, VKS_GEMM_DW = 4 };
uint32_t vks_big_gemm_forms(const char *driver, const char *driver_info);
bool vks_prefer_push_descriptors(const char *driver, const char *driver_info);

/* Device enumeration helpers (device.c) and instance creation (context.c). */
vksac_status vks_instance_create(vks_ctx *ctx, bool validation, int cpu_threads);
int vks_compute_queue_family(VkPhysicalDevice phys, uint32_t *timestamp_bits);
bool vks_device_has_extension(VkPhysicalDevice phys, const char *name);
void vks_describe_device(VkPhysicalDevice phys, int index, vksac_device_info *info);
vksac_status vks_pick_device(vks_ctx *ctx, const char *want, VkPhysicalDevice *phys, int *index);

#endif
