#version 450
// y = a·x + b·y over whole padded rows (zero padding stays zero).
layout(local_size_x_id = 0) in;
layout(binding = 0, rgba32f) uniform readonly imageBuffer X;
layout(binding = 1, rgba32f) uniform imageBuffer Y;
layout(push_constant) uniform Push { uint n4; float a, b; } p;

void main()
{
    uint step = gl_NumWorkGroups.x * gl_WorkGroupSize.x;
    for (uint i = gl_GlobalInvocationID.x; i < p.n4; i += step) {
        vec4 y = p.b == 0.0 ? vec4(0.0) : p.b * imageLoad(Y, int(i));
        imageStore(Y, int(i), p.a * imageLoad(X, int(i)) + y);
    }
}
