#version 450
#extension GL_GOOGLE_include_directive : require
// dW (N×K) (+)= dYᵀ · X, dY M×N, X M×K, as gemm_dw.comp, for large
// outputs on CPU devices: each invocation owns a 32×16 block of dW (rows
// n0.., columns k0..), written out with macros for the reasons given in
// gemm_fwd_big.comp. Per batch row m: dY's 8 texels of the block first,
// then each of X's 4 texels against all of them (30 against 23 GFLOP/s for
// gemm_dw.comp at 256×512×256 on lavapipe 22.3 when written; since gemm_dw
// takes four batch rows per step both run ~28, and Mesa 25 runs this one
// slower: src/vk/tuning.c, vks_big_gemm_forms. Four batch rows per step
// here measured no better). Same
// arithmetic, in the same order per element, as gemm_dw.comp.
layout(local_size_x_id = 0, local_size_y_id = 1) in;
layout(binding = 0, rgba32f) uniform readonly imageBuffer DY;
layout(binding = 1, rgba32f) uniform readonly imageBuffer X;
layout(binding = 2, std430) buffer DWBuf { vec4 DW[]; };
layout(binding = 3, std430) buffer DBBuf { vec4 DB[]; };
// zdw, zdy, zx, zdb: floats between a batch's copies (vks_batch, grid z).
// with_db: also db (1×N) (+)= Σ_m dY[m], the bias gradient (bias_grad.glsl).
layout(push_constant) uniform Push { uint M, N, K, lddy4, ldx4, lddw4, accumulate, zdw, zdy, zx, zdb, with_db; } p;

#include "bias_grad.glsl"

const uint TM = 32u, TN = 16u;

// ROWS(F, q) applies F to each of the 32 rows of the block, naming the dY
// value that row takes: row 4r + e is component e of dY texel r.
#define ROWS(F, q) F(0, d0.x, q) F(1, d0.y, q) F(2, d0.z, q) F(3, d0.w, q) \
    F(4, d1.x, q) F(5, d1.y, q) F(6, d1.z, q) F(7, d1.w, q) \
    F(8, d2.x, q) F(9, d2.y, q) F(10, d2.z, q) F(11, d2.w, q) \
    F(12, d3.x, q) F(13, d3.y, q) F(14, d3.z, q) F(15, d3.w, q) \
    F(16, d4.x, q) F(17, d4.y, q) F(18, d4.z, q) F(19, d4.w, q) \
    F(20, d5.x, q) F(21, d5.y, q) F(22, d5.z, q) F(23, d5.w, q) \
    F(24, d6.x, q) F(25, d6.y, q) F(26, d6.z, q) F(27, d6.w, q) \
    F(28, d7.x, q) F(29, d7.y, q) F(30, d7.z, q) F(31, d7.w, q)

// Accumulators c<i>_<q>: row n0 + i, columns k0 + 4q .. k0 + 4q + 3.
#define DECL_C(i, d, q) vec4 c##i##_##q = vec4(0.0);
#define LOAD_D(r) vec4 d##r = imageLoad(DY, mrow_dy + dycol##r);
#define DECL_DYCOL(r) int dycol##r = int(dyo + min(n0 / 4u + uint(r), p.lddy4 - 1u));
#define AXPY(i, d, q) c##i##_##q += d * x;
#define X_STEP(q) { vec4 x = imageLoad(X, mrow_x + xcol##q); ROWS(AXPY, q) }
#define STORE(i, q) \
    if (n0 + uint(i) < p.N && k0 + 4u * uint(q) < p.lddw4 * 4u) \
        store(int(dwo + (n0 + uint(i)) * p.lddw4 + k0 / 4u + uint(q)), c##i##_##q, k0 + 4u * uint(q));
#define STORE_ROW(i, d, unused) STORE(i, 0) STORE(i, 1) STORE(i, 2) STORE(i, 3)

uint dwo;

void store(int at, vec4 v, uint c)
{
    if (p.accumulate != 0u)
        v += DW[at];
    DW[at] = mix(vec4(0.0), v, lessThan(uvec4(c, c + 1u, c + 2u, c + 3u), uvec4(p.K)));
}

void main()
{
    // A workgroup's invocations (SIMD lanes on a CPU) spread along K.
    uint n0 = gl_WorkGroupID.y * TM;
    uint k0 = gl_GlobalInvocationID.x * TN;
    if (n0 >= p.N || k0 >= p.lddw4 * 4u)
        return;
    if (p.with_db != 0u && k0 == 0u)
        bias_grad(n0, TM);
    uint z = gl_WorkGroupID.z, dyo = z * (p.zdy / 4u), xo = z * (p.zx / 4u);
    dwo = z * (p.zdw / 4u);
    DECL_DYCOL(0) DECL_DYCOL(1) DECL_DYCOL(2) DECL_DYCOL(3)
    DECL_DYCOL(4) DECL_DYCOL(5) DECL_DYCOL(6) DECL_DYCOL(7)
    int xcol0 = int(xo + min(k0 / 4u, p.ldx4 - 1u)), xcol1 = int(xo + min(k0 / 4u + 1u, p.ldx4 - 1u));
    int xcol2 = int(xo + min(k0 / 4u + 2u, p.ldx4 - 1u)), xcol3 = int(xo + min(k0 / 4u + 3u, p.ldx4 - 1u));
    ROWS(DECL_C, 0) ROWS(DECL_C, 1) ROWS(DECL_C, 2) ROWS(DECL_C, 3)

    for (uint m = 0u; m < p.M; m++) {
        int mrow_dy = int(m * p.lddy4), mrow_x = int(m * p.ldx4);
        LOAD_D(0) LOAD_D(1) LOAD_D(2) LOAD_D(3) LOAD_D(4) LOAD_D(5) LOAD_D(6) LOAD_D(7)
        X_STEP(0) X_STEP(1) X_STEP(2) X_STEP(3)
    }
    ROWS(STORE_ROW, 0)
}
