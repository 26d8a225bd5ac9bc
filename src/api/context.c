/* The public context: a handle over the Vulkan runtime's context. */
#include <stdlib.h>

#include "vk/runtime.h"
#include "vksac.h"

#define VKSAC_API __attribute__((visibility("default")))

struct vksac_context {
    vks_ctx *vk;
};

VKSAC_API const char *vksac_status_name(vksac_status status)
{
    switch (status) {
    case VKSAC_OK: return "VKSAC_OK";
    case VKSAC_E_ARG: return "VKSAC_E_ARG";
    case VKSAC_E_NO_DEVICE: return "VKSAC_E_NO_DEVICE";
    case VKSAC_E_UNSUPPORTED: return "VKSAC_E_UNSUPPORTED";
    case VKSAC_E_OOM: return "VKSAC_E_OOM";
    case VKSAC_E_DEVICE_LOST: return "VKSAC_E_DEVICE_LOST";
    case VKSAC_E_VULKAN: return "VKSAC_E_VULKAN";
    case VKSAC_E_STATE: return "VKSAC_E_STATE";
    }
    return "VKSAC_E_(unknown)";
}

VKSAC_API vksac_status vksac_context_create(const vksac_context_config *config, vksac_context **out)
{
    if (!out)
        return VKSAC_E_ARG;
    vksac_context *ctx = calloc(1, sizeof *ctx);
    *out = ctx;
    if (!ctx)
        return VKSAC_E_OOM;
    vksac_status st = vks_ctx_create(config, &ctx->vk);
    if (!ctx->vk) {
        free(ctx);
        *out = NULL;
    }
    return st;
}

VKSAC_API void vksac_context_destroy(vksac_context *ctx)
{
    if (!ctx)
        return;
    vks_ctx_destroy(ctx->vk);
    free(ctx);
}

vks_ctx *vksac_context_vk(vksac_context *ctx) { return ctx ? ctx->vk : NULL; }

VKSAC_API const char *vksac_error(const vksac_context *ctx)
{
    return vks_ctx_error(ctx ? ctx->vk : NULL);
}

VKSAC_API uint64_t vksac_validation_messages(const vksac_context *ctx)
{
    return ctx ? vks_ctx_validation_messages(ctx->vk) : 0;
}

VKSAC_API vksac_status vksac_list_devices(vksac_device_info *out, int capacity, int *count, char *err,
                                          size_t err_size)
{
    return vks_list_devices(out, capacity, count, err, err_size);
}

VKSAC_API vksac_status vksac_context_device(vksac_context *ctx, vksac_device_info *out)
{
    return ctx ? vks_ctx_device(ctx->vk, out) : VKSAC_E_ARG;
}
