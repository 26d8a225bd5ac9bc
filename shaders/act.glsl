// Activations of src/nn/nn.h (nn_act) on vec4 texels, their slopes, and the
// column helpers CReLU needs: its second half, relu(-d), sits N columns to
// the right of the input it comes from, so for N % 4 != 0 it straddles texels.
#ifndef VKSAC_ACT_GLSL
#define VKSAC_ACT_GLSL

const uint ACT_NONE = 0u, ACT_RELU = 1u, ACT_RELU2 = 2u, ACT_CRELU = 3u;

// act(d) elementwise; for CReLU this is the first half, relu(d).
vec4 act_apply(vec4 d, uint act)
{
    if (act == ACT_NONE)
        return d;
    vec4 r = max(d, 0.0);
    return act == ACT_RELU2 ? r * r : r;
}

// d act(d) / d d, with slope 0 at d == 0 for the ReLU family (the reference
// uses the same convention). For CReLU, the first half's slope.
vec4 act_slope(vec4 d, uint act)
{
    if (act == ACT_NONE)
        return vec4(1.0);
    if (act == ACT_RELU2)
        return 2.0 * max(d, 0.0);
    return vec4(greaterThan(d, vec4(0.0)));
}

// CReLU's second half relu(-d) and its slope -[d < 0].
vec4 crelu_neg(vec4 d) { return max(-d, 0.0); }
vec4 crelu_neg_slope(vec4 d) { return -vec4(lessThan(d, vec4(0.0))); }

// Which of the columns c0..c0+3 are below n. Stores select with it
// (mix(vec4(0.0), v, live)) so padding columns get exactly 0 whatever v
// holds there (src/vk/runtime.h).
bvec4 live4(uint c0, uint n)
{
    return lessThan(uvec4(c0) + uvec4(0u, 1u, 2u, 3u), uvec4(n));
}

// Columns k..k+3 of the eight columns lo|hi (k in 0..3): the unaligned
// window a CReLU second half reads from its input.
vec4 shift4(vec4 lo, vec4 hi, int k)
{
    switch (k) {
    case 0: return lo;
    case 1: return vec4(lo.yzw, hi.x);
    case 2: return vec4(lo.zw, hi.xy);
    default: return vec4(lo.w, hi.xyz);
    }
}

#endif
