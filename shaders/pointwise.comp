#version 450
#extension GL_GOOGLE_include_directive : require
// Forward y = act(drop(x)) or backward dx = dy·∂y/∂x (src/nn/act.c). A
// workgroup takes a row at a time, its invocations the row's texels (no
// division per texel; on lavapipe an 8-invocation workgroup, one SIMD
// batch, ran this 3.4× faster than 64 invocations over flat indices). The
// dropout mask is recomputed from (seed, stream, counter), never stored.
layout(local_size_x_id = 0) in;
// Specialization constant 2: dropout compiled in (src/nn picks false when
// the rate is 0, which removes the Philox generator).
layout(constant_id = 2) const bool DROPOUT = true;
#define DROPOUT_COMPILED DROPOUT

#include "philox.glsl"
#include "act.glsl"

layout(binding = 0, rgba32f) uniform readonly imageBuffer X;
layout(binding = 1, rgba32f) uniform readonly imageBuffer DY;
layout(binding = 2, std430) writeonly buffer OutBuf { vec4 Out[]; };
layout(binding = 3, r32f) uniform readonly imageBuffer Values;
// n: columns of x; ldx4, ldy4: texels per row of x (and dx) and of y (and
// dy), whose width is act_width(n); flags: bits 0-1 act, bit 2 backward.
// counter: index in Values of the counter's low word (high word next).
layout(push_constant) uniform Push {
    uint rows, n, ldx4, ldy4, flags;
    float rate, scale;
    uint seed, stream, counter;
} p;

Dropout drop;

// drop(x) for texel q of row r; zero outside the row, which is what the
// CReLU window reads at its edges (and only for padding lanes).
vec4 dropped(uint r, int q)
{
    if (q < 0 || q >= int(p.ldx4))
        return vec4(0.0);
    return imageLoad(X, int(r * p.ldx4) + q) * dropout4(drop, r, uint(q));
}

// Columns s..s+3 of drop(x) for any s >= -3: one or two texels.
vec4 dropped_window(uint r, int s)
{
    int base = s >> 2, k = s & 3;   // floor division, also for s < 0
    return shift4(dropped(r, base), k == 0 ? vec4(0.0) : dropped(r, base + 1), k);
}

vec4 forward(uint r, uint q, uint act)
{
    return mix(vec4(0.0), act_apply(dropped(r, int(q)), act), live4(4u * q, p.n));
}

// CReLU: columns below n are relu(d[c]), those from n on relu(-d[c-n]).
vec4 forward_crelu(uint r, uint q)
{
    uint c0 = 4u * q;
    vec4 a = mix(crelu_neg(dropped_window(r, int(c0) - int(p.n))), max(dropped(r, int(q)), 0.0),
                 live4(c0, p.n));
    return mix(vec4(0.0), a, live4(c0, 2u * p.n));
}

vec4 backward(uint r, uint q, uint act)
{
    vec4 s = dropout4(drop, r, q);
    vec4 d = imageLoad(X, int(r * p.ldx4 + q)) * s;
    vec4 dx = imageLoad(DY, int(r * p.ldy4 + q)) * act_slope(d, act);
    return mix(vec4(0.0), dx * s, live4(4u * q, p.n));
}

// CReLU: column c gets dy[c]·[d > 0] - dy[n+c]·[d < 0].
vec4 backward_crelu(uint r, uint q)
{
    vec4 s = dropout4(drop, r, q);
    vec4 d = imageLoad(X, int(r * p.ldx4 + q)) * s;
    vec4 dx = imageLoad(DY, int(r * p.ldy4 + q)) * act_slope(d, ACT_CRELU);
    // Columns n+c..n+c+3 of dy, one or two texels.
    int w = int(4u * q + p.n), base = w >> 2, k = w & 3;
    int last = int(p.ldy4) - 1;   // past it only padding lanes read
    vec4 lo = imageLoad(DY, int(r * p.ldy4) + min(base, last));
    vec4 hi = k == 0 ? vec4(0.0) : imageLoad(DY, int(r * p.ldy4) + min(base + 1, last));
    dx += shift4(lo, hi, k) * crelu_neg_slope(d);
    return mix(vec4(0.0), dx * s, live4(4u * q, p.n));
}

void main()
{
    uint act = p.flags & 3u;
    bool back = (p.flags & 4u) != 0u, crelu = act == ACT_CRELU;
    drop.rate = p.rate;
    drop.scale = p.scale;
    drop.key = uvec2(p.seed, p.stream);
    drop.counter = p.rate > 0.0 ? uvec2(imageLoad(Values, int(p.counter)).x,
                                        imageLoad(Values, int(p.counter) + 1).x)
                                : uvec2(0u);
    uint ld = back ? p.ldx4 : p.ldy4, lx = gl_LocalInvocationID.x, lanes = gl_WorkGroupSize.x;
    // One loop per form, each running only for its form: on lavapipe a
    // uniform branch still costs its body, a loop that runs no iteration
    // costs one per row.
    for (uint r = gl_WorkGroupID.x; r < p.rows; r += gl_NumWorkGroups.x) {
        for (uint q = lx; !back && !crelu && q < ld; q += lanes)
            Out[r * ld + q] = forward(r, q, act);
        for (uint q = lx; !back && crelu && q < ld; q += lanes)
            Out[r * ld + q] = forward_crelu(r, q);
        for (uint q = lx; back && !crelu && q < ld; q += lanes)
            Out[r * ld + q] = backward(r, q, act);
        for (uint q = lx; back && crelu && q < ld; q += lanes)
            Out[r * ld + q] = backward_crelu(r, q);
    }
}
