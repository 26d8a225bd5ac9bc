#version 450
#extension GL_GOOGLE_include_directive : require
// Critic targets (SPEC.md §4, docs/sac.md), one invocation per row, from
// the target critics' outputs at (s', a'_c), stacked N·Bp rows deep.
// Plain critics: Y = [y_c | y_1 … y_D] reducing over critics by min or
// softmin. Quantile critics (mode 2): the N·M atoms of each part (of each
// choice, for heads) pooled, sorted and truncated to the lowest K,
// Y = [y_c,0..K−1 | head 1: K | …].
#include "sac.glsl"
layout(local_size_x_id = 0) in;
layout(binding = 0, r32f) uniform readonly imageBuffer Qt;
layout(binding = 1, r32f) uniform readonly imageBuffer P;       // B×Σn at s'
layout(binding = 2, r32f) uniform readonly imageBuffer LogP;
layout(binding = 3, r32f) uniform readonly imageBuffer LogpC;   // B×1
layout(binding = 4, r32f) uniform readonly imageBuffer RTD;     // B×3
layout(binding = 5, r32f) uniform readonly imageBuffer LogAlpha;
layout(binding = 6, r32f) uniform readonly imageBuffer Segs;
layout(binding = 7, std430) writeonly buffer YBuf { float Y[]; };
layout(push_constant) uniform Push {
    uint rows, bp, n, m, hasc, d, nsum, k, mode;
    float tau, gamma, reward_scale;
} pc;

const uint MAX_ATOMS = 256u;
float atoms[MAX_ATOMS];
float acc[MAX_ATOMS];

float q_at(uint crit, uint r, uint col)
{
    return imageLoad(Qt, int((crit * pc.bp + r) * padded(pc.m * (pc.hasc + pc.nsum)) + col)).x;
}

// min or softmin over critics of column col (plain critics, M = 1).
float reduce(uint r, uint col)
{
    float lo = q_at(0u, r, col);
    for (uint c = 1u; c < pc.n; c++)
        lo = min(lo, q_at(c, r, col));
    if (pc.mode == 0u)
        return lo;
    float wsum = 0.0, qsum = 0.0;
    for (uint c = 0u; c < pc.n; c++) {
        float q = q_at(c, r, col), w = exp(-(q - lo) / pc.tau);
        wsum += w;
        qsum += w * q;
    }
    return qsum / wsum;
}

// Pools the N·M atoms starting at column col0 and sorts them ascending.
void pool_sorted(uint r, uint col0)
{
    uint na = pc.n * pc.m;
    for (uint c = 0u; c < pc.n; c++)
        for (uint a = 0u; a < pc.m; a++)
            atoms[c * pc.m + a] = q_at(c, r, col0 + a);
    for (uint i = 1u; i < na; i++) {
        float x = atoms[i];
        uint j = i;
        for (; j > 0u && atoms[j - 1u] > x; j--)
            atoms[j] = atoms[j - 1u];
        atoms[j] = x;
    }
}

void main()
{
    uint r = gl_GlobalInvocationID.x;
    if (r >= pc.rows)
        return;
    uint sp = padded(pc.nsum), sy = padded((pc.hasc + pc.d) * pc.k);
    float alpha = exp(imageLoad(LogAlpha, 0).x);
    float rew = imageLoad(RTD, int(r * 4u)).x, done = imageLoad(RTD, int(r * 4u + 1u)).x;
    float base = pc.reward_scale * rew, disc = pc.gamma * (1.0 - done);
    float lpc = imageLoad(LogpC, int(r * 4u)).x;
    bool tqc = pc.mode == 2u;
    if (pc.hasc != 0u) {
        if (tqc) {
            pool_sorted(r, 0u);
            for (uint j = 0u; j < pc.k; j++)
                Y[r * sy + j] = base + disc * (atoms[j] - alpha * lpc);
        } else {
            Y[r * sy] = base + disc * (reduce(r, 0u) - alpha * lpc);
        }
    }
    for (uint i = 0u; i < pc.d; i++) {
        uint lo = uint(imageLoad(Segs, int(i)).x), hi = uint(imageLoad(Segs, int(i + 1u)).x);
        for (uint j = 0u; j < pc.k; j++)
            acc[j] = 0.0;
        for (uint col = lo; col < hi; col++) {
            float p = imageLoad(P, int(r * sp + col)).x, lp = imageLoad(LogP, int(r * sp + col)).x;
            uint q0 = pc.m * (pc.hasc + col);
            if (tqc) {
                pool_sorted(r, q0);
                for (uint j = 0u; j < pc.k; j++)
                    acc[j] += p * (atoms[j] - alpha * lp);
            } else {
                acc[0] += p * (reduce(r, q0) - alpha * lp);
            }
        }
        for (uint j = 0u; j < pc.k; j++)
            Y[r * sy + (pc.hasc + i) * pc.k + j] = base + disc * acc[j];
    }
    for (uint j = (pc.hasc + pc.d) * pc.k; j < sy; j++)
        Y[r * sy + j] = 0.0;
}
