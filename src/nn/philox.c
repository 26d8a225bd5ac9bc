/* Philox4x32-10 on the host (see philox.h). */
#include "nn/philox.h"

static void round_once(uint32_t c[4], const uint32_t k[2])
{
    uint64_t p0 = (uint64_t)0xD2511F53u * c[0], p1 = (uint64_t)0xCD9E8D57u * c[2];
    uint32_t hi0 = (uint32_t)(p0 >> 32), lo0 = (uint32_t)p0;
    uint32_t hi1 = (uint32_t)(p1 >> 32), lo1 = (uint32_t)p1;
    uint32_t n0 = hi1 ^ c[1] ^ k[0], n2 = hi0 ^ c[3] ^ k[1];
    c[0] = n0;
    c[1] = lo1;
    c[2] = n2;
    c[3] = lo0;
}

void nn_philox(const uint32_t ctr[4], const uint32_t key[2], uint32_t out[4])
{
    uint32_t c[4] = {ctr[0], ctr[1], ctr[2], ctr[3]}, k[2] = {key[0], key[1]};
    for (int i = 0; i < 10; i++) {
        if (i > 0) {
            k[0] += 0x9E3779B9u;
            k[1] += 0xBB67AE85u;
        }
        round_once(c, k);
    }
    for (int i = 0; i < 4; i++)
        out[i] = c[i];
}

nn_rng nn_rng_make(uint64_t seed, uint32_t stream)
{
    return (nn_rng){{(uint32_t)seed, (uint32_t)(seed >> 32)}, stream, 0};
}

float nn_rng_uniform(nn_rng *r)
{
    uint32_t ctr[4] = {(uint32_t)(r->index >> 2), r->stream, (uint32_t)(r->index >> 34), 0}, out[4];
    nn_philox(ctr, r->key, out);
    uint32_t w = out[r->index & 3];
    r->index++;
    return (float)(w >> 8) * (1.0f / 16777216.0f);
}
