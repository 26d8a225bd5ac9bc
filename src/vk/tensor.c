/* Device tensors: a range of an arena chunk with two texel views, and the
 * host transfers in and out of it (mapped memory, or a staging bounce). */
#include <stdlib.h>
#include <string.h>

#include "vk/internal.h"

static vksac_status make_view(vks_ctx *ctx, vks_tensor *t, VkFormat f, VkBufferView *out)
{
    VkBufferViewCreateInfo vi = {.sType = VK_STRUCTURE_TYPE_BUFFER_VIEW_CREATE_INFO,
                                 .buffer = t->chunk->buffer, .format = f,
                                 .offset = t->offset, .range = t->bytes};
    return vks_check(ctx, vkCreateBufferView(ctx->device, &vi, NULL, out), "vkCreateBufferView");
}

/* Records and runs one transfer command, waiting for it to finish. */
static vksac_status oneshot_begin(vks_ctx *ctx)
{
    VkCommandBufferBeginInfo bi = {.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO,
                                   .flags = VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT};
    vksac_status st = vks_check(ctx, vkBeginCommandBuffer(ctx->xfer_cmd, &bi), "vkBeginCommandBuffer");
    /* Earlier kernels and transfers on the queue finish before this one. */
    VkMemoryBarrier mb = {.sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER,
                          .srcAccessMask = VK_ACCESS_SHADER_WRITE_BIT | VK_ACCESS_TRANSFER_WRITE_BIT,
                          .dstAccessMask = VK_ACCESS_TRANSFER_READ_BIT | VK_ACCESS_TRANSFER_WRITE_BIT};
    if (st == VKSAC_OK)
        vkCmdPipelineBarrier(ctx->xfer_cmd, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT | VK_PIPELINE_STAGE_TRANSFER_BIT,
                             VK_PIPELINE_STAGE_TRANSFER_BIT, 0, 1, &mb, 0, NULL, 0, NULL);
    return st;
}

static vksac_status oneshot_run(vks_ctx *ctx)
{
    /* A fence alone does not make device writes visible to the host. */
    VkMemoryBarrier mb = {.sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER, .srcAccessMask = VK_ACCESS_TRANSFER_WRITE_BIT,
                          .dstAccessMask = VK_ACCESS_HOST_READ_BIT};
    vkCmdPipelineBarrier(ctx->xfer_cmd, VK_PIPELINE_STAGE_TRANSFER_BIT, VK_PIPELINE_STAGE_HOST_BIT, 0, 1, &mb, 0,
                         NULL, 0, NULL);
    vksac_status st = vks_check(ctx, vkEndCommandBuffer(ctx->xfer_cmd), "vkEndCommandBuffer");
    VkSubmitInfo si = {.sType = VK_STRUCTURE_TYPE_SUBMIT_INFO, .commandBufferCount = 1,
                       .pCommandBuffers = &ctx->xfer_cmd};
    if (st == VKSAC_OK)
        st = vks_check(ctx, vkResetFences(ctx->device, 1, &ctx->xfer_fence), "vkResetFences");
    if (st == VKSAC_OK)
        st = vks_check(ctx, vkQueueSubmit(ctx->queue, 1, &si, ctx->xfer_fence), "vkQueueSubmit");
    if (st == VKSAC_OK)
        st = vks_check(ctx, vkWaitForFences(ctx->device, 1, &ctx->xfer_fence, VK_TRUE, UINT64_MAX),
                       "vkWaitForFences");
    return st;
}

vksac_status vks_copy_now(vks_ctx *ctx, VkBuffer src, VkDeviceSize src_off, VkBuffer dst,
                          VkDeviceSize dst_off, VkDeviceSize size)
{
    vksac_status st = oneshot_begin(ctx);
    if (st != VKSAC_OK)
        return st;
    VkBufferCopy region = {src_off, dst_off, size};
    vkCmdCopyBuffer(ctx->xfer_cmd, src, dst, 1, &region);
    return oneshot_run(ctx);
}

static vksac_status zero_now(vks_ctx *ctx, vks_tensor *t)
{
    if (t->chunk->map) {
        memset((char *)t->chunk->map + t->offset, 0, t->bytes);
        return VKSAC_OK;
    }
    vksac_status st = oneshot_begin(ctx);
    if (st != VKSAC_OK)
        return st;
    vkCmdFillBuffer(ctx->xfer_cmd, t->chunk->buffer, t->offset, t->bytes, 0);
    return oneshot_run(ctx);
}

