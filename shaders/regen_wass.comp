#version 450
// Wasserstein regeneration (SPEC.md §5): after the bitonic sort, order[p]
// is the flat index of the element of rank p (ranks counted within each
// tensor, tensors in order) and sorted0[p] the θ₀ value of the same rank in
// the same tensor, so θ[order[p]] += (lr/lr₀)·λ·(sorted0[p] − θ[order[p]]).
// order is a permutation, so every element is written by one invocation.
layout(local_size_x_id = 0) in;
layout(binding = 0, std430) buffer ThetaBuf { float Theta[]; };
layout(binding = 1, r32f) uniform readonly imageBuffer Order;
layout(binding = 2, r32f) uniform readonly imageBuffer Sorted0;
layout(binding = 3, r32f) uniform readonly imageBuffer Values;   // [1] = lr (NN_OPT_LR)
layout(push_constant) uniform Push { uint n; float lr0, lambda; } p;

void main()
{
    float c = imageLoad(Values, 1).x / p.lr0 * p.lambda;
    uint step = gl_NumWorkGroups.x * gl_WorkGroupSize.x;
    for (uint i = gl_GlobalInvocationID.x; i < p.n; i += step) {
        int at = int(imageLoad(Order, int(i)).x);
        float th = Theta[at];
        Theta[at] = th + c * (imageLoad(Sorted0, int(i)).x - th);
    }
}
