/* Context: instance, the chosen device and its queue, memory arenas and the
 * one-shot transfer command buffer. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vk/internal.h"

/* Default worker threads for a CPU device, from bench/gemm on lavapipe (see
 * README "Threads on lavapipe"): -1 runs kernels on the submitting thread. */
#define VKS_DEFAULT_CPU_THREADS -1

#define VALIDATION_LAYER "VK_LAYER_KHRONOS_validation"

static VKAPI_ATTR VkBool32 VKAPI_CALL on_debug_message(VkDebugUtilsMessageSeverityFlagBitsEXT severity,
                                                       VkDebugUtilsMessageTypeFlagsEXT type,
                                                       const VkDebugUtilsMessengerCallbackDataEXT *data,
                                                       void *user)
{
    vks_ctx *ctx = user;
    if (ctx->counts_to)
        ctx = ctx->counts_to;
    bool counts = (type & VK_DEBUG_UTILS_MESSAGE_TYPE_VALIDATION_BIT_EXT) ||
                  (severity & VK_DEBUG_UTILS_MESSAGE_SEVERITY_ERROR_BIT_EXT);
    if (counts)
        ctx->validation_messages++;
    if (ctx->log)
        ctx->log(ctx->log_user, counts ? VKSAC_LOG_ERROR : VKSAC_LOG_WARN,
                 data && data->pMessage ? data->pMessage : "(validation message without text)");
    return VK_FALSE;
}

static bool instance_has(const char *layer, const char *ext)
{
    uint32_t n = 0;
    bool found = false;
    if (layer) {
        vkEnumerateInstanceLayerProperties(&n, NULL);
        VkLayerProperties *p = calloc(n ? n : 1, sizeof *p);
        if (p && vkEnumerateInstanceLayerProperties(&n, p) == VK_SUCCESS)
            for (uint32_t i = 0; i < n && !found; i++)
                found = strcmp(p[i].layerName, layer) == 0;
        free(p);
    } else {
        vkEnumerateInstanceExtensionProperties(NULL, &n, NULL);
        VkExtensionProperties *p = calloc(n ? n : 1, sizeof *p);
        if (p && vkEnumerateInstanceExtensionProperties(NULL, &n, p) == VK_SUCCESS)
            for (uint32_t i = 0; i < n && !found; i++)
                found = strcmp(p[i].extensionName, ext) == 0;
        free(p);
    }
    return found;
}

/* Mesa's lavapipe reads LP_NUM_THREADS when it enumerates devices, so the
 * choice must be in the environment before the instance exists. A value the
 * user exported before the first context wins; otherwise each context's own
 * choice is set. Not thread-safe (setenv): create contexts from one thread. */
static void set_cpu_threads(int cpu_threads)
{
    static bool looked;
    static bool user_set;
    if (!looked) {
        looked = true;
        user_set = getenv("LP_NUM_THREADS") != NULL;
    }
    if (user_set)
        return;
    if (cpu_threads == 0)
        cpu_threads = VKS_DEFAULT_CPU_THREADS;
    char buf[16];
    snprintf(buf, sizeof buf, "%d", cpu_threads < 0 ? 0 : cpu_threads);
    setenv("LP_NUM_THREADS", buf, 1);
}

