/* Recorded sequences: dispatches recorded once, with the barriers their
 * operands need, then replayed by submitting the same command buffer. */
#include <stdlib.h>
#include <string.h>

#include "vk/internal.h"

#define VKS_MAX_TIMESTAMPS 4096
#define VKS_SETS_PER_POOL 64

/* SEQ_FAILED: a launch failed after recording part of itself; only a new
 * vks_seq_begin leaves it. */
typedef enum seq_state { SEQ_EMPTY, SEQ_RECORDING, SEQ_FAILED, SEQ_READY, SEQ_PENDING } seq_state;

typedef struct access { VkBuffer buffer; VkDeviceSize offset, size; } access;
typedef struct access_list { access *items; size_t n, cap; } access_list;

struct vks_seq {
    vks_ctx *ctx;
    seq_state state;
    VkCommandBuffer cmd;
    VkFence fence;
    uint32_t dispatches, barriers;
    uint32_t timed;                   /* dispatches whose timestamps the last run wrote */
    bool timestamps;
    VkQueryPool queries;
    vks_dispatch_info *info;          /* with timestamps: kernel and grid of each dispatch */
    uint32_t info_cap;
    access_list reads, writes;        /* since the last barrier */
    VkDescriptorPool *pools;          /* sets, when the context binds without push descriptors */
    uint32_t npools, sets_in_last;
    VkCommandBuffer *submit_list;     /* the command buffer repeated, kept between runs */
    uint32_t submit_cap;
};

vksac_status vks_seq_create(vks_ctx *ctx, int timestamps, vks_seq **out)
{
    if (!ctx)
        return VKSAC_E_ARG;
    if (!out)
        return vks_fail(ctx, VKSAC_E_ARG, "vks_seq_create: out must not be NULL");
    *out = NULL;
    if (timestamps && !ctx->timestamps)
        return vks_fail(ctx, VKSAC_E_UNSUPPORTED, "device '%s' has no compute-queue timestamps",
                        ctx->info.name);
    vks_seq *s = calloc(1, sizeof *s);
    if (!s)
        return vks_fail(ctx, VKSAC_E_OOM, "out of host memory for a sequence");
    s->ctx = ctx;
    s->timestamps = timestamps != 0;
    VkCommandBufferAllocateInfo ai = {.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO,
                                      .commandPool = ctx->cmd_pool,
                                      .level = VK_COMMAND_BUFFER_LEVEL_PRIMARY, .commandBufferCount = 1};
    vksac_status st = vks_check(ctx, vkAllocateCommandBuffers(ctx->device, &ai, &s->cmd),
                                "vkAllocateCommandBuffers");
    VkFenceCreateInfo fi = {.sType = VK_STRUCTURE_TYPE_FENCE_CREATE_INFO};
    if (st == VKSAC_OK)
        st = vks_check(ctx, vkCreateFence(ctx->device, &fi, NULL, &s->fence), "vkCreateFence");
    VkQueryPoolCreateInfo qi = {.sType = VK_STRUCTURE_TYPE_QUERY_POOL_CREATE_INFO,
                                .queryType = VK_QUERY_TYPE_TIMESTAMP, .queryCount = VKS_MAX_TIMESTAMPS};
    if (st == VKSAC_OK && s->timestamps)
        st = vks_check(ctx, vkCreateQueryPool(ctx->device, &qi, NULL, &s->queries), "vkCreateQueryPool");
    if (st != VKSAC_OK) {
        vks_seq_destroy(s);
        return st;
    }
    *out = s;
    return VKSAC_OK;
}

static void pools_free(vks_seq *s)
{
    for (uint32_t i = 0; i < s->npools; i++)
        vkDestroyDescriptorPool(s->ctx->device, s->pools[i], NULL);
    free(s->pools);
    s->pools = NULL;
    s->npools = 0;
    s->sets_in_last = 0;
}

