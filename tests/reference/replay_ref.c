/* Reference replay sampling: the slot each batch row reads (replay_ref.h). */
#include "reference/replay_ref.h"

#include "reference/nn_ref.h"

uint32_t ref_replay_index(uint32_t key, uint32_t b, uint64_t counter, uint32_t size)
{
    const uint32_t ctr[4] = {0, b, (uint32_t)(counter & 0xFFFFFFu), (uint32_t)(counter >> 24)};
    const uint32_t k[2] = {key, 1};
    uint32_t w[4];
    ref_philox4x32_10(ctr, k, w);
    return (uint32_t)(((uint64_t)w[0] * size) >> 32);
}
