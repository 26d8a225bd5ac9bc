/*
 * vksac — Soft Actor-Critic on any Vulkan device.
 *
 * The public C API. No Vulkan or Lua type appears here. Every function that
 * can fail returns a vksac_status; vksac_error() gives the message of the
 * last failure on a context. Nothing in the library aborts, exits or prints.
 */
#ifndef VKSAC_H
#define VKSAC_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define VKSAC_VERSION_MAJOR 0
#define VKSAC_VERSION_MINOR 1
#define VKSAC_VERSION_PATCH 0

typedef enum vksac_status {
    VKSAC_OK = 0,
    VKSAC_E_ARG,          /* a bad argument: NULL, zero size, mismatched shapes */
    VKSAC_E_NO_DEVICE,    /* no Vulkan loader, no device, or no device matches */
    VKSAC_E_UNSUPPORTED,  /* the device or installation lacks a needed feature */
    VKSAC_E_OOM,          /* host or device memory exhausted */
    VKSAC_E_DEVICE_LOST,  /* the device was lost; the context must be destroyed */
    VKSAC_E_VULKAN,       /* any other Vulkan failure; the message names the call */
    VKSAC_E_STATE         /* a call out of order (e.g. running an unfinished recording) */
} vksac_status;

/* A short constant name for a status, e.g. "VKSAC_E_ARG". */
const char *vksac_status_name(vksac_status status);

/* Severity of a message passed to the log callback. */
typedef enum vksac_log_level {
    VKSAC_LOG_DEBUG = 0,
    VKSAC_LOG_INFO,
    VKSAC_LOG_WARN,
    VKSAC_LOG_ERROR
} vksac_log_level;

typedef void (*vksac_log_fn)(void *user, vksac_log_level level, const char *message);

/* How a context is set up. Zero-initialise, then set what you need:
 * every zero field means "the default". */
typedef struct vksac_context_config {
    /* Device: NULL or "" means the VKSAC_DEVICE environment variable if set,
     * else the first discrete GPU, then integrated GPU, then virtual GPU,
     * then CPU (lavapipe). Otherwise an index ("1") or a case-insensitive
     * substring of the device name ("llvmpipe", "NVIDIA"). */
    const char *device;
    /* Enable VK_LAYER_KHRONOS_validation. Its validation messages (and any
     * error) are counted by vksac_validation_messages() and reach the log
     * callback as VKSAC_LOG_ERROR; other warnings as VKSAC_LOG_WARN. */
    int validation;
    /* Worker threads of a CPU device (Mesa lavapipe reads LP_NUM_THREADS
     * when devices are enumerated). 0 = the default (see README, "Threads
     * on lavapipe"); -1 = run kernels on the submitting thread; n > 0 = n
     * workers. An LP_NUM_THREADS exported before the first context wins.
     * Sets the process environment: create contexts from one thread. */
    int cpu_threads;
    /* Kernel variants: 0 = chosen per device; 1 = register-blocked kernels
     * reading texel buffers (best on CPUs); 2 = shared-memory tiled kernels
     * (best on GPUs). */
    int gemm_variant;
    /* 1 = never use VK_KHR_push_descriptor even where offered (tests the
     * fallback of descriptor sets written once at record time). */
    int no_push_descriptors;
    vksac_log_fn log;
    void *log_user;
} vksac_context_config;

typedef struct vksac_context vksac_context;

/* Creates a context on one device. Like sqlite3_open, *out receives a
 * handle even when creation fails (unless memory for the handle itself ran
 * out, when *out is NULL): read vksac_error(*out), then destroy it. */
vksac_status vksac_context_create(const vksac_context_config *config, vksac_context **out);
void vksac_context_destroy(vksac_context *ctx);

/* The message of the last failure on ctx ("" if none). Valid until the next
 * call on ctx. A NULL ctx gives a message saying so. */
const char *vksac_error(const vksac_context *ctx);

/* Validation messages (and errors of any kind) the layer reported on ctx. */
uint64_t vksac_validation_messages(const vksac_context *ctx);

/* One Vulkan device as the loader reports it. */
typedef struct vksac_device_info {
    int index;                     /* what VKSAC_DEVICE=<index> selects */
    char name[256];
    char type[16];                 /* "discrete", "integrated", "virtual", "cpu", "other" */
    char driver[64];               /* e.g. "llvmpipe", "NVIDIA" */
    char driver_version[64];
    uint32_t api_version;          /* VK_MAKE_API_VERSION layout */
    uint64_t device_local_bytes;   /* size of the largest device-local heap */
    int host_visible_device_local; /* device memory the host can map */
    int push_descriptors;          /* VK_KHR_push_descriptor offered */
    int timestamps;                /* compute-queue timestamps offered */
    float timestamp_period_ns;
    uint32_t max_workgroup_invocations;
    uint32_t max_workgroup_count_x;
    uint32_t max_push_constants_bytes;
    uint32_t max_texel_buffer_elements;
    uint32_t max_storage_buffer_range;
    uint32_t max_shared_memory_bytes;
    uint32_t subgroup_size;
    int usable;                    /* meets vksac's needs (Vulkan 1.1, compute queue) */
    int preferred;                 /* chosen when neither config.device nor VKSAC_DEVICE names one */
} vksac_device_info;

/* Lists the Vulkan devices. Writes up to `capacity` entries to `out` (which
 * may be NULL when capacity is 0) and the total number to *count. On failure
 * the message goes to `err` (up to `err_size` bytes, NUL-terminated). */
vksac_status vksac_list_devices(vksac_device_info *out, int capacity, int *count,
                                char *err, size_t err_size);

/* The device a context runs on. */
vksac_status vksac_context_device(vksac_context *ctx, vksac_device_info *out);

#ifdef __cplusplus
}
#endif
#endif