void vks_seq_destroy(vks_seq *s)
{
    if (!s)
        return;
    vks_ctx *ctx = s->ctx;
    if (s->state == SEQ_PENDING)
        vkWaitForFences(ctx->device, 1, &s->fence, VK_TRUE, UINT64_MAX);
    pools_free(s);
    if (s->queries)
        vkDestroyQueryPool(ctx->device, s->queries, NULL);
    if (s->fence)
        vkDestroyFence(ctx->device, s->fence, NULL);
    if (s->cmd)
        vkFreeCommandBuffers(ctx->device, ctx->cmd_pool, 1, &s->cmd);
    free(s->reads.items);
    free(s->writes.items);
    free(s->submit_list);
    free(s->info);
    free(s);
}

/* Makes earlier shader, transfer and host writes visible to what follows. */
static void barrier(VkCommandBuffer cmd, VkPipelineStageFlags src, VkAccessFlags src_access,
                    VkPipelineStageFlags dst, VkAccessFlags dst_access)
{
    VkMemoryBarrier mb = {.sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER, .srcAccessMask = src_access,
                          .dstAccessMask = dst_access};
    vkCmdPipelineBarrier(cmd, src, dst, 0, 1, &mb, 0, NULL, 0, NULL);
}

static void compute_barrier(vks_seq *s)
{
    barrier(s->cmd, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, VK_ACCESS_SHADER_WRITE_BIT,
            VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, VK_ACCESS_SHADER_READ_BIT | VK_ACCESS_SHADER_WRITE_BIT);
    s->barriers++;
    s->reads.n = s->writes.n = 0;
}

vksac_status vks_seq_wait(vks_seq *s)
{
    if (!s)
        return VKSAC_E_ARG;
    if (s->state != SEQ_PENDING)
        return VKSAC_OK;
    vksac_status st = vks_check(s->ctx, vkWaitForFences(s->ctx->device, 1, &s->fence, VK_TRUE, UINT64_MAX),
                                "vkWaitForFences");
    if (st == VKSAC_OK || st == VKSAC_E_DEVICE_LOST)
        s->state = SEQ_READY;
    if (st == VKSAC_OK && s->timestamps)
        s->timed = s->dispatches;
    return st;
}

vksac_status vks_seq_begin(vks_seq *s)
{
    if (!s)
        return VKSAC_E_ARG;
    vksac_status st = vks_seq_wait(s);
    if (st != VKSAC_OK)
        return st;
    pools_free(s);
    s->dispatches = s->barriers = s->timed = 0;
    s->reads.n = s->writes.n = 0;
    s->state = SEQ_EMPTY;
    VkCommandBufferBeginInfo bi = {.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO,
                                   .flags = VK_COMMAND_BUFFER_USAGE_SIMULTANEOUS_USE_BIT};
    st = vks_check(s->ctx, vkResetCommandBuffer(s->cmd, 0), "vkResetCommandBuffer");
    if (st == VKSAC_OK)
        st = vks_check(s->ctx, vkBeginCommandBuffer(s->cmd, &bi), "vkBeginCommandBuffer");
    if (st != VKSAC_OK)
        return st;
    /* Replays follow each other and uploads in the queue: wait for both. */
    barrier(s->cmd, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT | VK_PIPELINE_STAGE_TRANSFER_BIT,
            VK_ACCESS_SHADER_WRITE_BIT | VK_ACCESS_TRANSFER_WRITE_BIT, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT,
            VK_ACCESS_SHADER_READ_BIT | VK_ACCESS_SHADER_WRITE_BIT);
    if (s->timestamps) {
        vkCmdResetQueryPool(s->cmd, s->queries, 0, VKS_MAX_TIMESTAMPS);
        vkCmdWriteTimestamp(s->cmd, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, s->queries, 0);
    }
    s->state = SEQ_RECORDING;
    return VKSAC_OK;
}

