/* The vksac command. Until training exists it lists the Vulkan devices and
 * runs a checked GEMM on one of them, timing it. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "vk/runtime.h"
#include "vksac.h"

static void usage(FILE *f)
{
    fprintf(f, "usage: vksac [--device INDEX|NAME] [--list-devices] [--gemm MxKxN]\n"
               "  --list-devices   list the Vulkan devices with type, driver and limits\n"
               "  --gemm MxKxN     run Y = X·Wᵀ (X M×K, W N×K) on the device, check it, time it\n"
               "  --device X       pick a device by index or name substring (else VKSAC_DEVICE,\n"
               "                   else discrete GPU, integrated GPU, virtual GPU, CPU)\n");
}

static int list_devices(void)
{
    vksac_device_info info[16];
    int n = 0;
    char err[512];
    if (vksac_list_devices(info, 16, &n, err, sizeof err) != VKSAC_OK) {
        fprintf(stderr, "vksac: %s\n", err);
        return 1;
    }
    for (int i = 0; i < n && i < 16; i++) {
        const vksac_device_info *d = &info[i];
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

static int run_gemm(const char *device, unsigned M, unsigned K, unsigned N)
{
    vksac_context_config cfg = {.device = device};
    vks_ctx *ctx;
    vks_tensor *x = NULL, *w = NULL, *y = NULL;
    vks_seq *seq = NULL;
    float *hx = malloc(sizeof *hx * M * K), *hw = malloc(sizeof *hw * N * K), *hy = malloc(sizeof *hy * M * N);
    vksac_status st = vks_ctx_create(&cfg, &ctx);
    if (!hx || !hw || !hy)
        st = VKSAC_E_OOM;
    random_fill(hx, (size_t)M * K, 1);
    random_fill(hw, (size_t)N * K, 2);
    if (st == VKSAC_OK) st = vks_tensor_create(ctx, M, K, &x);
    if (st == VKSAC_OK) st = vks_tensor_create(ctx, N, K, &w);
    if (st == VKSAC_OK) st = vks_tensor_create(ctx, M, N, &y);
    if (st == VKSAC_OK) st = vks_tensor_write(x, hx);
    if (st == VKSAC_OK) st = vks_tensor_write(w, hw);
    if (st == VKSAC_OK) st = vks_seq_create(ctx, 0, &seq);
    if (st == VKSAC_OK) st = vks_seq_begin(seq);
    if (st == VKSAC_OK) st = vks_gemm_fwd(seq, y, x, w, NULL, VKS_ACT_NONE);
    if (st == VKSAC_OK) st = vks_seq_end(seq);
    double t0 = now_s(), first = 0, best = 1e30;
    if (st == VKSAC_OK) st = vks_seq_run(seq, 1);   /* includes the kernel's JIT */
    first = now_s() - t0;
    for (int rep = 0; rep < 10 && st == VKSAC_OK; rep++) {
        t0 = now_s();
        st = vks_seq_run(seq, 1);
        double t = now_s() - t0;
        best = t < best ? t : best;
    }
    if (st == VKSAC_OK) st = vks_tensor_read(y, hy);
    int rc = 1;
    if (st == VKSAC_OK) {
        vksac_device_info info;
        vks_ctx_device(ctx, &info);
        double err = check(hx, hw, hy, M, K, N);
        printf("device: %s (%s, %s)\n", info.name, info.type, info.driver);
        printf("gemm %ux%ux%u (%s kernel): first run %.1f ms (with compilation), best of 10 %.3f ms, "
               "%.2f GFLOP/s; relative error %.2e\n", M, K, N,
               vks_ctx_gemm_variant(ctx) == 2 ? "tiled" : "blocked", first * 1e3, best * 1e3,
               2.0 * M * N * K / best * 1e-9, err);
        rc = err < 1e-5 ? 0 : 1;
        if (rc)
            fprintf(stderr, "vksac: the GEMM result is wrong (relative error %.2e)\n", err);
    } else {
        fprintf(stderr, "vksac: %s (%s)\n", vks_ctx_error(ctx), vksac_status_name(st));
    }
    vks_seq_destroy(seq);
    vks_tensor_destroy(x);
    vks_tensor_destroy(w);
    vks_tensor_destroy(y);
    vks_ctx_destroy(ctx);
    free(hx);
    free(hw);
    free(hy);
    return rc;
}

int main(int argc, char **argv)
{
    const char *device = NULL;
    int rc = 0, did = 0;
    for (int i = 1; i < argc; i++) {
        unsigned M, K, N;
        if (!strcmp(argv[i], "--device") && i + 1 < argc) {
            device = argv[++i];
        } else if (!strcmp(argv[i], "--list-devices")) {
            rc |= list_devices();
            did = 1;
        } else if (!strcmp(argv[i], "--gemm")) {
            if (i + 1 >= argc || sscanf(argv[i + 1], "%ux%ux%u", &M, &K, &N) != 3 || !M || !K || !N) {
                fprintf(stderr, "vksac: --gemm expects MxKxN with positive sizes, e.g. 256x512x256, got '%s'\n",
                        i + 1 < argc ? argv[i + 1] : "nothing");
                return 2;
            }
            i++;
            rc |= run_gemm(device, M, K, N);
            did = 1;
        } else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage(stdout);
            return 0;
        } else {
            fprintf(stderr, "vksac: unknown or incomplete argument '%s'\n", argv[i]);
            usage(stderr);
            return 2;
        }
    }
    if (!did) {
        rc |= list_devices();
        rc |= run_gemm(device, 256, 512, 256);
    }
    return rc;
}
