// The bias gradient beside dW (gemm_dw.comp, gemm_dw_big.comp): db[n] (+)=
// Σ_m dY[m][n] over the TM columns n0… of an invocation whose block starts
// at k0 = 0, so a linear layer's backward needs no column-sum dispatch.
// Rows are added in order like sum_cols.comp, so the result is the same.
// Needs DY, DB and the push constants M, lddy4, accumulate, zdy, zdb.
void bias_grad(uint n0, uint count)
{
    uint z = gl_WorkGroupID.z, dyo = z * (p.zdy / 4u), dbo = z * (p.zdb / 4u);
    uint t1 = min((n0 + count) / 4u, p.lddy4);
    for (uint t = n0 / 4u; t < t1; t++) {
        vec4 acc = p.accumulate != 0u ? DB[dbo + t] : vec4(0.0);
        for (uint m = 0u; m < p.M; m++)
            acc += imageLoad(DY, int(dyo + m * p.lddy4 + t));
        DB[dbo + t] = acc;
    }
}
