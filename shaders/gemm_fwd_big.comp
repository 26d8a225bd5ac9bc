#version 450
#extension GL_GOOGLE_include_directive : require
// Y (M×N) = act(X (M×K) · Wᵀ + b), as gemm_fwd.comp, for large outputs on
// CPU devices: each invocation owns a 32×16 block of Y (rows m0.., columns
// n0..), so each texel it loads serves 16 or 32 outputs instead of 8.
//
// The block is written out with macros rather than loops over arrays: NIR
// does not unroll loops this large, and an array indexed in a loop it keeps
// lives in scratch memory. Measured on lavapipe (256×256×512, one thread):
// 8×8 array blocks 20-24 GFLOP/s; 32×16 written out 31-33; 32×32 33-35 (but
// half as many invocations); per column, all X texels first, then each W
// texel against all of them, beats the other orders tried (14-27).
//
// Two texels of K per loop iteration: lavapipe keeps the accumulators in
// memory and, inside a loop, writes each back through the loop's lane mask
// (a load, a blend and a store per accumulator and iteration), so eight
// terms per write-back instead of four run 8-12% faster (29-31 -> 32-35
// GFLOP/s per thread).
// The same step in gemm_dx_big, gemm_dw_big (while their accumulators were
// vec4s) and the 8×8 gemm_fwd measured no gain or a loss (more live values
// spill); with scalars gemm_dw_big takes two batch rows (see there). The
// terms are added in the same order as one texel at a time; an odd K4's
// last step adds 0·0 terms (both operands selected to zero, so an Inf
// cannot turn them into NaN).
//
// K needs no tail masking: padding columns are zero (src/vk/runtime.h).
// Rows past M or N are clamped on load; rows past M are not stored and
// padding columns of Y get zeros.
layout(local_size_x_id = 0, local_size_y_id = 1) in;

#include "act.glsl"

layout(binding = 0, rgba32f) uniform readonly imageBuffer X;
layout(binding = 1, rgba32f) uniform readonly imageBuffer W;
layout(binding = 2, r32f) uniform readonly imageBuffer Bias;
layout(binding = 3, std430) writeonly buffer YBuf { vec4 Y[]; };
// flags: bit 0 bias; bits 1-2 activation (act.glsl: none, relu, relu²)
// zy, zx, zw, zb: floats between a batch's copies (vks_batch, grid z).
layout(push_constant) uniform Push { uint M, N, K4, ldx4, ldw4, ldy4, flags, zy, zx, zw, zb; } p;

const uint TM = 32u, TN = 16u;

// ROWS(F, j) applies F to each of the 32 rows (with an extra argument j),
// COLS(F) to each of the 16 columns.
#define ROWS(F, j) F(0, j) F(1, j) F(2, j) F(3, j) F(4, j) F(5, j) F(6, j) F(7, j) \
    F(8, j) F(9, j) F(10, j) F(11, j) F(12, j) F(13, j) F(14, j) F(15, j) \
    F(16, j) F(17, j) F(18, j) F(19, j) F(20, j) F(21, j) F(22, j) F(23, j) \
    F(24, j) F(25, j) F(26, j) F(27, j) F(28, j) F(29, j) F(30, j) F(31, j)
#define COLS(F) F(0) F(1) F(2) F(3) F(4) F(5) F(6) F(7) \
    F(8) F(9) F(10) F(11) F(12) F(13) F(14) F(15)