vksac_status vks_instance_create(vks_ctx *ctx, bool validation, int cpu_threads)
{
    set_cpu_threads(cpu_threads);
    const char *layers[1] = {VALIDATION_LAYER};
    const char *exts[2];
    uint32_t next = 0;
    VkInstanceCreateFlags flags = 0;
    if (validation) {
        if (!instance_has(VALIDATION_LAYER, NULL))
            return vks_fail(ctx, VKSAC_E_UNSUPPORTED,
                            "validation was requested but " VALIDATION_LAYER " is not installed "
                            "(apt-get install vulkan-validationlayers)");
        exts[next++] = VK_EXT_DEBUG_UTILS_EXTENSION_NAME;
    }
    /* MoltenVK lists its devices only to instances that ask for portability. */
    if (instance_has(NULL, VK_KHR_PORTABILITY_ENUMERATION_EXTENSION_NAME)) {
        exts[next++] = VK_KHR_PORTABILITY_ENUMERATION_EXTENSION_NAME;
        flags |= VK_INSTANCE_CREATE_ENUMERATE_PORTABILITY_BIT_KHR;
    }
    VkApplicationInfo app = {.sType = VK_STRUCTURE_TYPE_APPLICATION_INFO, .pApplicationName = "vksac",
                             .pEngineName = "vksac", .apiVersion = VK_API_VERSION_1_2};
    VkDebugUtilsMessengerCreateInfoEXT mi = {
        .sType = VK_STRUCTURE_TYPE_DEBUG_UTILS_MESSENGER_CREATE_INFO_EXT,
        .messageSeverity = VK_DEBUG_UTILS_MESSAGE_SEVERITY_WARNING_BIT_EXT |
                           VK_DEBUG_UTILS_MESSAGE_SEVERITY_ERROR_BIT_EXT,
        .messageType = VK_DEBUG_UTILS_MESSAGE_TYPE_GENERAL_BIT_EXT |
                       VK_DEBUG_UTILS_MESSAGE_TYPE_VALIDATION_BIT_EXT |
                       VK_DEBUG_UTILS_MESSAGE_TYPE_PERFORMANCE_BIT_EXT,
        .pfnUserCallback = on_debug_message,
        .pUserData = ctx,
    };
    VkInstanceCreateInfo ci = {.sType = VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO,
                               .pNext = validation ? &mi : NULL, /* also covers create/destroy */
                               .flags = flags, .pApplicationInfo = &app,
                               .enabledLayerCount = validation ? 1 : 0, .ppEnabledLayerNames = layers,
                               .enabledExtensionCount = next, .ppEnabledExtensionNames = exts};
    VkResult r = vkCreateInstance(&ci, NULL, &ctx->instance);
    if (r == VK_ERROR_INCOMPATIBLE_DRIVER)
        return vks_fail(ctx, VKSAC_E_NO_DEVICE,
                        "no compatible Vulkan driver found (on a CPU-only machine: apt-get install "
                        "mesa-vulkan-drivers)");
    if (r != VK_SUCCESS)
        return vks_check(ctx, r, "vkCreateInstance");
    if (validation) {
        PFN_vkCreateDebugUtilsMessengerEXT create = (PFN_vkCreateDebugUtilsMessengerEXT)
            vkGetInstanceProcAddr(ctx->instance, "vkCreateDebugUtilsMessengerEXT");
        ctx->destroy_messenger = (PFN_vkDestroyDebugUtilsMessengerEXT)
            vkGetInstanceProcAddr(ctx->instance, "vkDestroyDebugUtilsMessengerEXT");
        if (!create || !ctx->destroy_messenger)
            return vks_fail(ctx, VKSAC_E_UNSUPPORTED, "VK_EXT_debug_utils entry points are missing");
        return vks_check(ctx, create(ctx->instance, &mi, NULL, &ctx->messenger),
                         "vkCreateDebugUtilsMessengerEXT");
    }
    return VKSAC_OK;
}

/* The row-reduction kernels (LayerNorm) use subgroupAdd in compute. */
static bool subgroup_arithmetic(VkPhysicalDevice phys)
{
    VkPhysicalDeviceSubgroupProperties sub = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SUBGROUP_PROPERTIES};
    VkPhysicalDeviceProperties2 p2 = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PROPERTIES_2, .pNext = &sub};
    vkGetPhysicalDeviceProperties2(phys, &p2);
    return (sub.supportedStages & VK_SHADER_STAGE_COMPUTE_BIT) &&
           (sub.supportedOperations & VK_SUBGROUP_FEATURE_ARITHMETIC_BIT);
}

