#version 450
// Steps of a bitonic sort of `order`: the n flat indices of the real
// parameter elements, stored as floats (exact below 2^24). Keys are
// (tensor id seg[i], θ[i], i), so the sort groups elements by tensor and
// ranks them by value within it, ties broken by index.
//
// The network is the all-ascending form for a power-of-two size N ≥ n:
// stage k (2, 4, …, N) starts with a flip step that compares entry q of
// each aligned block of k with entry k−1−q, then half-cleaner steps
// compare e with e + j for j = k/4 … 1; the lower entry always gets the
// smaller key. Entries n … N−1 are then virtual +∞ keys that never move,
// so pairs reaching past n are skipped and no padding is stored or sorted.
//
// Two modes, so that most steps cost no dispatch of their own: with
// j ≥ 2·L (L the local size) one step over the whole array (the flip when
// j = k/2); otherwise each workgroup loads a block of 2·L entries into
// shared memory and runs the steps of stage k from distance j down to 1,
// then whole stages 2k, … up to k_end, with a barrier between steps. The
// host starts with one such dispatch (k 2, j 1, k_end min(N, 2·L)) that
// sorts every block, then per stage k > 2·L global steps for j = k/2 …
// 2·L and one block dispatch for j = L … 1.
layout(local_size_x_id = 0) in;
layout(binding = 0, r32f) uniform readonly imageBuffer Theta;
layout(binding = 1, r32f) uniform readonly imageBuffer Seg;
layout(binding = 2, std430) buffer OrderBuf { float Order[]; };
layout(push_constant) uniform Push { uint n, k, j, k_end; } p;

shared vec3 key[2u * gl_WorkGroupSize.x];

vec3 key_of(float idx)
{
    int at = int(idx);
    return vec3(imageLoad(Seg, at).x, imageLoad(Theta, at).x, idx);
}

// a sorts after b
bool after(vec3 a, vec3 b)
{
    if (a.x != b.x)
        return a.x > b.x;
    if (a.y != b.y)
        return a.y > b.y;
    return a.z > b.z;
}

// Entries of pair i in the step at distance j of stage k (powers of two),
// lower first; both grow with i.
uvec2 pair_of(uint i, uint k, uint j)
{
    if (j == k / 2u) {   // flip: q and k−1−q of each block of k
        uint base = (i / j) * k, q = i % j;
        return uvec2(base + q, base + k - 1u - q);
    }
    uint lo = ((i & ~(j - 1u)) << 1u) | (i & (j - 1u));
    return uvec2(lo, lo + j);
}

void global_step()
{
    uint step = gl_NumWorkGroups.x * gl_WorkGroupSize.x;
    for (uint i = gl_GlobalInvocationID.x;; i += step) {
        uvec2 e = pair_of(i, p.k, p.j);
        if (e.x >= p.n)
            break;   // later pairs start later still
        if (e.y >= p.n)
            continue;
        vec3 a = key_of(Order[e.x]), b = key_of(Order[e.y]);
        if (after(a, b)) {
            Order[e.x] = b.z;
            Order[e.y] = a.z;
        }
    }
}

void block_steps()
{
    uint l = gl_LocalInvocationID.x, size = 2u * gl_WorkGroupSize.x;
    uint blocks = (p.n + size - 1u) / size;
    for (uint blk = gl_WorkGroupID.x; blk < blocks; blk += gl_NumWorkGroups.x) {
        uint base = blk * size, live = min(size, p.n - base);
        for (uint s = l; s < live; s += gl_WorkGroupSize.x)
            key[s] = key_of(Order[base + s]);
        barrier();
        for (uint kk = p.k; kk <= p.k_end; kk <<= 1u) {
            for (uint jj = kk == p.k ? p.j : kk >> 1u; jj > 0u; jj >>= 1u) {
                // Blocks align with stages up to 2·L, so local pairs are global ones.
                uvec2 e = pair_of(l, kk, jj);
                if (e.y < live && after(key[e.x], key[e.y])) {
                    vec3 a = key[e.x];
                    key[e.x] = key[e.y];
                    key[e.y] = a;
                }
                barrier();
            }
        }
        for (uint s = l; s < live; s += gl_WorkGroupSize.x)
            Order[base + s] = key[s].z;
        barrier();   // the next block reuses key[]
    }
}

void main()
{
    if (p.j >= 2u * gl_WorkGroupSize.x)
        global_step();
    else
        block_steps();
}
