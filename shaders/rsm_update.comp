#version 450
// RSMNorm running statistics from a batch x (rows×cols), SPEC.md §1:
// δ = mean_batch(x) − μ; μ += δ/t; σ² = ((t−1)/t)(σ² + δ²/t); t += 1.
// stats rows are μ, σ², t. One invocation per group of 4 columns, looping
// over the batch; padding columns are masked (their t is 0, so δ/t would
// be NaN) and stay zero.
layout(local_size_x_id = 0) in;
layout(binding = 0, rgba32f) uniform readonly imageBuffer X;
layout(binding = 1, std430) buffer StatsBuf { vec4 Stats[]; };
layout(push_constant) uniform Push { uint rows, cols, stride4; } pc;

void main()
{
    uint step = gl_NumWorkGroups.x * gl_WorkGroupSize.x;
    for (uint c = gl_GlobalInvocationID.x; c < pc.stride4; c += step) {
        vec4 sum = vec4(0.0);
        for (uint r = 0u; r < pc.rows; r++)
            sum += imageLoad(X, int(r * pc.stride4 + c));
        vec4 mu = Stats[c];
        vec4 var = Stats[pc.stride4 + c];
        vec4 t = Stats[2u * pc.stride4 + c];
        vec4 delta = sum / float(pc.rows) - mu;
        mu += delta / t;
        var = (t - 1.0) / t * (var + delta * delta / t);
        t += 1.0;
        uint c0 = 4u * c;
        bvec4 live = lessThan(uvec4(c0, c0 + 1u, c0 + 2u, c0 + 3u), uvec4(pc.cols));
        Stats[c] = mix(vec4(0.0), mu, live);
        Stats[pc.stride4 + c] = mix(vec4(0.0), var, live);
        Stats[2u * pc.stride4 + c] = mix(vec4(0.0), t, live);
    }
}
