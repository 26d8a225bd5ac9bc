#version 450
// p = softmax, logp = log_softmax of each segment of each row of x; one
// invocation per row (rows are a few dozen columns). Segment s covers
// columns [segs[s], segs[s+1]); the host checked the boundaries. An absent
// output (flag bit clear) is bound to the other output's tensor and never
// written. Each x element is read before its outputs are written, so p or
// logp may alias x.
layout(local_size_x_id = 0) in;
layout(binding = 0, r32f) uniform readonly imageBuffer X;
layout(binding = 1, r32f) uniform readonly imageBuffer Segs;
layout(binding = 2, std430) writeonly buffer PBuf { float P[]; };
layout(binding = 3, std430) writeonly buffer LogPBuf { float LogP[]; };
layout(push_constant) uniform Push { uint rows, cols, stride, nseg, flags; } pc;

const uint HAS_P = 1u, HAS_LOGP = 2u;

void store(int i, float p, float logp)
{
    if ((pc.flags & HAS_P) != 0u)
        P[i] = p;
    if ((pc.flags & HAS_LOGP) != 0u)
        LogP[i] = logp;
}

void segment(uint base, int lo, int hi)
{
    // Max-subtracted: exp never overflows and the largest term is exp(0) = 1,
    // so the sum is in [1, n] and its log is exact enough.
    float m = imageLoad(X, int(base) + lo).x;
    for (int c = lo + 1; c < hi; c++)
        m = max(m, imageLoad(X, int(base) + c).x);
    float sum = 0.0;
    for (int c = lo; c < hi; c++)
        sum += exp(imageLoad(X, int(base) + c).x - m);
    float lse = log(sum), inv = 1.0 / sum;
    for (int c = lo; c < hi; c++) {
        float v = imageLoad(X, int(base) + c).x - m;
        store(int(base) + c, exp(v) * inv, v - lse);
    }
}

void main()
{
    uint step = gl_NumWorkGroups.x * gl_WorkGroupSize.x;
    for (uint r = gl_GlobalInvocationID.x; r < pc.rows; r += step) {
        uint base = r * pc.stride;
        int lo = int(imageLoad(Segs, 0).x);
        for (uint s = 1u; s <= pc.nseg; s++) {
            int hi = int(imageLoad(Segs, int(s)).x);
            segment(base, lo, hi);
            lo = hi;
        }
        for (uint c = pc.cols; c < pc.stride; c++)   // padding stays zero
            store(int(base + c), 0.0, 0.0);
    }
}