static vksac_status device_create(vks_ctx *ctx, const vksac_context_config *cfg)
{
    int index = 0;
    const char *want = cfg->device && *cfg->device ? cfg->device : getenv("VKSAC_DEVICE");
    vksac_status st = vks_pick_device(ctx, want, &ctx->phys, &index);
    if (st != VKSAC_OK)
        return st;
    vks_describe_device(ctx->phys, index, &ctx->info);
    ctx->info.preferred = !(want && *want);
    vkGetPhysicalDeviceProperties(ctx->phys, &ctx->props);
    ctx->subgroup_arithmetic = subgroup_arithmetic(ctx->phys);
    ctx->queue_family = (uint32_t)vks_compute_queue_family(ctx->phys, NULL);
    ctx->timestamps = ctx->info.timestamps;
    ctx->push_descriptors = ctx->info.push_descriptors && !cfg->no_push_descriptors &&
                            vks_prefer_push_descriptors(ctx->info.driver, ctx->info.driver_version);

    const char *exts[2];
    uint32_t next = 0;
    if (ctx->push_descriptors)
        exts[next++] = VK_KHR_PUSH_DESCRIPTOR_EXTENSION_NAME;
    if (vks_device_has_extension(ctx->phys, "VK_KHR_portability_subset"))
        exts[next++] = "VK_KHR_portability_subset";
    float prio = 1.0f;
    VkDeviceQueueCreateInfo qi = {.sType = VK_STRUCTURE_TYPE_DEVICE_QUEUE_CREATE_INFO,
                                  .queueFamilyIndex = ctx->queue_family, .queueCount = 1,
                                  .pQueuePriorities = &prio};
    VkDeviceCreateInfo di = {.sType = VK_STRUCTURE_TYPE_DEVICE_CREATE_INFO, .queueCreateInfoCount = 1,
                             .pQueueCreateInfos = &qi, .enabledExtensionCount = next,
                             .ppEnabledExtensionNames = exts};
    st = vks_check(ctx, vkCreateDevice(ctx->phys, &di, NULL, &ctx->device), "vkCreateDevice");
    if (st != VKSAC_OK)
        return st;
    vkGetDeviceQueue(ctx->device, ctx->queue_family, 0, &ctx->queue);
    if (ctx->push_descriptors) {
        ctx->cmd_push_descriptor_set = (PFN_vkCmdPushDescriptorSetKHR)
            vkGetDeviceProcAddr(ctx->device, "vkCmdPushDescriptorSetKHR");
        ctx->push_descriptors = ctx->cmd_push_descriptor_set != NULL;
    }
    /* CPUs run the register-blocked texel kernels fastest; GPUs the tiled. */
    bool cpu = ctx->props.deviceType == VK_PHYSICAL_DEVICE_TYPE_CPU;
    const VkPhysicalDeviceLimits *lim = &ctx->props.limits;
    uint32_t lx, ly;
    vks_kernel_local_size(ctx, VKS_K_GEMM_TILED, &lx, &ly);
    bool tiled_fits = lim->maxComputeWorkGroupInvocations >= lx * ly && lim->maxComputeWorkGroupSize[0] >= lx &&
                      lim->maxComputeWorkGroupSize[1] >= ly;
    if (cfg->gemm_variant == 2 && !tiled_fits)
        return vks_fail(ctx, VKSAC_E_UNSUPPORTED, "the tiled GEMM needs %ux%u workgroups; device '%s' allows "
                        "%u invocations", lx, ly, ctx->info.name, lim->maxComputeWorkGroupInvocations);
    ctx->gemm_variant = cfg->gemm_variant ? cfg->gemm_variant : (cpu || !tiled_fits ? 1 : 2);
    ctx->big_gemm_forms = vks_big_gemm_forms(ctx->info.driver, ctx->info.driver_version);
    /* lavapipe's worker count as it read it (0 workers: the submitting thread). */
    const char *lp = getenv("LP_NUM_THREADS");
    int workers = lp ? atoi(lp) : 0;
    ctx->cpu_threads = cpu ? (workers > 1 ? (uint32_t)workers : 1u) : 0u;
    return VKSAC_OK;
}

