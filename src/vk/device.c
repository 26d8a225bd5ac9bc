/* Device enumeration, description and choice. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "vk/internal.h"

static const char *type_name(VkPhysicalDeviceType t)
{
    switch (t) {
    case VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU: return "discrete";
    case VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU: return "integrated";
    case VK_PHYSICAL_DEVICE_TYPE_VIRTUAL_GPU: return "virtual";
    case VK_PHYSICAL_DEVICE_TYPE_CPU: return "cpu";
    default: return "other";
    }
}

/* Lower is better: discrete GPU, integrated, virtual, CPU, anything else. */
static int type_rank(VkPhysicalDeviceType t)
{
    switch (t) {
    case VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU: return 0;
    case VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU: return 1;
    case VK_PHYSICAL_DEVICE_TYPE_VIRTUAL_GPU: return 2;
    case VK_PHYSICAL_DEVICE_TYPE_CPU: return 3;
    default: return 4;
    }
}

bool vks_device_has_extension(VkPhysicalDevice phys, const char *name)
{
    uint32_t n = 0;
    if (vkEnumerateDeviceExtensionProperties(phys, NULL, &n, NULL) != VK_SUCCESS || n == 0)
        return false;
    VkExtensionProperties *ext = calloc(n, sizeof *ext);
    bool found = false;
    if (ext && vkEnumerateDeviceExtensionProperties(phys, NULL, &n, ext) == VK_SUCCESS)
        for (uint32_t i = 0; i < n && !found; i++)
            found = strcmp(ext[i].extensionName, name) == 0;
    free(ext);
    return found;
}

static bool texel_format_ok(VkPhysicalDevice phys, VkFormat f)
{
    VkFormatProperties fp;
    vkGetPhysicalDeviceFormatProperties(phys, f, &fp);
    return (fp.bufferFeatures & VK_FORMAT_FEATURE_STORAGE_TEXEL_BUFFER_BIT) != 0;
}

/* Index of a queue family with compute, preferring compute-only ones, or -1. */
int vks_compute_queue_family(VkPhysicalDevice phys, uint32_t *timestamp_bits)
{
    uint32_t n = 0;
    vkGetPhysicalDeviceQueueFamilyProperties(phys, &n, NULL);
    VkQueueFamilyProperties q[32];
    if (n > 32)
        n = 32;
    vkGetPhysicalDeviceQueueFamilyProperties(phys, &n, q);
    int best = -1;
    for (uint32_t i = 0; i < n; i++) {
        if (!(q[i].queueFlags & VK_QUEUE_COMPUTE_BIT))
            continue;
        if (best < 0 || !(q[i].queueFlags & VK_QUEUE_GRAPHICS_BIT))
            best = (int)i;
    }
    if (best >= 0 && timestamp_bits)
        *timestamp_bits = q[best].timestampValidBits;
    return best;
}

