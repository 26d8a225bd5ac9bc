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
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "vk/runtime.h"

enum { FORM_FWD, FORM_DX, FORM_DW, FORM_COUNT };
static const char *const form_names[FORM_COUNT] = {"forward", "dx", "dw"};

static vks_ctx *g_ctx;
static char g_threads[64];  /* JSON value of the "threads" field */
static char g_device[600];  /* JSON string of the device name, quotes included */

static void fail(const char *what, vksac_status st)
{
    fprintf(stderr, "gemm: %s failed: %s: %s\n", what, vksac_status_name(st),
            g_ctx ? vks_ctx_error(g_ctx) : "(no context)");
    exit(1);
}

#define CHECK(call)                                  \
    do {                                             \
        vksac_status st_ = (call);                   \
        if (st_ != VKSAC_OK) fail(#call, st_);       \
    } while (0)

static void *xmalloc(size_t n)
{
    void *p = malloc(n);
    if (!p) {
        fprintf(stderr, "gemm: out of host memory (%zu bytes)\n", n);
        exit(1);
    }
    return p;
}

static double now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec * 1e-3;
}

static double time_run(vks_seq *seq, uint32_t repeats)
{
    double t0 = now_us();
    CHECK(vks_seq_run(seq, repeats));
    return now_us() - t0;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/* xorshift64*: deterministic operands in [-1, 1). */
static float rnd(uint64_t *s)
{
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    uint64_t r = *s * 0x2545F4914F6CDD1DULL;
    return (float)((double)(r >> 40) / (double)(1ULL << 24) * 2.0 - 1.0);
}

static vks_tensor *make_tensor(uint32_t rows, uint32_t cols, uint64_t *seed)
{
    vks_tensor *t = NULL;
    CHECK(vks_tensor_create(g_ctx, rows, cols, &t));
    size_t n = (size_t)rows * cols;
    float *h = xmalloc(n * sizeof *h);
    for (size_t i = 0; i < n; i++) h[i] = rnd(seed);
    CHECK(vks_tensor_write(t, h));
    free(h);
    return t;
}

/* Writes s as a JSON string (with quotes) into out. */
static void json_string(char *out, size_t size, const char *s)
{
    size_t j = 0;
    out[j++] = '"';
    for (; *s && j + 8 < size; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            out[j++] = '\\';
            out[j++] = (char)c;
        } else if (c < 0x20) {
            j += (size_t)snprintf(out + j, size - j, "\\u%04x", c);
        } else {
            out[j++] = (char)c;
        }
    }
    out[j++] = '"';
    out[j] = '\0';
}

static void bench_gemm(int form, uint32_t m, uint32_t k, uint32_t n, uint64_t *seed)
{
    /* Operands: forward Y(M×N) = X(M×K)·Wᵀ, W N×K; dx dX(M×K) = dY(M×N)·W;
     * dw dW(N×K) = dYᵀ·X. */
    vks_tensor *out, *a, *b;
    switch (form) {
    case FORM_FWD:
        out = make_tensor(m, n, seed), a = make_tensor(m, k, seed), b = make_tensor(n, k, seed);
        break;
    case FORM_DX:
        out = make_tensor(m, k, seed), a = make_tensor(m, n, seed), b = make_tensor(n, k, seed);
        break;
    default:
        out = make_tensor(n, k, seed), a = make_tensor(m, n, seed), b = make_tensor(m, k, seed);
        break;
    }

    const double flops = 2.0 * m * n * k;
    vks_seq *seq = NULL;
    CHECK(vks_seq_create(g_ctx, 0, &seq));
    CHECK(vks_seq_begin(seq));
    switch (form) {
    case FORM_FWD: CHECK(vks_gemm_fwd(seq, out, a, b, NULL, VKS_ACT_NONE)); break;
    case FORM_DX: CHECK(vks_gemm_dx(seq, out, a, b, 0)); break;
    default: CHECK(vks_gemm_dw(seq, out, a, b, 0)); break;
    }
    CHECK(vks_seq_end(seq));

    /* The first run compiles the pipeline (JIT on lavapipe); the second
     * sizes the runs: enough back-to-back replays in one submit that a run
     * takes ~20 ms, so the submit and fence wait are a small share. */
    time_run(seq, 1);
    double t1 = time_run(seq, 1);
    uint32_t reps = t1 * 256 <= 20e3 ? 256 : t1 >= 20e3 ? 1 : (uint32_t)(20e3 / t1);
    const int big = t1 >= 100e3;
    if (reps > 1) time_run(seq, reps);

    /* Timed runs: at least 5 (3 when one GEMM takes over 0.1 s), until
     * ~0.25 s is spent, at most 21. */
    enum { MAX_RUNS = 21 };
    const int min_runs = big ? 3 : 5;
    double times[MAX_RUNS], spent = 0;
    int runs = 0;
    if (big) /* already warm: the sizing run counts */
        spent = times[runs++] = t1;
    while (runs < MAX_RUNS && (runs < min_runs || spent < 250e3)) {
        times[runs] = time_run(seq, reps);
        spent += times[runs++];
    }
    double us = median(times, runs) / reps;
    int variant = vks_ctx_gemm_variant(g_ctx);

    printf("{\"bench\":\"gemm\",\"form\":\"%s\",\"m\":%u,\"k\":%u,\"n\":%u,\"threads\":%s,"
           "\"variant\":\"%s\",\"gflops\":%.2f,\"us\":%.2f,\"reps\":%u,\"runs\":%d,\"device\":%s}\n",
           form_names[form], m, k, n, g_threads,
           variant == 2 ? "tiled" : variant == 1 ? "blocked" : "unknown", flops / (us * 1e3), us,
           reps, runs, g_device);

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
    for (int i = 0; i < NT; i++) CHECK(vks_tensor_create(g_ctx, 1, 4, &t[i]));

    vks_seq *one = NULL, *many = NULL;
    CHECK(vks_seq_create(g_ctx, 0, &one));
    CHECK(vks_seq_begin(one));
    CHECK(vks_fill(one, t[0], 1.0f));
    CHECK(vks_seq_end(one));
    CHECK(vks_seq_create(g_ctx, 0, &many));
    CHECK(vks_seq_begin(many));
    for (int i = 0; i < NT; i++) CHECK(vks_fill(many, t[i], (float)i));
    CHECK(vks_seq_end(many));

    for (int i = 0; i < WARM; i++) {
        time_run(one, 1);
        time_run(many, 1);
    }
    /* Interleaved, so drift on a shared machine hits both alike. */
    double t1[RUNS], tn[RUNS];
    for (int i = 0; i < RUNS; i++) {
        t1[i] = time_run(one, 1);
        tn[i] = time_run(many, 1);
    }
    double submit = median(t1, RUNS), full = median(tn, RUNS);

    printf("{\"bench\":\"dispatch\",\"threads\":%s,\"submit_us\":%.2f,\"per_dispatch_us\":%.3f,"
           "\"dispatches\":%u,\"device\":%s}\n",
           g_threads, submit, (full - submit) / (NT - 1), vks_seq_dispatches(many), g_device);

    vks_seq_destroy(one);
    vks_seq_destroy(many);
    for (int i = 0; i < NT; i++) vks_tensor_destroy(t[i]);
}

