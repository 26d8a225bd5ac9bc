// Shared pieces of the SAC kernels (src/rl): padded strides, the random
// numbers of docs/sac.md and numerically stable forms of tanh and softplus.
#ifndef VKSAC_SAC_GLSL
#define VKSAC_SAC_GLSL

#include "philox.glsl"

// Row stride of a tensor with `cols` columns (src/vk pads rows to vec4s).
uint padded(uint cols) { return (cols + 3u) & ~3u; }

const float SAC_TWO_TO_M24 = 1.0 / 16777216.0;
const float SAC_HALF_PI = 1.5707963267948966;

// cos(2π·t) for t in [0, 1) from short polynomials on [−π/4, π/4]: GLSL's
// cos only promises 2^-11 absolute error, too loose for noise that the
// reference reproduces in double.
float cos_turns(float t)
{
    float q4 = t * 4.0 + 0.5;
    float q = floor(q4);
    float x = (q4 - q - 0.5) * SAC_HALF_PI;
    float x2 = x * x;
    float c = 1.0 + x2 * (-0.5 + x2 * (1.0 / 24.0 + x2 * (-1.0 / 720.0 + x2 * (1.0 / 40320.0))));
    float s = x * (1.0 + x2 * (-1.0 / 6.0 + x2 * (1.0 / 120.0 + x2 * (-1.0 / 5040.0 + x2 * (1.0 / 362880.0)))));
    uint k = uint(q) & 3u;
    return k == 0u ? c : k == 1u ? -s : k == 2u ? -c : s;
}

// Standard normal for (stream, row r, column j) at a counter: Box-Muller on
// the first two words of one Philox call (docs/sac.md, "Random numbers").
float sac_normal(uint key, uint stream, uint r, uint j, uvec2 ctr)
{
    uvec4 w = philox4x32_10(uvec4(j, r, ctr.x, ctr.y), uvec2(key, stream));
    float u1 = (float(w.x >> 8u) + 1.0) * SAC_TWO_TO_M24;
    float u2 = float(w.y >> 8u) * SAC_TWO_TO_M24;
    return sqrt(-2.0 * log(u1)) * cos_turns(u2);
}

// Gumbel(0, 1) noise for logit column j of row r.
float sac_gumbel(uint key, uint stream, uint r, uint j, uvec2 ctr)
{
    uvec4 w = philox4x32_10(uvec4(j, r, ctr.x, ctr.y), uvec2(key, stream));
    float u = (float(w.x >> 8u) + 0.5) * SAC_TWO_TO_M24;
    return -log(-log(u));
}

// log(1 + e^x) without overflow.
float softplus(float x) { return max(x, 0.0) + log(1.0 + exp(-abs(x))); }

float tanh_stable(float x)
{
    float e = exp(-2.0 * abs(x));
    return sign(x) * (1.0 - e) / (1.0 + e);
}

// σ of the actor head: exp(clamp(raw, −5, 2)), or max(sigmoid(raw), 1e-5).
// dsigma receives ∂σ/∂raw (0 where the clamp or the floor holds).
float head_sigma(float raw, bool sigmoid_mode, out float dsigma)
{
    if (sigmoid_mode) {
        float s = 1.0 / (1.0 + exp(-raw));
        dsigma = s > 1e-5 ? s * (1.0 - s) : 0.0;
        return max(s, 1e-5);
    }
    float s = exp(clamp(raw, -5.0, 2.0));
    dsigma = raw > -5.0 && raw < 2.0 ? s : 0.0;
    return s;
}

// Quantile Huber weight pieces (κ = 1): huber(u) and its derivative.
float huber(float u) { return abs(u) <= 1.0 ? 0.5 * u * u : abs(u) - 0.5; }
float huber_grad(float u) { return abs(u) <= 1.0 ? u : sign(u); }

#endif
