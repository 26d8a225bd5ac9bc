/* The optional parts of a full checkpoint (src/rl/checkpoint_replay.c,
 * docs/checkpoint.md): the replay buffer and the caller's metadata string.
 * Only checkpoint.c and checkpoint_replay.c include this. */
#ifndef VKSAC_RL_CHECKPOINT_REPLAY_H
#define VKSAC_RL_CHECKPOINT_REPLAY_H

#include "rl/agent.h"
#include "rl/safetensors.h"

/* Metadata key of the caller's string. */
#define RL_CKPT_USER_KEY "user"

/* The replay buffer read back for saving: tensors named replay.* (size
 * rows each, in slot order; their data lies in `data`) and the metadata
 * values of replay.count and replay.head. */
typedef struct rl_replay_dump {
    st_tensor t[7];
    size_t n;
    st_meta meta[2];
    char count[24], head[16];
    float *data;
} rl_replay_dump;

/* Reads the agent's replay buffer back (one download per field). */
vksac_status rl_replay_dump_read(rl_agent *a, const char *fn, rl_replay_dump *d);
void rl_replay_dump_free(rl_replay_dump *d);

/* Restores the replay buffer of a loaded agent when the file holds one
 * (any replay.* tensor or metadata key), checking it as hostile input;
 * leaves the buffer empty when it holds none. full: the file is a full
 * checkpoint (a policy export must hold no replay buffer). */
vksac_status rl_replay_load(vks_ctx *ctx, const st_file *f, const char *path, rl_agent *a, bool full);

/* E_ARG, prefixed by fn, when a caller's metadata string cannot be stored:
 * longer than VKSAC_MAX_METADATA_BYTES, not UTF-8, or too long for the
 * header once escaped. */
vksac_status rl_metadata_check(vks_ctx *ctx, const char *fn, const char *metadata);
/* Copies the file's caller metadata (if any) into a->metadata. */
vksac_status rl_metadata_load(vks_ctx *ctx, const st_file *f, const char *path, rl_agent *a);

#endif
