#version 450
#extension GL_GOOGLE_include_directive : require
#extension GL_KHR_shader_subgroup_arithmetic : require
#extension GL_EXT_control_flow_attributes : require
// y = [residual +] gain ⊙ LN(act(drop(u))) per row, stats[r] = (mean, 1/σ)
// (src/nn/layernorm.c). One subgroup per row: its lanes split the row's
// texels and subgroupAdd gives the two sums of the two-pass variance, with
// no shared memory and no barrier. Measured on lavapipe (256×512, relu²,
// forward + backward): 8-lane workgroups, one subgroup and row each, 1.9 ms;
// the same with a shared-memory sum 2.6 ms; one invocation per row (64 per
// workgroup, each lane on its own row) 9.3 ms; a 64-lane workgroup per row
// with a shared-memory sum 17 ms (its barriers dominate).
//
// Each pass recomputes d = drop(u) from u: on lavapipe a Philox draw costs
// about as much as the texel store and load that keeping d would take, and
// without a stash y may be u or the residual (each texel of those is read
// by the lane that writes it in y, before it does).
layout(local_size_x_id = 0) in;
// Specialization constant 2: dropout compiled in (src/nn picks false when
// the rate is 0, which removes the Philox generator).
layout(constant_id = 2) const bool DROPOUT = true;
#define DROPOUT_COMPILED DROPOUT
// 3: how rows meet lanes. 0: one subgroup per row. 1: one row per
// invocation (ROW_PER_LANE, no subgroup sums; faster on CPU devices), u
// read again in each pass. N > 1: one row per invocation, held in N
// texels between the passes (row_held), for rows of at most N texels and
// an activation other than CReLU (src/nn/layernorm.c).
layout(constant_id = 3) const uint ROW_TEXELS = 0u;
const bool ROW_PER_LANE = ROW_TEXELS != 0u;
const uint HELD = ROW_TEXELS > 1u ? ROW_TEXELS : 1u;

#include "philox.glsl"
#include "act.glsl"

layout(binding = 0, rgba32f) uniform readonly imageBuffer U;
layout(binding = 1, rgba32f) uniform readonly imageBuffer Gain;
layout(binding = 2, rgba32f) uniform readonly imageBuffer Res;
layout(binding = 3, std430) writeonly buffer YBuf { vec4 Y[]; };
layout(binding = 4, std430) writeonly buffer StatsBuf { vec4 Stats[]; };
layout(binding = 5, r32f) uniform readonly imageBuffer Values;
// n: columns of u; ldu4, ldy4: texels per row of u and y (width
// act_width(n)); flags: bits 0-1 act, bit 2 residual.
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

// d = drop(u) for texel q of the row, zero outside it (u's padding is 0).
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

void store_y(uint q, vec4 a, float mean, float rstd, uint width)
{
    vec4 y = imageLoad(Gain, int(gbase + q)) * ((a - mean) * rstd);
    if ((p.flags & 4u) != 0u)
        y += imageLoad(Res, int(ybase + q));
    Y[ybase + q] = mix(vec4(0.0), y, live4(4u * q, width));
}

// The three passes below over a row held in registers: u is read, and
// dropped out, once instead of three times (lavapipe 22.3, hybrid's update
// at batch 128 on the queue thread: ln_fwd 1.64 -> 1.30 ms; rows of 64
// texels measured no gain). The same sums in the same order: texels past
// the row are 0 and act(0) = 0 for these activations.
void row_held(uint act, uint width)
{
    vec4 a[HELD];
    float sum = 0.0;
    [[unroll]] for (uint q = 0u; q < HELD; q++) {
        a[q] = act_apply(d_texel(int(q)), act);
        sum += dot(a[q], vec4(1.0));
    }
    float mean = sum / float(width), var = 0.0;
    [[unroll]] for (uint q = 0u; q < HELD; q++) {
        vec4 e = a[q] - mean;
        var += dot(mix(vec4(0.0), e * e, live4(4u * q, p.n)), vec4(1.0));
    }
    float rstd = inversesqrt(var / float(width) + 1e-5);
    [[unroll]] for (uint q = 0u; q < HELD; q++)
        if (q < p.ldu4)   // as pass 3: y's texels match u's without CReLU
            store_y(q, a[q], mean, rstd, width);
    Stats[row] = vec4(mean, rstd, 0.0, 0.0);
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
    uint n4 = p.ldu4, width = crelu ? 2u * p.n : p.n;
    // Lanes of the subgroup, counted so that any subgroup size (partial
    // subgroups included) works; a workgroup holds gl_NumSubgroups rows.
    uint lanes = ROW_PER_LANE ? 1u : subgroupAdd(1u), lx = ROW_PER_LANE ? 0u : subgroupExclusiveAdd(1u);
    uint group_rows = ROW_PER_LANE ? gl_WorkGroupSize.x : gl_NumSubgroups;
    uint slot = ROW_PER_LANE ? gl_LocalInvocationID.x : gl_SubgroupID;
    uint step = gl_NumWorkGroups.x * group_rows;
    // The row loop is uniform, and a row's lanes stay together for the sums.
    for (uint r0 = gl_WorkGroupID.x * group_rows; r0 < p.rows; r0 += step) {
        row = r0 + slot;
        bool in_rows = row < p.rows;
        uint z = in_rows ? row / p.zrows : 0u;
        lrow = row - z * p.zrows;
        gbase = z * (p.zgain / 4u);
        drop.key = uvec2(p.zseed[z], p.stream);
        ubase = row * p.ldu4;
        ybase = row * p.ldy4;
        if (ROW_TEXELS > 1u) {
            if (in_rows)
                row_held(act, width);
            continue;
        }

        // Pass 1: the mean. CReLU's relu(d) + relu(-d) is |d|.
        float sum = 0.0;
        for (uint q = lx; in_rows && q < n4; q += lanes) {
            vec4 d = d_texel(int(q));
            sum += dot(crelu ? abs(d) : act_apply(d, act), vec4(1.0));   // padding d is 0
        }
        float mean = (ROW_PER_LANE ? sum : subgroupAdd(sum)) / float(width);

        // Pass 2: the variance around it.
        float var = 0.0;
        for (uint q = lx; in_rows && q < n4; q += lanes) {
            vec4 d = d_texel(int(q));
            vec4 e = act_apply(d, act) - mean, f = crelu_neg(d) - mean;
            vec4 e2 = crelu ? e * e + f * f : e * e;
            var += dot(mix(vec4(0.0), e2, live4(4u * q, p.n)), vec4(1.0));
        }
        float rstd = inversesqrt((ROW_PER_LANE ? var : subgroupAdd(var)) / float(width) + 1e-5);

        // Pass 3: normalise. For CReLU, y's texels from n/4 on hold some
        // relu(-d[c-n]) (columns n and up), read through a window of d; a
        // loop of its own keeps that work off the other activations (a
        // uniform branch still costs its body on lavapipe, a loop that runs
        // no iteration costs one per row).
        uint split = crelu ? p.n / 4u : n4;
        for (uint q = lx; in_rows && q < split; q += lanes)
            store_y(q, act_apply(d_texel(int(q)), act), mean, rstd, width);
        for (uint q = split + lx; crelu && in_rows && q < p.ldy4; q += lanes) {
            vec4 a = mix(crelu_neg(d_window(int(4u * q) - int(p.n))), max(d_texel(int(q)), 0.0),
                         live4(4u * q, p.n));
            store_y(q, a, mean, rstd, width);
        }
        if (in_rows && lx == 0u)
            Stats[row] = vec4(mean, rstd, 0.0, 0.0);
    }
}
