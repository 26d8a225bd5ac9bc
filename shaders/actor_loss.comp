#version 450
#extension GL_GOOGLE_include_directive : require
// Actor and temperature losses (SPEC.md §4, docs/sac.md) at (s, a_c), one
// workgroup looping over the rows: gradients w.r.t. every critic's outputs
// (min: the lowest critic; softmin: its full derivative; quantile critics:
// the mean over all N·M atoms), the gradients of the discrete heads' logits
// (written into dH; the continuous columns are actor_head_bwd.comp's), and
// ∂J/∂log α. Stats: [1] actor loss, [4] entropy, [5] temperature loss.
#include "sac.glsl"
layout(local_size_x_id = 0) in;
layout(binding = 0, r32f) uniform readonly imageBuffer Q;             // N·Bp × M(c+Σn)
layout(binding = 1, r32f) uniform readonly imageBuffer P;             // B×Σn
layout(binding = 2, r32f) uniform readonly imageBuffer LogP;
layout(binding = 3, r32f) uniform readonly imageBuffer LogpC;         // B×1
layout(binding = 4, r32f) uniform readonly imageBuffer LogAlpha;
layout(binding = 5, r32f) uniform readonly imageBuffer Segs;
layout(binding = 6, r32f) uniform readonly imageBuffer Hent;          // 1×(1+D): H̄_c, H̄_i
layout(binding = 7, std430) writeonly buffer DQBuf { float DQ[]; };
layout(binding = 8, std430) writeonly buffer DHBuf { float DH[]; };   // B×(Σn+2C)
layout(binding = 9, std430) writeonly buffer StatsBuf { float Stats[]; };
layout(binding = 10, std430) writeonly buffer DLogAlphaBuf { float DLogAlpha[]; };
layout(push_constant) uniform Push { uint rows, bp, n, m, hasc, d, nsum, c, mode; float tau; } pc;

shared float red[3][256];
const uint MAX_CHOICES = 256u;
float dps[MAX_CHOICES];

uint q_index(uint crit, uint r, uint col)
{
    return (crit * pc.bp + r) * padded(pc.m * (pc.hasc + pc.nsum)) + col;
}

// Q̃ of the atoms at columns q0..q0+M−1 of every critic, and writes
// ∂L/∂Q = scale·∂Q̃/∂Q into DQ.
float reduce_and_grad(uint r, uint q0, float scale)
{
    if (pc.mode == 2u) {
        float sum = 0.0, w = 1.0 / float(pc.n * pc.m);
        for (uint c = 0u; c < pc.n; c++)
            for (uint a = 0u; a < pc.m; a++) {
                sum += imageLoad(Q, int(q_index(c, r, q0 + a))).x;
                DQ[q_index(c, r, q0 + a)] = scale * w;
            }
        return sum * w;
    }
    uint arg = 0u;
    float lo = imageLoad(Q, int(q_index(0u, r, q0))).x;
    for (uint c = 1u; c < pc.n; c++) {
        float q = imageLoad(Q, int(q_index(c, r, q0))).x;
        if (q < lo) {
            lo = q;
            arg = c;
        }
    }
    if (pc.mode == 0u) {
        DQ[q_index(arg, r, q0)] = scale;
        return lo;
    }
    float wsum = 0.0, qsum = 0.0;
    for (uint c = 0u; c < pc.n; c++) {
        float q = imageLoad(Q, int(q_index(c, r, q0))).x, w = exp(-(q - lo) / pc.tau);
        wsum += w;
        qsum += w * q;
    }
    float qt = qsum / wsum;
    for (uint c = 0u; c < pc.n; c++) {
        float q = imageLoad(Q, int(q_index(c, r, q0))).x, w = exp(-(q - lo) / pc.tau) / wsum;
        DQ[q_index(c, r, q0)] = scale * w * (1.0 - (q - qt) / pc.tau);
    }
    return qt;
}

void main()
{
    uint t = gl_LocalInvocationID.x, wg = gl_WorkGroupSize.x;
    uint sq = padded(pc.m * (pc.hasc + pc.nsum)), sp = padded(pc.nsum), sh = padded(pc.nsum + 2u * pc.c);
    float b = float(pc.rows), alpha = exp(imageLoad(LogAlpha, 0).x);
    float loss = 0.0, ent = 0.0, bracket = 0.0;
    for (uint r = t; r < pc.rows; r += wg) {
        for (uint c = 0u; c < pc.n; c++)
            for (uint col = 0u; col < sq; col++)
                DQ[q_index(c, r, col)] = 0.0;
        if (pc.hasc != 0u) {
            float lpc = imageLoad(LogpC, int(r * 4u)).x;
            loss += (alpha * lpc - reduce_and_grad(r, 0u, -1.0 / b)) / b;
            ent -= lpc / b;
            bracket += lpc + imageLoad(Hent, 0).x;
        }
        for (uint i = 0u; i < pc.d; i++) {
            uint lo = uint(imageLoad(Segs, int(i)).x), hi = uint(imageLoad(Segs, int(i + 1u)).x);
            float hbar = imageLoad(Hent, int(i + 1u)).x, s_pdp = 0.0, s_dlp = 0.0;
            for (uint col = lo; col < hi; col++) {
                float p = imageLoad(P, int(r * sp + col)).x, lp = imageLoad(LogP, int(r * sp + col)).x;
                float q = reduce_and_grad(r, pc.m * (pc.hasc + col), -p / b);
                float dp = (alpha * lp - q) / b;
                loss += p * dp;
                ent -= p * lp / b;
                bracket += p * (lp + hbar);
                s_pdp += p * dp;
                s_dlp += alpha * p / b;
                dps[col - lo] = dp;
            }
            // Softmax backward: dx = p(dp − Σp·dp) + dlogp − p·Σdlogp, dlogp = αp/B.
            for (uint col = lo; col < hi; col++) {
                float p = imageLoad(P, int(r * sp + col)).x;
                DH[r * sh + col] = p * (dps[col - lo] - s_pdp) + alpha * p / b - p * s_dlp;
            }
        }
        for (uint col = pc.nsum + 2u * pc.c; col < sh; col++)
            DH[r * sh + col] = 0.0;
    }
    red[0][t] = loss;
    red[1][t] = ent;
    red[2][t] = bracket;
    barrier();
    for (uint s = wg / 2u; s > 0u; s >>= 1u) {
        if (t < s)
            for (uint i = 0u; i < 3u; i++)
                red[i][t] += red[i][t + s];
        barrier();
    }
    if (t == 0u) {
        float j = -alpha * red[2][0] / b;
        Stats[1] = red[0][0];
        Stats[4] = red[1][0];
        Stats[5] = j;
        DLogAlpha[0] = j;
        for (int i = 1; i < 4; i++)
            DLogAlpha[i] = 0.0;
    }
}
