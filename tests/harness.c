#if defined(__SANITIZE_ADDRESS__)
#define _GNU_SOURCE /* RTLD_NOLOAD, RTLD_NODELETE, dl_iterate_phdr */
#include <dlfcn.h>
#include <link.h>
#endif

#include "harness.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vk/internal.h"

th_env th;

/* The validation layer reports through this callback; keeping the last
 * message lets a failing zero-message check say what the layer saw. */
static char last_log[2048];

static void log_recorder(void *user, vksac_log_level level, const char *message)
{
    (void)user;
    (void)level;
    snprintf(last_log, sizeof last_log, "%s", message ? message : "(null)");
}

const char *th_last_log(void)
{
    return last_log;
}

int th_parse_args(int argc, char **argv, const char *base)
{
    for (int i = 1; i < argc; i++) {
        if (strncmp(argv[i], "--variant=", 10) == 0)
            th.opts.gemm_variant = atoi(argv[i] + 10);
        else if (strcmp(argv[i], "--no-push") == 0)
            th.opts.no_push_descriptors = 1;
        else if (strcmp(argv[i], "--gpu-grids") == 0)
            th.opts.gpu_grids = 1;
        else if (strncmp(argv[i], "--cpu-threads=", 14) == 0 && atoi(argv[i] + 14) > 0)
            th.opts.cpu_threads = atoi(argv[i] + 14);
        else {
            fprintf(stderr, "unknown argument %s (use --variant=N, --no-push, --gpu-grids, --cpu-threads=N)\n",
                    argv[i]);
            return -1;
        }
    }
    char threads[32] = "";
    if (th.opts.cpu_threads)
        snprintf(threads, sizeof threads, " cpu-threads=%d", th.opts.cpu_threads);
    snprintf(th.group_name, sizeof th.group_name, "%s variant=%d%s%s%s", base, th.opts.gemm_variant,
             th.opts.no_push_descriptors ? " no-push" : "", th.opts.gpu_grids ? " gpu-grids" : "", threads);
    return 0;
}

vksac_status th_ctx_create(const th_opts *opts, const char *device, vks_ctx **out)
{
    vksac_context_config cfg = {0};
    cfg.device = device;
    cfg.validation = 1;
    cfg.gemm_variant = opts ? opts->gemm_variant : 0;
    cfg.no_push_descriptors = opts ? opts->no_push_descriptors : 0;
    cfg.cpu_shards = opts ? opts->cpu_shards : 0;
    cfg.log = log_recorder;
    return vks_ctx_create(&cfg, out);
}

#if defined(__SANITIZE_ADDRESS__)
/* Lavapipe keeps a small allocation reachable only from its own globals; the
 * loader unloads the driver at vkDestroyInstance, after which LeakSanitizer
 * sees that block as a leak from "<unknown module>" that no suppression can
 * name. Pinning the Vulkan driver and layer libraries keeps their globals
 * mapped, so such blocks stay reachable and real leaks stay symbolized. */
static int pin_library(struct dl_phdr_info *info, size_t size, void *data)
{
    (void)size;
    (void)data;
    const char *name = info->dlpi_name;
    if (name && (strstr(name, "libvulkan_") || strstr(name, "libVkLayer_")))
        dlopen(name, RTLD_NOW | RTLD_NOLOAD | RTLD_NODELETE);
    return 0;
}

static void pin_vulkan_libraries(void)
{
    dl_iterate_phdr(pin_library, NULL);
}
#else
static void pin_vulkan_libraries(void) {}
#endif

