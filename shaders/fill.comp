#version 450
// y = value on rows×cols; padding columns get 0 (see src/vk/runtime.h).
layout(local_size_x_id = 0) in;
layout(binding = 0, std430) writeonly buffer YBuf { vec4 Y[]; };
layout(push_constant) uniform Push { uint rows, cols, stride4; float value; } p;

void main()
{
    uint total = p.rows * p.stride4;
    uint step = gl_NumWorkGroups.x * gl_WorkGroupSize.x;
    for (uint i = gl_GlobalInvocationID.x; i < total; i += step) {
        uint c = (i % p.stride4) * 4u;
        bvec4 live = lessThan(uvec4(c, c + 1u, c + 2u, c + 3u), uvec4(p.cols));
        Y[i] = mix(vec4(0.0), vec4(p.value), live);
    }
}
