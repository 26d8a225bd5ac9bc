/*
 * Shards: an agent's update split across replicas of it, each on a CPU
 * device of its own that runs kernels on its own thread (docs/sac.md,
 * "Shards"). Each replica updates on its share of the batch; between an
 * update's phases the host averages the replicas' gradients in place, so
 * every replica takes the same optimiser steps and they stay identical.
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
/* n updates on every replica; returns once all are done. */
vksac_status rl_shards_run(rl_shards *s, uint32_t n);
/* Replicas, counting replica 0 (the agent); replica i for i ≥ 1. */
uint32_t rl_shards_count(const rl_shards *s);
rl_agent *rl_shards_replica(rl_shards *s, uint32_t i);
/* Stops the threads and destroys the replicas (not replica 0). */
void rl_shards_destroy(rl_shards *s);

#endif