static vksac_status commands_create(vks_ctx *ctx)
{
    VkCommandPoolCreateInfo pi = {.sType = VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO,
                                  .flags = VK_COMMAND_POOL_CREATE_RESET_COMMAND_BUFFER_BIT,
                                  .queueFamilyIndex = ctx->queue_family};
    vksac_status st = vks_check(ctx, vkCreateCommandPool(ctx->device, &pi, NULL, &ctx->cmd_pool),
                                "vkCreateCommandPool");
    VkCommandBufferAllocateInfo ai = {.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO,
                                      .commandPool = ctx->cmd_pool,
                                      .level = VK_COMMAND_BUFFER_LEVEL_PRIMARY, .commandBufferCount = 1};
    if (st == VKSAC_OK)
        st = vks_check(ctx, vkAllocateCommandBuffers(ctx->device, &ai, &ctx->xfer_cmd),
                       "vkAllocateCommandBuffers");
    VkFenceCreateInfo fi = {.sType = VK_STRUCTURE_TYPE_FENCE_CREATE_INFO};
    if (st == VKSAC_OK)
        st = vks_check(ctx, vkCreateFence(ctx->device, &fi, NULL, &ctx->xfer_fence), "vkCreateFence");
    return st;
}

static vksac_status memory_create(vks_ctx *ctx)
{
    /* Where device memory is host-visible and no slower (CPUs, integrated
     * GPUs), tensors are mapped; elsewhere transfers bounce via staging. */
    VkPhysicalDeviceType t = ctx->props.deviceType;
    bool unified = t == VK_PHYSICAL_DEVICE_TYPE_CPU || t == VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU;
    vksac_status st = vks_arena_init(ctx, &ctx->arena, unified, false);
    if (st == VKSAC_OK && !ctx->arena.host_visible)
        st = vks_arena_init(ctx, &ctx->staging, false, true);
    return st;
}

/* VKSAC_CPU_SHARDS, when config.cpu_shards is 0: a number 0 to 8, which
 * a context with worker threads ignores. */
static vksac_status shards_from_env(vks_ctx *ctx, int cpu_threads, int *shards)
{
    const char *v = getenv("VKSAC_CPU_SHARDS");
    if (!v || !*v)
        return VKSAC_OK;
    char *end;
    long n = strtol(v, &end, 10);
    if (*end || n < 0 || n > VKS_MAX_SHARDS)
        return vks_fail(ctx, VKSAC_E_ARG, "the environment's VKSAC_CPU_SHARDS must be 0 (off) to %d, got '%s'",
                        VKS_MAX_SHARDS, v);
    *shards = cpu_threads > 0 ? 1 : (int)n;
    return VKSAC_OK;
}

/* Shards need a CPU device, whose memory the host reads and writes in place
 * (the replicas' gradients are averaged by the host between phases). */
static void shards_choose(vks_ctx *ctx, int asked)
{
    ctx->shards = 1;
    if (asked <= 1)
        return;
    if (!ctx->cpu_threads || !ctx->arena.host_visible) {
        vks_log(ctx, VKSAC_LOG_WARN, "config.cpu_shards %d ignored: device '%s' is not a CPU device", asked,
                ctx->info.name);
        return;
    }
    ctx->shards = (uint32_t)asked;
    if (ctx->cpu_threads > 1)
        vks_log(ctx, VKSAC_LOG_WARN, "config.cpu_shards %d with LP_NUM_THREADS=%u from the environment: each "
                "shard also starts %u lavapipe workers", asked, ctx->cpu_threads, ctx->cpu_threads);
}

