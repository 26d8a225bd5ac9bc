/*
 * Shards: an agent's update split across replicas of it, each on a CPU
 * device of its own that runs kernels on its own thread (docs/sac.md,
 * "Shards"). Each replica updates on its share of the batch; between an
 * update's phases the host averages the replicas' gradients in place, each
 * replica steps its part of the parameters and the host copies the parts
 * to the others, so they stay identical.
 * The agent the caller holds is replica 0: it acts, saves and reports;
 * what changes an agent's state (observing, updates) reaches them all.
 */
#ifndef VKSAC_RL_SHARDS_H
#define VKSAC_RL_SHARDS_H

#include "rl/agent.h"

typedef struct rl_shards rl_shards;

/* Builds one replica on ctx exactly as the agent was built (from the same
 * config, or the same checkpoint), so that all start identical. */
typedef vksac_status (*rl_replica_fn)(vks_ctx *ctx, void *arg, rl_agent **out);

/* Gives a the replicas its context asks for (vks_ctx_shards; none when 1,
 * or when batch_size is not a multiple of it): makes them with `make`,
 * records every replica's update at batch_size / shards rows and starts a
 * thread per extra replica. On failure destroy a: its graph may be a
 * shard's. */
vksac_status rl_agent_shard(rl_agent *a, rl_replica_fn make, void *arg);
/* rl_agent_create plus the replicas ctx asks for: how the public API
 * creates agents (rl_checkpoint_load shards the agents it loads). */
vksac_status rl_agent_create_sharded(vks_ctx *ctx, const vksac_agent_config *cfg, rl_agent **out);
/* n updates on every replica; returns once all are done. */
vksac_status rl_shards_run(rl_shards *s, uint32_t n);
/* E_STATE (naming fn) once a replica failed where others did not, so
 * that they may differ: the agent then must not observe or update. */
vksac_status rl_shards_usable(rl_shards *s, const char *fn);
/* Marks s so, and returns st with replica i's error, naming fn. */
vksac_status rl_shards_failed(rl_shards *s, uint32_t i, vksac_status st, const char *fn);
/* Replicas, counting replica 0 (the agent); replica i for i ≥ 1. */
uint32_t rl_shards_count(const rl_shards *s);
rl_agent *rl_shards_replica(rl_shards *s, uint32_t i);
/* Stops the threads and destroys the replicas (not replica 0). */
void rl_shards_destroy(rl_shards *s);

#endif
