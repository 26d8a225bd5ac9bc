/*
 * Reference of the replay buffer's sampling (src/rl/replay.c,
 * docs/sac.md "Random numbers" and "Replay buffer"). Nothing here depends
 * on the library.
 */
#ifndef VKSAC_TESTS_REPLAY_REF_H
#define VKSAC_TESTS_REPLAY_REF_H

#include <stdint.h>

/* Slot of batch row b: umulhi(w.x, size), w = Philox4x32-10 of counter
 * {0, b, counter mod 2^24, counter / 2^24} and key {key, 1} (stream 1).
 * size 0 gives 0 (the device then writes zeros instead of a row). */
uint32_t ref_replay_index(uint32_t key, uint32_t b, uint64_t counter, uint32_t size);

#endif
