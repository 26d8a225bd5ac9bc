/* Saving and loading agents as safetensors files (docs/checkpoint.md). */
#ifndef VKSAC_RL_CHECKPOINT_H
#define VKSAC_RL_CHECKPOINT_H

#include "rl/agent.h"

/* full: everything to resume training; otherwise the actor and its
 * normaliser (a policy export). Written atomically. */
vksac_status rl_checkpoint_save(rl_agent *a, const char *path, bool full);
/* A full checkpoint with vksac_agent_save_with's options (NULL: none):
 * the replay buffer and the caller's metadata string, in the same file. */
vksac_status rl_checkpoint_save_with(rl_agent *a, const char *path, const vksac_save_options *options);
/* A new agent from a checkpoint; the file is treated as untrusted. A
 * replay buffer in it is restored; its caller's metadata goes to
 * (*out)->metadata. */
vksac_status rl_checkpoint_load(vks_ctx *ctx, const char *path, rl_agent **out);

#endif
