#version 450
#extension GL_GOOGLE_include_directive : require
#extension GL_KHR_shader_subgroup_arithmetic : require
// Backward of ln_fwd (src/nn/layernorm.c) for one row, with a = act(d),
// d = drop(u), x̂ = (a - mean)·rstd, g = dy ⊙ gain (N' = act_width(n)):
//   da = rstd·(g - mean(g) - x̂·mean(g ⊙ x̂)),  du = da·∂a/∂u,
//   scratch = dy ⊙ x̂ (summed over rows into dgain by sum_cols, or by the
//   next gemm_dw: col_sums.glsl).
// A subgroup per row as in ln_fwd. mean and rstd come from the
// forward's stats; d is recomputed from u where needed (on lavapipe a
// Philox draw costs about one texel load, less than stashing d).
// CReLU: column c of u feeds columns c and n+c; the second half is read
// through unaligned 4-column windows when n % 4 != 0.
layout(local_size_x_id = 0) in;
// Specialization constant 2: dropout compiled in (src/nn picks false when
// the rate is 0, which removes the Philox generator).
layout(constant_id = 2) const bool DROPOUT = true;
#define DROPOUT_COMPILED DROPOUT
// 3: one row per invocation (ROW_PER_LANE, no subgroup sums; faster on
// CPU devices) instead of one subgroup per row.
layout(constant_id = 3) const bool ROW_PER_LANE = false;

#include "philox.glsl"
#include "act.glsl"

layout(binding = 0, rgba32f) uniform readonly imageBuffer U;
layout(binding = 1, rgba32f) uniform readonly imageBuffer Gain;
layout(binding = 2, rgba32f) uniform readonly imageBuffer Stats;
layout(binding = 3, rgba32f) uniform readonly imageBuffer DY;
layout(binding = 4, std430) writeonly buffer DUBuf { vec4 DU[]; };
layout(binding = 5, std430) writeonly buffer ScratchBuf { vec4 Scratch[]; };
layout(binding = 6, r32f) uniform readonly imageBuffer Values;
// n: columns of u; ldu4, ldy4: texels per row of u and dy; flags: bits 0-1 act.
layout(push_constant) uniform Push {
    uint rows, n, ldu4, ldy4, flags;
    float rate, scale;
    uint seed, stream, counter;   // seed: zseed[0] holds it (src/nn/layernorm.c)
    // Stacked networks (nn_stack): rows come zrows per network; network z's
    // gain lies z·zgain floats on and its dropout key is zseed[z].
    uint zrows, zgain;
    uint zseed[16];
} p;

Dropout drop;
uint row, lrow, ubase, ybase, gbase;   // lrow: the row within its network
float mean, rstd;

// Columns s..s+3 of dy's row and of gain, s >= 0 (CReLU's second half).
vec4 dy_window(int s)
{
    int base = s >> 2, k = s & 3, last = int(p.ldy4) - 1;   // past it: padding lanes only
    vec4 lo = imageLoad(DY, int(ybase) + min(base, last));
    return shift4(lo, k == 0 ? vec4(0.0) : imageLoad(DY, int(ybase) + min(base + 1, last)), k);
}

vec4 gain_window(int s)
{
    int base = s >> 2, k = s & 3, last = int(p.ldy4) - 1;
    vec4 lo = imageLoad(Gain, int(gbase) + min(base, last));
    return shift4(lo, k == 0 ? vec4(0.0) : imageLoad(Gain, int(gbase) + min(base + 1, last)), k);
}

// d = drop(u) for texel q of the row, zero outside it.
vec4 d_texel(int q)
{
    if (q < 0 || q >= int(p.ldu4))
        return vec4(0.0);
    return imageLoad(U, int(ubase) + q) * dropout4(drop, lrow, uint(q));
}

// Columns s..s+3 of d (s >= -3), for CReLU's second half.
vec4 d_window(int s)
{
    int base = s >> 2, k = s & 3;
    return shift4(d_texel(base), k == 0 ? vec4(0.0) : d_texel(base + 1), k);
}

// x̂ and g of columns 4q..4q+3 (the activation of d; for CReLU, relu(d)),
// masked to live columns. Lanes from column n on are padding, or for
// CReLU the second half's dy.
void first_half(uint q, uint act, vec4 d, out vec4 dy, out vec4 xh, out vec4 g)
{
    bvec4 live = live4(4u * q, p.n);
    dy = imageLoad(DY, int(ybase + q));
    g = mix(vec4(0.0), dy * imageLoad(Gain, int(gbase + q)), live);
    xh = mix(vec4(0.0), (act_apply(d, act) - mean) * rstd, live);
}

