#version 450
// out[j] (+)= sum_i x[i][j]; one invocation per group of 4 columns, which
// is also how out (1×N, same padding as x's rows) is laid out.
layout(local_size_x_id = 0) in;
layout(binding = 0, rgba32f) uniform readonly imageBuffer X;
layout(binding = 1, rgba32f) uniform imageBuffer Out;
layout(push_constant) uniform Push { uint rows, stride4, accumulate; } p;

void main()
{
    uint step = gl_NumWorkGroups.x * gl_WorkGroupSize.x;
    for (uint c = gl_GlobalInvocationID.x; c < p.stride4; c += step) {
        vec4 acc = p.accumulate != 0u ? imageLoad(Out, int(c)) : vec4(0.0);
        for (uint i = 0u; i < p.rows; i++)
            acc += imageLoad(X, int(i * p.stride4 + c));
        imageStore(Out, int(c), acc);
    }
}