vksac_status vks_tensor_create(vks_ctx *ctx, uint32_t rows, uint32_t cols, vks_tensor **out)
{
    if (!ctx)
        return VKSAC_E_ARG;
    if (!out)
        return vks_fail(ctx, VKSAC_E_ARG, "vks_tensor_create: out must not be NULL");
    *out = NULL;
    if (rows == 0 || cols == 0)
        return vks_fail(ctx, VKSAC_E_ARG, "tensor shape %ux%u: rows and cols must be positive", rows, cols);
    uint32_t stride = (cols + 3u) & ~3u;
    uint64_t elems = (uint64_t)rows * stride;
    /* Shaders index texels with 32-bit signed ints. */
    uint64_t max = ctx->info.max_texel_buffer_elements < INT32_MAX ? ctx->info.max_texel_buffer_elements : INT32_MAX;
    if (stride < cols || elems > max)
        return vks_fail(ctx, VKSAC_E_ARG, "tensor shape %ux%u: %llu floats exceed the limit of %llu elements",
                        rows, cols, (unsigned long long)elems, (unsigned long long)max);
    vks_tensor *t = calloc(1, sizeof *t);
    if (!t)
        return vks_fail(ctx, VKSAC_E_OOM, "out of host memory for a tensor");
    *t = (vks_tensor){.ctx = ctx, .rows = rows, .cols = cols, .stride = stride, .bytes = elems * 4};
    vksac_status st = vks_arena_alloc(ctx, &ctx->arena, t->bytes, &t->chunk, &t->offset);
    if (st != VKSAC_OK) {
        free(t);
        return st;
    }
    st = make_view(ctx, t, VK_FORMAT_R32G32B32A32_SFLOAT, &t->view4);
    if (st == VKSAC_OK)
        st = make_view(ctx, t, VK_FORMAT_R32_SFLOAT, &t->view1);
    if (st == VKSAC_OK)
        st = zero_now(ctx, t);
    if (st != VKSAC_OK) {
        vks_tensor_destroy(t);
        return st;
    }
    *out = t;
    return VKSAC_OK;
}

vksac_status vks_tensor_view(vks_tensor *parent, uint64_t offset, uint32_t rows, uint32_t cols,
                             vks_tensor **out)
{
    if (!parent)
        return VKSAC_E_ARG;
    vks_ctx *ctx = parent->ctx;
    if (!out)
        return vks_fail(ctx, VKSAC_E_ARG, "vks_tensor_view: out must not be NULL");
    *out = NULL;
    uint32_t stride = (cols + 3u) & ~3u;
    /* Read through a texel view, written through a storage buffer. */
    const VkPhysicalDeviceLimits *lim = &ctx->props.limits;
    uint64_t align = (lim->minTexelBufferOffsetAlignment > lim->minStorageBufferOffsetAlignment
                          ? lim->minTexelBufferOffsetAlignment
                          : lim->minStorageBufferOffsetAlignment) / 4;
    uint64_t elems = (uint64_t)rows * stride, have = parent->bytes / 4;
    if (rows == 0 || cols == 0)
        return vks_fail(ctx, VKSAC_E_ARG, "view shape %ux%u: rows and cols must be positive", rows, cols);
    if (offset % (align > 4 ? align : 4) != 0)
        return vks_fail(ctx, VKSAC_E_ARG, "view offset %llu floats: must be a multiple of %llu floats",
                        (unsigned long long)offset, (unsigned long long)(align > 4 ? align : 4));
    if (offset > have || elems > have - offset)
        return vks_fail(ctx, VKSAC_E_ARG, "view of %ux%u at float %llu does not fit the %llu floats of its parent",
                        rows, cols, (unsigned long long)offset, (unsigned long long)have);
    vks_tensor *t = calloc(1, sizeof *t);
    if (!t)
        return vks_fail(ctx, VKSAC_E_OOM, "out of host memory for a tensor view");
    *t = (vks_tensor){.ctx = ctx, .rows = rows, .cols = cols, .stride = stride, .chunk = parent->chunk,
                      .offset = parent->offset + offset * 4, .bytes = elems * 4, .is_view = true};
    vksac_status st = make_view(ctx, t, VK_FORMAT_R32G32B32A32_SFLOAT, &t->view4);
    if (st == VKSAC_OK)
        st = make_view(ctx, t, VK_FORMAT_R32_SFLOAT, &t->view1);
    if (st != VKSAC_OK) {
        vks_tensor_destroy(t);
        return st;
    }
    *out = t;
    return VKSAC_OK;
}

void vks_tensor_destroy(vks_tensor *t)
{
    if (!t)
        return;
    vks_ctx *ctx = t->ctx;
    if (t->view4)
        vkDestroyBufferView(ctx->device, t->view4, NULL);
    if (t->view1)
        vkDestroyBufferView(ctx->device, t->view1, NULL);
    if (t->chunk && !t->is_view)
        vks_arena_release(t->chunk, t->offset, t->bytes);
    free(t);
}

uint32_t vks_tensor_rows(const vks_tensor *t) { return t ? t->rows : 0; }
uint32_t vks_tensor_cols(const vks_tensor *t) { return t ? t->cols : 0; }
uint32_t vks_tensor_stride(const vks_tensor *t) { return t ? t->stride : 0; }

float *vks_tensor_host_ptr(vks_tensor *t)
{
    return t && t->chunk->map ? (float *)((char *)t->chunk->map + t->offset) : NULL;
}

/* Host-visible bytes holding the tensor's padded storage: the tensor itself
 * when mapped, else a staging range (released by release_host_view). */