// CReLU's second half: x̂ and g of columns n+4q..n+4q+3, masked.
void second_half(uint q, vec4 d, out vec4 xh, out vec4 g)
{
    bvec4 live = live4(4u * q, p.n);
    int w = int(4u * q + p.n);
    g = mix(vec4(0.0), dy_window(w) * gain_window(w), live);
    xh = mix(vec4(0.0), (crelu_neg(d) - mean) * rstd, live);
}

void main()
{
    uint act = p.flags & 3u;
    bool crelu = act == ACT_CRELU;
    drop.rate = p.rate;
    drop.scale = p.scale;
    drop.counter = p.rate > 0.0 ? uvec2(imageLoad(Values, int(p.counter)).x,
                                        imageLoad(Values, int(p.counter) + 1).x)
                                : uvec2(0u);
    uint n4 = p.ldu4;
    float width = float(crelu ? 2u * p.n : p.n);
    // Rows and lanes as in ln_fwd.
    uint lanes = ROW_PER_LANE ? 1u : subgroupAdd(1u), lx = ROW_PER_LANE ? 0u : subgroupExclusiveAdd(1u);
    uint group_rows = ROW_PER_LANE ? gl_WorkGroupSize.x : gl_NumSubgroups;
    uint slot = ROW_PER_LANE ? gl_LocalInvocationID.x : gl_SubgroupID;
    uint step = gl_NumWorkGroups.x * group_rows;
    for (uint r0 = gl_WorkGroupID.x * group_rows; r0 < p.rows; r0 += step) {
        row = r0 + slot;
        bool in_rows = row < p.rows;
        uint z = in_rows ? row / p.zrows : 0u;
        lrow = row - z * p.zrows;
        gbase = z * (p.zgain / 4u);
        drop.key = uvec2(p.zseed[z], p.stream);
        ubase = row * p.ldu4;
        ybase = row * p.ldy4;
        vec2 st = in_rows ? imageLoad(Stats, int(row)).xy : vec2(0.0);
        mean = st.x;
        rstd = st.y;

        // Pass 1: Σ g and Σ g·x̂ over the row. CReLU's second half and
        // du have loops of their own: a uniform branch still costs its
        // body on lavapipe, a loop that runs no iteration costs one per row.
        vec2 acc = vec2(0.0);
        for (uint q = lx; in_rows && q < n4; q += lanes) {
            vec4 dy, xh, g;
            first_half(q, act, d_texel(int(q)), dy, xh, g);
            acc += vec2(dot(g, vec4(1.0)), dot(g, xh));
        }
        for (uint q = lx; crelu && in_rows && q < n4; q += lanes) {
            vec4 xh, g;
            second_half(q, d_texel(int(q)), xh, g);
            acc += vec2(dot(g, vec4(1.0)), dot(g, xh));
        }
        vec2 m = (ROW_PER_LANE ? acc : subgroupAdd(acc)) / width;

        // Pass 2: du (s: the dropout multiplier, ∂d/∂u), and scratch =
        // dy ⊙ x̂ where its texels match u's.
        for (uint q = lx; !crelu && in_rows && q < n4; q += lanes) {
            vec4 s = dropout4(drop, lrow, q), d = imageLoad(U, int(ubase + q)) * s, dy, xh, g;
            first_half(q, act, d, dy, xh, g);
            vec4 du = rstd * (g - m.x - xh * m.y) * act_slope(d, act) * s;
            bvec4 live = live4(4u * q, p.n);
            DU[ubase + q] = mix(vec4(0.0), du, live);
            Scratch[ybase + q] = mix(vec4(0.0), dy * xh, live);
        }
        for (uint q = lx; crelu && in_rows && q < n4; q += lanes) {
            vec4 s = dropout4(drop, lrow, q), d = imageLoad(U, int(ubase + q)) * s, dy, x1, g1, x2, g2;
            first_half(q, act, d, dy, x1, g1);
            second_half(q, d, x2, g2);
            vec4 du = rstd * ((g1 - m.x - x1 * m.y) * act_slope(d, act) +
                              (g2 - m.x - x2 * m.y) * crelu_neg_slope(d));
            DU[ubase + q] = mix(vec4(0.0), du * s, live4(4u * q, p.n));
        }

        // CReLU's scratch, over all 2n columns.
        for (uint q = lx; crelu && in_rows && q < p.ldy4; q += lanes) {
            vec4 a = mix(crelu_neg(d_window(int(4u * q) - int(p.n))), max(d_texel(int(q)), 0.0),
                         live4(4u * q, p.n));
            vec4 sc = imageLoad(DY, int(ybase + q)) * ((a - mean) * rstd);
            Scratch[ybase + q] = mix(vec4(0.0), sc, live4(4u * q, 2u * p.n));
        }
    }
}
