/* The sharded update (shards.h): one host thread per replica, each
 * submitting its replica's phases and waiting for them, meeting the others
 * at a barrier after each phase to average the gradients in place, or to
 * copy the part of the parameters its replica stepped to the others. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "rl/shards.h"

/* A barrier that spins a little before it sleeps. After the averaging the
 * threads arrive within microseconds of each other, where a futex wake-up
 * costs tens of them: with pthread_barrier_wait `small`'s update took
 * 2.77-2.78 ms, with this 2.49-2.56 (two shards, lavapipe 22.3, medians
 * of interleaved runs). After a phase one may wait long for another, and
 * then sleeps. The spin only occupies a core whose replica has finished
 * its phase. */
typedef struct spin_barrier {
    atomic_uint count, generation;
    atomic_bool failing;   /* some arrival of this generation failed */
    atomic_bool failed;    /* the last generation's verdict */
    uint32_t n;
    pthread_mutex_t lock;
    pthread_cond_t wake;
} spin_barrier;

enum { SPINS = 4000 };   /* ~50 µs of pause instructions */

/* Waits for all n threads; returns whether any of them arrived failed, the
 * same answer to each (the verdict is kept until every thread has read it:
 * the next generation ends only after all have arrived again). */
static bool spin_barrier_wait(spin_barrier *b, bool failed)
{
    unsigned g = atomic_load(&b->generation);
    if (failed)
        atomic_store(&b->failing, true);
    if (atomic_fetch_add(&b->count, 1) + 1 == b->n) {
        atomic_store(&b->failed, atomic_exchange(&b->failing, false));
        atomic_store(&b->count, 0);
        pthread_mutex_lock(&b->lock);
        atomic_fetch_add(&b->generation, 1);
        pthread_cond_broadcast(&b->wake);
        pthread_mutex_unlock(&b->lock);
        return atomic_load(&b->failed);
    }
    for (int i = 0; i < SPINS && atomic_load(&b->generation) == g; i++) {
#if defined(__x86_64__) || defined(__i386__)
        __builtin_ia32_pause();
#endif
    }
    if (atomic_load(&b->generation) == g) {
        pthread_mutex_lock(&b->lock);
        while (atomic_load(&b->generation) == g)
            pthread_cond_wait(&b->wake, &b->lock);
        pthread_mutex_unlock(&b->lock);
    }
    return atomic_load(&b->failed);
}

struct rl_shards {
    uint32_t count;
    rl_agent *agent[VKS_MAX_SHARDS];   /* [0]: the caller's agent, not owned */
    vks_ctx *ctx[VKS_MAX_SHARDS];      /* the replicas' contexts ([0] unused) */
    pthread_t thread[VKS_MAX_SHARDS];
    uint32_t threads;                  /* started: replicas 1 .. threads */
    spin_barrier barrier;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    bool sync_ready;
    uint64_t job;                      /* bumped by each rl_shards_run */
    uint32_t n;                        /* updates of the job */
    uint64_t base;                     /* the replicas' update count before it */
    bool quit;
    bool broken;                       /* a replica failed where the others did not */
    vksac_status status[VKS_MAX_SHARDS];
    struct shard_thread {
        struct rl_shards *s;
        uint32_t i;
    } arg[VKS_MAX_SHARDS];
};

/* st, with replica r's error told on replica 0's context ("fn: shard r of
 * n: …"), where the caller looks; replica 0's own errors are there. */
static vksac_status replica_error(rl_shards *s, uint32_t r, vksac_status st, const char *fn)
{
    if (st == VKSAC_OK || r == 0)
        return st;
    return vks_fail(s->agent[0]->ctx, st, "%s: shard %u of %u: %s", fn, r, s->count, vks_ctx_error(s->ctx[r]));
}

