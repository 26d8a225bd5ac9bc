/* Device memory: a few large chunks per arena, each bound to one buffer and
 * sub-allocated first-fit. Tensors are ranges of a chunk's buffer, so a
 * context makes a handful of vkAllocateMemory calls, not one per tensor. */
#include <stdlib.h>
#include <string.h>

#include "vk/internal.h"

#define VKS_CHUNK_BYTES ((VkDeviceSize)64 << 20)
#define VKS_ALIGN ((VkDeviceSize)256)

static VkDeviceSize align_up(VkDeviceSize v, VkDeviceSize a) { return (v + a - 1) / a * a; }

static int find_memory_type(vks_ctx *ctx, VkMemoryPropertyFlags want)
{
    VkPhysicalDeviceMemoryProperties mem;
    vkGetPhysicalDeviceMemoryProperties(ctx->phys, &mem);
    for (uint32_t t = 0; t < mem.memoryTypeCount; t++)
        if ((mem.memoryTypes[t].propertyFlags & want) == want)
            return (int)t;
    return -1;
}

vksac_status vks_arena_init(vks_ctx *ctx, vks_arena *a, bool want_host_visible, bool require_host_visible)
{
    const VkMemoryPropertyFlags local = VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT;
    const VkMemoryPropertyFlags host = VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT | VK_MEMORY_PROPERTY_HOST_COHERENT_BIT;
    int t = -1;
    memset(a, 0, sizeof *a);
    a->chunk_size = VKS_CHUNK_BYTES;
    if (want_host_visible && (t = find_memory_type(ctx, local | host)) >= 0)
        a->host_visible = true;
    else if (require_host_visible && (t = find_memory_type(ctx, host)) >= 0)
        a->host_visible = true;
    else if (!require_host_visible && (t = find_memory_type(ctx, local)) >= 0)
        a->host_visible = false;
    if (t < 0)
        return vks_fail(ctx, VKSAC_E_UNSUPPORTED, "device '%s' has no %s memory type", ctx->info.name,
                        require_host_visible ? "host-visible coherent" : "device-local");
    a->memory_type = (uint32_t)t;
    return VKSAC_OK;
}

static void chunk_destroy(vks_ctx *ctx, vks_chunk *c)
{
    if (c->buffer)
        vkDestroyBuffer(ctx->device, c->buffer, NULL);
    if (c->memory)
        vkFreeMemory(ctx->device, c->memory, NULL);
    free(c->free);
    free(c);
}

void vks_arena_free(vks_ctx *ctx, vks_arena *a)
{
    while (a->chunks) {
        vks_chunk *next = a->chunks->next;
        chunk_destroy(ctx, a->chunks);
        a->chunks = next;
    }
}

