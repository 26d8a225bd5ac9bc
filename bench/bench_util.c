/* Shared benchmark plumbing (see bench_util.h). */
#include "bench_util.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

bench_env bench;

void bench_fail(const char *what, vksac_status st)
{
    fprintf(stderr, "%s: %s failed: %s: %s\n", bench.prog, what, vksac_status_name(st),
            bench.ctx ? vks_ctx_error(bench.ctx) : "(no context)");
    exit(1);
}

void *xmalloc(size_t n)
{
    void *p = malloc(n);
    if (!p) {
        fprintf(stderr, "%s: out of host memory (%zu bytes)\n", bench.prog, n);
        exit(1);
    }
    return p;
}

double now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec * 1e-3;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

void json_string(char *out, size_t size, const char *s)
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

void bench_device_json(char *out, size_t size, const vksac_device_info *info)
{
    char named[sizeof info->name + sizeof info->driver_version + 8];
    snprintf(named, sizeof named, "%s; %s", info->name, info->driver_version);
    json_string(out, size, named);
}

const char *bench_need_arg(int argc, char **argv, int *i)
{
    if (*i + 1 >= argc) {
        fprintf(stderr, "%s: %s needs a value\n", bench.prog, argv[*i]);
        exit(1);
    }
    return argv[++*i];
}

long bench_int_arg(int argc, char **argv, int *i, long lo, long hi)
{
    const char *opt = argv[*i], *v = bench_need_arg(argc, argv, i);
    char *end;
    errno = 0;
    long n = strtol(v, &end, 10);
    if (errno || *end || end == v || n < lo || n > hi) {
        fprintf(stderr, "%s: %s wants an integer from %ld to %ld, got '%s'\n", bench.prog, opt, lo, hi, v);
        exit(1);
    }
    return n;
}

int bench_ctx_arg(int argc, char **argv, int *i, vksac_context_config *config)
{
    const char *a = argv[*i];
    if (!strcmp(a, "--threads")) {
        config->cpu_threads = (int)bench_int_arg(argc, argv, i, -1, 1024);
    } else if (!strcmp(a, "--shards")) {
        config->cpu_shards = (int)bench_int_arg(argc, argv, i, 0, VKS_MAX_SHARDS);
    } else if (!strcmp(a, "--variant")) {
        const char *v = bench_need_arg(argc, argv, i);
        if (!strcmp(v, "blocked") || !strcmp(v, "1")) config->gemm_variant = 1;
        else if (!strcmp(v, "tiled") || !strcmp(v, "2")) config->gemm_variant = 2;
        else if (!strcmp(v, "auto") || !strcmp(v, "0")) config->gemm_variant = 0;
        else {
            fprintf(stderr, "%s: --variant wants blocked, tiled or auto, got '%s'\n", bench.prog, v);
            exit(1);
        }
    } else if (!strcmp(a, "--device")) {
        config->device = bench_need_arg(argc, argv, i);
    } else {
        return 0;
    }
    return 1;
}

void bench_ctx_usage(FILE *f)
{
    fprintf(f,
            "  --threads N   lavapipe worker threads (config.cpu_threads): 0 default,\n"
            "                -1 run on the queue thread (LP_NUM_THREADS=0), N>0 workers;\n"
            "                an LP_NUM_THREADS already in the environment wins\n"
            "  --shards N    replicas an agent splits its updates across (config.cpu_shards;\n"
            "                CPU devices, with --threads 0 or -1)\n"
            "  --variant V   GEMM kernels: blocked (1), tiled (2), auto (chosen per device)\n"
            "  --device X    device index or name substring (default: VKSAC_DEVICE, else\n"
            "                the preferred device)\n");
}

void bench_open(const vksac_context_config *config)
{
    vksac_status st = vks_ctx_create(config, &bench.ctx);
    if (st != VKSAC_OK)
        bench_fail("vks_ctx_create", st);
    const char *lp = getenv("LP_NUM_THREADS");
    if (lp && *lp) {
        char *end;
        errno = 0;
        long v = strtol(lp, &end, 10);
        if (!errno && !*end) snprintf(bench.threads, sizeof bench.threads, "%ld", v);
        else json_string(bench.threads, sizeof bench.threads, lp);
    } else {
        snprintf(bench.threads, sizeof bench.threads, "\"default\"");
    }
    vksac_device_info info;
    CHECK(vks_ctx_device(bench.ctx, &info));
    bench_device_json(bench.device, sizeof bench.device, &info);
    setvbuf(stdout, NULL, _IOLBF, 0);
}

float bench_rnd(uint64_t *s)
{
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    uint64_t r = *s * 0x2545F4914F6CDD1DULL;
    return (float)((double)(r >> 40) / (double)(1ULL << 24) * 2.0 - 1.0);
}

vks_tensor *bench_tensor(uint32_t rows, uint32_t cols, uint64_t *seed)
{
    vks_tensor *t = NULL;
    CHECK(vks_tensor_create(bench.ctx, rows, cols, &t));
    size_t n = (size_t)rows * cols;
    float *h = xmalloc(n * sizeof *h);
    for (size_t i = 0; i < n; i++) h[i] = bench_rnd(seed);
    CHECK(vks_tensor_write(t, h));
    free(h);
    return t;
}

double bench_time_run(vks_seq *seq, uint32_t repeats)
{
    double t0 = now_us();
    CHECK(vks_seq_run(seq, repeats));
    return now_us() - t0;
}

double bench_time_seq(vks_seq *seq, uint32_t *reps_out, int *runs_out)
{
    bench_time_run(seq, 1);
    double t1 = bench_time_run(seq, 1);
    uint32_t reps = t1 * 256 <= 20e3 ? 256 : t1 >= 20e3 ? 1 : (uint32_t)(20e3 / t1);
    const int big = t1 >= 100e3;
    if (reps > 1) bench_time_run(seq, reps);
    enum { MAX_RUNS = 21 };
    const int min_runs = big ? 3 : 5;
    double times[MAX_RUNS], spent = 0;
    int runs = 0;
    if (big) /* already warm: the sizing run counts */
        spent = times[runs++] = t1;
    while (runs < MAX_RUNS && (runs < min_runs || spent < 250e3)) {
        times[runs] = bench_time_run(seq, reps);
        spent += times[runs++];
    }
    *reps_out = reps;
    *runs_out = runs;
    return median(times, runs) / reps;
}