/* Floats e .. e+n-1 of the n replicas' gradients g[r] become their mean.
 * All loads come before the stores: the replicas' buffers lie at the same
 * offsets modulo 4 KiB, and a load after a store to the other replica's
 * same offset waited on it (4K aliasing): an element at a time, pendulum's
 * averaging took 5.3 ms of an update, 13 ns per float. */
enum { AVERAGE_BLOCK = 1024 };

static void average_block(float *const *g, uint32_t count, uint64_t e, uint64_t n, float inv)
{
    float sum[AVERAGE_BLOCK];
    memcpy(sum, g[0] + e, n * sizeof *sum);
    for (uint32_t r = 1; r < count; r++)
        for (uint64_t k = 0; k < n; k++)
            sum[k] += g[r][e + k];
    for (uint64_t k = 0; k < n; k++)
        sum[k] *= inv;
    for (uint32_t r = 0; r < count; r++)
        memcpy(g[r] + e, sum, n * sizeof *sum);
}

/* Replica i's part of every gradient the phase ends with: each element
 * becomes the mean over the replicas, summed in replica order, so each
 * replica gets the same float (for two, (a + b)·0.5 exactly). Returns the
 * number of parameter sets (0 after a phase that ends with none). */
static uint32_t average(rl_shards *s, uint32_t i, bool actor, uint32_t k)
{
    nn_params *p[VKS_MAX_SHARDS][2];
    uint32_t sets = 0;
    for (uint32_t r = 0; r < s->count; r++)
        sets = rl_graph_phase_grads(s->agent[r]->graph, actor, k, p[r]);
    float inv = 1.0f / (float)s->count;
    for (uint32_t j = 0; j < sets; j++) {
        float *g[VKS_MAX_SHARDS];
        for (uint32_t r = 0; r < s->count; r++)
            g[r] = vks_tensor_host_ptr(p[r][j]->flat[NN_GRAD]);
        const vks_tensor *flat = p[0][j]->flat[NN_GRAD];
        uint64_t len = (uint64_t)vks_tensor_rows(flat) * vks_tensor_stride(flat);
        uint64_t lo = len * i / s->count, hi = len * (i + 1) / s->count;
        for (uint64_t e = lo; e < hi; e += AVERAGE_BLOCK)
            average_block(g, s->count, e, hi - e < AVERAGE_BLOCK ? hi - e : AVERAGE_BLOCK, inv);
    }
    return sets;
}

/* The part of every parameter set the phase stepped by parts
 * (rl_graph_phase_parts) that replica i stepped: copied from replica i to
 * the others, so that all hold the same floats again. Returns the number
 * of sets (0 after a phase that steps none). */
static uint32_t copy_parts(rl_shards *s, uint32_t i, bool actor, uint32_t k)
{
    rl_part_set p[VKS_MAX_SHARDS][RL_MAX_PART_SETS];
    uint32_t sets = 0, part = rl_graph_shard(s->agent[i]->graph);
    for (uint32_t r = 0; r < s->count; r++)
        sets = rl_graph_phase_parts(s->agent[r]->graph, actor, k, p[r]);
    for (uint32_t j = 0; j < sets; j++) {
        uint64_t lo, hi;
        nn_params_part(p[i][j].p, part, s->count, &lo, &hi);
        for (int b = 0; b < NN_BUFS; b++) {
            if (!(p[i][j].bufs >> b & 1u))
                continue;
            const float *from = vks_tensor_host_ptr(p[i][j].p->flat[b]);
            for (uint32_t r = 0; r < s->count; r++)
                if (r != i)
                    memcpy((float *)vks_tensor_host_ptr(p[r][j].p->flat[b]) + lo, from + lo,
                           (size_t)(hi - lo) * sizeof *from);
        }
    }
    return sets;
}

/* Replica i's part of the job; *done: the updates it finished. Every
 * replica meets the same barriers in the same order (the phases follow
 * the shared update count, not the replica's), and after a failure all
 * leave at the same one, so all finish the same updates. */
