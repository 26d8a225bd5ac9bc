#version 450
#extension GL_GOOGLE_include_directive : require
// dW (N×K) (+)= dYᵀ · X, dY M×N, X M×K, as gemm_dw.comp, for large
// outputs on CPU devices: each invocation owns a 32×16 block of dW (rows
// n0.., columns k0..), written out with macros for the reasons given in
// gemm_fwd_big.comp. Two batch rows m, m + 1 per step: dY's 8 texels of
// the block for each first, then each of X's 4 texel pairs against all of
// them.
//
// The accumulators are scalars, each taking both rows' terms in one
// expression. lavapipe writes a loop's accumulators back to memory through
// the lane mask; a vec4 accumulator was written back after every term
// (read off gemm_dx_big's JIT code), so one batch row per step paid a load, a blend
// and a store per multiply-add. Measured on lavapipe 22.3 (one thread,
// GFLOP/s, 256×512×256, 256×256×512, 512×256×256): vec4, one row 30-31;
// scalars, two rows 38-42; scalars, four rows 32-34 (their operands
// spill). Rows past M in the last step add 0·0 (both operands selected to
// zero, so an Inf cannot make a NaN). Same arithmetic, in the same order
// per element, as gemm_dw.comp.
layout(local_size_x_id = 0, local_size_y_id = 1) in;
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

const uint TM = 32u, TN = 16u;

// ROWS(F, q) applies F to each of the 32 rows of the block, naming the dY
// texel and component that row takes: row 4r + e is component e of dY
// texel r (d<r> for row m, f<r> for row m + 1).
#define ROWS(F, q) F(0, 0, x, q) F(1, 0, y, q) F(2, 0, z, q) F(3, 0, w, q) \
    F(4, 1, x, q) F(5, 1, y, q) F(6, 1, z, q) F(7, 1, w, q) \
    F(8, 2, x, q) F(9, 2, y, q) F(10, 2, z, q) F(11, 2, w, q) \
    F(12, 3, x, q) F(13, 3, y, q) F(14, 3, z, q) F(15, 3, w, q) \
    F(16, 4, x, q) F(17, 4, y, q) F(18, 4, z, q) F(19, 4, w, q) \
    F(20, 5, x, q) F(21, 5, y, q) F(22, 5, z, q) F(23, 5, w, q) \
    F(24, 6, x, q) F(25, 6, y, q) F(26, 6, z, q) F(27, 6, w, q) \
    F(28, 7, x, q) F(29, 7, y, q) F(30, 7, z, q) F(31, 7, w, q)

// Accumulators c<i>_<q><ch>: row n0 + i, column k0 + 4q + (x, y, z, w).
#define DECL_C(i, r, e, q) float c##i##_##q##x = 0.0, c##i##_##q##y = 0.0, c##i##_##q##z = 0.0, c##i##_##q##w = 0.0;
#define LOAD_D(r) vec4 d##r = imageLoad(DY, mrow_dy + dycol##r); \
    vec4 f##r = mix(vec4(0.0), imageLoad(DY, mrow_dy1 + dycol##r), in1);
#define DECL_DYCOL(r) int dycol##r = int(dyo + min(n0 / 4u + uint(r), p.lddy4 - 1u));
#define AXPY1(i, r, e, q, ch) c##i##_##q##ch = (c##i##_##q##ch + d##r.e * x.ch) + f##r.e * y.ch;
#define AXPY(i, r, e, q) AXPY1(i, r, e, q, x) AXPY1(i, r, e, q, y) AXPY1(i, r, e, q, z) AXPY1(i, r, e, q, w)
#define X_STEP(q) { vec4 x = imageLoad(X, mrow_x + xcol##q), y = mix(vec4(0.0), imageLoad(X, mrow_x1 + xcol##q), in1); \
    ROWS(AXPY, q) }
#define STORE(i, q) \
    if (n0 + uint(i) < p.N && k0 + 4u * uint(q) < p.lddw4 * 4u) \
        store(int(dwo + (n0 + uint(i)) * p.lddw4 + k0 / 4u + uint(q)), \
              vec4(c##i##_##q##x, c##i##_##q##y, c##i##_##q##z, c##i##_##q##w), k0 + 4u * uint(q));
#define STORE_ROW(i, r, e, unused) STORE(i, 0) STORE(i, 1) STORE(i, 2) STORE(i, 3)

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
    if ((p.with_db != 0u || p.with_g != 0u) && k0 == 0u)
        col_sums(n0, TM);
    uint z = gl_WorkGroupID.z, dyo = z * (p.zdy / 4u), xo = z * (p.zx / 4u);
    dwo = z * (p.zdw / 4u);
    DECL_DYCOL(0) DECL_DYCOL(1) DECL_DYCOL(2) DECL_DYCOL(3)
    DECL_DYCOL(4) DECL_DYCOL(5) DECL_DYCOL(6) DECL_DYCOL(7)
    int xcol0 = int(xo + min(k0 / 4u, p.ldx4 - 1u)), xcol1 = int(xo + min(k0 / 4u + 1u, p.ldx4 - 1u));
    int xcol2 = int(xo + min(k0 / 4u + 2u, p.ldx4 - 1u)), xcol3 = int(xo + min(k0 / 4u + 3u, p.ldx4 - 1u));
    ROWS(DECL_C, 0) ROWS(DECL_C, 1) ROWS(DECL_C, 2) ROWS(DECL_C, 3)

    for (uint m = 0u; m < p.M; m += 2u) {
        uint m1 = min(m + 1u, p.M - 1u);
        bvec4 in1 = bvec4(m + 1u < p.M);
        int mrow_dy = int(m * p.lddy4), mrow_x = int(m * p.ldx4);
        int mrow_dy1 = int(m1 * p.lddy4), mrow_x1 = int(m1 * p.ldx4);
        LOAD_D(0) LOAD_D(1) LOAD_D(2) LOAD_D(3) LOAD_D(4) LOAD_D(5) LOAD_D(6) LOAD_D(7)
        X_STEP(0) X_STEP(1) X_STEP(2) X_STEP(3)
    }
    ROWS(STORE_ROW, 0)
}
