#version 450
// out[i] (+)= sum_j x[i][j]; one invocation per row. Entries of out past
// the row count are its padding and get 0.
layout(local_size_x_id = 0) in;
layout(binding = 0, rgba32f) uniform readonly imageBuffer X;
layout(binding = 1, std430) buffer OutBuf { float Out[]; };
layout(push_constant) uniform Push { uint rows, stride4, out_len, accumulate; } p;

void main()
{
    uint step = gl_NumWorkGroups.x * gl_WorkGroupSize.x;
    for (uint i = gl_GlobalInvocationID.x; i < p.out_len; i += step) {
        float s = 0.0;
        if (i < p.rows) {
            vec4 acc = vec4(0.0);
            for (uint c = 0u; c < p.stride4; c++)
                acc += imageLoad(X, int(i * p.stride4 + c));
            s = (acc.x + acc.y) + (acc.z + acc.w);
            if (p.accumulate != 0u)
                s += Out[i];
        }
        Out[i] = s;
    }
}
