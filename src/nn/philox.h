/* Philox4x32-10 (Salmon et al., "Parallel random numbers: as easy as 1, 2,
 * 3", SC 2011) on the host: the same generator the shaders use
 * (shaders/philox.glsl), for initial weights and anything drawn on the CPU. */
#ifndef VKSAC_NN_PHILOX_H
#define VKSAC_NN_PHILOX_H

#include <stdint.h>

void nn_philox(const uint32_t ctr[4], const uint32_t key[2], uint32_t out[4]);

/* A stream of uniforms in [0, 1): key {seed lo, seed hi}, counter
 * {index/4, stream, 0, 0}; the same mapping as the shaders' dropout. */
typedef struct nn_rng {
    uint32_t key[2];
    uint32_t stream;
    uint64_t index;
} nn_rng;

nn_rng nn_rng_make(uint64_t seed, uint32_t stream);
float nn_rng_uniform(nn_rng *r);

#endif
