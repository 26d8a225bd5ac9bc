#version 450
// partials[w] = Σ x² over workgroup w's contiguous chunk of vec4s: the first
// half of the global gradient norm for clipping. The optimiser kernel adds
// the (at most 64) partials itself, which saves a dispatch and a barrier.
// Fixed chunks and a fixed tree order make the sum the same on every run.
// The local size must be a power of two.
layout(local_size_x_id = 0) in;
layout(binding = 0, rgba32f) uniform readonly imageBuffer X;
layout(binding = 1, std430) writeonly buffer PartialsBuf { float Partials[]; };
layout(push_constant) uniform Push { uint n4, chunk4; } p;

shared float part[gl_WorkGroupSize.x];

void main()
{
    uint w = gl_WorkGroupID.x, l = gl_LocalInvocationID.x;
    uint begin = w * p.chunk4, end = min(p.n4, begin + p.chunk4);
    float s = 0.0;
    for (uint i = begin + l; i < end; i += gl_WorkGroupSize.x) {
        vec4 x = imageLoad(X, int(i));
        s += dot(x, x);
    }
    part[l] = s;
    barrier();
    for (uint h = gl_WorkGroupSize.x / 2u; h > 0u; h >>= 1u) {
        if (l < h)
            part[l] += part[l + h];
        barrier();
    }
    if (l == 0u)
        Partials[w] = part[0];
}
