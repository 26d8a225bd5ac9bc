#version 450
#extension GL_GOOGLE_include_directive : require
// Critic loss and its gradient w.r.t. every critic's outputs (SPEC.md §4,
// docs/sac.md), one workgroup looping over the rows so the loss reduces
// in shared memory without a second dispatch. Plain critics: squared
// error of the continuous value and of each head's chosen value. Quantile
// critics: quantile Huber (κ = 1) over all pairs of online atom m and
// target atom j, mean over rows, j and m. dQ holds zero except at the
// outputs that enter the loss. Stats: [0] loss, [3] mean Q, [6] mean y.
#include "sac.glsl"
layout(local_size_x_id = 0) in;
layout(binding = 0, r32f) uniform readonly imageBuffer Q;      // N·Bp × M(c+Σn)
layout(binding = 1, r32f) uniform readonly imageBuffer Y;
layout(binding = 2, r32f) uniform readonly imageBuffer Disc;   // B×D
layout(binding = 3, r32f) uniform readonly imageBuffer Segs;
layout(binding = 4, std430) writeonly buffer DQBuf { float DQ[]; };
layout(binding = 5, std430) writeonly buffer StatsBuf { float Stats[]; };
layout(push_constant) uniform Push { uint rows, bp, n, m, hasc, d, nsum, k, quantiled; } pc;

shared float red[3][256];

// Loss of one part of critic c at row r: online atoms from column q0,
// targets from column y0 of Y; writes their gradients, returns the loss.
float part(uint c, uint r, uint q0, uint y0, out float qmean)
{
    uint sq = padded(pc.m * (pc.hasc + pc.nsum)), sy = padded((pc.hasc + pc.d) * pc.k);
    uint row = (c * pc.bp + r) * sq;
    float b = float(pc.rows), loss = 0.0;
    qmean = 0.0;
    if (pc.quantiled == 0u) {
        float q = imageLoad(Q, int(row + q0)).x, e = q - imageLoad(Y, int(r * sy + y0)).x;
        DQ[row + q0] = 2.0 * e / b;
        qmean = q;
        return e * e / b;
    }
    float norm = 1.0 / (b * float(pc.k) * float(pc.m));
    for (uint a = 0u; a < pc.m; a++) {
        float theta = imageLoad(Q, int(row + q0 + a)).x, tau = (2.0 * float(a) + 1.0) / (2.0 * float(pc.m));
        float g = 0.0;
        for (uint j = 0u; j < pc.k; j++) {
            float u = imageLoad(Y, int(r * sy + y0 + j)).x - theta;
            float w = abs(tau - (u < 0.0 ? 1.0 : 0.0));
            loss += w * huber(u) * norm;
            g -= w * huber_grad(u) * norm;
        }
        DQ[row + q0 + a] = g;
        qmean += theta / float(pc.m);
    }
    return loss;
}

void main()
{
    uint t = gl_LocalInvocationID.x, wg = gl_WorkGroupSize.x;
    uint sq = padded(pc.m * (pc.hasc + pc.nsum)), sy = padded((pc.hasc + pc.d) * pc.k), sd = padded(pc.d);
    float loss = 0.0, qsum = 0.0, ysum = 0.0;
    for (uint r = t; r < pc.rows; r += wg) {
        for (uint c = 0u; c < pc.n; c++)
            for (uint col = 0u; col < sq; col++)
                DQ[(c * pc.bp + r) * sq + col] = 0.0;
        for (uint c = 0u; c < pc.n; c++) {
            float qm;
            if (pc.hasc != 0u) {
                loss += part(c, r, 0u, 0u, qm);
                qsum += qm;
            }
            for (uint i = 0u; i < pc.d; i++) {
                uint choice = uint(imageLoad(Disc, int(r * sd + i)).x);
                uint col = uint(imageLoad(Segs, int(i)).x) + choice;
                loss += part(c, r, pc.m * (pc.hasc + col), (pc.hasc + i) * pc.k, qm);
                if (pc.hasc == 0u && i == 0u)
                    qsum += qm;
            }
        }
        for (uint j = 0u; j < pc.k; j++)
            ysum += imageLoad(Y, int(r * sy + j)).x / float(pc.k);
    }
    red[0][t] = loss;
    red[1][t] = qsum;
    red[2][t] = ysum;
    barrier();
    for (uint s = wg / 2u; s > 0u; s >>= 1u) {
        if (t < s)
            for (uint i = 0u; i < 3u; i++)
                red[i][t] += red[i][t + s];
        barrier();
    }
    if (t == 0u) {
        float b = float(pc.rows);
        Stats[0] = red[0][0];
        Stats[3] = red[1][0] / (b * float(pc.n));
        Stats[6] = red[2][0] / b;
    }
}
