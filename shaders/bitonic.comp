#version 450
// PLACEHOLDER: to be written (issue 3).
layout(local_size_x_id = 0) in;
layout(binding = 0, r32f) uniform imageBuffer B0;
layout(binding = 1, r32f) uniform imageBuffer B1;
layout(binding = 2, r32f) uniform imageBuffer B2;
void main() {}
