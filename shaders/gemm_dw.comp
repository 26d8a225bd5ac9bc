#version 450
#extension GL_GOOGLE_include_directive : require
// dW (N×K) (+)= dYᵀ · X, dY M×N, X M×K: the weight gradient of a linear
// layer, a sum of outer products over the batch rows M. Each invocation
// owns a TM×TN block of dW (TM, TN multiples of 4).
//
// UM batch rows per loop iteration: lavapipe keeps the accumulators in
// memory and writes each back through the loop's lane mask every iteration,
// and one row gives each only one term. Four rows cut the kernel's time in
// small's and hybrid's updates by 15-20% (two: no clear gain, eight: as
// four). Terms are added in row order as before; the rows past M in the
// last step add 0·0 (both operands selected to zero, so no Inf·0 = NaN).
layout(local_size_x_id = 0, local_size_y_id = 1) in;
layout(constant_id = 2) const uint TM = 8;
layout(constant_id = 3) const uint TN = 8;
const uint UM = 4u;   // batch rows per loop iteration
layout(binding = 0, rgba32f) uniform readonly imageBuffer DY;
layout(binding = 1, rgba32f) uniform readonly imageBuffer X;
layout(binding = 2, std430) buffer DWBuf { vec4 DW[]; };
layout(binding = 3, std430) buffer DBBuf { vec4 DB[]; };
// zdw, zdy, zx, zdb: floats between a batch's copies (vks_batch, grid z).
// with_db: also db (1×N) (+)= Σ_m dY[m], the bias gradient; with_g: also
// gsum (+)= Σ_m gsrc[m], gsrc shaped and strided as dY (col_sums.glsl).
layout(binding = 4, rgba32f) uniform readonly imageBuffer GSRC;
layout(binding = 5, std430) buffer GSumBuf { vec4 GSUM[]; };
layout(push_constant) uniform Push {
    uint M, N, K, lddy4, ldx4, lddw4, accumulate, zdw, zdy, zx, zdb, with_db, zg, zgs, with_g;
} p;

#include "col_sums.glsl"

void main()
{
    const uint TP = TM / 4u, TQ = TN / 4u;
    uint n0 = gl_GlobalInvocationID.x * TM;
    uint k0 = gl_GlobalInvocationID.y * TN;
    if (n0 >= p.N || k0 >= p.lddw4 * 4u)
        return;
    if ((p.with_db != 0u || p.with_g != 0u) && k0 == 0u)
        col_sums(n0, TM);
    uint z = gl_WorkGroupID.z, dyo = z * (p.zdy / 4u), xo = z * (p.zx / 4u), dwo = z * (p.zdw / 4u);
    int dycol[TP], xcol[TQ];
    for (uint r = 0u; r < TP; r++) dycol[r] = int(dyo + min(n0 / 4u + r, p.lddy4 - 1u));
    for (uint q = 0u; q < TQ; q++) xcol[q] = int(xo + min(k0 / 4u + q, p.ldx4 - 1u));
    vec4 acc[TM][TQ];
    for (uint i = 0u; i < TM; i++)
        for (uint q = 0u; q < TQ; q++) acc[i][q] = vec4(0.0);

    for (uint m = 0u; m < p.M; m += UM) {
        vec4 d[UM][TP], x[UM][TQ];
        for (uint u = 0u; u < UM; u++) {
            uint mu = min(m + u, p.M - 1u);
            bvec4 in_m = bvec4(m + u < p.M);   // false: row m + u is past M
            for (uint r = 0u; r < TP; r++) d[u][r] = mix(vec4(0.0), imageLoad(DY, int(mu * p.lddy4) + dycol[r]), in_m);
            for (uint q = 0u; q < TQ; q++) x[u][q] = mix(vec4(0.0), imageLoad(X, int(mu * p.ldx4) + xcol[q]), in_m);
        }
        for (uint i = 0u; i < TM; i++)
            for (uint q = 0u; q < TQ; q++) {
                vec4 s = acc[i][q];
                for (uint u = 0u; u < UM; u++) s += d[u][i / 4u][i % 4u] * x[u][q];
                acc[i][q] = s;
            }
    }

    for (uint q = 0u; q < TQ; q++) {
        uint c = k0 + 4u * q;
        if (c >= p.lddw4 * 4u)
            break;
        bvec4 live = lessThan(uvec4(c, c + 1u, c + 2u, c + 3u), uvec4(p.K));
        for (uint i = 0u; i < TM; i++) {
            if (n0 + i >= p.N)
                break;
            int at = int(dwo + (n0 + i) * p.lddw4 + c / 4u);
            vec4 v = acc[i][q];
            if (p.accumulate != 0u)
                v += DW[at];
            DW[at] = mix(vec4(0.0), v, live);
        }
    }
}
