#version 450
#extension GL_GOOGLE_include_directive : require
// A network's input row: X = [RSMNorm(s) | a] (B×(S+C)), or [s | a] when
// `normalize` is 0; C may be 0 (no action part). One invocation per
// element of X including its padding columns, which get 0.
#include "sac.glsl"
layout(local_size_x_id = 0) in;
layout(binding = 0, r32f) uniform readonly imageBuffer S;
layout(binding = 1, r32f) uniform readonly imageBuffer Stats;   // 3×S: μ, σ², t
layout(binding = 2, r32f) uniform readonly imageBuffer A;
layout(binding = 3, std430) writeonly buffer XBuf { float X[]; };
layout(push_constant) uniform Push { uint n, s, c, normalize; } pc;

void main()
{
    uint sx = padded(pc.s + pc.c), ss = padded(pc.s), sa = padded(pc.c);
    uint step = gl_NumWorkGroups.x * gl_WorkGroupSize.x;
    for (uint i = gl_GlobalInvocationID.x; i < pc.n; i += step) {
        uint r = i / sx, c = i % sx;
        float v = 0.0;
        if (c < pc.s) {
            v = imageLoad(S, int(r * ss + c)).x;
            if (pc.normalize != 0u)
                v = (v - imageLoad(Stats, int(c)).x) / max(sqrt(imageLoad(Stats, int(ss + c)).x), 1e-5);
        } else if (c < pc.s + pc.c) {
            v = imageLoad(A, int(r * sa + c - pc.s)).x;
        }
        X[i] = v;
    }
}
