/* Saving and loading agents as safetensors files (docs/checkpoint.md). */
#ifndef VKSAC_RL_CHECKPOINT_H
#define VKSAC_RL_CHECKPOINT_H

#include "rl/agent.h"

/* full: everything to resume training; otherwise the actor and its
 * normaliser (a policy export). Written atomically. */
vksac_status rl_checkpoint_save(rl_agent *a, const char *path, bool full);
/* A new agent from a checkpoint; the file is treated as untrusted. */
vksac_status rl_checkpoint_load(vks_ctx *ctx, const char *path, rl_agent **out);

#endif
