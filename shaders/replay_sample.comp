#version 450
// Placeholder: replaced by the replay-buffer sampling kernel.
layout(local_size_x_id = 0) in;
layout(binding = 0, r32f) uniform writeonly imageBuffer Out;
layout(push_constant) uniform Push { uint n; } pc;
void main() { if (gl_GlobalInvocationID.x < pc.n) imageStore(Out, int(gl_GlobalInvocationID.x), vec4(0.0)); }
