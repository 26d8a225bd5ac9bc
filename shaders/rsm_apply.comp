#version 450
// RSMNorm forward y = (x − μ)/max(√σ², 1e-5), or with center = 0 the
// backward dx = dy/max(√σ², 1e-5) (x is then dy, y is dx). One invocation
// per vec4 of the rows×stride elements; padding columns get 0 whatever the
// statistics hold there.
layout(local_size_x_id = 0) in;
layout(binding = 0, rgba32f) uniform readonly imageBuffer X;
layout(binding = 1, rgba32f) uniform readonly imageBuffer Stats;
layout(binding = 2, std430) writeonly buffer YBuf { vec4 Y[]; };
layout(push_constant) uniform Push { uint n4, cols, stride4, center; } pc;

void main()
{
    uint step = gl_NumWorkGroups.x * gl_WorkGroupSize.x;
    for (uint i = gl_GlobalInvocationID.x; i < pc.n4; i += step) {
        uint c = i % pc.stride4;
        vec4 x = imageLoad(X, int(i));
        if (pc.center != 0u)
            x -= imageLoad(Stats, int(c));
        vec4 sd = max(sqrt(imageLoad(Stats, int(pc.stride4 + c))), vec4(1e-5));
        uint c0 = 4u * c;
        bvec4 live = lessThan(uvec4(c0, c0 + 1u, c0 + 2u, c0 + 3u), uvec4(pc.cols));
        Y[i] = mix(vec4(0.0), x / sd, live);
    }
}
