#version 450
#extension GL_GOOGLE_include_directive : require
// The actor head of docs/sac.md on H = [logits | μ | raw] (B×(Σn+2C)), one
// invocation per row: bounded continuous actions with log π_c, softmax and
// log-softmax of every discrete head, and (when acting) the chosen index of
// each head by Gumbel-max or argmax with its log-probability.
#include "sac.glsl"
layout(local_size_x_id = 0) in;
layout(binding = 0, r32f) uniform readonly imageBuffer H;
layout(binding = 1, r32f) uniform readonly imageBuffer Bounds;               // 2×C: low, high
layout(binding = 2, r32f) uniform readonly imageBuffer Segs;                 // 1×(D+1)
layout(binding = 3, r32f) uniform readonly imageBuffer Counters;
layout(binding = 4, std430) writeonly buffer ABuf { float A[]; };            // B×C
layout(binding = 5, std430) writeonly buffer AuxBuf { float Aux[]; };        // B×2C: u | ε
layout(binding = 6, std430) writeonly buffer LogpCBuf { float LogpC[]; };    // B×1
layout(binding = 7, std430) writeonly buffer PBuf { float P[]; };            // B×Σn
layout(binding = 8, std430) writeonly buffer LogPBuf { float LogP[]; };      // B×Σn
layout(binding = 9, std430) writeonly buffer DiscBuf { float Disc[]; };      // B×D
layout(binding = 10, std430) writeonly buffer LogpDBuf { float LogpD[]; };   // B×D
layout(push_constant) uniform Push {
    uint rows, c, d, nsum, key, stream, counter_index, flags;
    float gumbel_t;
} pc;

const uint SAMPLE_CONT = 1u, SAMPLE_DISC = 2u, SIGMOID = 4u, WRITE_AUX = 8u, WRITE_CHOICE = 16u,
           WRITE_CONT = 32u, WRITE_PROBS = 64u;
const float HALF_LOG_2PI = 0.91893853320467274;
const float LOG2 = 0.69314718055994531;


void continuous(uint r, uvec2 ctr)
{
    uint sh = padded(pc.nsum + 2u * pc.c), sa = padded(pc.c), sx = padded(2u * pc.c);
    float lp = 0.0;
    for (uint j = 0u; j < pc.c; j++) {
        float mu = imageLoad(H, int(r * sh + pc.nsum + j)).x;
        float raw = imageLoad(H, int(r * sh + pc.nsum + pc.c + j)).x, dsig;
        float sigma = head_sigma(raw, (pc.flags & SIGMOID) != 0u, dsig);
        float eps = (pc.flags & SAMPLE_CONT) != 0u ? sac_normal(pc.key, pc.stream, r, j, ctr) : 0.0;
        float u = mu + sigma * eps;
        float lo = imageLoad(Bounds, int(j)).x, hi = imageLoad(Bounds, int(sa + j)).x;
        if ((pc.flags & WRITE_CONT) != 0u)
            A[r * sa + j] = lo + (hi - lo) * 0.5 * (tanh_stable(u) + 1.0);
        if ((pc.flags & WRITE_AUX) != 0u) {
            Aux[r * sx + j] = u;
            Aux[r * sx + pc.c + j] = eps;
        }
        lp += -0.5 * eps * eps - log(sigma) - HALF_LOG_2PI - 2.0 * (LOG2 - u - softplus(-2.0 * u));
    }
    for (uint j = pc.c; j < sa && (pc.flags & WRITE_CONT) != 0u; j++)
        A[r * sa + j] = 0.0;
    for (uint j = 2u * pc.c; j < sx && (pc.flags & WRITE_AUX) != 0u; j++)
        Aux[r * sx + j] = 0.0;
    LogpC[r * 4u] = lp;
    for (uint j = 1u; j < 4u; j++)
        LogpC[r * 4u + j] = 0.0;
}

// Softmax of one head (columns lo..hi−1), returning the chosen column.
uint head(uint r, uint i, uint lo, uint hi, uvec2 ctr)
{
    uint sh = padded(pc.nsum + 2u * pc.c), sp = padded(pc.nsum);
    float mx = -1.0 / 0.0, best = -1.0 / 0.0;
    uint choice = lo;
    for (uint j = lo; j < hi; j++) {
        float x = imageLoad(H, int(r * sh + j)).x;
        mx = max(mx, x);
        float score = (pc.flags & SAMPLE_DISC) != 0u
                          ? x / pc.gumbel_t + sac_gumbel(pc.key, pc.stream + 1u, r, j, ctr) : x;
        if (score > best) {
            best = score;
            choice = j;
        }
    }
    float sum = 0.0;
    for (uint j = lo; j < hi; j++)
        sum += exp(imageLoad(H, int(r * sh + j)).x - mx);
    float lse = mx + log(sum);
    for (uint j = lo; j < hi && (pc.flags & WRITE_PROBS) != 0u; j++) {
        float lp = imageLoad(H, int(r * sh + j)).x - lse;
        P[r * sp + j] = exp(lp);
        LogP[r * sp + j] = lp;
    }
    if ((pc.flags & WRITE_CHOICE) != 0u) {
        uint sd = padded(pc.d);
        Disc[r * sd + i] = float(choice - lo);
        LogpD[r * sd + i] = imageLoad(H, int(r * sh + choice)).x - lse;
    }
    return choice;
}

void main()
{
    uint r = gl_GlobalInvocationID.x;
    if (r >= pc.rows)
        return;
    uvec2 ctr = uvec2(imageLoad(Counters, int(pc.counter_index)).x,
                      imageLoad(Counters, int(pc.counter_index + 1u)).x);
    continuous(r, ctr);
    for (uint i = 0u; i < pc.d; i++)
        head(r, i, uint(imageLoad(Segs, int(i)).x), uint(imageLoad(Segs, int(i + 1u)).x), ctr);
    uint sp = padded(pc.nsum), sd = padded(pc.d);
    for (uint j = pc.nsum; j < sp && (pc.flags & WRITE_PROBS) != 0u; j++) {
        P[r * sp + j] = 0.0;
        LogP[r * sp + j] = 0.0;
    }
    for (uint j = pc.d; j < sd && (pc.flags & WRITE_CHOICE) != 0u; j++) {
        Disc[r * sd + j] = 0.0;
        LogpD[r * sd + j] = 0.0;
    }
}
