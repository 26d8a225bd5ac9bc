// Column sums beside dW (gemm_dw.comp, gemm_dw_big.comp), over the TM
// columns n0… of an invocation whose block starts at k0 = 0, so a linear
// layer's backward needs no column-sum dispatch: the bias gradient db[n]
// (+)= Σ_m dY[m][n] (with_db), and a second sum gsum[n] (+)= Σ_m gsrc[m][n]
// over a tensor of dY's shape (so its stride; with_g bit 0, bit 1 adds):
// a LayerNorm's gain gradient from its scratch (src/nn/mlp.c). Rows are
// added in order like sum_cols.comp, so the results are the same.
// Needs DY, DB, GSRC, GSUM and the push constants M, lddy4, accumulate,
// zdy, zdb, with_db, zg, zgs, with_g.
#define COL_SUM(SRC, zsrc, OUT, zout, acc) { \
    uint z = gl_WorkGroupID.z, so = z * ((zsrc) / 4u), oo = z * ((zout) / 4u); \
    uint t1 = min((n0 + count) / 4u, p.lddy4); \
    for (uint t = n0 / 4u; t < t1; t++) { \
        vec4 s = (acc) ? OUT[oo + t] : vec4(0.0); \
        for (uint m = 0u; m < p.M; m++) \
            s += imageLoad(SRC, int(so + m * p.lddy4 + t)); \
        OUT[oo + t] = s; \
    } }

void col_sums(uint n0, uint count)
{
    if (p.with_db != 0u)
        COL_SUM(DY, p.zdy, DB, p.zdb, p.accumulate != 0u)
    if ((p.with_g & 1u) != 0u)
        COL_SUM(GSRC, p.zg, GSUM, p.zgs, (p.with_g & 2u) != 0u)
}
