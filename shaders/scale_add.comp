#version 450
// y = a·x + b·y over texels first .. end-1 of y's storage (all of it, or a
// shard's part: vks_scale_add_texels); padding columns get 0 even for
// non-finite a or b.
layout(local_size_x_id = 0) in;
layout(binding = 0, rgba32f) uniform readonly imageBuffer X;
// y is read through a texel view (1) and written through a storage buffer
// on the same memory (2), the faster pair on lavapipe (docs/runtime.md);
// coherent, as optim.comp's pairs, so the read is ordered before the write.
layout(binding = 1, rgba32f) uniform coherent readonly imageBuffer Y;
layout(binding = 2, std430) coherent writeonly buffer YOut { vec4 y_out[]; };
layout(push_constant) uniform Push { uint end, cols, stride4; float a, b; uint first; } p;

void main()
{
    uint step = gl_NumWorkGroups.x * gl_WorkGroupSize.x;
    for (uint i = p.first + gl_GlobalInvocationID.x; i < p.end; i += step) {
        vec4 y = p.b == 0.0 ? vec4(0.0) : p.b * imageLoad(Y, int(i));
        uint c = (i % p.stride4) * 4u;
        bvec4 live = lessThan(uvec4(c, c + 1u, c + 2u, c + 3u), uvec4(p.cols));
        y_out[i] = mix(vec4(0.0), p.a * imageLoad(X, int(i)) + y, live);
    }
}
