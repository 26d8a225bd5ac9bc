/* What the benchmarks share: a context from the common options, timing of
 * recorded sequences, JSON strings, random operands. Errors go to stderr
 * and exit with status 1 (benchmarks are programs, not the library). */
#ifndef VKSAC_BENCH_UTIL_H
#define VKSAC_BENCH_UTIL_H

#include <stdint.h>
#include <stdio.h>

#include "vk/runtime.h"

typedef struct bench_env {
    const char *prog;       /* for messages */
    vks_ctx *ctx;
    char threads[64];       /* JSON value of "threads": LP_NUM_THREADS or "default" */
    char device[600];       /* JSON string: bench_device_json */
} bench_env;

extern bench_env bench;

void bench_fail(const char *what, vksac_status st);
#define CHECK(call)                                        \
    do {                                                   \
        vksac_status st_ = (call);                         \
        if (st_ != VKSAC_OK) bench_fail(#call, st_);       \
    } while (0)

void *xmalloc(size_t n);
double now_us(void);
double median(double *v, int n);
void json_string(char *out, size_t size, const char *s);
/* The JSON string of every benchmark's "device" field: the device's name
 * and its driver's version string ("llvmpipe (LLVM 15.0.6, 256 bits);
 * Mesa 22.3.6 (LLVM 15.0.6)"), since lavapipe's name is the same on Mesa
 * versions whose timings differ. */
void bench_device_json(char *out, size_t size, const vksac_device_info *info);

/* Consumes a context option at argv[*i] (--threads N, --shards N,
 * --variant V, --device X) into config: 1 if it was one, 0 if not; exits
 * on a bad value. */
int bench_ctx_arg(int argc, char **argv, int *i, vksac_context_config *config);
/* Usage lines of those options. */
void bench_ctx_usage(FILE *f);
/* The value after option argv[*i] (advancing *i), or a message and exit 1;
 * bench_int_arg: that value as an integer in [lo, hi]. */
const char *bench_need_arg(int argc, char **argv, int *i);
long bench_int_arg(int argc, char **argv, int *i, long lo, long hi);
/* Creates bench.ctx and fills bench.threads and bench.device. */
void bench_open(const vksac_context_config *config);

/* Random operands in [-1, 1) (xorshift64*). */
float bench_rnd(uint64_t *s);
vks_tensor *bench_tensor(uint32_t rows, uint32_t cols, uint64_t *seed);

/* Times a recorded sequence after a warm-up run (which JIT-compiles the
 * pipelines on lavapipe): replays per submit sized so a run takes ~20 ms,
 * at least 5 runs (3 when one replay takes over 0.1 s) until ~0.25 s is
 * spent, at most 21. Returns the median µs per replay; *reps and *runs
 * say how it was measured. */
double bench_time_seq(vks_seq *seq, uint32_t *reps, int *runs);
double bench_time_run(vks_seq *seq, uint32_t repeats);

#endif