vksac_status vks_seq_end(vks_seq *s)
{
    if (!s)
        return VKSAC_E_ARG;
    if (s->state == SEQ_FAILED)
        return vks_fail(s->ctx, VKSAC_E_STATE, "vks_seq_end: a kernel launch failed part-way; record again "
                                               "from vks_seq_begin");
    if (s->state != SEQ_RECORDING)
        return vks_fail(s->ctx, VKSAC_E_STATE, "vks_seq_end: the sequence is not recording (call vks_seq_begin)");
    /* Results go to the host or to transfers next. */
    barrier(s->cmd, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, VK_ACCESS_SHADER_WRITE_BIT,
            VK_PIPELINE_STAGE_HOST_BIT | VK_PIPELINE_STAGE_TRANSFER_BIT,
            VK_ACCESS_HOST_READ_BIT | VK_ACCESS_TRANSFER_READ_BIT | VK_ACCESS_TRANSFER_WRITE_BIT);
    vksac_status st = vks_check(s->ctx, vkEndCommandBuffer(s->cmd), "vkEndCommandBuffer");
    s->state = st == VKSAC_OK ? SEQ_READY : SEQ_EMPTY;
    return st;
}

vksac_status vks_seq_submit(vks_seq *s, uint32_t repeats)
{
    if (!s)
        return VKSAC_E_ARG;
    if (s->state == SEQ_PENDING)
        return vks_fail(s->ctx, VKSAC_E_STATE, "vks_seq_submit: the sequence is still running (call vks_seq_wait)");
    if (s->state != SEQ_READY)
        return vks_fail(s->ctx, VKSAC_E_STATE,
                        "vks_seq_submit: the sequence is not recorded (call vks_seq_begin ... vks_seq_end)");
    if (repeats == 0)
        return vks_fail(s->ctx, VKSAC_E_ARG, "vks_seq_submit: repeats must be at least 1");
    if (repeats > s->submit_cap) {
        VkCommandBuffer *grown = realloc(s->submit_list, repeats * sizeof *grown);
        if (!grown)
            return vks_fail(s->ctx, VKSAC_E_OOM, "out of host memory submitting %u repeats", repeats);
        s->submit_list = grown;
        s->submit_cap = repeats;
    }
    for (uint32_t i = 0; i < repeats; i++)
        s->submit_list[i] = s->cmd;
    VkSubmitInfo si = {.sType = VK_STRUCTURE_TYPE_SUBMIT_INFO, .commandBufferCount = repeats,
                       .pCommandBuffers = s->submit_list};
    vksac_status st = vks_check(s->ctx, vkResetFences(s->ctx->device, 1, &s->fence), "vkResetFences");
    if (st == VKSAC_OK)
        st = vks_check(s->ctx, vkQueueSubmit(s->ctx->queue, 1, &si, s->fence), "vkQueueSubmit");
    if (st == VKSAC_OK)
        s->state = SEQ_PENDING;
    return st;
}

vksac_status vks_seq_run(vks_seq *s, uint32_t repeats)
{
    vksac_status st = vks_seq_submit(s, repeats);
    return st == VKSAC_OK ? vks_seq_wait(s) : st;
}

vks_ctx *vks_seq_ctx(const vks_seq *s) { return s ? s->ctx : NULL; }
uint32_t vks_seq_dispatches(const vks_seq *s) { return s ? s->dispatches : 0; }
uint32_t vks_seq_barriers(const vks_seq *s) { return s ? s->barriers : 0; }

