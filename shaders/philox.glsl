// Philox4x32-10 (Salmon et al., SC 2011; Random123's philox4x32) and the
// dropout mask of src/nn/nn.h (nn_dropout). The host twin is src/nn/philox.c;
// tests/reference/layers_ref.c checks both against Random123's vectors.
#ifndef VKSAC_PHILOX_GLSL
#define VKSAC_PHILOX_GLSL

// Ten rounds; the key is bumped between rounds (not before the first), the
// order Random123 uses, which the known-answer vectors pin down.
uvec4 philox4x32_10(uvec4 c, uvec2 k)
{
    for (int i = 0; i < 10; i++) {
        if (i > 0)
            k += uvec2(0x9E3779B9u, 0xBB67AE85u);
        uint hi0, lo0, hi1, lo1;
        umulExtended(0xD2511F53u, c.x, hi0, lo0);
        umulExtended(0xCD9E8D57u, c.z, hi1, lo1);
        c = uvec4(hi1 ^ c.y ^ k.x, lo1, hi0 ^ c.w ^ k.y, lo0);
    }
    return c;
}

// The top 24 bits of each word as uniforms in [0, 1): exact in fp32, so the
// keep/drop decision is the same on every device and in the reference.
vec4 philox_uniform4(uvec4 w)
{
    return vec4(w >> 8u) * (1.0 / 16777216.0);
}

// Inverted dropout: rate in [0, 1), scale = 1/(1-rate) computed on the host
// (so the kept value is the same float everywhere), key {seed, stream},
// counter words 2 and 3 read from the values tensor.
struct Dropout {
    float rate, scale;
    uvec2 key, counter;
};

// A shader that includes this may define DROPOUT_COMPILED as a boolean
// specialization constant: false compiles the generator out. lavapipe runs
// both sides of every branch (masked), so a run-time rate of 0 alone still
// pays for Philox on every texel (about 40% of ln_fwd at 100×64).
#ifndef DROPOUT_COMPILED
#define DROPOUT_COMPILED true
#endif

// Multipliers of columns 4q..4q+3 of row r: 0 (dropped) or scale. One
// Philox call covers one vec4 texel: word c%4 for column c, counter
// {c/4, r, counter_lo, counter_hi}.
vec4 dropout4(Dropout d, uint r, uint q)
{
    if (!DROPOUT_COMPILED || d.rate <= 0.0)
        return vec4(1.0);   // dropout off (a GPU skips the generator; lavapipe runs it anyway)
    vec4 u = philox_uniform4(philox4x32_10(uvec4(q, r, d.counter), d.key));
    return mix(vec4(0.0), vec4(d.scale), greaterThanEqual(u, vec4(d.rate)));
}

#endif
