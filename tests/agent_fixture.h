/*
 * A small hybrid agent and its transitions, shared by test_agent and
 * test_checkpoint_replay: the config, creation, a batch of N transitions,
 * bit-for-bit comparisons of agents, temporary checkpoint paths, and
 * checkpoint rewriting for hostile-file tests.
 *
 * Include cmocka's prerequisites and harness.h's before this header.
 */
#ifndef VKSAC_TESTS_AGENT_FIXTURE_H
#define VKSAC_TESTS_AGENT_FIXTURE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "harness.h"
#include "rl/agent.h"

#define AF_S 4   /* state dimension */
#define AF_N 64  /* transitions in a batch */

/* 4 states, 2 continuous actions, discrete heads of 3 and 2 choices,
 * batch 32, 16-wide MLPs of depth 1, critic dropout 0.05. */
vksac_agent_config af_config(uint64_t seed, uint32_t replay_capacity);
/* Resolves `in` and creates the agent on th.ctx as vksac_agent_create does,
 * with the context's shards (fails the test on error). */
rl_agent *af_make(const vksac_agent_config *in);

typedef struct af_data {
    float s[AF_N * AF_S], s2[AF_N * AF_S], a[AF_N * 2], r[AF_N];
    int32_t d[AF_N * 2];
    uint8_t term[AF_N], trunc[AF_N];
} af_data;

/* Fills x from `seed` and returns the N transitions over it. Head 0's
 * action of row i is (i + disc_offset) mod 3; with `truncated`, rows
 * i mod 7 = 3 are truncated, else the transitions carry no truncated flags. */
vksac_transitions af_make_data(af_data *x, uint64_t seed, uint64_t disc_offset, bool truncated);

/* 1 when the two parameter sets are bit-identical. */
int af_same_net(const nn_params *x, const nn_params *y);
/* 1 when every network (actor, critics, targets, alpha) is bit-identical. */
int af_same_params(const rl_agent *x, const rl_agent *y);
/* Actions and log-probabilities of both agents on the same N states, bit
 * for bit: deterministic, then (samples = 2) sampled. */
void af_assert_same_acts(rl_agent *x, rl_agent *y, const float *states, int samples);
/* Every field of two stats bit for bit (not memcmp of the structs: padding). */
void af_assert_same_stats_of(const vksac_stats *x, const vksac_stats *y);
void af_assert_same_stats(rl_agent *x, rl_agent *y);

/* Fails unless loading path fails with `want` (any failure when want is
 * VKSAC_OK), an error containing needle, and a NULL agent. */
void af_expect_load_error(const char *path, vksac_status want, const char *needle);

/* $TMPDIR/vksac_test_<pid>_<name>.safetensors in buffer k (0..3): a path
 * stays valid until the next call with the same k. */
const char *af_tmp_path(int k, const char *name);
/* A whole file, malloc'd; and a file written from bytes. */
void *af_slurp(const char *path, size_t *len);
void af_spit(const char *path, const void *p, size_t len);

/* One change to a checkpoint: tensors dropped (a name, or a prefix ending
 * in '.'), one reshaped to [rows·cols, 1] or one of its values set; a
 * metadata value set (added when absent) or metadata keys dropped (as
 * tensors). */
typedef struct af_edit {
    const char *drop, *reshape, *poke;
    size_t at;
    float value;
    const char *key, *meta_value, *drop_key;
} af_edit;

/* Writes src with edit e applied to dst. */
void af_rewrite(const char *src, const char *dst, af_edit e);

#endif