static vksac_status host_view(vks_tensor *t, float **p, vks_chunk **staging, VkDeviceSize *soff)
{
    *staging = NULL;
    if ((*p = vks_tensor_host_ptr(t)))
        return VKSAC_OK;
    vksac_status st = vks_arena_alloc(t->ctx, &t->ctx->staging, t->bytes, staging, soff);
    if (st == VKSAC_OK)
        *p = (float *)((char *)(*staging)->map + *soff);
    return st;
}

static void release_host_view(vks_tensor *t, vks_chunk *staging, VkDeviceSize soff)
{
    if (staging)
        vks_arena_release(staging, soff, t->bytes);
}

static vksac_status check_io(const vks_tensor *t, const void *p, const char *fn)
{
    if (!t)
        return VKSAC_E_ARG;
    if (!p)
        return vks_fail(t->ctx, VKSAC_E_ARG, "%s: the host pointer must not be NULL", fn);
    return VKSAC_OK;
}

vksac_status vks_tensor_write(vks_tensor *t, const float *src)
{
    vksac_status st = check_io(t, src, "vks_tensor_write");
    float *p;
    vks_chunk *staging;
    VkDeviceSize soff = 0;
    if (st == VKSAC_OK)
        st = host_view(t, &p, &staging, &soff);
    if (st != VKSAC_OK)
        return st;
    for (uint32_t r = 0; r < t->rows; r++) {
        memcpy(p + (size_t)r * t->stride, src + (size_t)r * t->cols, t->cols * sizeof *src);
        memset(p + (size_t)r * t->stride + t->cols, 0, (t->stride - t->cols) * sizeof *src);
    }
    if (staging)
        st = vks_copy_now(t->ctx, staging->buffer, soff, t->chunk->buffer, t->offset, t->bytes);
    release_host_view(t, staging, soff);
    return st;
}

vksac_status vks_tensor_write_rows(vks_tensor *t, uint32_t row0, uint32_t nrows, const float *src)
{
    static const char fn[] = "vks_tensor_write_rows";
    VKS_TRY(check_io(t, src, fn));
    if (nrows == 0)
        return vks_fail(t->ctx, VKSAC_E_ARG, "%s: nrows is 0, must be positive", fn);
    if (row0 >= t->rows || nrows > t->rows - row0)
        return vks_fail(t->ctx, VKSAC_E_ARG, "%s: rows [%u, %llu) do not lie within the %u rows of a %ux%u tensor",
                        fn, row0, (unsigned long long)row0 + nrows, t->rows, t->rows, t->cols);
    VkDeviceSize off = (VkDeviceSize)row0 * t->stride * sizeof *src;
    VkDeviceSize bytes = (VkDeviceSize)nrows * t->stride * sizeof *src;
    float *p;
    vks_chunk *staging = NULL;
    VkDeviceSize soff = 0;
    if ((p = vks_tensor_host_ptr(t))) {
        p += off / sizeof *p;
    } else {
        /* A staging range just for these rows (sub-allocated from the
         * staging arena, released after the copy). */
        VKS_TRY(vks_arena_alloc(t->ctx, &t->ctx->staging, bytes, &staging, &soff));
        p = (float *)((char *)staging->map + soff);
    }
    for (uint32_t r = 0; r < nrows; r++) {
        memcpy(p + (size_t)r * t->stride, src + (size_t)r * t->cols, t->cols * sizeof *src);
        memset(p + (size_t)r * t->stride + t->cols, 0, (t->stride - t->cols) * sizeof *src);
    }
    vksac_status st = VKSAC_OK;
    if (staging) {
        st = vks_copy_now(t->ctx, staging->buffer, soff, t->chunk->buffer, t->offset + off, bytes);
        vks_arena_release(staging, soff, bytes);
    }
    return st;
}

static vksac_status read_into(const vks_tensor *ct, float *dst, bool padded)
{
    vks_tensor *t = (vks_tensor *)ct;   /* reading changes no tensor state */
    vksac_status st = check_io(t, dst, "vks_tensor_read");
    float *p;
    vks_chunk *staging;
    VkDeviceSize soff = 0;
    if (st == VKSAC_OK)
        st = host_view(t, &p, &staging, &soff);
    if (st != VKSAC_OK)
        return st;
    if (staging)
        st = vks_copy_now(t->ctx, t->chunk->buffer, t->offset, staging->buffer, soff, t->bytes);
    if (st == VKSAC_OK && padded)
        memcpy(dst, p, t->bytes);
    else if (st == VKSAC_OK)
        for (uint32_t r = 0; r < t->rows; r++)
            memcpy(dst + (size_t)r * t->cols, p + (size_t)r * t->stride, t->cols * sizeof *dst);
    release_host_view(t, staging, soff);
    return st;
}

vksac_status vks_tensor_read(const vks_tensor *t, float *dst) { return read_into(t, dst, false); }
vksac_status vks_tensor_read_padded(const vks_tensor *t, float *dst) { return read_into(t, dst, true); }
