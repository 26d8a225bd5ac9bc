/* bench/act [--calls N] [context options]: the cost of one vksac_agent_act
 * call through the public C API, sampled, for 1 and 256 states, on an
 * actor of the cheetah configuration (BENCH.md: 17 → 6, 256 wide, 2
 * blocks). bench/act.lua measures the same through Lua; bench/run_act.sh
 * runs both and prints the overhead. One JSON object per batch size. */
#include <stdlib.h>
#include <string.h>

#include "bench_util.h"
#include "vksac.h"

enum { S = 17, C = 6 };

static void fail(vksac_context *ctx, const char *what)
{
    fprintf(stderr, "bench/act: %s: %s\n", what, vksac_error(ctx));
    exit(1);
}

static double time_calls(vksac_context *ctx, vksac_agent *agent, const float *states, uint32_t n, int calls,
                         float *cont, float *lpc)
{
    double best = 1e30;
    for (int run = 0; run < 5; run++) {
        double t0 = now_us();
        for (int i = 0; i < calls; i++)
            if (vksac_agent_act(agent, states, n, 1, cont, NULL, lpc, NULL) != VKSAC_OK)
                fail(ctx, "vksac_agent_act");
        double us = (now_us() - t0) / calls;
        best = us < best ? us : best;
    }
    return best;
}

int main(int argc, char **argv)
{
    vksac_context_config cc = {0};
    int calls = 200;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--calls"))
            calls = atoi(bench_need_arg(argc, argv, &i));
        else if (!bench_ctx_arg(argc, argv, &i, &cc)) {
            fprintf(stderr, "usage: bench/act [--calls N]\n");
            bench_ctx_usage(stderr);
            return 2;
        }
    }
    vksac_context *ctx = NULL;
    if (vksac_context_create(&cc, &ctx) != VKSAC_OK)
        fail(ctx, "vksac_context_create");
    vksac_agent_config ac = {.dim_state = S, .num_cont_actions = C, .batch_size = 256, .replay_capacity = 1024,
                             .seed = 1};
    ac.actor.dim_hidden = ac.critic.dim_hidden = 256;
    ac.actor.mlp_depth = ac.critic.mlp_depth = 2;
    vksac_agent *agent = NULL;
    if (vksac_agent_create(ctx, &ac, &agent) != VKSAC_OK)
        fail(ctx, "vksac_agent_create");
    vksac_device_info dev;
    vksac_context_device(ctx, &dev);
    char name[600];
    bench_device_json(name, sizeof name, &dev);
    const char *lp = getenv("LP_NUM_THREADS");
    static float states[256 * S], cont[256 * C], lpc[256];
    uint64_t seed = 3;
    for (size_t i = 0; i < sizeof states / sizeof *states; i++)
        states[i] = bench_rnd(&seed);
    const uint32_t sizes[] = {1, 256};
    for (int k = 0; k < 2; k++) {
        time_calls(ctx, agent, states, sizes[k], 5, cont, lpc);   /* record and JIT first */
        double us = time_calls(ctx, agent, states, sizes[k], calls, cont, lpc);
        printf("{\"bench\":\"act\",\"via\":\"c\",\"n\":%u,\"us_per_call\":%.2f,\"calls\":%d,\"threads\":\"%s\","
               "\"device\":%s}\n", sizes[k], us, calls, lp ? lp : "default", name);
    }
    vksac_agent_destroy(agent);
    vksac_context_destroy(ctx);
    return 0;
}
