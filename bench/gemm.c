/*
 * bench/gemm — GFLOP/s of the three GEMM forms, and the cost of a submit and
 * of one extra dispatch in a recorded sequence.
 *
 *   build/bench/gemm [--threads N] [--variant blocked|tiled|auto]
 *                    [--device X] [--form forward|dx|dw|all] [--quick]
 *
 * Prints one JSON object per line on stdout and nothing else:
 *   {"bench":"gemm","form":"forward","m":256,"k":512,"n":256,"threads":2,
 *    "variant":"blocked","gflops":..,"us":..,"reps":..,"runs":..,"device":".."}
 *   {"bench":"dispatch","threads":2,"submit_us":..,"per_dispatch_us":..,"device":".."}
 * Each case records one GEMM and replays it "reps" times per submit (sized
 * so a run takes ~20 ms); "us" is the median run time divided by "reps"
 * (FLOPs = 2·M·N·K), over "runs" runs after warm-up; "threads" is
 * the LP_NUM_THREADS in effect after the context was created, or "default"
 * when it is unset (lavapipe then uses one worker per CPU). Errors go to
 * stderr and exit with status 1.
 */
#include <stdlib.h>
#include <string.h>

#include "bench_util.h"

enum { FORM_FWD, FORM_DX, FORM_DW, FORM_COUNT };
static const char *const form_names[FORM_COUNT] = {"forward", "dx", "dw"};

static void bench_gemm(int form, uint32_t m, uint32_t k, uint32_t n, uint64_t *seed)
{
    /* Operands: forward Y(M×N) = X(M×K)·Wᵀ, W N×K; dx dX(M×K) = dY(M×N)·W;
     * dw dW(N×K) = dYᵀ·X. */
    vks_tensor *out, *a, *b;
    switch (form) {
    case FORM_FWD:
        out = bench_tensor(m, n, seed), a = bench_tensor(m, k, seed), b = bench_tensor(n, k, seed);
        break;
    case FORM_DX:
        out = bench_tensor(m, k, seed), a = bench_tensor(m, n, seed), b = bench_tensor(n, k, seed);
        break;
    default:
        out = bench_tensor(n, k, seed), a = bench_tensor(m, n, seed), b = bench_tensor(m, k, seed);
        break;
    }

    const double flops = 2.0 * m * n * k;
    vks_seq *seq = NULL;
    CHECK(vks_seq_create(bench.ctx, 0, &seq));
    CHECK(vks_seq_begin(seq));
    switch (form) {
    case FORM_FWD: CHECK(vks_gemm_fwd(seq, out, a, b, NULL, VKS_ACT_NONE)); break;
    case FORM_DX: CHECK(vks_gemm_dx(seq, out, a, b, 0)); break;
    default: CHECK(vks_gemm_dw(seq, out, a, b, 0)); break;
    }
    CHECK(vks_seq_end(seq));

    uint32_t reps;
    int runs;
    double us = bench_time_seq(seq, &reps, &runs);
    int variant = vks_ctx_gemm_variant(bench.ctx);

    printf("{\"bench\":\"gemm\",\"form\":\"%s\",\"m\":%u,\"k\":%u,\"n\":%u,\"threads\":%s,"
           "\"variant\":\"%s\",\"gflops\":%.2f,\"us\":%.2f,\"reps\":%u,\"runs\":%d,\"device\":%s}\n",
           form_names[form], m, k, n, bench.threads,
           variant == 2 ? "tiled" : variant == 1 ? "blocked" : "unknown", flops / (us * 1e3), us,
           reps, runs, bench.device);

    vks_seq_destroy(seq);
    vks_tensor_destroy(out);
    vks_tensor_destroy(a);
    vks_tensor_destroy(b);
}

/* Submit cost: a recording with one tiny fill. Dispatch cost: 101 tiny
 * independent fills (different tensors, so no barriers) against 1. */
static void bench_dispatch(void)
{
    enum { NT = 101, RUNS = 151, WARM = 20 };
    vks_tensor *t[NT];
    for (int i = 0; i < NT; i++) CHECK(vks_tensor_create(bench.ctx, 1, 4, &t[i]));

    vks_seq *one = NULL, *many = NULL;
    CHECK(vks_seq_create(bench.ctx, 0, &one));
    CHECK(vks_seq_begin(one));
    CHECK(vks_fill(one, t[0], 1.0f));
    CHECK(vks_seq_end(one));
    CHECK(vks_seq_create(bench.ctx, 0, &many));
    CHECK(vks_seq_begin(many));
    for (int i = 0; i < NT; i++) CHECK(vks_fill(many, t[i], (float)i));
    CHECK(vks_seq_end(many));

    for (int i = 0; i < WARM; i++) {
        bench_time_run(one, 1);
        bench_time_run(many, 1);
    }
    /* Interleaved, so drift on a shared machine hits both alike. */
    double t1[RUNS], tn[RUNS];
    for (int i = 0; i < RUNS; i++) {
        t1[i] = bench_time_run(one, 1);
        tn[i] = bench_time_run(many, 1);
    }
    double submit = median(t1, RUNS), full = median(tn, RUNS);

    printf("{\"bench\":\"dispatch\",\"threads\":%s,\"submit_us\":%.2f,\"per_dispatch_us\":%.3f,"
           "\"dispatches\":%u,\"device\":%s}\n",
           bench.threads, submit, (full - submit) / (NT - 1), vks_seq_dispatches(many), bench.device);

    vks_seq_destroy(one);
    vks_seq_destroy(many);
    for (int i = 0; i < NT; i++) vks_tensor_destroy(t[i]);
}

static void usage(FILE *f)
{
    fprintf(f, "usage: gemm [--threads N] [--variant blocked|tiled|auto] [--device X]\n"
               "            [--form forward|dx|dw|all] [--quick]\n");
    bench_ctx_usage(f);
    fprintf(f, "  --form F      only this GEMM form (default all)\n"
               "  --quick       skip the 2048x2048x2048 case\n");
}

int main(int argc, char **argv)
{
    bench.prog = "gemm";
    vksac_context_config config;
    memset(&config, 0, sizeof config);
    int quick = 0, only_form = -1;

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (bench_ctx_arg(argc, argv, &i, &config)) {
            continue;
        } else if (!strcmp(a, "--form")) {
            const char *v = bench_need_arg(argc, argv, &i);
            only_form = -2;
            for (int f = 0; f < FORM_COUNT; f++)
                if (!strcmp(v, form_names[f])) only_form = f;
            if (!strcmp(v, "all")) only_form = -1;
            if (only_form == -2) {
                fprintf(stderr, "gemm: --form wants forward, dx, dw or all, got '%s'\n", v);
                return 1;
            }
        } else if (!strcmp(a, "--quick")) {
            quick = 1;
        } else if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return 0;
        } else {
            fprintf(stderr, "gemm: unknown argument '%s'\n", a);
            usage(stderr);
            return 1;
        }
    }

    bench_open(&config);

    static const uint32_t shapes[][3] = {
        {256, 512, 256}, {256, 256, 512}, {512, 256, 256},
        {256, 17, 256},  {100, 64, 64},   {256, 64, 128}, {256, 128, 64},
        {2048, 2048, 2048},
    };
    uint64_t seed = 0x9E3779B97F4A7C15ULL;
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        if (quick && shapes[s][0] >= 2048) continue;
        for (int f = 0; f < FORM_COUNT; f++)
            if (only_form < 0 || only_form == f)
                bench_gemm(f, shapes[s][0], shapes[s][1], shapes[s][2], &seed);
    }
    bench_dispatch();

    vks_ctx_destroy(bench.ctx);
    return 0;
}
