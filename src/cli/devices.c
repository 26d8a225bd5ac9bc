/* The device utilities of the vksac command: --list-devices, and --gemm,
 * which runs one GEMM on the default device (VKSAC_DEVICE, which --device
 * sets), checks it against a host loop and times it. They use the runtime
 * directly: a quick way to see that a device works before any Lua runs. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cli.h"
#include "vk/runtime.h"
#include "vksac.h"

static void print_device(const vksac_device_info *d)
{
    printf("%d%s %s\n", d->index, d->preferred ? " (default)" : "", d->name);
    printf("    type %s, driver %s %s, Vulkan %u.%u.%u%s\n", d->type, d->driver, d->driver_version,
           d->api_version >> 22, (d->api_version >> 12) & 0x3ff, d->api_version & 0xfff,
           d->usable ? "" : ", NOT USABLE by vksac");
    printf("    device-local memory %.1f GiB%s; push descriptors %s; timestamps %s\n",
           d->device_local_bytes / 1073741824.0, d->host_visible_device_local ? " (host-visible)" : "",
           d->push_descriptors ? "yes" : "no", d->timestamps ? "yes" : "no");
    printf("    workgroup ≤ %u invocations, %u groups in x; shared memory %u B; push constants %u B;\n"
           "    texel buffers ≤ %u elements; storage buffers ≤ %u B; subgroup %u\n",
           d->max_workgroup_invocations, d->max_workgroup_count_x, d->max_shared_memory_bytes,
           d->max_push_constants_bytes, d->max_texel_buffer_elements, d->max_storage_buffer_range,
           d->subgroup_size);
}

int cli_list_devices(void)
{
    vksac_device_info info[16];
    int n = 0;
    char err[512];
    if (vksac_list_devices(info, 16, &n, err, sizeof err) != VKSAC_OK) {
        cli_message(err);
        return 1;
    }
    for (int i = 0; i < n && i < 16; i++)
        print_device(&info[i]);
    if (n > 16)
        printf("(%d more not shown)\n", n - 16);
    return 0;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void random_fill(float *p, size_t n, uint32_t seed)
{
    for (size_t i = 0; i < n; i++) {
        seed = seed * 1664525u + 1013904223u;
        p[i] = (float)(seed >> 8) / 8388608.0f - 1.0f;
    }
}

/* Relative error of the device result against a plain loop on the host. */
static double check(const float *x, const float *w, const float *y, unsigned M, unsigned K, unsigned N)
{
    double err = 0, ref2 = 0;
    for (unsigned m = 0; m < M; m++)
        for (unsigned n = 0; n < N; n++) {
            double r = 0;
            for (unsigned k = 0; k < K; k++)
                r += (double)x[(size_t)m * K + k] * w[(size_t)n * K + k];
            err += (y[(size_t)m * N + n] - r) * (y[(size_t)m * N + n] - r);
            ref2 += r * r;
        }
    return sqrt(err / (ref2 > 0 ? ref2 : 1));
}

/* The GEMM's device objects and host copies. */
typedef struct gemm_run {
    unsigned M, K, N;
    vks_ctx *ctx;
    vks_tensor *x, *w, *y;
    vks_seq *seq;
    float *hx, *hw, *hy;
    double first_s, best_s;
} gemm_run;

static vksac_status gemm_record(gemm_run *g)
{
    vksac_context_config cfg = {0};   /* device: VKSAC_DEVICE, then the preference order */
    vksac_status st = vks_ctx_create(&cfg, &g->ctx);
    g->hx = malloc(sizeof *g->hx * g->M * g->K);
    g->hw = malloc(sizeof *g->hw * g->N * g->K);
    g->hy = malloc(sizeof *g->hy * g->M * g->N);
    if (!g->hx || !g->hw || !g->hy)
        return VKSAC_E_OOM;
    random_fill(g->hx, (size_t)g->M * g->K, 1);
    random_fill(g->hw, (size_t)g->N * g->K, 2);
    if (st == VKSAC_OK) st = vks_tensor_create(g->ctx, g->M, g->K, &g->x);
    if (st == VKSAC_OK) st = vks_tensor_create(g->ctx, g->N, g->K, &g->w);
    if (st == VKSAC_OK) st = vks_tensor_create(g->ctx, g->M, g->N, &g->y);
    if (st == VKSAC_OK) st = vks_tensor_write(g->x, g->hx);
    if (st == VKSAC_OK) st = vks_tensor_write(g->w, g->hw);
    if (st == VKSAC_OK) st = vks_seq_create(g->ctx, 0, &g->seq);
    if (st == VKSAC_OK) st = vks_seq_begin(g->seq);
    if (st == VKSAC_OK) st = vks_gemm_fwd(g->seq, g->y, g->x, g->w, NULL, VKS_ACT_NONE);
    if (st == VKSAC_OK) st = vks_seq_end(g->seq);
    return st;
}

/* The first run includes the kernel's JIT compilation; then best of 10. */
static vksac_status gemm_time(gemm_run *g)
{
    double t0 = now_s();
    vksac_status st = vks_seq_run(g->seq, 1);
    g->first_s = now_s() - t0;
    g->best_s = 1e30;
    for (int rep = 0; rep < 10 && st == VKSAC_OK; rep++) {
        t0 = now_s();
        st = vks_seq_run(g->seq, 1);
        double t = now_s() - t0;
        g->best_s = t < g->best_s ? t : g->best_s;
    }
    return st == VKSAC_OK ? vks_tensor_read(g->y, g->hy) : st;
}

static int gemm_report(const gemm_run *g)
{
    vksac_device_info info;
    vks_ctx_device(g->ctx, &info);
    double err = check(g->hx, g->hw, g->hy, g->M, g->K, g->N);
    printf("device: %s (%s, %s)\n", info.name, info.type, info.driver);
    printf("gemm %ux%ux%u (%s kernel): first run %.1f ms (with compilation), best of 10 %.3f ms, "
           "%.2f GFLOP/s; relative error %.2e\n", g->M, g->K, g->N,
           vks_ctx_gemm_variant(g->ctx) == 2 ? "tiled" : "blocked", g->first_s * 1e3, g->best_s * 1e3,
           2.0 * g->M * g->N * g->K / g->best_s * 1e-9, err);
    if (err < 1e-5)
        return 0;
    fprintf(stderr, CLI_NAME ": the GEMM result is wrong (relative error %.2e)\n", err);
    return 1;
}

static void gemm_free(gemm_run *g)
{
    vks_seq_destroy(g->seq);
    vks_tensor_destroy(g->x);
    vks_tensor_destroy(g->w);
    vks_tensor_destroy(g->y);
    vks_ctx_destroy(g->ctx);
    free(g->hx);
    free(g->hw);
    free(g->hy);
}

int cli_gemm(const char *shape)
{
    gemm_run g = {0};
    char tail;
    if (!shape || sscanf(shape, "%ux%ux%u%c", &g.M, &g.K, &g.N, &tail) != 3 || !g.M || !g.K || !g.N) {
        fprintf(stderr, CLI_NAME ": --gemm expects MxKxN with positive sizes, e.g. 256x512x256, got '%s'\n",
                shape ? shape : "nothing");
        return 2;
    }
    vksac_status st = gemm_record(&g);
    if (st == VKSAC_OK)
        st = gemm_time(&g);
    int rc = 1;
    if (st == VKSAC_OK)
        rc = gemm_report(&g);
    else
        fprintf(stderr, CLI_NAME ": --gemm: %s (%s)\n", vks_ctx_error(g.ctx), vksac_status_name(st));
    gemm_free(&g);
    return rc;
}
