#version 450
#extension GL_GOOGLE_include_directive : require
// Y (M×N) = act(X (M×K) · Wᵀ + b), W is N×K (a linear layer's weight).
// Register-blocked: each invocation computes a TM×TN block of Y reading
// whole vec4 texels along K. K needs no tail masking because padding
// columns are zero (src/vk/runtime.h); rows past M or N are clamped on
// load and skipped (rows) or zeroed (padding columns) on store.
layout(local_size_x_id = 0, local_size_y_id = 1) in;

#include "act.glsl"

layout(constant_id = 2) const uint TM = 8;
layout(constant_id = 3) const uint TN = 8;   // multiple of 4
layout(binding = 0, rgba32f) uniform readonly imageBuffer X;
layout(binding = 1, rgba32f) uniform readonly imageBuffer W;
layout(binding = 2, r32f) uniform readonly imageBuffer Bias;
layout(binding = 3, std430) writeonly buffer YBuf { vec4 Y[]; };
// flags: bit 0 bias; bits 1-2 activation (0 none, 1 relu, 2 relu²);
// bit 3 lanes along N
// Copy z of a batch (grid z) reads and writes each operand zy, zx, zw, zb
// floats further on (vks_batch).
layout(push_constant) uniform Push { uint M, N, K4, ldx4, ldw4, ldy4, flags, zy, zx, zw, zb; } p;

void main()
{
    // Invocations of a workgroup (SIMD lanes on a CPU) spread along N when Y
    // is wide enough to fill them, else along M (narrow heads such as N = 1).
    bool lanes_n = (p.flags & 8u) != 0u;
    uint m0 = (lanes_n ? gl_WorkGroupID.y : gl_GlobalInvocationID.x) * TM;
    uint n0 = (lanes_n ? gl_GlobalInvocationID.x : gl_WorkGroupID.y) * TN;
    if (m0 >= p.M || n0 >= p.ldy4 * 4u)
        return;
    uint z = gl_WorkGroupID.z, xo = z * (p.zx / 4u), wo = z * (p.zw / 4u), yo = z * (p.zy / 4u), bo = z * p.zb;
    int xrow[TM], wrow[TN];
    for (uint i = 0u; i < TM; i++) xrow[i] = int(xo + min(m0 + i, p.M - 1u) * p.ldx4);
    for (uint j = 0u; j < TN; j++) wrow[j] = int(wo + min(n0 + j, p.N - 1u) * p.ldw4);
    float acc[TM][TN];
    for (uint i = 0u; i < TM; i++)
        for (uint j = 0u; j < TN; j++) acc[i][j] = 0.0;

    for (int k = 0; k < int(p.K4); k++) {
        vec4 a[TM], b[TN];
        for (uint i = 0u; i < TM; i++) a[i] = imageLoad(X, xrow[i] + k);
        for (uint j = 0u; j < TN; j++) b[j] = imageLoad(W, wrow[j] + k);
        for (uint i = 0u; i < TM; i++)
            for (uint j = 0u; j < TN; j++)   // 4 fused multiply-adds, one fewer op than dot() + add
                acc[i][j] = fma(a[i].w, b[j].w, fma(a[i].z, b[j].z, fma(a[i].y, b[j].y, fma(a[i].x, b[j].x, acc[i][j]))));
    }

    uint act = (p.flags >> 1) & 3u;
    for (uint q = 0u; q < TN / 4u; q++) {
        uint c = n0 + 4u * q;
        if (c >= p.ldy4 * 4u)
            break;
        uvec4 col = uvec4(c, c + 1u, c + 2u, c + 3u);
        bvec4 live = lessThan(col, uvec4(p.N));
        vec4 bias = vec4(0.0);
        if ((p.flags & 1u) != 0u) {
            uvec4 bc = bo + min(col, uvec4(p.N - 1u));
            bias = vec4(imageLoad(Bias, int(bc.x)).x, imageLoad(Bias, int(bc.y)).x,
                        imageLoad(Bias, int(bc.z)).x, imageLoad(Bias, int(bc.w)).x);
        }
        for (uint i = 0u; i < TM; i++) {
            if (m0 + i >= p.M)
                break;
            vec4 v = vec4(acc[i][4u * q], acc[i][4u * q + 1u], acc[i][4u * q + 2u], acc[i][4u * q + 3u]);
            v = act_apply(v + bias, act);
            Y[yo + (m0 + i) * p.ldy4 + c / 4u] = mix(vec4(0.0), v, live);
        }
    }
}