vksac_status vks_ctx_create(const vksac_context_config *config, vks_ctx **out)
{
    if (!out)
        return VKSAC_E_ARG;
    vks_ctx *ctx = calloc(1, sizeof *ctx);
    *out = ctx;
    if (!ctx)
        return VKSAC_E_OOM;
    vksac_context_config defaults = {0};
    const vksac_context_config *cfg = config ? config : &defaults;
    ctx->log = cfg->log;
    ctx->log_user = cfg->log_user;
    if (cfg->gemm_variant < 0 || cfg->gemm_variant > 2)
        return vks_fail(ctx, VKSAC_E_ARG, "config.gemm_variant must be 0 (auto), 1 (blocked) or 2 "
                                          "(tiled), got %d", cfg->gemm_variant);
    if (cfg->cpu_threads < -1)
        return vks_fail(ctx, VKSAC_E_ARG, "config.cpu_threads must be -1, 0 or a positive count, got %d",
                        cfg->cpu_threads);
    int shards = cfg->cpu_shards;
    if (shards < 0 || shards > VKS_MAX_SHARDS)
        return vks_fail(ctx, VKSAC_E_ARG, "config.cpu_shards must be 0 (off) to %d, got %d", VKS_MAX_SHARDS, shards);
    if (shards == 0)
        VKS_TRY(shards_from_env(ctx, cfg->cpu_threads, &shards));
    if (shards > 1 && cfg->cpu_threads > 0)
        return vks_fail(ctx, VKSAC_E_ARG, "config.cpu_shards %d needs cpu_threads 0 or -1 (each shard runs "
                        "its kernels on its own thread), got cpu_threads %d", shards, cfg->cpu_threads);
    ctx->config = *cfg;
    if (cfg->device && !(ctx->device_name = strdup(cfg->device)))
        return VKSAC_E_OOM;
    ctx->config.device = ctx->device_name;
    vksac_status st = vks_instance_create(ctx, cfg->validation != 0, cfg->cpu_threads);
    if (st == VKSAC_OK)
        st = device_create(ctx, cfg);
    if (st == VKSAC_OK)
        st = commands_create(ctx);
    if (st == VKSAC_OK)
        st = memory_create(ctx);
    if (st == VKSAC_OK)
        st = vks_kernels_init(ctx);
    if (st == VKSAC_OK)
        st = vks_tensor_create(ctx, 1, 4, &ctx->placeholder);
    if (st == VKSAC_OK)
        shards_choose(ctx, shards);
    if (st == VKSAC_OK)
        ctx->err[0] = '\0';
    return st;
}

vksac_status vks_ctx_create_replica(vks_ctx *ctx, vks_ctx **out)
{
    vksac_context_config cfg = ctx->config;
    cfg.cpu_shards = 1;
    vksac_status st = vks_ctx_create(&cfg, out);
    /* Its validation messages count as ctx's, which the caller checks. */
    if (*out) {
        ctx->validation_messages += atomic_load(&(*out)->validation_messages);
        (*out)->counts_to = ctx;
    }
    if (st != VKSAC_OK) {
        vks_fail(ctx, st, "a shard's device: %s", vks_ctx_error(*out));
        vks_ctx_destroy(*out);
        *out = NULL;
    }
    return st;
}

void vks_ctx_destroy(vks_ctx *ctx)
{
    if (!ctx)
        return;
    if (ctx->device) {
        vkDeviceWaitIdle(ctx->device);
        vks_tensor_destroy(ctx->placeholder);
        vks_kernels_free(ctx);
        if (ctx->xfer_fence)
            vkDestroyFence(ctx->device, ctx->xfer_fence, NULL);
        if (ctx->cmd_pool)
            vkDestroyCommandPool(ctx->device, ctx->cmd_pool, NULL);
        vks_arena_free(ctx, &ctx->arena);
        vks_arena_free(ctx, &ctx->staging);
        vkDestroyDevice(ctx->device, NULL);
    }
    if (ctx->messenger)
        ctx->destroy_messenger(ctx->instance, ctx->messenger, NULL);
    if (ctx->instance)
        vkDestroyInstance(ctx->instance, NULL);
    free(ctx->device_name);
    free(ctx);
}

const char *vks_ctx_error(const vks_ctx *ctx)
{
    return ctx ? ctx->err : "the context is NULL (context creation ran out of memory, or none was given)";
}

uint64_t vks_ctx_validation_messages(const vks_ctx *ctx)
{
    return ctx ? atomic_load(&((vks_ctx *)ctx)->validation_messages) : 0;
}

int vks_ctx_gemm_variant(const vks_ctx *ctx) { return ctx->gemm_variant; }
uint32_t vks_ctx_cpu_threads(const vks_ctx *ctx) { return ctx->cpu_threads; }
uint32_t vks_ctx_shards(const vks_ctx *ctx) { return ctx->shards; }

vksac_status vks_ctx_device(vks_ctx *ctx, vksac_device_info *out)
{
    if (!ctx)
        return VKSAC_E_ARG;
    if (!out)
        return vks_fail(ctx, VKSAC_E_ARG, "vksac_context_device: out must not be NULL");
    if (!ctx->device)
        return vks_fail(ctx, VKSAC_E_STATE, "the context has no device (its creation failed)");
    *out = ctx->info;
    return VKSAC_OK;
}
