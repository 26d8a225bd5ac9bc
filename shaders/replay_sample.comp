#version 450
#extension GL_GOOGLE_include_directive : require
// Replay-buffer sampling (src/rl/replay.c): fills one batch with rows
// gathered from the ring. Batch row b reads slot umulhi(w.x, size) where
// w = philox4x32_10({0, b, lo, hi}, {key, 1}) and lo, hi are the update
// counter's halves (docs/sac.md, "Random numbers"); size = min(count,
// capacity) is read from the buffer's meta row, so a recording stays valid
// while the buffer fills. With size 0 every output is written as zeros.
//
// The ring's fields are views into one storage tensor (binding 0), each at
// a texel offset given in the push constants, so one dispatch needs only
// seven bindings. One invocation per (batch row, texel) of the widest
// field; each copies that texel of every field that has it, masking the
// padding columns to zero.
#include "philox.glsl"

layout(local_size_x_id = 0) in;
layout(binding = 0, rgba32f) uniform readonly imageBuffer Store;
layout(binding = 1, r32f) uniform readonly imageBuffer Counters;
layout(binding = 2, std430) writeonly buffer OutSBuf { vec4 OutS[]; };
layout(binding = 3, std430) writeonly buffer OutNSBuf { vec4 OutNS[]; };
layout(binding = 4, std430) writeonly buffer OutCBuf { vec4 OutC[]; };
layout(binding = 5, std430) writeonly buffer OutDBuf { vec4 OutD[]; };
layout(binding = 6, std430) writeonly buffer OutRTDBuf { vec4 OutRTD[]; };
// rows: batch rows; q4: texels per work row (widest field); counter: index
// in Counters of the counter's low half (high half next); off_*: texel
// offsets of the fields' slot 0 and of the meta row in Store.
layout(push_constant) uniform Push {
    uint rows, q4, S, C, D, key, counter;
    uint off_s, off_ns, off_c, off_d, off_rtd, off_meta;
} pc;

// Texel q of batch row b of a field of `cols` columns: the slot's texel
// (or zero), padding columns zeroed. Absent fields (cols 0) write nothing.
#define GATHER(OUT, OFF, COLS)                                                              \
    {                                                                                       \
        uint s4 = ((COLS) + 3u) / 4u;                                                       \
        if (q < s4) {                                                                       \
            vec4 v = live ? imageLoad(Store, int((OFF) + slot * s4 + q)) : vec4(0.0);       \
            uint c0 = 4u * q;                                                               \
            bvec4 in_row = lessThan(uvec4(c0, c0 + 1u, c0 + 2u, c0 + 3u), uvec4(COLS));     \
            OUT[b * s4 + q] = mix(vec4(0.0), v, in_row);                                    \
        }                                                                                   \
    }

void main()
{
    uint size = uint(imageLoad(Store, int(pc.off_meta)).x);
    uvec2 ctr = uvec2(uint(imageLoad(Counters, int(pc.counter)).x), uint(imageLoad(Counters, int(pc.counter) + 1).x));
    bool live = size > 0u;
    uint n = pc.rows * pc.q4, step = gl_NumWorkGroups.x * gl_WorkGroupSize.x;
    for (uint i = gl_GlobalInvocationID.x; i < n; i += step) {
        uint b = i / pc.q4, q = i % pc.q4;
        uint slot = 0u, lo;
        if (live)
            umulExtended(philox4x32_10(uvec4(0u, b, ctr), uvec2(pc.key, 1u)).x, size, slot, lo);
        GATHER(OutS, pc.off_s, pc.S)
        GATHER(OutNS, pc.off_ns, pc.S)
        GATHER(OutC, pc.off_c, pc.C)
        GATHER(OutD, pc.off_d, pc.D)
        GATHER(OutRTD, pc.off_rtd, 3u)
    }
}
