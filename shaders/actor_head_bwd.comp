#version 450
#extension GL_GOOGLE_include_directive : require
// Backward of the actor head's continuous part in the actor step, one
// invocation per row: from ∂L/∂a (summed over the critics' input
// gradients, columns S..S+C of each) and ∂L/∂log π_c = α/B, the gradients
// of μ and of the raw scale (docs/sac.md, "Actor head"). The discrete
// columns of dH come from actor_loss.comp.
#include "sac.glsl"
layout(local_size_x_id = 0) in;
layout(binding = 0, r32f) uniform readonly imageBuffer H;
layout(binding = 1, r32f) uniform readonly imageBuffer Aux;      // B×2C: u | ε
layout(binding = 2, r32f) uniform readonly imageBuffer Bounds;   // 2×C
layout(binding = 3, r32f) uniform readonly imageBuffer DX;       // N·Bp × (S+C)
layout(binding = 4, r32f) uniform readonly imageBuffer LogAlpha;
layout(binding = 5, std430) writeonly buffer DHBuf { float DH[]; };
layout(push_constant) uniform Push { uint rows, bp, n, c, nsum, s, flags; } pc;

void main()
{
    uint r = gl_GlobalInvocationID.x;
    if (r >= pc.rows)
        return;
    uint sh = padded(pc.nsum + 2u * pc.c), sa = padded(pc.c), sx = padded(2u * pc.c), sdx = padded(pc.s + pc.c);
    float glp = exp(imageLoad(LogAlpha, 0).x) / float(pc.rows);
    for (uint j = 0u; j < pc.c; j++) {
        float ga = 0.0;
        for (uint k = 0u; k < pc.n; k++)
            ga += imageLoad(DX, int((k * pc.bp + r) * sdx + pc.s + j)).x;
        float raw = imageLoad(H, int(r * sh + pc.nsum + pc.c + j)).x, dsig;
        float sigma = head_sigma(raw, (pc.flags & 1u) != 0u, dsig);
        float u = imageLoad(Aux, int(r * sx + j)).x, eps = imageLoad(Aux, int(r * sx + pc.c + j)).x;
        float t = tanh_stable(u);
        float lo = imageLoad(Bounds, int(j)).x, hi = imageLoad(Bounds, int(sa + j)).x;
        float du = ga * 0.5 * (hi - lo) * (1.0 - t * t) + glp * 2.0 * t;
        DH[r * sh + pc.nsum + j] = du;
        DH[r * sh + pc.nsum + pc.c + j] = (du * eps - glp / sigma) * dsig;
    }
}
