/* bench/update [CONFIG...] [--seconds S] [--profile] [--dispatches]
 * [context options]: SAC updates per second for the configurations of
 * BENCH.md (all when none is named), with GFLOP/s of the linear layers and
 * dispatches per update. One update = replay sampling, critic step, actor
 * step, temperature step, target EMA, replayed from the agent's recording.
 * Prints one JSON object per config.
 *
 * --profile: after the timing, the update recorded again with a timestamp
 * after every dispatch (rl_graph_profile), median of 15 runs per dispatch,
 * one "update_profile" line per kernel (sorted by total µs, with its
 * grids); --dispatches also prints every dispatch in order. Timestamps add
 * a little per dispatch, so the sum exceeds ms_per_update slightly. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "bench_util.h"
#include "rl/agent.h"
#include "rl/shards.h"

typedef struct bench_config {
    const char *name;
    uint32_t S, C, D, nd[2], hidden, depth, batch;
} bench_config;

static const bench_config CONFIGS[] = {
    {"small", 3, 1, 0, {0, 0}, 64, 1, 100},
    {"pendulum", 3, 1, 0, {0, 0}, 256, 1, 256},
    {"cheetah", 17, 6, 0, {0, 0}, 256, 2, 256},
    {"hybrid", 5, 2, 2, {5, 5}, 64, 3, 256},
    {"bro", 17, 6, 0, {0, 0}, 512, 2, 256},
};
#define NCONFIGS (sizeof CONFIGS / sizeof *CONFIGS)

static rl_agent *make_agent(const bench_config *b)
{
    vksac_agent_config in = {.dim_state = b->S, .num_cont_actions = b->C, .num_discrete_heads = b->D,
                             .batch_size = b->batch, .replay_capacity = 100000, .seed = 1};
    memcpy(in.num_discrete_actions, b->nd, sizeof b->nd);
    in.actor.dim_hidden = in.critic.dim_hidden = b->hidden;
    in.actor.mlp_depth = in.critic.mlp_depth = b->depth;
    vksac_agent_config c;
    rl_agent *a;
    CHECK(rl_agent_resolve(bench.ctx, "bench/update", &in, &c));
    CHECK(rl_agent_create_sharded(bench.ctx, &c, &a));
    return a;
}

/* 4096 random transitions, so sampling reads a realistic buffer. */
static void fill_replay(rl_agent *a, const bench_config *b)
{
    enum { N = 4096 };
    uint64_t seed = 7;
    float *s = xmalloc(sizeof(float) * N * b->S), *s2 = xmalloc(sizeof(float) * N * b->S);
    float *ac = xmalloc(sizeof(float) * N * (b->C + 1)), *r = xmalloc(sizeof(float) * N);
    int32_t *d = xmalloc(sizeof(int32_t) * N * (b->D + 1));
    uint8_t *done = calloc(N, 1);
    for (size_t i = 0; i < (size_t)N * b->S; i++) {
        s[i] = bench_rnd(&seed);
        s2[i] = bench_rnd(&seed);
    }
    for (size_t i = 0; i < (size_t)N * b->C; i++)
        ac[i] = bench_rnd(&seed);
    for (size_t i = 0; i < N; i++) {
        r[i] = bench_rnd(&seed);
        for (uint32_t h = 0; h < b->D; h++)
            d[i * b->D + h] = (int32_t)(i % b->nd[h]);
    }
    vksac_transitions t = {.n = N, .states = s, .cont_actions = ac, .discrete_actions = d, .rewards = r,
                           .terminated = done, .next_states = s2};
    CHECK(rl_agent_observe(a, &t));
    free(s), free(s2), free(ac), free(r), free(d), free(done);
}

typedef struct kernel_total {
    const char *name;
    uint32_t calls;
    double us;
} kernel_total;

static int by_us(const void *x, const void *y)
{
    double a = ((const kernel_total *)x)->us, b = ((const kernel_total *)y)->us;
    return (a < b) - (a > b);
}