static vksac_status run_updates(rl_shards *s, uint32_t i, uint32_t *done)
{
    rl_agent *a = s->agent[i];
    for (*done = 0; *done < s->n; ++*done) {
        bool actor = rl_graph_actor_step(a, s->base + *done);
        for (uint32_t k = 0; k < rl_graph_phases(a->graph, actor); k++) {
            vksac_status st = vks_seq_run(rl_graph_phase(a->graph, actor, k), 1);
            if (spin_barrier_wait(&s->barrier, st != VKSAC_OK))
                return st;   /* OK when another replica failed: rl_shards_run reports that one */
            if (average(s, i, actor, k) + copy_parts(s, i, actor, k))
                spin_barrier_wait(&s->barrier, false);
        }
    }
    return VKSAC_OK;
}

static void *worker(void *arg)
{
    rl_shards *s = ((struct shard_thread *)arg)->s;
    uint32_t i = ((struct shard_thread *)arg)->i;
    uint64_t seen = 0;
    for (;;) {
        pthread_mutex_lock(&s->lock);
        while (s->job == seen && !s->quit)
            pthread_cond_wait(&s->wake, &s->lock);
        bool quit = s->quit;
        seen = s->job;
        pthread_mutex_unlock(&s->lock);
        if (quit)
            return NULL;
        uint32_t done;
        s->status[i] = run_updates(s, i, &done);
        spin_barrier_wait(&s->barrier, false);   /* the job's end */
    }
}

vksac_status rl_shards_run(rl_shards *s, uint32_t n)
{
    rl_agent *a = s->agent[0];
    VKS_TRY(rl_shards_usable(s, "vksac_agent_update"));
    pthread_mutex_lock(&s->lock);
    s->n = n;
    s->base = a->updates;
    s->job++;
    pthread_cond_broadcast(&s->wake);
    pthread_mutex_unlock(&s->lock);
    uint32_t done;
    s->status[0] = run_updates(s, 0, &done);
    spin_barrier_wait(&s->barrier, false);
    for (uint32_t r = 0; r < s->count; r++)
        s->agent[r]->updates = s->base + done;
    /* A phase that failed on one replica may have run on the others. */
    if (s->status[0] != VKSAC_OK) {
        s->broken = true;
        return s->status[0];
    }
    for (uint32_t i = 1; i < s->count; i++)
        if (s->status[i] != VKSAC_OK)
            return rl_shards_failed(s, i, s->status[i], "vksac_agent_update");
    return VKSAC_OK;
}

vksac_status rl_shards_usable(rl_shards *s, const char *fn)
{
    if (!s || !s->broken)
        return VKSAC_OK;
    return vks_fail(s->agent[0]->ctx, VKSAC_E_STATE, "%s: the agent's shards may differ since one of them failed "
                    "(see the error then); load a checkpoint to go on", fn);
}

vksac_status rl_shards_failed(rl_shards *s, uint32_t i, vksac_status st, const char *fn)
{
    s->broken = true;
    return replica_error(s, i, st, fn);
}

uint32_t rl_shards_count(const rl_shards *s) { return s ? s->count : 1; }
rl_agent *rl_shards_replica(rl_shards *s, uint32_t i) { return s->agent[i]; }

void rl_shards_destroy(rl_shards *s)
{
    if (!s)
        return;
    if (s->sync_ready) {
        pthread_mutex_lock(&s->lock);
        s->quit = true;
        pthread_cond_broadcast(&s->wake);
        pthread_mutex_unlock(&s->lock);
        for (uint32_t i = 1; i <= s->threads; i++)
            pthread_join(s->thread[i], NULL);
        pthread_cond_destroy(&s->barrier.wake);
        pthread_mutex_destroy(&s->barrier.lock);
        pthread_cond_destroy(&s->wake);
        pthread_mutex_destroy(&s->lock);
    }
    for (uint32_t r = 1; r < s->count; r++) {
        rl_agent_destroy(s->agent[r]);
        vks_ctx_destroy(s->ctx[r]);
    }
    free(s);
}

