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

/* The most shards a context takes (vksac_context_config.cpu_shards). */
#define VKSAC_MAX_CPU_SHARDS 8

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
     * fallback of descriptor sets written once at record time). 0 = use it
     * where offered, except on lavapipe from Mesa 25, where each pushed
     * set costs ~8 µs every time a recording runs (docs/runtime.md). */
    int no_push_descriptors;
    vksac_log_fn log;
    void *log_user;
    /* Shards of a CPU device. n > 1: every agent of this context keeps n
     * replicas, each on a device of its own that runs kernels on its own
     * thread, and splits each update's batch between them; the replicas
     * average their gradients between the update's phases, each steps its
     * share of the parameters, and they copy the shares to one another, so
     * they stay identical. Worth it where an update is many small dispatches
     * (hidden 64: README, "Threads on lavapipe"). An agent whose
     * batch_size is not a multiple of n (such as the batch-1 agents behind
     * Lua's Actor objects) runs unsharded, said at VKSAC_LOG_INFO. 0 = the
     * VKSAC_CPU_SHARDS environment variable if set (ignored when
     * cpu_threads > 0), else off; 1 = off; at most VKSAC_MAX_CPU_SHARDS.
     * Needs cpu_threads 0 or -1; ignored with a log warning on a GPU.
     * Creating or loading an agent then creates contexts too (so, as for
     * contexts, do it from one thread); the log callback may be called
     * from the shards' threads during an update. After a shard fails
     * where the others did not, the agent refuses to observe or update
     * (VKSAC_E_STATE): load a checkpoint to go on. */
    int cpu_shards;
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

/* ==== Agents ============================================================
 *
 * A Soft Actor-Critic agent (SPEC.md, docs/sac.md): an actor, N critics
 * with EMA targets, a learned temperature and a replay buffer, all on the
 * context's device. Typical loop:
 *
 *     vksac_agent_act(agent, states, n, 1, actions, discrete, NULL, NULL);
 *     ... step the environments ...
 *     vksac_agent_observe(agent, &transitions);
 *     vksac_agent_update(agent, 1);
 *
 * An agent belongs to one context and must be destroyed before it. Calls on
 * one agent must not overlap (one thread at a time). Failures return a
 * status; vksac_error(ctx) says what was wrong.
 */

#define VKSAC_MAX_DISCRETE_HEADS 16
#define VKSAC_MAX_CONT_ACTIONS 64
#define VKSAC_MAX_CRITICS 16

/* One network's shape and optimiser. Zero fields take the default in
 * brackets. */
typedef struct vksac_net_config {
    uint32_t dim_hidden;        /* [256] */
    uint32_t mlp_depth;         /* residual blocks [2] */
    uint32_t expansion;         /* inner width factor of a block [2] */
    const char *activation;     /* "relu2" [default], "relu", "crelu" */
    float dropout;              /* [0]; DroQ uses 0.01 in the critics */
    int final_norm;             /* LayerNorm before the output layer [0] */
    float learning_rate;        /* [3e-4] */
    const char *optimizer;      /* "adam_atan2" [default], "adam", "adamw" */
    float betas[2];             /* [0.9, 0.99] */
    float weight_decay;         /* AdamW only [0.01] */
    float max_grad_norm;        /* global-norm clipping when > 0 [off] */
    const char *regen;          /* regeneration toward θ₀: "l2" [default], "wasserstein", "none" */
    float regen_reg_rate;       /* λ [1e-4] */
} vksac_net_config;

/* An agent. Field names follow the Lua constructors (docs/lua.md) and the
 * seed's Python API. Zero fields take the default in brackets. */