static void profile(rl_agent *a, const bench_config *b, bool each)
{
    rl_dispatch_time *d;
    uint32_t n;
    CHECK(rl_graph_profile(a->graph, true, 15, &d, &n));
    kernel_total *k = xmalloc(sizeof *k * (n + 1));
    uint32_t nk = 0;
    double total = 0.0;
    for (uint32_t i = 0; i < n; i++) {
        total += d[i].us;
        if (each)
            printf("{\"bench\":\"update_dispatch\",\"config\":\"%s\",\"index\":%u,\"kernel\":\"%s\","
                   "\"grid\":[%u,%u,%u],\"us\":%.1f}\n",
                   b->name, i, d[i].info.name, d[i].info.grid[0], d[i].info.grid[1], d[i].info.grid[2], d[i].us);
        uint32_t j = 0;
        while (j < nk && strcmp(k[j].name, d[i].info.name))
            j++;
        if (j == nk)
            k[nk++] = (kernel_total){d[i].info.name, 0, 0.0};
        k[j].calls++;
        k[j].us += d[i].us;
    }
    qsort(k, nk, sizeof *k, by_us);
    for (uint32_t j = 0; j < nk; j++) {
        printf("{\"bench\":\"update_profile\",\"config\":\"%s\",\"kernel\":\"%s\",\"calls\":%u,\"us\":%.1f,"
               "\"share\":%.3f,\"grids\":[",
               b->name, k[j].name, k[j].calls, k[j].us, k[j].us / total);
        /* Distinct grids of this kernel, with calls and µs each. */
        bool first = true;
        for (uint32_t i = 0; i < n; i++) {
            if (strcmp(d[i].info.name, k[j].name))
                continue;
            bool seen = false;
            for (uint32_t h = 0; h < i && !seen; h++)
                seen = !strcmp(d[h].info.name, k[j].name) && !memcmp(d[h].info.grid, d[i].info.grid, sizeof d[i].info.grid);
            if (seen)
                continue;
            uint32_t calls = 0;
            double us = 0.0;
            for (uint32_t h = i; h < n; h++)
                if (!strcmp(d[h].info.name, k[j].name) && !memcmp(d[h].info.grid, d[i].info.grid, sizeof d[i].info.grid)) {
                    calls++;
                    us += d[h].us;
                }
            printf("%s{\"grid\":[%u,%u,%u],\"calls\":%u,\"us\":%.1f}", first ? "" : ",", d[i].info.grid[0],
                   d[i].info.grid[1], d[i].info.grid[2], calls, us);
            first = false;
        }
        printf("]}\n");
    }
    printf("{\"bench\":\"update_profile\",\"config\":\"%s\",\"kernel\":\"total\",\"calls\":%u,\"us\":%.1f}\n",
           b->name, n, total);
    fflush(stdout);
    free(k);
    free(d);
}

static void run(const bench_config *b, double seconds, int prof)
{
    rl_agent *a = make_agent(b);
    fill_replay(a, b);
    CHECK(rl_agent_update(a, 3));   /* warm-up: JIT compiles every pipeline */
    double t0 = now_us();
    CHECK(rl_agent_update(a, 1));
    double one = fmax(now_us() - t0, 1.0);
    uint32_t reps = (uint32_t)fmax(1.0, fmin(1000.0, 0.2e6 / one));
    int runs = 0;
    double per[32], spent = 0.0;
    while (runs < 32 && (runs < 5 || spent < seconds * 1e6)) {
        t0 = now_us();
        CHECK(rl_agent_update(a, reps));
        double us = now_us() - t0;
        spent += us;
        per[runs++] = us / reps;
    }
    double us = median(per, runs);
    uint32_t shards = rl_shards_count(a->shards);
    double flops = rl_graph_flops(a->graph) * shards;   /* a shard's graph holds its share of the batch */
    printf("{\"bench\":\"update\",\"config\":\"%s\",\"threads\":%s,\"shards\":%u,\"device\":%s,\"batch\":%u,"
           "\"hidden\":%u,\"depth\":%u,\"updates_per_s\":%.1f,\"ms_per_update\":%.3f,\"gflops\":%.2f,"
           "\"dispatches\":%u,\"dispatches_critic_only\":%u,\"reps\":%u,\"runs\":%d}\n",
           b->name, bench.threads, shards, bench.device, b->batch, b->hidden, b->depth, 1e6 / us, us / 1e3,
           flops / us / 1e3, rl_graph_dispatches(a->graph, true), rl_graph_dispatches(a->graph, false), reps, runs);
    fflush(stdout);
    if (prof && shards > 1)
        fprintf(stderr, "bench/update: --profile times one shard's kernels alone; run it without --shards\n");
    else if (prof)
        profile(a, b, prof > 1);
    rl_agent_destroy(a);
}

int main(int argc, char **argv)
{
    bench.prog = "bench/update";
    vksac_context_config cfg = {0};
    double seconds = 2.0;
    int prof = 0;
    long batch = 0;   /* 0: each config's own */
    const char *names[NCONFIGS];
    size_t nnames = 0;
    for (int i = 1; i < argc; i++) {
        if (bench_ctx_arg(argc, argv, &i, &cfg))
            continue;
        if (!strcmp(argv[i], "--seconds")) {
            seconds = atof(bench_need_arg(argc, argv, &i));
            continue;
        }
        if (!strcmp(argv[i], "--batch")) {
            batch = bench_int_arg(argc, argv, &i, 1, 65536);
            continue;
        }
        if (!strcmp(argv[i], "--profile") || !strcmp(argv[i], "--dispatches")) {
            prof = prof > 1 || !strcmp(argv[i], "--dispatches") ? 2 : 1;
            continue;
        }
        size_t k = 0;
        while (k < NCONFIGS && strcmp(argv[i], CONFIGS[k].name))
            k++;
        if (k == NCONFIGS || nnames == NCONFIGS) {
            fprintf(stderr, "usage: bench/update [small|pendulum|cheetah|hybrid|bro ...] [--seconds S] [--batch N]\n"
                            "                    [--profile] [--dispatches]\n"
                            "  --batch N     rows per update instead of the config's (BENCH.md)\n");
            bench_ctx_usage(stderr);
            return 2;
        }
        names[nnames++] = argv[i];
    }
    bench_open(&cfg);
    for (size_t k = 0; k < NCONFIGS; k++) {
        bool chosen = nnames == 0;
        for (size_t j = 0; j < nnames; j++)
            chosen |= !strcmp(names[j], CONFIGS[k].name);
        bench_config b = CONFIGS[k];
        if (batch)
            b.batch = (uint32_t)batch;
        if (chosen)
            run(&b, seconds, prof);
    }
    vks_ctx_destroy(bench.ctx);
    return 0;
}