void vks_describe_device(VkPhysicalDevice phys, int index, vksac_device_info *info)
{
    memset(info, 0, sizeof *info);
    VkPhysicalDeviceDriverProperties drv = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_DRIVER_PROPERTIES};
    VkPhysicalDeviceSubgroupProperties sub = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SUBGROUP_PROPERTIES};
    VkPhysicalDeviceProperties2 p2 = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PROPERTIES_2, .pNext = &sub};
    VkPhysicalDeviceProperties base;
    vkGetPhysicalDeviceProperties(phys, &base);
    bool v12 = base.apiVersion >= VK_API_VERSION_1_2;
    if (v12)
        sub.pNext = &drv;
    if (base.apiVersion >= VK_API_VERSION_1_1)
        vkGetPhysicalDeviceProperties2(phys, &p2);
    else
        p2.properties = base;
    const VkPhysicalDeviceLimits *lim = &p2.properties.limits;

    info->index = index;
    snprintf(info->name, sizeof info->name, "%s", p2.properties.deviceName);
    snprintf(info->type, sizeof info->type, "%s", type_name(p2.properties.deviceType));
    if (v12) {
        snprintf(info->driver, sizeof info->driver, "%.63s", drv.driverName);
        snprintf(info->driver_version, sizeof info->driver_version, "%.63s", drv.driverInfo);
    } else {
        snprintf(info->driver, sizeof info->driver, "unknown");
        snprintf(info->driver_version, sizeof info->driver_version, "%u", p2.properties.driverVersion);
    }
    info->api_version = p2.properties.apiVersion;
    info->max_workgroup_invocations = lim->maxComputeWorkGroupInvocations;
    info->max_workgroup_count_x = lim->maxComputeWorkGroupCount[0];
    info->max_push_constants_bytes = lim->maxPushConstantsSize;
    info->max_texel_buffer_elements = lim->maxTexelBufferElements;
    info->max_storage_buffer_range = lim->maxStorageBufferRange;
    info->max_shared_memory_bytes = lim->maxComputeSharedMemorySize;
    info->subgroup_size = sub.subgroupSize;
    info->timestamp_period_ns = lim->timestampPeriod;
    info->push_descriptors = vks_device_has_extension(phys, VK_KHR_PUSH_DESCRIPTOR_EXTENSION_NAME);

    VkPhysicalDeviceMemoryProperties mem;
    vkGetPhysicalDeviceMemoryProperties(phys, &mem);
    for (uint32_t h = 0; h < mem.memoryHeapCount; h++)
        if ((mem.memoryHeaps[h].flags & VK_MEMORY_HEAP_DEVICE_LOCAL_BIT) &&
            mem.memoryHeaps[h].size > info->device_local_bytes)
            info->device_local_bytes = mem.memoryHeaps[h].size;
    const VkMemoryPropertyFlags both =
        VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT | VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT;
    for (uint32_t t = 0; t < mem.memoryTypeCount; t++)
        if ((mem.memoryTypes[t].propertyFlags & both) == both)
            info->host_visible_device_local = 1;

    uint32_t ts_bits = 0;
    int family = vks_compute_queue_family(phys, &ts_bits);
    info->timestamps = family >= 0 && ts_bits > 0 && lim->timestampComputeAndGraphics;
    info->usable = family >= 0 && info->api_version >= VK_API_VERSION_1_1 &&
                   texel_format_ok(phys, VK_FORMAT_R32_SFLOAT) &&
                   texel_format_ok(phys, VK_FORMAT_R32G32B32A32_SFLOAT);
}

static bool all_digits(const char *s)
{
    if (!*s)
        return false;
    for (; *s; s++)
        if (!isdigit((unsigned char)*s))
            return false;
    return true;
}

static bool contains_nocase(const char *hay, const char *needle)
{
    size_t n = strlen(needle);
    for (; *hay; hay++)
        if (strncasecmp(hay, needle, n) == 0)
            return true;
    return false;
}

/* Preferred device among usable ones, or -1. */
static int preferred_index(const vksac_device_info *infos, VkPhysicalDevice *devs, uint32_t n)
{
    int best = -1, best_rank = 99;
    for (uint32_t i = 0; i < n; i++) {
        VkPhysicalDeviceProperties p;
        vkGetPhysicalDeviceProperties(devs[i], &p);
        if (infos[i].usable && type_rank(p.deviceType) < best_rank) {
            best = (int)i;
            best_rank = type_rank(p.deviceType);
        }
    }
    return best;
}