int th_group_setup(void **state)
{
    (void)state;
    vks_ctx *ctx = NULL;
    vksac_status s = th_ctx_create(&th.opts, NULL, &ctx);
    pin_vulkan_libraries();
    if (s != VKSAC_OK) {
        print_error("vks_ctx_create: %s: %s\n", vksac_status_name(s),
                    ctx ? vks_ctx_error(ctx) : "(no context)");
        if (ctx)
            vks_ctx_destroy(ctx);
        return -1;
    }
    /* The options must take effect, or a variant silently goes untested. */
    if (th.opts.gemm_variant && vks_ctx_gemm_variant(ctx) != th.opts.gemm_variant) {
        print_error("asked for gemm_variant %d, context uses %d\n", th.opts.gemm_variant,
                    vks_ctx_gemm_variant(ctx));
        vks_ctx_destroy(ctx);
        return -1;
    }
    if (th.opts.no_push_descriptors && ctx->push_descriptors) {
        print_error("no_push_descriptors=1 but the context uses push descriptors\n");
        vks_ctx_destroy(ctx);
        return -1;
    }
    /* White-box: on a CPU device, kernels then take the specializations
     * and grids chosen for GPUs (a workgroup per row, one subgroup per
     * LayerNorm row, many workgroups in grid-stride loops), so those stay
     * tested on lavapipe too (vks_ctx_cpu_threads). */
    if (th.opts.gpu_grids)
        ctx->cpu_threads = 0;
    /* White-box too: the grids chosen for that many lavapipe workers (the
     * row kernels' several workgroups of rows, nn_row_groups), whatever
     * threads lavapipe really runs. Only meaningful on a CPU device. */
    if (th.opts.cpu_threads && ctx->cpu_threads)
        ctx->cpu_threads = (uint32_t)th.opts.cpu_threads;
    th.ctx = ctx;
    return 0;
}

int th_group_teardown(void **state)
{
    (void)state;
    vks_ctx_destroy(th.ctx);
    th.ctx = NULL;
    return 0;
}

int th_test_setup(void **state)
{
    (void)state;
    last_log[0] = '\0';
    th.validation_base = vks_ctx_validation_messages(th.ctx);
    return 0;
}

int th_test_teardown(void **state)
{
    (void)state;
    uint64_t n = vks_ctx_validation_messages(th.ctx) - th.validation_base;
    if (n != 0) {
        print_error("%llu validation message(s) during the test; last: %s\n",
                    (unsigned long long)n, last_log);
        return -1;
    }
    return 0;
}

void th_ok_(vksac_status s, const char *expr, const char *file, int line)
{
    if (s == VKSAC_OK)
        return;
    print_error("%s -> %s: %s\n", expr, vksac_status_name(s), th.ctx ? vks_ctx_error(th.ctx) : "");
    _fail(file, line);
}

void th_err_(vks_ctx *ctx, vksac_status s, vksac_status want, const char *expr, const char *file,
             int line)
{
    if (want == VKSAC_OK ? s == VKSAC_OK : s != want) {
        print_error("%s -> %s, want %s (message: \"%s\")\n", expr, vksac_status_name(s),
                    want == VKSAC_OK ? "an error" : vksac_status_name(want), vks_ctx_error(ctx));
        _fail(file, line);
    }
    const char *msg = vks_ctx_error(ctx);
    if (!msg || !msg[0]) {
        print_error("%s -> %s but left no error message\n", expr, vksac_status_name(s));
        _fail(file, line);
    }
    th_clear_error(ctx);
}

void th_clear_error(vks_ctx *ctx)
{
    ctx->err[0] = '\0';
}

void th_expect_error(vksac_status st, vksac_status want, const char *needle)
{
    const char *msg = vks_ctx_error(th.ctx);
    if (st != want || !strstr(msg, needle))
        fail_msg("got %s \"%s\", want %s containing '%s'", vksac_status_name(st), msg, vksac_status_name(want),
                 needle);
    th_clear_error(th.ctx);
}

