/*
 * bench/mlp — the residual MLP of SPEC.md §1 (ReLU², expansion 2, in 17,
 * out 12: the cheetah actor's shape) at hidden 64/256/512, depth 1–3,
 * batch 100 and 256: one forward, and one training step (forward +
 * backward + Adam-atan2 step with regeneration), each a recorded sequence.
 *
 *   build/bench/mlp [--threads N] [--variant V] [--device X]
 *                   [--hidden H] [--depth L] [--batch B]
 *
 * One JSON object per line:
 *   {"bench":"mlp","hidden":256,"depth":2,"batch":256,"pass":"step",
 *    "gflops":..,"us":..,"dispatches":..,"threads":..,"device":".."}
 * "gflops" counts the linear layers' multiply-adds ×2 (forward; a step adds
 * the weight gradients and all input gradients but the first layer's) over
 * the median time of a replay ("us"); norms and the optimiser count no
 * FLOPs but their time does.
 */
#include <stdlib.h>
#include <string.h>

#include "bench_util.h"
#include "nn/mlp.h"

enum { IN = 17, OUT = 12, EXPANSION = 2 };

static void report(const nn_mlp *m, uint32_t batch, const char *pass, double flops, vks_seq *seq)
{
    uint32_t reps;
    int runs;
    double us = bench_time_seq(seq, &reps, &runs);
    printf("{\"bench\":\"mlp\",\"hidden\":%u,\"depth\":%u,\"batch\":%u,\"expansion\":%u,\"in\":%u,\"out\":%u,"
           "\"pass\":\"%s\",\"gflops\":%.2f,\"us\":%.1f,\"dispatches\":%u,\"reps\":%u,\"runs\":%d,"
           "\"threads\":%s,\"device\":%s}\n",
           m->cfg.hidden, m->cfg.depth, batch, m->cfg.expansion, m->cfg.in, m->cfg.out, pass,
           flops / (us * 1e3), us, vks_seq_dispatches(seq), reps, runs, bench.threads, bench.device);
}

static void bench_mlp(uint32_t hidden, uint32_t depth, uint32_t batch, uint64_t *seed)
{
    nn_mlp_config cfg;
    nn_mlp_defaults(&cfg);
    cfg.in = IN;
    cfg.out = OUT;
    cfg.hidden = hidden;
    cfg.depth = depth;
    cfg.expansion = EXPANSION;
    nn_mlp *m = NULL;
    CHECK(nn_mlp_create(bench.ctx, &cfg, &m));
    nn_mlp_ws *ws = NULL;
    CHECK(nn_mlp_ws_create(m, batch, NULL, 0, 0, &ws));
    nn_opt_config oc;
    nn_opt_defaults(&oc);
    nn_optim *opt = NULL;
    CHECK(nn_optim_create(bench.ctx, m->params, &oc, &opt));
    vks_tensor *x = bench_tensor(batch, IN, seed), *dy = bench_tensor(batch, OUT, seed);
    vks_tensor *y = bench_tensor(batch, OUT, seed);

    double fwd = nn_mlp_forward_flops(m, batch);
    vks_seq *seq = NULL;
    CHECK(vks_seq_create(bench.ctx, 0, &seq));
    CHECK(vks_seq_begin(seq));
    CHECK(nn_mlp_forward(seq, m, ws, x, y, true));
    CHECK(vks_seq_end(seq));
    report(m, batch, "forward", fwd, seq);

    CHECK(vks_seq_begin(seq));
    CHECK(nn_mlp_forward(seq, m, ws, x, y, true));
    CHECK(nn_mlp_backward(seq, m, ws, x, dy, NULL, NN_GRADS_WRITE));
    CHECK(nn_optim_step(seq, opt));
    CHECK(vks_seq_end(seq));
    report(m, batch, "step", 3.0 * fwd - 2.0 * batch * IN * hidden, seq);

    vks_seq_destroy(seq);
    vks_tensor_destroy(x), vks_tensor_destroy(dy), vks_tensor_destroy(y);
    nn_optim_destroy(opt);
    nn_mlp_ws_destroy(ws);
    nn_mlp_destroy(m);
}

static void usage(FILE *f)
{
    fprintf(f, "usage: mlp [--threads N] [--variant V] [--device X] [--hidden H] [--depth L] [--batch B]\n");
    bench_ctx_usage(f);
    fprintf(f, "  --hidden H    only this hidden width (default 64, 256, 512)\n"
               "  --depth L     only this depth (default 1, 2, 3)\n"
               "  --batch B     only this batch (default 100, 256)\n");
}

static uint32_t parse_size(const char *flag, const char *v)
{
    char *end;
    unsigned long n = strtoul(v, &end, 10);
    if (*end || end == v || n == 0 || n > 65536) {
        fprintf(stderr, "mlp: %s wants a positive integer, got '%s'\n", flag, v);
        exit(1);
    }
    return (uint32_t)n;
}

int main(int argc, char **argv)
{
    bench.prog = "mlp";
    vksac_context_config config;
    memset(&config, 0, sizeof config);
    uint32_t only[3] = {0, 0, 0};   /* hidden, depth, batch; 0 = all */
    static const char *const flags[3] = {"--hidden", "--depth", "--batch"};
    for (int i = 1; i < argc; i++) {
        int k = 0;
        while (k < 3 && strcmp(argv[i], flags[k]))
            k++;
        if (bench_ctx_arg(argc, argv, &i, &config)) {
            continue;
        } else if (k < 3) {
            only[k] = parse_size(flags[k], bench_need_arg(argc, argv, &i));
        } else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage(stdout);
            return 0;
        } else {
            fprintf(stderr, "mlp: unknown argument '%s'\n", argv[i]);
            usage(stderr);
            return 1;
        }
    }
    bench_open(&config);
    static const uint32_t hiddens[] = {64, 256, 512}, depths[] = {1, 2, 3}, batches[] = {100, 256};
    uint64_t seed = 0x9E3779B97F4A7C15ULL;
    for (size_t h = 0; h < 3; h++)
        for (size_t d = 0; d < 3; d++)
            for (size_t b = 0; b < 2; b++)
                if ((!only[0] || only[0] == hiddens[h]) && (!only[1] || only[1] == depths[d]) &&
                    (!only[2] || only[2] == batches[b]))
                    bench_mlp(hiddens[h], depths[d], batches[b], &seed);
    vks_ctx_destroy(bench.ctx);
    return 0;
}