static vksac_status enumerate(vks_ctx *ctx, VkInstance inst, VkPhysicalDevice **devs,
                              vksac_device_info **infos, uint32_t *n)
{
    *devs = NULL;
    *infos = NULL;
    VkResult r = vkEnumeratePhysicalDevices(inst, n, NULL);
    if (r != VK_SUCCESS)
        return vks_check(ctx, r, "vkEnumeratePhysicalDevices");
    if (*n == 0)
        return vks_fail(ctx, VKSAC_E_NO_DEVICE,
                        "no Vulkan device found (install a driver; on a CPU-only machine: "
                        "apt-get install mesa-vulkan-drivers)");
    *devs = calloc(*n, sizeof **devs);
    *infos = calloc(*n, sizeof **infos);
    if (!*devs || !*infos)
        return vks_fail(ctx, VKSAC_E_OOM, "out of host memory listing %u devices", *n);
    r = vkEnumeratePhysicalDevices(inst, n, *devs);
    if (r != VK_SUCCESS && r != VK_INCOMPLETE)
        return vks_check(ctx, r, "vkEnumeratePhysicalDevices");
    for (uint32_t i = 0; i < *n; i++)
        vks_describe_device((*devs)[i], (int)i, &(*infos)[i]);
    int pref = preferred_index(*infos, *devs, *n);
    if (pref >= 0)
        (*infos)[pref].preferred = 1;
    return VKSAC_OK;
}

static int match_device(const vksac_device_info *infos, uint32_t n, const char *want)
{
    if (all_digits(want)) {
        unsigned long i = strtoul(want, NULL, 10);
        return i < n ? (int)i : -1;
    }
    for (uint32_t i = 0; i < n; i++)
        if (contains_nocase(infos[i].name, want))
            return (int)i;
    return -1;
}

vksac_status vks_pick_device(vks_ctx *ctx, const char *want, VkPhysicalDevice *phys, int *index)
{
    VkPhysicalDevice *devs;
    vksac_device_info *infos;
    uint32_t n = 0;
    vksac_status st = enumerate(ctx, ctx->instance, &devs, &infos, &n);
    int pick = -1;
    if (st == VKSAC_OK) {
        if (want && *want) {
            pick = match_device(infos, n, want);
            if (pick < 0)
                st = vks_fail(ctx, VKSAC_E_NO_DEVICE,
                              "no Vulkan device matches '%s' (expected an index below %u or part of "
                              "a device name; list them with `vksac --list-devices`)", want, n);
            else if (!infos[pick].usable)
                st = vks_fail(ctx, VKSAC_E_UNSUPPORTED,
                              "device %d '%s' lacks what vksac needs (Vulkan 1.1, a compute queue, "
                              "R32F and RGBA32F storage texel buffers)", pick, infos[pick].name);
        } else {
            pick = preferred_index(infos, devs, n);
            if (pick < 0)
                st = vks_fail(ctx, VKSAC_E_NO_DEVICE,
                              "none of the %u Vulkan devices has what vksac needs (Vulkan 1.1, a "
                              "compute queue, R32F and RGBA32F storage texel buffers)", n);
        }
    }
    if (st == VKSAC_OK) {
        *phys = devs[pick];
        *index = pick;
    }
    free(devs);
    free(infos);
    return st;
}

/* Copies a message into a caller's buffer. */
static void copy_err(char *err, size_t err_size, const char *msg)
{
    if (err && err_size)
        snprintf(err, err_size, "%s", msg);
}

vksac_status vks_list_devices(vksac_device_info *out, int capacity, int *count, char *err,
                              size_t err_size)
{
    vks_ctx tmp = {0};
    if (!count || capacity < 0 || (capacity > 0 && !out)) {
        copy_err(err, err_size, "vksac_list_devices: count must not be NULL, and out must hold "
                                "`capacity` entries");
        return VKSAC_E_ARG;
    }
    *count = 0;
    vksac_status st = vks_instance_create(&tmp, false, 0);
    if (st == VKSAC_OK) {
        VkPhysicalDevice *devs;
        vksac_device_info *infos;
        uint32_t n = 0;
        st = enumerate(&tmp, tmp.instance, &devs, &infos, &n);
        if (st == VKSAC_OK) {
            for (uint32_t i = 0; i < n && (int)i < capacity; i++)
                out[i] = infos[i];
            *count = (int)n;
        }
        free(devs);
        free(infos);
        vkDestroyInstance(tmp.instance, NULL);
    }
    if (st != VKSAC_OK)
        copy_err(err, err_size, tmp.err);
    return st;
}
