#version 450
// nn_tick: values[i] += 1 for each bit i of add_mask; a bit i of carry_mask
// makes values[i] the low half of a counter whose high half is values[i+1]
// (each half an integer below 2^24, exact in fp32): at 2^24 the low half
// wraps to 0 and the high half gains 1. One invocation does every bit in
// order, so one recording advances per-step counters on each replay.
layout(local_size_x_id = 0) in;
layout(binding = 0, std430) buffer ValuesBuf { float Values[]; };
layout(push_constant) uniform Push { uint add_mask, carry_mask; } p;

const float WRAP = 16777216.0;   // 2^24

void main()
{
    if (gl_GlobalInvocationID.x != 0u)
        return;
    for (int i = 0; i < 32; i++) {
        uint bit = 1u << uint(i);
        if (((p.add_mask | p.carry_mask) & bit) == 0u)
            continue;
        float v = Values[i] + ((p.add_mask & bit) != 0u ? 1.0 : 0.0);
        if ((p.carry_mask & bit) != 0u && v >= WRAP) {
            v -= WRAP;
            Values[i + 1] += 1.0;
        }
        Values[i] = v;
    }
}
