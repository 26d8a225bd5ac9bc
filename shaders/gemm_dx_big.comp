#version 450
// dX (M×K) (+)= dY (M×N) · W (N×K), as gemm_dx.comp, for large outputs on
// CPU devices: each invocation owns a 16×16 block of dX (rows m0..,
// columns k0..), written out with macros for the reasons given in
// gemm_fwd_big.comp. Per texel of the contraction over N: the 16 dY texels
// first, then W's texels four rows at a time against all of them.
//
// The accumulators are scalars: vec4 ones were written back to memory
// after every term (see gemm_dw_big.comp). Measured on lavapipe 22.3 (one
// thread, GFLOP/s at 256×512×256, 256×256×512, 512×256×256): 32×16 vec4
// blocks 29-31; 32×16 scalars 30-32; 16×16 scalars 37-41; 8×16 32-34;
// 16×16 with two texels of N per step 27-29. The 16-row loop body is half
// the 32-row one, and runs faster although each W texel then serves 16
// rows instead of 32. Same arithmetic, in the same order per element, as
// gemm_dx.comp.
layout(local_size_x_id = 0, local_size_y_id = 1) in;
layout(binding = 0, rgba32f) uniform readonly imageBuffer DY;
layout(binding = 1, rgba32f) uniform readonly imageBuffer W;
layout(binding = 2, std430) buffer DXBuf { vec4 DX[]; };
// zdx, zdy, zw: floats between a batch's copies (vks_batch, grid z).
layout(push_constant) uniform Push { uint M, N, K, lddy4, ldw4, lddx4, accumulate, zdx, zdy, zw; } p;

const uint TM = 16u, TN = 16u;

// ROWS(F, q) applies F to each of the 16 rows, with an extra argument q.
#define ROWS(F, q) F(0, q) F(1, q) F(2, q) F(3, q) F(4, q) F(5, q) F(6, q) F(7, q) \
    F(8, q) F(9, q) F(10, q) F(11, q) F(12, q) F(13, q) F(14, q) F(15, q)

// Accumulators c<i>_<q><e>: row m0 + i, column k0 + 4q + (x, y, z, w).
#define DECL_C(i, q) float c##i##_##q##x = 0.0, c##i##_##q##y = 0.0, c##i##_##q##z = 0.0, c##i##_##q##w = 0.0;
// dY's texel n4 of row i (columns 4·n4 ..); then, per texel column q, W's
// rows 4·n4 .. 4·n4 + 3 against all 16 rows, each accumulator taking its
// four terms in one expression (one write-back per four, not per term).
#define LOAD_A(i, q) vec4 a##i = imageLoad(DY, int(dyo + min(m0 + uint(i), p.M - 1u) * p.lddy4) + int(n4));
#define AXPY1(i, q, e) \
    c##i##_##q##e = (((c##i##_##q##e + a##i.x * b0.e) + a##i.y * b1.e) + a##i.z * b2.e) + a##i.w * b3.e;
#define AXPY4(i, q) AXPY1(i, q, x) AXPY1(i, q, y) AXPY1(i, q, z) AXPY1(i, q, w)
#define W_LOAD(e) imageLoad(W, int(min(n4 * 4u + uint(e), p.N - 1u) * p.ldw4) + wcol)
#define Q_STEP(q) { int wcol = wcol##q; vec4 b0 = W_LOAD(0), b1 = W_LOAD(1), b2 = W_LOAD(2), b3 = W_LOAD(3); \
    ROWS(AXPY4, q) }
#define STORE(i, q) \
    if (m0 + uint(i) < p.M && k0 + 4u * uint(q) < p.lddx4 * 4u) \
        store(int(dxo + (m0 + uint(i)) * p.lddx4 + k0 / 4u + uint(q)), \
              vec4(c##i##_##q##x, c##i##_##q##y, c##i##_##q##z, c##i##_##q##w), k0 + 4u * uint(q));
#define STORE_ROW(i, unused) STORE(i, 0) STORE(i, 1) STORE(i, 2) STORE(i, 3)

uint dyo, dxo;

void store(int at, vec4 v, uint c)
{
    if (p.accumulate != 0u)
        v += DX[at];
    DX[at] = mix(vec4(0.0), v, lessThan(uvec4(c, c + 1u, c + 2u, c + 3u), uvec4(p.K)));
}

void main()
{
    // A workgroup's invocations (SIMD lanes on a CPU) spread along K.
    uint m0 = gl_WorkGroupID.y * TM;
    uint k0 = gl_GlobalInvocationID.x * TN;
    if (m0 >= p.M || k0 >= p.lddx4 * 4u)
        return;
    uint z = gl_WorkGroupID.z, wo = z * (p.zw / 4u);
    dyo = z * (p.zdy / 4u), dxo = z * (p.zdx / 4u);
    int wcol0 = int(wo + min(k0 / 4u, p.ldw4 - 1u)), wcol1 = int(wo + min(k0 / 4u + 1u, p.ldw4 - 1u));
    int wcol2 = int(wo + min(k0 / 4u + 2u, p.ldw4 - 1u)), wcol3 = int(wo + min(k0 / 4u + 3u, p.ldw4 - 1u));
    ROWS(DECL_C, 0) ROWS(DECL_C, 1) ROWS(DECL_C, 2) ROWS(DECL_C, 3)

    uint N4 = (p.N + 3u) / 4u;
    for (uint n4 = 0u; n4 < N4; n4++) {
        ROWS(LOAD_A, 0)
        Q_STEP(0) Q_STEP(1) Q_STEP(2) Q_STEP(3)
    }
    ROWS(STORE_ROW, 0)
}
