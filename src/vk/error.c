/* Errors are values: a status plus a message kept on the context. */
#include <stdio.h>
#include <string.h>

#include "vk/internal.h"

vksac_status vks_failv(vks_ctx *ctx, vksac_status status, const char *fmt, va_list ap)
{
    if (ctx)
        vsnprintf(ctx->err, sizeof ctx->err, fmt, ap);
    return status;
}

vksac_status vks_fail(vks_ctx *ctx, vksac_status status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vks_failv(ctx, status, fmt, ap);
    va_end(ap);
    return status;
}

void vks_log(vks_ctx *ctx, vksac_log_level level, const char *fmt, ...)
{
    if (!ctx || !ctx->log)
        return;
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    ctx->log(ctx->log_user, level, msg);
}

const char *vks_result_name(VkResult r)
{
    switch (r) {
#define NAME(x) case x: return #x;
    NAME(VK_SUCCESS) NAME(VK_NOT_READY) NAME(VK_TIMEOUT) NAME(VK_INCOMPLETE)
    NAME(VK_ERROR_OUT_OF_HOST_MEMORY) NAME(VK_ERROR_OUT_OF_DEVICE_MEMORY)
    NAME(VK_ERROR_INITIALIZATION_FAILED) NAME(VK_ERROR_DEVICE_LOST)
    NAME(VK_ERROR_MEMORY_MAP_FAILED) NAME(VK_ERROR_LAYER_NOT_PRESENT)
    NAME(VK_ERROR_EXTENSION_NOT_PRESENT) NAME(VK_ERROR_FEATURE_NOT_PRESENT)
    NAME(VK_ERROR_INCOMPATIBLE_DRIVER) NAME(VK_ERROR_TOO_MANY_OBJECTS)
    NAME(VK_ERROR_FORMAT_NOT_SUPPORTED) NAME(VK_ERROR_FRAGMENTED_POOL)
    NAME(VK_ERROR_OUT_OF_POOL_MEMORY) NAME(VK_ERROR_UNKNOWN)
#undef NAME
    default: return "VkResult(unknown)";
    }
}

vksac_status vks_check(vks_ctx *ctx, VkResult r, const char *what)
{
    switch (r) {
    case VK_SUCCESS:
        return VKSAC_OK;
    case VK_ERROR_OUT_OF_HOST_MEMORY:
        return vks_fail(ctx, VKSAC_E_OOM, "%s: out of host memory", what);
    case VK_ERROR_OUT_OF_DEVICE_MEMORY:
    case VK_ERROR_OUT_OF_POOL_MEMORY:
    case VK_ERROR_FRAGMENTED_POOL:
        return vks_fail(ctx, VKSAC_E_OOM, "%s: out of device memory (%s)", what, vks_result_name(r));
    case VK_ERROR_DEVICE_LOST:
        return vks_fail(ctx, VKSAC_E_DEVICE_LOST,
                        "%s: the Vulkan device was lost; destroy the context and create a new one", what);
    case VK_ERROR_INCOMPATIBLE_DRIVER:
        return vks_fail(ctx, VKSAC_E_NO_DEVICE, "%s: no compatible Vulkan driver (%s)", what,
                        vks_result_name(r));
    case VK_ERROR_LAYER_NOT_PRESENT:
    case VK_ERROR_EXTENSION_NOT_PRESENT:
    case VK_ERROR_FEATURE_NOT_PRESENT:
    case VK_ERROR_FORMAT_NOT_SUPPORTED:
        return vks_fail(ctx, VKSAC_E_UNSUPPORTED, "%s: %s", what, vks_result_name(r));
    default:
        return vks_fail(ctx, VKSAC_E_VULKAN, "%s failed: %s (%d)", what, vks_result_name(r), (int)r);
    }
}