// Accumulators c<i>_<j>: row m0 + i, column n0 + j.
#define DECL_C(i, j) float c##i##_##j = 0.0;
#define DECL_COL(j) ROWS(DECL_C, j)
// Texels k and k1 of X's row i, and of W's row j against all 32 rows.
#define LOAD_A(i, j) vec4 a##i = imageLoad(X, int(xo + min(m0 + uint(i), p.M - 1u) * p.ldx4) + k);
#define LOAD_E(i, j) vec4 e##i = mix(vec4(0.0), imageLoad(X, int(xo + min(m0 + uint(i), p.M - 1u) * p.ldx4) + k1), in_k);
#define FMA4(i, j) c##i##_##j = fma(e##i.w, g.w, fma(e##i.z, g.z, fma(e##i.y, g.y, fma(e##i.x, g.x, \
    fma(a##i.w, b.w, fma(a##i.z, b.z, fma(a##i.y, b.y, fma(a##i.x, b.x, c##i##_##j))))))));
#define COL_STEP(j) { vec4 b = imageLoad(W, wrow##j + k); vec4 g = mix(vec4(0.0), imageLoad(W, wrow##j + k1), in_k); ROWS(FMA4, j) }
#define DECL_WROW(j) int wrow##j = int(wo + min(n0 + uint(j), p.N - 1u) * p.ldw4);
// Row i's texel q (columns n0 + 4q ..): bias, activation, padding zeros.
#define STORE(i, q, j0, j1, j2, j3) \
    if (m0 + uint(i) < p.M && n0 + 4u * uint(q) < p.ldy4 * 4u) \
        Y[yo + (m0 + uint(i)) * p.ldy4 + n0 / 4u + uint(q)] = \
            finish(vec4(c##i##_##j0, c##i##_##j1, c##i##_##j2, c##i##_##j3), bias##q, uint(q));
#define STORE_ROW(i, unused) STORE(i, 0, 0, 1, 2, 3) STORE(i, 1, 4, 5, 6, 7) \
    STORE(i, 2, 8, 9, 10, 11) STORE(i, 3, 12, 13, 14, 15)

uint m0, n0, xo, wo, yo, bo;

// Bias of columns n0 + 4q .. n0 + 4q + 3 (zeros without one): loaded once
// per invocation, not once per row (32 times as many scalar loads; hybrid's
// update at batch 128, one thread: gemm_fwd_big 2.23 -> 2.10 ms).
vec4 bias_of(uint q)
{
    if ((p.flags & 1u) == 0u)
        return vec4(0.0);
    uint c = n0 + 4u * q;
    uvec4 bc = bo + min(uvec4(c, c + 1u, c + 2u, c + 3u), uvec4(p.N - 1u));
    return vec4(imageLoad(Bias, int(bc.x)).x, imageLoad(Bias, int(bc.y)).x,
                imageLoad(Bias, int(bc.z)).x, imageLoad(Bias, int(bc.w)).x);
}

vec4 finish(vec4 v, vec4 bias, uint q)
{
    uint c = n0 + 4u * q;
    v = act_apply(v + bias, (p.flags >> 1) & 3u);
    return mix(vec4(0.0), v, lessThan(uvec4(c, c + 1u, c + 2u, c + 3u), uvec4(p.N)));
}

void main()
{
    // A workgroup's invocations (SIMD lanes on a CPU) spread along N.
    m0 = gl_WorkGroupID.y * TM;
    n0 = gl_GlobalInvocationID.x * TN;
    uint z = gl_WorkGroupID.z;
    xo = z * (p.zx / 4u), wo = z * (p.zw / 4u), yo = z * (p.zy / 4u), bo = z * p.zb;
    if (m0 >= p.M || n0 >= p.ldy4 * 4u)
        return;
    COLS(DECL_COL)
    COLS(DECL_WROW)
    for (int k = 0; k < int(p.K4); k += 2) {
        int k1 = min(k + 1, int(p.K4) - 1);
        bvec4 in_k = bvec4(k + 1 < int(p.K4));   // false: texel k1 is past K4
        ROWS(LOAD_A, 0)
        ROWS(LOAD_E, 0)
        COLS(COL_STEP)
    }
    vec4 bias0 = bias_of(0u), bias1 = bias_of(1u), bias2 = bias_of(2u), bias3 = bias_of(3u);
    ROWS(STORE_ROW, 0)
}