vksac_status vks_seq_times(vks_seq *s, double *us, uint32_t n)
{
    if (!s)
        return VKSAC_E_ARG;
    if (!s->timestamps)
        return vks_fail(s->ctx, VKSAC_E_STATE, "vks_seq_times: the sequence was created without timestamps");
    if (!us || n != s->dispatches)
        return vks_fail(s->ctx, VKSAC_E_ARG, "vks_seq_times: expected room for %u times, got %u%s",
                        s->dispatches, n, us ? "" : " and a NULL array");
    if (s->state != SEQ_READY || s->timed != n)
        return vks_fail(s->ctx, VKSAC_E_STATE, "vks_seq_times: no finished run of this recording (run and wait first)");
    if (n + 1 > VKS_MAX_TIMESTAMPS)
        return vks_fail(s->ctx, VKSAC_E_UNSUPPORTED, "vks_seq_times: at most %d dispatches are timed",
                        VKS_MAX_TIMESTAMPS - 1);
    uint64_t stamps[VKS_MAX_TIMESTAMPS];
    vksac_status st = vks_check(s->ctx, vkGetQueryPoolResults(s->ctx->device, s->queries, 0, n + 1,
                                                              sizeof stamps, stamps, sizeof(uint64_t),
                                                              VK_QUERY_RESULT_64_BIT | VK_QUERY_RESULT_WAIT_BIT),
                                "vkGetQueryPoolResults");
    for (uint32_t i = 0; st == VKSAC_OK && i < n; i++)
        us[i] = (double)(stamps[i + 1] - stamps[i]) * s->ctx->props.limits.timestampPeriod * 1e-3;
    return st;
}

vksac_status vks_seq_dispatch_info(const vks_seq *s, uint32_t i, vks_dispatch_info *out)
{
    if (!s || !out)
        return VKSAC_E_ARG;
    if (!s->timestamps)
        return vks_fail(s->ctx, VKSAC_E_STATE, "vks_seq_dispatch_info: the sequence was created without timestamps");
    if (i >= s->dispatches)
        return vks_fail(s->ctx, VKSAC_E_ARG, "vks_seq_dispatch_info: dispatch %u of %u", i, s->dispatches);
    *out = s->info[i];
    return VKSAC_OK;
}

/* ---- launching kernels ---------------------------------------------------- */

static bool overlaps(const access_list *l, const access *a)
{
    for (size_t i = 0; i < l->n; i++)
        if (l->items[i].buffer == a->buffer && l->items[i].offset < a->offset + a->size &&
            a->offset < l->items[i].offset + l->items[i].size)
            return true;
    return false;
}

static bool push_access(access_list *l, const access *a)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 16;
        access *grown = realloc(l->items, cap * sizeof *grown);
        if (!grown)
            return false;
        l->items = grown;
        l->cap = cap;
    }
    l->items[l->n++] = *a;
    return true;
}

/* Inserts a barrier when an operand was written since the last one (read
 * after write, write after write) or is written now after a read. */
static vksac_status track_hazards(vks_seq *s, vks_kernel_id id, const vks_tensor *const *t, uint32_t n)
{
    access acc[VKS_MAX_BINDINGS];
    bool hazard = false;
    for (uint32_t b = 0; b < n; b++) {
        acc[b] = (access){t[b]->chunk->buffer, t[b]->offset, t[b]->bytes};
        hazard |= overlaps(&s->writes, &acc[b]) ||
                  (vks_kernel_binding_writes(id, b) && overlaps(&s->reads, &acc[b]));
    }
    if (hazard)
        compute_barrier(s);
    for (uint32_t b = 0; b < n; b++)
        if (!push_access(vks_kernel_binding_writes(id, b) ? &s->writes : &s->reads, &acc[b]))
            return vks_fail(s->ctx, VKSAC_E_OOM, "out of host memory recording a dispatch");
    return VKSAC_OK;
}

/* Without push descriptors (not offered, turned off, or slower on the
 * driver: vks_prefer_push_descriptors): a set per recorded dispatch,
 * written once now and reused by every replay; pools belong to the
 * sequence. */
