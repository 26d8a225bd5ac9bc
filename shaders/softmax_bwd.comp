#version 450
// dx = p⊙(dp − Σ_seg p⊙dp) + dlogp − p·Σ_seg dlogp per segment of each row;
// one invocation per row. An absent dp or dlogp (flag bit clear) is the
// placeholder tensor and never read. Each element's inputs are read before
// dx is written there, so dx may alias dp or dlogp.
layout(local_size_x_id = 0) in;
layout(binding = 0, r32f) uniform readonly imageBuffer P;
layout(binding = 1, r32f) uniform readonly imageBuffer Segs;
layout(binding = 2, r32f) uniform readonly imageBuffer DP;
layout(binding = 3, r32f) uniform readonly imageBuffer DLogP;
layout(binding = 4, std430) writeonly buffer DXBuf { float DX[]; };
layout(push_constant) uniform Push { uint rows, cols, stride, nseg, flags; } pc;

const uint HAS_DP = 1u, HAS_DLOGP = 2u;

void segment(int base, int lo, int hi, bool has_dp, bool has_dl)
{
    float spd = 0.0, sdl = 0.0;   // Σ p⊙dp and Σ dlogp over the segment
    for (int c = lo; c < hi; c++) {
        if (has_dp)
            spd += imageLoad(P, base + c).x * imageLoad(DP, base + c).x;
        if (has_dl)
            sdl += imageLoad(DLogP, base + c).x;
    }
    for (int c = lo; c < hi; c++) {
        float p = imageLoad(P, base + c).x;
        float g = 0.0;
        if (has_dp)
            g += p * (imageLoad(DP, base + c).x - spd);
        if (has_dl)
            g += imageLoad(DLogP, base + c).x - p * sdl;
        DX[base + c] = g;
    }
}

void main()
{
    bool has_dp = (pc.flags & HAS_DP) != 0u, has_dl = (pc.flags & HAS_DLOGP) != 0u;
    uint step = gl_NumWorkGroups.x * gl_WorkGroupSize.x;
    for (uint r = gl_GlobalInvocationID.x; r < pc.rows; r += step) {
        int base = int(r * pc.stride);
        int lo = int(imageLoad(Segs, 0).x);
        for (uint s = 1u; s <= pc.nseg; s++) {
            int hi = int(imageLoad(Segs, int(s)).x);
            segment(base, lo, hi, has_dp, has_dl);
            lo = hi;
        }
        for (uint c = pc.cols; c < pc.stride; c++)   // padding stays zero
            DX[base + int(c)] = 0.0;
    }
}