static uint64_t splitmix64(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

void th_rand_fill(float *dst, size_t n, uint64_t seed)
{
    uint64_t state = seed;
    for (size_t i = 0; i < n; i++) {
        /* 24 random bits give an exactly representable float in [0, 1). */
        double u = (double)(splitmix64(&state) >> 40) / (double)(1u << 24);
        dst[i] = (float)(2.0 * u - 1.0);
    }
}

float *th_rand(size_t n, uint64_t seed)
{
    float *p = malloc((n ? n : 1) * sizeof *p);
    assert_non_null(p);
    th_rand_fill(p, n, seed);
    return p;
}

double th_nmse(const float *got, const float *ref, size_t n)
{
    double err = 0.0, norm = 0.0;
    for (size_t i = 0; i < n; i++) {
        double d = (double)got[i] - (double)ref[i];
        err += d * d;
        norm += (double)ref[i] * ref[i];
    }
    return err / fmax(norm, 1e-30);
}

double th_nmse_d(const float *got, const double *ref, size_t n)
{
    double err = 0.0, norm = 0.0;
    for (size_t i = 0; i < n; i++) {
        double d = (double)got[i] - ref[i];
        err += d * d;
        norm += ref[i] * ref[i];
    }
    return err / fmax(norm, 1e-30);
}

double *th_to_double(const float *x, size_t n)
{
    double *d = malloc((n ? n : 1) * sizeof *d);
    assert_non_null(d);
    for (size_t i = 0; i < n; i++)
        d[i] = x[i];
    return d;
}

float *th_to_float(const double *x, size_t n)
{
    float *f = malloc((n ? n : 1) * sizeof *f);
    assert_non_null(f);
    for (size_t i = 0; i < n; i++)
        f[i] = (float)x[i];
    return f;
}

vks_tensor *th_tensor(uint32_t rows, uint32_t cols, const float *data)
{
    vks_tensor *t = NULL;
    TH_OK(vks_tensor_create(th.ctx, rows, cols, &t));
    assert_non_null(t);
    if (data)
        TH_OK(vks_tensor_write(t, data));
    return t;
}

vks_tensor *th_rand_tensor(uint32_t rows, uint32_t cols, uint64_t seed, float **host)
{
    float *data = th_rand((size_t)rows * cols, seed);
    vks_tensor *t = th_tensor(rows, cols, data);
    if (host)
        *host = data;
    else
        free(data);
    return t;
}

float *th_read(const vks_tensor *t)
{
    size_t n = (size_t)vks_tensor_rows(t) * vks_tensor_cols(t);
    float *p = malloc(n * sizeof *p);
    assert_non_null(p);
    TH_OK(vks_tensor_read(t, p));
    return p;
}

int th_padding_zero(const vks_tensor *t, const char *what)
{
    uint32_t rows = vks_tensor_rows(t), cols = vks_tensor_cols(t), stride = vks_tensor_stride(t);
    float *raw = malloc((size_t)rows * stride * sizeof *raw);
    assert_non_null(raw);
    TH_OK(vks_tensor_read_padded(t, raw));
    int ok = 1;
    for (uint32_t i = 0; i < rows && ok; i++)
        for (uint32_t j = cols; j < stride; j++)
            if (raw[(size_t)i * stride + j] != 0.0f) {
                print_error("%s: padding [%u][%u] (cols %u, stride %u) holds %g, not 0\n", what,
                            i, j, cols, stride, (double)raw[(size_t)i * stride + j]);
                ok = 0;
                break;
            }
    free(raw);
    return ok;
}

int th_check(const vks_tensor *t, const float *ref, double tol, const char *what)
{
    size_t n = (size_t)vks_tensor_rows(t) * vks_tensor_cols(t);
    float *got = th_read(t);
    double e = th_nmse(got, ref, n);
    int ok = e <= tol; /* also false for NaN */
    if (!ok) {
        /* The first bad element tells a wrong index from a precision issue. */
        size_t bad = 0;
        double worst = -1.0;
        for (size_t i = 0; i < n; i++) {
            double d = fabs((double)got[i] - ref[i]);
            if (d > worst || d != d) {
                worst = d;
                bad = i;
                if (d != d)
                    break;
            }
        }
        uint32_t cols = vks_tensor_cols(t);
        print_error("%s: nmse %.3g > %.3g; worst [%zu][%zu] got %.9g want %.9g\n", what, e, tol,
                    bad / cols, bad % cols, (double)got[bad], (double)ref[bad]);
    }
    free(got);
    return th_padding_zero(t, what) && ok;
}

vks_seq *th_seq_begin(int timestamps)
{
    vks_seq *seq = NULL;
    TH_OK(vks_seq_create(th.ctx, timestamps, &seq));
    assert_non_null(seq);
    TH_OK(vks_seq_begin(seq));
    return seq;
}

void th_seq_finish(vks_seq *seq)
{
    TH_OK(vks_seq_end(seq));
    TH_OK(vks_seq_run(seq, 1));
    vks_seq_destroy(seq);
}