typedef struct vksac_agent_config {
    uint32_t dim_state;                                     /* required */
    uint32_t num_cont_actions;                              /* C [0] */
    uint32_t num_discrete_heads;                            /* D [0]; C + D ≥ 1 */
    uint32_t num_discrete_actions[VKSAC_MAX_DISCRETE_HEADS];/* choices per head, each ≥ 2 */
    const float *action_low, *action_high;                  /* C bounds each [−1, 1] */
    vksac_net_config actor, critic;
    uint32_t num_critics;                                   /* [2] */
    int use_softmin;                                        /* reduce critics by softmin [min] */
    float softmin_temperature;                              /* τ_s [1] */
    int quantiled_critics;                                  /* TQC [0] */
    uint32_t num_quantiles;                                 /* M [25 when quantiled] */
    float frac_atom_keep;                                   /* f [0.92] */
    float reward_discount_rate;                             /* γ [0.99] */
    float reward_scale;                                     /* k [1] */
    float ema_decay;                                        /* target EMA β [0.995] */
    float temperature_learning_rate;                        /* [3e-4] */
    float initial_log_alpha;                                /* [0] */
    int override_target_entropy;                            /* 1: use the two fields below */
    float target_entropy_cont;                              /* [−C] */
    float target_entropy_discrete[VKSAC_MAX_DISCRETE_HEADS];/* [0.98·log n_i] */
    const char *sigma;                                      /* "exp" [default] or "sigmoid" */
    float gumbel_temperature;                               /* sampling temperature T [1] */
    int no_rsmnorm;                                         /* 1: networks read raw states */
    uint32_t batch_size;                                    /* [256] */
    uint32_t replay_capacity;                               /* [1000000], < 2^24 */
    uint32_t updates_per_step;                              /* UTD ratio, for training loops [1] */
    uint32_t actor_update_every;                            /* actor + α step every k updates [1] */
    uint64_t seed;                                          /* [0]; everything random derives from it */
    /* Seeds of the initial weights (θ₀): two agents whose networks have the
     * same shape and seed start from the same weights. 0 = derived from
     * `seed`: the actor's is seed + 1, critic n's seed + 2 + n. */
    uint64_t actor_seed;
    uint64_t critic_seeds[VKSAC_MAX_CRITICS];
} vksac_agent_config;

typedef struct vksac_agent vksac_agent;

/* Checks a config and fills in every default, as vksac_agent_create
 * would, without creating anything (VKSAC_E_ARG naming the field). The
 * strings of *out are static; action_low/high point where config's do. */
vksac_status vksac_agent_config_resolve(vksac_context *ctx, const vksac_agent_config *config,
                                        vksac_agent_config *out);

/* Creates an agent: checks the config (VKSAC_E_ARG naming the field and
 * value), initialises the networks from the seed, and records the update. */
vksac_status vksac_agent_create(vksac_context *ctx, const vksac_agent_config *config, vksac_agent **out);
void vksac_agent_destroy(vksac_agent *agent);
/* The agent's configuration with every default filled in. The strings
 * point into the agent and live as long as it. */
vksac_status vksac_agent_config_get(const vksac_agent *agent, vksac_agent_config *out);

/* Actions for n states (n×dim_state floats, row-major). sample = 1 draws
 * from the policy (reparameterised Gaussian, Gumbel-max at the configured
 * temperature); 0 is deterministic (tanh of the mean, argmax). Outputs,
 * each optional (NULL): cont_actions n×C within the bounds, discrete n×D
 * indices, cont_logprob n (log π of the continuous part), discrete_logprob
 * n×D (log p of each chosen index). */
vksac_status vksac_agent_act(vksac_agent *agent, const float *states, uint32_t n, int sample,
                             float *cont_actions, int32_t *discrete, float *cont_logprob,
                             float *discrete_logprob);

/* n transitions, row-major. cont_actions / discrete_actions may be NULL
 * when C / D is 0. terminated: the episode ended in a terminal state (no
 * bootstrap); truncated: it was cut by a time limit (bootstraps). */
typedef struct vksac_transitions {
    uint32_t n;
    const float *states;              /* n×dim_state */
    const float *cont_actions;        /* n×C */
    const int32_t *discrete_actions;  /* n×D */
    const float *rewards;             /* n */
    const uint8_t *terminated;        /* n, 0 or 1 */
    const uint8_t *truncated;         /* n, 0 or 1; may be NULL (all 0) */
    const float *next_states;         /* n×dim_state */
} vksac_transitions;

/* Adds transitions to the replay buffer and updates the state normaliser
 * from their states. Values are checked (finite, indices in range). */
vksac_status vksac_agent_observe(vksac_agent *agent, const vksac_transitions *t);
/* n updates, each on a batch sampled from the replay buffer; one submit,
 * nothing re-recorded or allocated. Needs at least one observed transition. */