static vksac_status chunk_create(vks_ctx *ctx, vks_arena *a, VkDeviceSize size, vks_chunk **out)
{
    vks_chunk *c = calloc(1, sizeof *c);
    if (!c || !(c->free = malloc(8 * sizeof *c->free))) {
        free(c);
        return vks_fail(ctx, VKSAC_E_OOM, "out of host memory for a memory chunk");
    }
    c->capfree = 8;
    c->size = size;
    VkBufferCreateInfo bi = {
        .sType = VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO,
        .size = size,
        .usage = VK_BUFFER_USAGE_STORAGE_TEXEL_BUFFER_BIT | VK_BUFFER_USAGE_STORAGE_BUFFER_BIT |
                 VK_BUFFER_USAGE_TRANSFER_SRC_BIT | VK_BUFFER_USAGE_TRANSFER_DST_BIT,
        .sharingMode = VK_SHARING_MODE_EXCLUSIVE,
    };
    vksac_status st = vks_check(ctx, vkCreateBuffer(ctx->device, &bi, NULL, &c->buffer), "vkCreateBuffer");
    VkMemoryRequirements req = {0};
    if (st == VKSAC_OK) {
        vkGetBufferMemoryRequirements(ctx->device, c->buffer, &req);
        if (!(req.memoryTypeBits & (1u << a->memory_type)))
            st = vks_fail(ctx, VKSAC_E_UNSUPPORTED, "buffers cannot live in memory type %u", a->memory_type);
    }
    if (st == VKSAC_OK) {
        VkMemoryAllocateInfo ai = {.sType = VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO,
                                   .allocationSize = req.size, .memoryTypeIndex = a->memory_type};
        st = vks_check(ctx, vkAllocateMemory(ctx->device, &ai, NULL, &c->memory), "vkAllocateMemory");
        if (st == VKSAC_E_OOM)
            vks_fail(ctx, VKSAC_E_OOM, "out of device memory allocating %llu MiB",
                     (unsigned long long)(req.size >> 20));
    }
    if (st == VKSAC_OK)
        st = vks_check(ctx, vkBindBufferMemory(ctx->device, c->buffer, c->memory, 0), "vkBindBufferMemory");
    if (st == VKSAC_OK && a->host_visible)
        st = vks_check(ctx, vkMapMemory(ctx->device, c->memory, 0, VK_WHOLE_SIZE, 0, &c->map), "vkMapMemory");
    if (st != VKSAC_OK) {
        chunk_destroy(ctx, c);
        return st;
    }
    c->free[0] = (vks_range){0, size};
    c->nfree = 1;
    c->next = a->chunks;
    a->chunks = c;
    *out = c;
    return VKSAC_OK;
}

static bool take_from(vks_chunk *c, VkDeviceSize size, VkDeviceSize *offset)
{
    for (size_t i = 0; i < c->nfree; i++) {
        if (c->free[i].size < size)
            continue;
        *offset = c->free[i].offset;
        c->free[i].offset += size;
        c->free[i].size -= size;
        if (c->free[i].size == 0) {
            memmove(&c->free[i], &c->free[i + 1], (c->nfree - i - 1) * sizeof *c->free);
            c->nfree--;
        }
        return true;
    }
    return false;
}

vksac_status vks_arena_alloc(vks_ctx *ctx, vks_arena *a, VkDeviceSize size, vks_chunk **chunk,
                             VkDeviceSize *offset)
{
    size = align_up(size ? size : 1, VKS_ALIGN);
    for (vks_chunk *c = a->chunks; c; c = c->next)
        if (take_from(c, size, offset)) {
            *chunk = c;
            return VKSAC_OK;
        }
    vks_chunk *c = NULL;
    vksac_status st = chunk_create(ctx, a, size > a->chunk_size ? size : a->chunk_size, &c);
    if (st != VKSAC_OK)
        return st;
    take_from(c, size, offset);
    *chunk = c;
    return VKSAC_OK;
}

/* Returns a range to its chunk, merging with free neighbours. A failed
 * grow of the free list only loses the range until the context ends. */
void vks_arena_release(vks_chunk *c, VkDeviceSize offset, VkDeviceSize size)
{
    size = align_up(size ? size : 1, VKS_ALIGN);
    size_t i = 0;
    while (i < c->nfree && c->free[i].offset < offset)
        i++;
    bool merge_prev = i > 0 && c->free[i - 1].offset + c->free[i - 1].size == offset;
    bool merge_next = i < c->nfree && offset + size == c->free[i].offset;
    if (merge_prev && merge_next) {
        c->free[i - 1].size += size + c->free[i].size;
        memmove(&c->free[i], &c->free[i + 1], (c->nfree - i - 1) * sizeof *c->free);
        c->nfree--;
    } else if (merge_prev) {
        c->free[i - 1].size += size;
    } else if (merge_next) {
        c->free[i].offset = offset;
        c->free[i].size += size;
    } else {
        if (c->nfree == c->capfree) {
            vks_range *grown = realloc(c->free, 2 * c->capfree * sizeof *grown);
            if (!grown)
                return;
            c->free = grown;
            c->capfree *= 2;
        }
        memmove(&c->free[i + 1], &c->free[i], (c->nfree - i) * sizeof *c->free);
        c->free[i] = (vks_range){offset, size};
        c->nfree++;
    }
}