static void usage(FILE *f)
{
    fprintf(f,
            "usage: gemm [--threads N] [--variant blocked|tiled|auto] [--device X]\n"
            "            [--form forward|dx|dw|all] [--quick]\n"
            "  --threads N   lavapipe worker threads (config.cpu_threads): 0 default,\n"
            "                -1 run on the queue thread (LP_NUM_THREADS=0), N>0 workers;\n"
            "                an LP_NUM_THREADS already in the environment wins\n"
            "  --variant V   GEMM kernels: blocked (1), tiled (2), auto (chosen per device)\n"
            "  --device X    device index or name substring (default: VKSAC_DEVICE, else\n"
            "                the preferred device)\n"
            "  --form F      only this GEMM form (default all)\n"
            "  --quick       skip the 2048x2048x2048 case\n");
}

static const char *need_arg(int argc, char **argv, int *i)
{
    if (*i + 1 >= argc) {
        fprintf(stderr, "gemm: %s needs a value\n", argv[*i]);
        usage(stderr);
        exit(1);
    }
    return argv[++*i];
}

int main(int argc, char **argv)
{
    vksac_context_config config;
    memset(&config, 0, sizeof config);
    int quick = 0, only_form = -1;

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--threads")) {
            const char *v = need_arg(argc, argv, &i);
            char *end;
            errno = 0;
            long t = strtol(v, &end, 10);
            if (errno || *end || end == v || t < -1 || t > 1024) {
                fprintf(stderr, "gemm: --threads wants an integer >= -1, got '%s'\n", v);
                return 1;
            }
            config.cpu_threads = (int)t;
        } else if (!strcmp(a, "--variant")) {
            const char *v = need_arg(argc, argv, &i);
            if (!strcmp(v, "blocked") || !strcmp(v, "1")) config.gemm_variant = 1;
            else if (!strcmp(v, "tiled") || !strcmp(v, "2")) config.gemm_variant = 2;
            else if (!strcmp(v, "auto") || !strcmp(v, "0")) config.gemm_variant = 0;
            else {
                fprintf(stderr, "gemm: --variant wants blocked, tiled or auto, got '%s'\n", v);
                return 1;
            }
        } else if (!strcmp(a, "--device")) {
            config.device = need_arg(argc, argv, &i);
        } else if (!strcmp(a, "--form")) {
            const char *v = need_arg(argc, argv, &i);
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

    vksac_status st = vks_ctx_create(&config, &g_ctx);
    if (st != VKSAC_OK) fail("vks_ctx_create", st);

    const char *lp = getenv("LP_NUM_THREADS");
    if (lp && *lp) {
        char *end;
        errno = 0;
        long v = strtol(lp, &end, 10);
        if (!errno && !*end) snprintf(g_threads, sizeof g_threads, "%ld", v);
        else json_string(g_threads, sizeof g_threads, lp);
    } else {
        snprintf(g_threads, sizeof g_threads, "\"default\"");
    }
    vksac_device_info info;
    CHECK(vks_ctx_device(g_ctx, &info));
    json_string(g_device, sizeof g_device, info.name);

    setvbuf(stdout, NULL, _IOLBF, 0);

    static const uint32_t shapes[][3] = {
        {256, 512, 256}, {256, 256, 512}, {512, 256, 256},
        {256, 17, 256},  {100, 64, 64},   {2048, 2048, 2048},
    };
    uint64_t seed = 0x9E3779B97F4A7C15ULL;
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        if (quick && shapes[s][0] >= 2048) continue;
        for (int f = 0; f < FORM_COUNT; f++)
            if (only_form < 0 || only_form == f)
                bench_gemm(f, shapes[s][0], shapes[s][1], shapes[s][2], &seed);
    }
    bench_dispatch();

    vks_ctx_destroy(g_ctx);
    return 0;
}
