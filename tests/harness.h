/*
 * Shared test harness: one Vulkan context per test group (pipelines are
 * JIT-compiled on first use, so sharing the context keeps the suite fast),
 * validation on, a log callback that keeps the last message, and helpers
 * for random data, NMSE comparison and tensor upload/readback.
 *
 * Include cmocka's prerequisites before this header (it includes cmocka.h).
 */
#ifndef VKSAC_TESTS_HARNESS_H
#define VKSAC_TESTS_HARNESS_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "vk/runtime.h"

/* NMSE tolerance for fp32 kernels of the sizes tested. Correct kernels land
 * around 1e-13..1e-12; one wrong index gives ~1 (see test_gemm's
 * discrimination test, which proves the gap). */
#define TH_TOL 1e-8

typedef struct th_opts {
    int gemm_variant;         /* vksac_context_config.gemm_variant */
    int no_push_descriptors;  /* vksac_context_config.no_push_descriptors */
    int gpu_grids;            /* "--gpu-grids": a CPU device runs the GPU specializations */
    int cpu_threads;          /* "--cpu-threads=N": a CPU device takes the grids for N workers */
    int cpu_shards;           /* vksac_context_config.cpu_shards (set by tests, not an argument) */
} th_opts;

typedef struct th_env {
    th_opts opts;
    vks_ctx *ctx;             /* the group's shared context */
    uint64_t validation_base; /* validation messages seen at the test's start */
    char group_name[128];
} th_env;

extern th_env th;

/* Parses "--variant=N", "--no-push", "--gpu-grids" and "--cpu-threads=N" into th.opts and names the group
 * `base` plus the options. Returns 0, or -1 on an unknown argument. */
int th_parse_args(int argc, char **argv, const char *base);

/* Creates a context with validation on and the harness log callback. */
vksac_status th_ctx_create(const th_opts *opts, const char *device, vks_ctx **out);
/* The last message the log callback received ("" if none). */
const char *th_last_log(void);

/* cmocka fixtures: group setup creates th.ctx from th.opts; every test's
 * teardown fails it if the validation layer spoke during the test. */
int th_group_setup(void **state);
int th_group_teardown(void **state);
int th_test_setup(void **state);
int th_test_teardown(void **state);
#define TH_TEST(f) cmocka_unit_test_setup_teardown(f, th_test_setup, th_test_teardown)

/* Fails the test with the context's error message unless s is VKSAC_OK. */
#define TH_OK(expr) th_ok_((expr), #expr, __FILE__, __LINE__)
void th_ok_(vksac_status s, const char *expr, const char *file, int line);
/* Fails unless s == want (any failure when want is VKSAC_OK) and the
 * context recorded a non-empty message since th_clear_error(). */
#define TH_ERR(ctx, expr, want) th_err_((ctx), (expr), (want), #expr, __FILE__, __LINE__)
void th_err_(vks_ctx *ctx, vksac_status s, vksac_status want, const char *expr,
             const char *file, int line);
/* Like TH_ERR for calls where more than one status is reasonable. */
#define TH_FAILS(ctx, expr) th_err_((ctx), (expr), VKSAC_OK, #expr, __FILE__, __LINE__)
/* Empties the context's error message (white-box) so TH_ERR can tell that
 * the call under test set it. */
void th_clear_error(vks_ctx *ctx);
/* A call on th.ctx failed with status want and a message containing
 * needle (else the test fails); the message is then cleared. */
void th_expect_error(vksac_status st, vksac_status want, const char *needle);

/* Deterministic uniform floats in [-1, 1] (splitmix64). */
void th_rand_fill(float *dst, size_t n, uint64_t seed);
/* malloc'd array of n random floats; the test frees it. */
float *th_rand(size_t n, uint64_t seed);
/* Σ(got-ref)² / max(Σref², tiny) */
double th_nmse(const float *got, const float *ref, size_t n);

/* th_nmse against a double-precision reference. */
double th_nmse_d(const float *got, const double *ref, size_t n);
/* malloc'd double copy of n floats, and float copy of n doubles. */
double *th_to_double(const float *x, size_t n);
float *th_to_float(const double *x, size_t n);

/* Creates a rows×cols tensor on th.ctx; uploads `data` (dense) if non-NULL. */
vks_tensor *th_tensor(uint32_t rows, uint32_t cols, const float *data);
/* Creates a tensor filled with random data; *host gets a malloc'd copy. */
vks_tensor *th_rand_tensor(uint32_t rows, uint32_t cols, uint64_t seed, float **host);
/* malloc'd dense copy of a tensor's contents. */
float *th_read(const vks_tensor *t);

/* Compares t with ref by NMSE and checks the padding columns are zero.
 * Prints what failed, tagged with `what`, and returns 0; 1 on success. */
int th_check(const vks_tensor *t, const float *ref, double tol, const char *what);
/* 1 if every padding column of t holds zero (prints the first offender). */
int th_padding_zero(const vks_tensor *t, const char *what);

/* A new sequence on th.ctx, already begun. */
vks_seq *th_seq_begin(int timestamps);
/* Ends the recording, runs it once, waits and destroys it. */
void th_seq_finish(vks_seq *seq);

#endif
