#version 450
// One optimiser step (SPEC.md §5) over flat buffers (all, or a part), a vec4 at a
// time, in this order per element: L2 regeneration toward θ₀, gradient
// clipping by the global norm (from the sumsq partials), AdamW's decoupled
// decay, the moments, the Adam-atan2 / Adam step, and optionally g = 0.
// t and lr come from `values` (after the tick), so a recording replays.
// Padding holds 0 in every buffer and every branch maps 0 to 0 (atan2 and
// the Adam quotient are guarded at 0/0), so it stays 0 without a mask.
layout(local_size_x_id = 0) in;
// Specialization constants (src/nn/optim.c sets them from the config):
// 2 = clipping compiled in (its workgroup sum needs a barrier, which makes
// lavapipe run the shader as coroutines even when clipping is off), 3 = kind.
layout(constant_id = 2) const bool CLIP = true;
layout(constant_id = 3) const uint KIND = 0u;
// θ, g, m and v are read through texel views (0-3) and written through
// storage buffers on the same memory (7-10): on lavapipe that is faster
// than reading and writing either way (docs/runtime.md). Each pair is
// coherent: the memory model orders a lane's read through one binding
// before its write through the other only then (g's zeroing store does
// not depend on its load), and on lavapipe it costs nothing.
layout(binding = 0, rgba32f) uniform coherent readonly imageBuffer Theta;
layout(binding = 1, rgba32f) uniform coherent readonly imageBuffer Grad;
layout(binding = 2, rgba32f) uniform coherent readonly imageBuffer M;
layout(binding = 3, rgba32f) uniform coherent readonly imageBuffer V;
layout(binding = 4, rgba32f) uniform readonly imageBuffer Theta0;
layout(binding = 5, r32f) uniform readonly imageBuffer Values;     // [0] t, [1] lr
layout(binding = 6, r32f) uniform readonly imageBuffer Partials;   // Σg² per chunk
layout(binding = 7, std430) coherent writeonly buffer ThetaOut { vec4 theta_out[]; };
layout(binding = 8, std430) coherent writeonly buffer GradOut { vec4 grad_out[]; };
layout(binding = 9, std430) coherent writeonly buffer MOut { vec4 m_out[]; };
layout(binding = 10, std430) coherent writeonly buffer VOut { vec4 v_out[]; };
// Texels first .. end-1 are stepped (a shard steps its part of the set:
// src/nn/optim.c); the clipping norm is always the whole set's.
layout(push_constant) uniform Push {
    uint end, kind, regen, flags;
    float beta1, beta2, a, b, eps, weight_decay, max_norm, lambda;
    uint npartials, first;
} p;

const uint KIND_ATAN2 = 0u, KIND_ADAMW = 2u;   // nn_opt_kind
const uint REGEN_L2 = 1u;                      // nn_regen
const uint FLAG_CLIP = 1u, FLAG_ZERO_GRAD = 2u;
const float HALF_PI = 1.57079632679;

shared float sumsq;

// min(1, max_norm / (‖g‖ + 1e-6)), PyTorch's clip_grad_norm_ factor. One
// invocation per workgroup adds the partials (in a fixed order, so every
// workgroup gets the same sum); the rest wait for it.
float clip_scale()
{
    if (gl_LocalInvocationID.x == 0u) {
        float s = 0.0;
        for (uint i = 0u; i < p.npartials; i++)
            s += imageLoad(Partials, int(i)).x;
        sumsq = s;
    }
    barrier();
    return min(1.0, p.max_norm / (sqrt(sumsq) + 1e-6));
}

// atan2(y, x) for x ≥ 0; GLSL leaves atan(y, 0) undefined.
vec4 atan2_safe(vec4 y, vec4 x)
{
    return mix(atan(y, x), sign(y) * HALF_PI, equal(x, vec4(0.0)));
}

// m̂ / (√v̂ + ε), 0 where the denominator is 0 (ε = 0 and v = 0).
vec4 adam_dir(vec4 mh, vec4 vh)
{
    vec4 d = sqrt(vh) + p.eps;
    return mix(vec4(0.0), mh / d, greaterThan(d, vec4(0.0)));
}

void main()
{
    float t = imageLoad(Values, 0).x, lr = imageLoad(Values, 1).x;
    float scale = CLIP && (p.flags & FLAG_CLIP) != 0u ? clip_scale() : 1.0;
    float bc1 = 1.0 - pow(p.beta1, t), bc2 = 1.0 - pow(p.beta2, t);
    uint step = gl_NumWorkGroups.x * gl_WorkGroupSize.x;
    for (uint i = p.first + gl_GlobalInvocationID.x; i < p.end; i += step) {
        int at = int(i);
        vec4 th = imageLoad(Theta, at);
        if (p.regen == REGEN_L2)
            th += lr * p.lambda * (imageLoad(Theta0, at) - th);
        vec4 g = imageLoad(Grad, at) * scale;
        if (KIND == KIND_ADAMW)
            th *= 1.0 - lr * p.weight_decay;
        vec4 m = p.beta1 * imageLoad(M, at) + (1.0 - p.beta1) * g;
        vec4 v = p.beta2 * imageLoad(V, at) + (1.0 - p.beta2) * g * g;
        vec4 mh = m / bc1, vh = v / bc2;
        if (KIND == KIND_ATAN2)
            th -= lr * p.a * atan2_safe(mh, p.b * sqrt(vh));
        else
            th -= lr * adam_dir(mh, vh);
        theta_out[at] = th;
        m_out[at] = m;
        v_out[at] = v;
        if ((p.flags & FLAG_ZERO_GRAD) != 0u)
            grad_out[at] = vec4(0.0);
    }
}