static vksac_status alloc_set(vks_seq *s, vks_kernel *k, VkDescriptorSet *set)
{
    vks_ctx *ctx = s->ctx;
    if (s->npools == 0 || s->sets_in_last == VKS_SETS_PER_POOL) {
        VkDescriptorPool *grown = realloc(s->pools, (s->npools + 1) * sizeof *grown);
        if (!grown)
            return vks_fail(ctx, VKSAC_E_OOM, "out of host memory for descriptor pools");
        s->pools = grown;
        VkDescriptorPoolSize size[2] = {{VK_DESCRIPTOR_TYPE_STORAGE_TEXEL_BUFFER, VKS_SETS_PER_POOL * VKS_MAX_BINDINGS},
                                        {VK_DESCRIPTOR_TYPE_STORAGE_BUFFER, VKS_SETS_PER_POOL * VKS_MAX_BINDINGS}};
        VkDescriptorPoolCreateInfo pi = {.sType = VK_STRUCTURE_TYPE_DESCRIPTOR_POOL_CREATE_INFO,
                                         .maxSets = VKS_SETS_PER_POOL, .poolSizeCount = 2, .pPoolSizes = size};
        vksac_status st = vks_check(ctx, vkCreateDescriptorPool(ctx->device, &pi, NULL, &s->pools[s->npools]),
                                    "vkCreateDescriptorPool");
        if (st != VKSAC_OK)
            return st;
        s->npools++;
        s->sets_in_last = 0;
    }
    VkDescriptorSetAllocateInfo ai = {.sType = VK_STRUCTURE_TYPE_DESCRIPTOR_SET_ALLOCATE_INFO,
                                      .descriptorPool = s->pools[s->npools - 1], .descriptorSetCount = 1,
                                      .pSetLayouts = &k->set_layout};
    s->sets_in_last++;
    return vks_check(ctx, vkAllocateDescriptorSets(ctx->device, &ai, set), "vkAllocateDescriptorSets");
}

static vksac_status bind_operands(vks_seq *s, vks_kernel_id id, vks_kernel *k, const vks_tensor *const *t,
                                  uint32_t n)
{
    VkBufferView views[VKS_MAX_BINDINGS];
    VkDescriptorBufferInfo spans[VKS_MAX_BINDINGS];
    VkWriteDescriptorSet w[VKS_MAX_BINDINGS];
    for (uint32_t b = 0; b < n; b++) {
        w[b] = (VkWriteDescriptorSet){.sType = VK_STRUCTURE_TYPE_WRITE_DESCRIPTOR_SET, .dstBinding = b,
                                      .descriptorCount = 1};
        if (vks_kernel_binding_is_buffer(id, b)) {
            spans[b] = (VkDescriptorBufferInfo){t[b]->chunk->buffer, t[b]->offset, t[b]->bytes};
            w[b].descriptorType = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER;
            w[b].pBufferInfo = &spans[b];
        } else {
            views[b] = vks_kernel_binding_is_vec4(id, b) ? t[b]->view4 : t[b]->view1;
            w[b].descriptorType = VK_DESCRIPTOR_TYPE_STORAGE_TEXEL_BUFFER;
            w[b].pTexelBufferView = &views[b];
        }
    }
    if (s->ctx->push_descriptors) {
        s->ctx->cmd_push_descriptor_set(s->cmd, VK_PIPELINE_BIND_POINT_COMPUTE, k->layout, 0, n, w);
        return VKSAC_OK;
    }
    VkDescriptorSet set;
    vksac_status st = alloc_set(s, k, &set);
    if (st != VKSAC_OK)
        return st;
    for (uint32_t b = 0; b < n; b++)
        w[b].dstSet = set;
    vkUpdateDescriptorSets(s->ctx->device, n, w, 0, NULL);
    vkCmdBindDescriptorSets(s->cmd, VK_PIPELINE_BIND_POINT_COMPUTE, k->layout, 0, 1, &set, 0, NULL);
    return VKSAC_OK;
}

vksac_status vks_launch(vks_seq *s, vks_kernel_id id, const vks_tensor *const *operands, const void *push,
                        uint32_t push_size, uint32_t gx, uint32_t gy, uint32_t gz)
{
    return vks_launch_spec(s, id, NULL, operands, push, push_size, gx, gy, gz);
}

