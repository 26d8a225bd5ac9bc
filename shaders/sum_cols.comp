#version 450
// out[j] (+)= sum_i x[i][j]; one invocation per group of 4 columns, which
// is also how out (1×N, same padding as x's rows) is laid out. Copy z of
// a batch (grid z) reads x and writes out zx and zout floats further on.
layout(local_size_x_id = 0) in;
layout(binding = 0, rgba32f) uniform readonly imageBuffer X;
layout(binding = 1, std430) buffer OutBuf { vec4 Out[]; };
layout(push_constant) uniform Push { uint rows, stride4, accumulate, zout, zx; } p;

void main()
{
    uint step = gl_NumWorkGroups.x * gl_WorkGroupSize.x;
    uint xo = gl_WorkGroupID.z * (p.zx / 4u), oo = gl_WorkGroupID.z * (p.zout / 4u);
    for (uint c = gl_GlobalInvocationID.x; c < p.stride4; c += step) {
        vec4 acc = p.accumulate != 0u ? Out[oo + c] : vec4(0.0);
        for (uint i = 0u; i < p.rows; i++)
            acc += imageLoad(X, int(xo + i * p.stride4 + c));
        Out[oo + c] = acc;
    }
}
