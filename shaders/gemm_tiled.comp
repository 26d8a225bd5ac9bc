#version 450
#extension GL_GOOGLE_include_directive : require
// C (M×N, row stride ldc) (+)= act(A·B + bias): one shared-memory tiled
// kernel for all three GEMM forms, the operands addressed through strides
// (A(i,k) = A[i·a_si + k·a_sk], B(k,j) = B[k·b_sk + j·b_sj]), which is how
// X·Wᵀ, dY·W and dYᵀ·X differ. The GPU variant: tiles of BM×BN outputs,
// staged through shared memory TK deep; each thread owns TM×TN outputs
// strided by the workgroup size so neighbouring threads touch neighbours.
layout(local_size_x_id = 0, local_size_y_id = 1) in;

#include "act.glsl"

layout(constant_id = 2) const uint TM = 4;
layout(constant_id = 3) const uint TN = 4;
const uint TK = 16u;
const uint WX = gl_WorkGroupSize.x, WY = gl_WorkGroupSize.y;
const uint BM = WY * TM, BN = WX * TN;
layout(binding = 0, r32f) uniform readonly imageBuffer A;
layout(binding = 1, r32f) uniform readonly imageBuffer B;
layout(binding = 2, r32f) uniform readonly imageBuffer Bias;
layout(binding = 3, std430) buffer CBuf { float C[]; };
// flags: bit 0 bias; bits 1-2 activation (0 none, 1 relu, 2 relu²); bit 3 accumulate
// za, zb, zbias, zc: floats between a batch's copies (vks_batch, grid z).
layout(push_constant) uniform Push { uint M, N, K, a_si, a_sk, b_sk, b_sj, ldc, flags, za, zb, zbias, zc; } p;

shared float As[TK][BM];
shared float Bs[TK][BN];

uint ao, bo, biaso, co;

float load_a(uint i, uint k) { return i < p.M && k < p.K ? imageLoad(A, int(ao + i * p.a_si + k * p.a_sk)).x : 0.0; }
float load_b(uint k, uint j) { return k < p.K && j < p.N ? imageLoad(B, int(bo + k * p.b_sk + j * p.b_sj)).x : 0.0; }

void main()
{
    uint tx = gl_LocalInvocationID.x, ty = gl_LocalInvocationID.y, z = gl_WorkGroupID.z;
    ao = z * p.za, bo = z * p.zb, biaso = z * p.zbias, co = z * p.zc;
    uint t = ty * WX + tx, threads = WX * WY;
    uint i0 = gl_WorkGroupID.y * BM, j0 = gl_WorkGroupID.x * BN;
    float acc[TM][TN];
    for (uint r = 0u; r < TM; r++)
        for (uint c = 0u; c < TN; c++) acc[r][c] = 0.0;

    for (uint k0 = 0u; k0 < p.K; k0 += TK) {
        // Consecutive threads walk the operand's unit-stride axis.
        for (uint e = t; e < TK * BM; e += threads) {
            uint kk = p.a_sk == 1u ? e % TK : e / BM, ii = p.a_sk == 1u ? e / TK : e % BM;
            As[kk][ii] = load_a(i0 + ii, k0 + kk);
        }
        for (uint e = t; e < TK * BN; e += threads) {
            uint kk = p.b_sk == 1u ? e % TK : e / BN, jj = p.b_sk == 1u ? e / TK : e % BN;
            Bs[kk][jj] = load_b(k0 + kk, j0 + jj);
        }
        barrier();
        for (uint kk = 0u; kk < TK; kk++) {
            float a[TM], b[TN];
            for (uint r = 0u; r < TM; r++) a[r] = As[kk][ty + r * WY];
            for (uint c = 0u; c < TN; c++) b[c] = Bs[kk][tx + c * WX];
            for (uint r = 0u; r < TM; r++)
                for (uint c = 0u; c < TN; c++) acc[r][c] += a[r] * b[c];
        }
        barrier();
    }

    uint act = (p.flags >> 1) & 3u;
    for (uint r = 0u; r < TM; r++) {
        uint i = i0 + ty + r * WY;
        for (uint c = 0u; c < TN; c++) {
            uint j = j0 + tx + c * WX;
            if (i >= p.M || j >= p.ldc)
                continue;
            float v = acc[r][c];
            if ((p.flags & 1u) != 0u)
                v += imageLoad(Bias, int(biaso + min(j, p.N - 1u))).x;
            v = act_apply(vec4(v), act).x;
            if ((p.flags & 8u) != 0u)
                v += C[co + i * p.ldc + j];
            C[co + i * p.ldc + j] = j < p.N ? v : 0.0;
        }
    }
}