vksac_status vks_launch_spec(vks_seq *s, vks_kernel_id id, const uint32_t *spec23, const vks_tensor *const *operands,
                             const void *push, uint32_t push_size, uint32_t gx, uint32_t gy, uint32_t gz)
{
    if (!s)
        return VKSAC_E_ARG;
    vks_ctx *ctx = s->ctx;
    if (s->state != SEQ_RECORDING)
        return vks_fail(ctx, VKSAC_E_STATE, "kernel launch outside a recording (call vks_seq_begin first)");
    vks_kernel *k;
    VkPipeline pipeline;
    vksac_status st = vks_kernel_pipeline(ctx, id, spec23, &k, &pipeline);
    if (st != VKSAC_OK)
        return st;
    const uint32_t *max = ctx->props.limits.maxComputeWorkGroupCount;
    if (push_size != vks_kernel_push_size(id) || !push)
        return vks_fail(ctx, VKSAC_E_ARG, "kernel '%s' takes %u bytes of push constants, got %u",
                        vks_kernel_name(id), vks_kernel_push_size(id), push ? push_size : 0);
    if (gx == 0 || gy == 0 || gz == 0 || gx > max[0] || gy > max[1] || gz > max[2])
        return vks_fail(ctx, VKSAC_E_ARG, "kernel '%s': grid %ux%ux%u is empty or beyond the device's %ux%ux%u",
                        vks_kernel_name(id), gx, gy, gz, max[0], max[1], max[2]);
    const vks_tensor *t[VKS_MAX_BINDINGS];
    uint32_t n = vks_kernel_bindings(id);
    for (uint32_t b = 0; b < n; b++) {
        if (!(operands && operands[b]) && vks_kernel_binding_writes(id, b))
            return vks_fail(ctx, VKSAC_E_ARG, "kernel '%s': operand %u is written and must not be NULL",
                            vks_kernel_name(id), b);
        t[b] = operands && operands[b] ? operands[b] : ctx->placeholder;
        if (t[b]->ctx != ctx)
            return vks_fail(ctx, VKSAC_E_ARG, "kernel '%s': operand %u belongs to another context",
                            vks_kernel_name(id), b);
        if (vks_kernel_binding_is_buffer(id, b) && t[b]->bytes > ctx->info.max_storage_buffer_range)
            return vks_fail(ctx, VKSAC_E_ARG, "kernel '%s': operand %u (%ux%u, %llu bytes) is written through a "
                            "storage buffer, and device '%s' binds at most %u bytes as one",
                            vks_kernel_name(id), b, t[b]->rows, t[b]->cols, (unsigned long long)t[b]->bytes,
                            ctx->info.name, ctx->info.max_storage_buffer_range);
    }
    if ((st = track_hazards(s, id, t, n)) == VKSAC_OK) {
        vkCmdBindPipeline(s->cmd, VK_PIPELINE_BIND_POINT_COMPUTE, pipeline);
        st = bind_operands(s, id, k, t, n);
    }
    if (st != VKSAC_OK) {
        s->state = SEQ_FAILED;   /* part of this launch is recorded */
        return st;
    }
    vkCmdPushConstants(s->cmd, k->layout, VK_SHADER_STAGE_COMPUTE_BIT, 0, push_size, push);
    vkCmdDispatch(s->cmd, gx, gy, gz);
    if (s->timestamps) {
        if (s->dispatches == s->info_cap) {
            uint32_t cap = s->info_cap ? 2 * s->info_cap : 64;
            vks_dispatch_info *grown = realloc(s->info, cap * sizeof *grown);
            if (!grown) {
                s->state = SEQ_FAILED;
                return vks_fail(ctx, VKSAC_E_OOM, "out of host memory recording a dispatch");
            }
            s->info = grown;
            s->info_cap = cap;
        }
        s->info[s->dispatches] = (vks_dispatch_info){id, vks_kernel_name(id), {gx, gy, gz}};
    }
    s->dispatches++;
    if (s->timestamps && s->dispatches < VKS_MAX_TIMESTAMPS)
        vkCmdWriteTimestamp(s->cmd, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, s->queries, s->dispatches);
    return VKSAC_OK;
}