/* The replicas and every replica's sharded graph. Their gradients are
 * mapped memory: vks_ctx_shards is 1 on devices whose memory is not. */
static vksac_status replicas(rl_shards *s, rl_agent *a, rl_replica_fn make, void *arg)
{
    uint32_t S = s->count, B = a->cfg.batch_size;
    for (uint32_t r = 1; r < S; r++) {
        VKS_TRY(vks_ctx_create_replica(a->ctx, &s->ctx[r]));
        VKS_TRY(replica_error(s, r, make(s->ctx[r], arg, &s->agent[r]), "cpu_shards"));
    }
    for (uint32_t r = 0; r < S; r++) {
        rl_agent *ra = s->agent[r];
        rl_graph_destroy(ra->graph);
        ra->graph = NULL;
        VKS_TRY(replica_error(s, r, rl_graph_create_shard(ra, B / S, true, r, S, r, &ra->graph), "cpu_shards"));
    }
    return VKSAC_OK;
}

static vksac_status start(rl_shards *s)
{
    if (pthread_mutex_init(&s->lock, NULL))
        return VKSAC_E_OOM;
    if (pthread_cond_init(&s->wake, NULL))
        goto no_wake;
    if (pthread_mutex_init(&s->barrier.lock, NULL))
        goto no_barrier_lock;
    if (pthread_cond_init(&s->barrier.wake, NULL))
        goto no_barrier_wake;
    s->barrier.n = s->count;
    s->sync_ready = true;   /* from here rl_shards_destroy undoes it all */
    for (uint32_t i = 1; i < s->count; i++) {
        s->arg[i] = (struct shard_thread){s, i};
        if (pthread_create(&s->thread[i], NULL, worker, &s->arg[i]))
            return VKSAC_E_OOM;
        s->threads = i;
    }
    return VKSAC_OK;
no_barrier_wake:
    pthread_mutex_destroy(&s->barrier.lock);
no_barrier_lock:
    pthread_cond_destroy(&s->wake);
no_wake:
    pthread_mutex_destroy(&s->lock);
    return VKSAC_E_OOM;
}

vksac_status rl_agent_shard(rl_agent *a, rl_replica_fn make, void *arg)
{
    uint32_t S = vks_ctx_shards(a->ctx);
    if (S <= 1)
        return VKSAC_OK;
    if (a->cfg.batch_size % S) {
        /* Lua's Actor and Critic objects, for one, are agents of batch 1. */
        vks_log(a->ctx, VKSAC_LOG_INFO, "an agent of batch_size %u runs unsharded: not a multiple of the "
                "context's cpu_shards %u", a->cfg.batch_size, S);
        return VKSAC_OK;
    }
    rl_shards *s = calloc(1, sizeof *s);
    if (!s)
        return vks_fail(a->ctx, VKSAC_E_OOM, "out of host memory for shards");
    s->count = S;
    s->agent[0] = a;
    vksac_status st = replicas(s, a, make, arg);
    if (st == VKSAC_OK && (st = start(s)) != VKSAC_OK)
        vks_fail(a->ctx, st, "cpu_shards: could not start the shards' threads");
    if (st != VKSAC_OK) {   /* the caller destroys a, whose graph may be a shard's now */
        rl_shards_destroy(s);
        return st;
    }
    a->shards = s;
    return VKSAC_OK;
}

static vksac_status replica_from_config(vks_ctx *ctx, void *cfg, rl_agent **out)
{
    return rl_agent_create(ctx, cfg, out);
}

vksac_status rl_agent_create_sharded(vks_ctx *ctx, const vksac_agent_config *cfg, rl_agent **out)
{
    VKS_TRY(rl_agent_create(ctx, cfg, out));
    vksac_status st = rl_agent_shard(*out, replica_from_config, (void *)cfg);
    if (st != VKSAC_OK) {
        rl_agent_destroy(*out);
        *out = NULL;
    }
    return st;
}