vksac_status vksac_agent_update(vksac_agent *agent, uint32_t n);
/* One update on the given batch instead of a sampled one (the seed's
 * agent(states=…, …) call); n is any batch size. */
vksac_status vksac_agent_update_batch(vksac_agent *agent, const vksac_transitions *batch);

/* Statistics of the last update (docs/sac.md). */
typedef struct vksac_stats {
    float critic_loss;       /* summed over critics and parts */
    float actor_loss;        /* of the last actor step */
    float alpha;             /* after the update */
    float mean_q;            /* online critics at the batch's (s, a) */
    float entropy;           /* policy entropy estimate of the last actor step */
    float temperature_loss;
    float mean_target;
    uint64_t updates;        /* updates so far */
    uint64_t observed;       /* transitions observed so far */
} vksac_stats;
vksac_status vksac_agent_stats(vksac_agent *agent, vksac_stats *out);

/* The outputs of the online critics at n (state, continuous action)
 * pairs, in evaluation mode (no dropout): q receives num_critics × n ×
 * Q floats, Q = M·(c + Σn_i) with M = num_quantiles (1 when not
 * quantiled) and c = 1 when there are continuous actions. Each row is
 * [M atoms of Q_c | head 1: choice d's M atoms at d·M | head 2 …]
 * (docs/sac.md). cont_actions (n×C) may be NULL when C is 0. */
vksac_status vksac_agent_q(vksac_agent *agent, const float *states, const float *cont_actions, uint32_t n,
                           float *q);

/* Checkpoints (safetensors, docs/checkpoint.md). save writes everything
 * needed to resume training bit-identically from the same replay buffer:
 * networks, targets, optimiser moments and initial weights, α, the state
 * normaliser, RNG counters and step counts; not the replay buffer itself,
 * which vksac_agent_save_with adds. export_policy writes the actor and its
 * normaliser alone. Each writes a temporary file, syncs it and renames it
 * over path, so a crash leaves the old file or the new one, whole. */
vksac_status vksac_agent_save(vksac_agent *agent, const char *path);
vksac_status vksac_agent_export_policy(vksac_agent *agent, const char *path);

/* The largest caller's metadata string, in bytes (64 MiB). */
#define VKSAC_MAX_METADATA_BYTES (64u << 20)

/* What vksac_agent_save_with adds to a full checkpoint. Zero-initialise. */
typedef struct vksac_save_options {
    /* 1: also the replay buffer: its written slots (min(count, capacity)
     * transitions, in slot order), its head and count, so that the loaded
     * agent samples and updates exactly as this one would. Costs
     * 4·(2·dim_state + C + D + 3) bytes per stored transition, read back
     * from the device. */
    int replay;
    /* NULL, or a caller's string kept as __metadata__["user"] (e.g. a
     * training loop's own state as JSON); vksac_agent_metadata gives it
     * back after loading. It must be UTF-8 (the header is JSON) and at most
     * VKSAC_MAX_METADATA_BYTES; quotes, backslashes and control characters
     * are escaped, and escaped it must fit the 100 MB header. */
    const char *metadata;
} vksac_save_options;

/* A full checkpoint as vksac_agent_save writes it, plus the options'
 * parts, in one file written the same way. NULL options is
 * vksac_agent_save. E_ARG when the metadata cannot be stored. */
vksac_status vksac_agent_save_with(vksac_agent *agent, const char *path, const vksac_save_options *options);

/* Loads a checkpoint (full or policy-only) into a new agent. The file is
 * checked as untrusted input; a policy-only file gives an agent that can
 * act (its critics are fresh). A replay buffer in a full checkpoint is
 * restored (its shapes checked against the stored configuration, its
 * count and head against each other, every value finite, flags 0 or 1,
 * discrete indices in range), so training continues bit-identically;
 * without one the buffer starts empty. */
vksac_status vksac_agent_load(vksac_context *ctx, const char *path, vksac_agent **out);

/* The caller's metadata string of the checkpoint this agent was loaded
 * from (vksac_save_options.metadata): "" when it had none, when the agent
 * was created rather than loaded, or when agent is NULL. Valid as long as
 * the agent. */
const char *vksac_agent_metadata(const vksac_agent *agent);

#ifdef __cplusplus
}
#endif
#endif
