/*
 * The replay buffer on the device (src/rl/replay.c): a fixed-capacity ring
 * of transitions (state, continuous action, discrete actions, reward,
 * terminated, truncated, next state), appended from the host in small
 * uploads and sampled on the device with Philox (docs/sac.md, "Replay
 * buffer"). Sampling never returns a slot that has not been written.
 *
 * Layouts follow docs/sac.md, "Tensor layouts": discrete actions are floats
 * holding the index; reward, terminated and truncated travel together as
 * the 3 columns of `rtd`. Host arrays are dense row-major.
 */
#ifndef VKSAC_RL_REPLAY_H
#define VKSAC_RL_REPLAY_H

#include <stdint.h>

#include "vk/runtime.h"

/* Largest capacity: slot indices and the size live in fp32 on the device. */
#define RL_REPLAY_MAX_CAPACITY 16777215u

typedef struct rl_replay_config {
    uint32_t capacity;   /* slots, in [1, RL_REPLAY_MAX_CAPACITY] */
    uint32_t S;          /* state size, ≥ 1 */
    uint32_t C;          /* continuous action dims, ≥ 0 */
    uint32_t D;          /* discrete heads, ≥ 0 */
} rl_replay_config;

/* One sampled batch of B rows (B = rows of `states`): states B×S,
 * next_states B×S, cont B×C, disc B×D, rtd B×3 (reward, terminated,
 * truncated). cont must be NULL when C = 0 and disc when D = 0. */
typedef struct rl_replay_batch {
    vks_tensor *states, *next_states, *cont, *disc, *rtd;
} rl_replay_batch;

typedef struct rl_replay rl_replay;

/* E_ARG naming the field and value for a capacity outside [1, 2^24 − 1],
 * S = 0, or storage beyond the device's texel-buffer limit. */
vksac_status rl_replay_create(vks_ctx *ctx, const rl_replay_config *cfg, rl_replay **out);
void rl_replay_destroy(rl_replay *r);

/* Appends n transitions at the ring head, overwriting the oldest once full;
 * with n > capacity only the last `capacity` rows are kept (as if appended
 * one by one). Arrays are n×S (states, next_states), n×C (cont), n×D
 * (disc), n (reward, terminated, truncated); cont / disc are ignored and
 * may be NULL when C / D is 0. Every value must be finite and terminated /
 * truncated 0 or 1, else E_ARG naming the array and row, and nothing is
 * appended (discrete indices are the caller's to range-check). n = 0 does
 * nothing. Uploads at once: no sequence that samples this buffer may be
 * running (wait for it first). */
vksac_status rl_replay_add(rl_replay *r, uint32_t n, const float *states, const float *cont, const float *disc,
                           const float *reward, const float *terminated, const float *truncated,
                           const float *next_states);

/* Records one dispatch filling `out` with B rows from slots
 * umulhi(w.x, size), w = philox4x32_10({0, b, lo, hi}, {key, 1}), where lo
 * and hi are counters[counter_index] and [counter_index + 1] (first row of
 * `counters`, read when the sequence runs) and size = min(count, capacity)
 * as it is when the sequence runs, so one recording serves every update.
 * With an empty buffer the batch is all zeros: callers must not run an
 * update before the first rl_replay_add. */
vksac_status rl_replay_record_sample(vks_seq *seq, rl_replay *r, const vks_tensor *counters, uint32_t counter_index,
                                     uint32_t key, const rl_replay_batch *out);

/* Transitions added so far (all time), min(count, capacity), the slot the
 * next transition goes to, and the configuration. */
uint64_t rl_replay_count(const rl_replay *r);
uint32_t rl_replay_size(const rl_replay *r);
uint32_t rl_replay_head(const rl_replay *r);
rl_replay_config rl_replay_get_config(const rl_replay *r);

/* Host copy of one written slot (slot < size); any output may be NULL.
 * rtd gets reward, terminated, truncated. Reads whole fields back, so it
 * is slow: for tests and debugging. */
vksac_status rl_replay_read_slot(rl_replay *r, uint32_t slot, float *states, float *cont, float *disc, float *rtd,
                                 float *next_states);

/* Host copies of every written slot, 0 … size − 1 in slot order (the
 * ring as it lies, not oldest first): states and next_states size×S, cont
 * size×C, disc size×D, reward, terminated, truncated size each. Any output
 * may be NULL (cont / disc are skipped when C / D is 0). One whole-field
 * download per field, whatever the size: for checkpoints. */
vksac_status rl_replay_read_all(rl_replay *r, float *states, float *cont, float *disc, float *reward,
                                float *terminated, float *truncated, float *next_states);

/* Sets the ring to what rl_replay_read_all gave: count transitions added
 * so far (all time), the head (must be count mod capacity, which is where
 * appending from an empty ring leaves it) and size = min(count, capacity)
 * rows of each array in slot order, checked as rl_replay_add checks them
 * (E_ARG and nothing written on a bad value, discrete indices the caller's
 * to range-check). Slots ≥ size keep what they held; sampling never reads
 * them. Same rule as rl_replay_add: no sequence sampling this buffer may
 * be running. */
vksac_status rl_replay_restore(rl_replay *r, uint64_t count, uint32_t head, const float *states, const float *cont,
                               const float *disc, const float *reward, const float *terminated,
                               const float *truncated, const float *next_states);

#endif
