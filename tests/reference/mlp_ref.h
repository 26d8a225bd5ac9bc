/*
 * Reference residual MLP (SPEC.md §1) in double precision, written from the
 * equations with the nn_ref.h layers: the oracle for src/nn/mlp.c. The
 * parameters are one dense array in the order documented in src/nn/mlp.h.
 */
#ifndef VKSAC_TESTS_MLP_REF_H
#define VKSAC_TESTS_MLP_REF_H

#include <stddef.h>
#include <stdint.h>

#include "reference/nn_ref.h"

typedef struct ref_mlp_cfg {
    uint32_t in, out, hidden, depth, expansion;
    int act;                 /* REF_NN_* */
    double dropout;
    int final_norm;
    uint32_t drop_seed;      /* Philox key word 0 of the masks */
    uint32_t stream_base;    /* block b uses stream stream_base + b */
} ref_mlp_cfg;

#define REF_MLP_MAX_TENSORS 400

typedef struct ref_mlp {
    ref_mlp_cfg cfg;
    uint32_t hs, eh, ea;
    size_t ntensors, size;                 /* tensors, doubles in all */
    ref_tensor_span span[REF_MLP_MAX_TENSORS];
} ref_mlp;

/* Lays out the tensors; returns 0, or -1 when depth is too large. */
int ref_mlp_init(ref_mlp *m, const ref_mlp_cfg *cfg);
/* y (B×out) = MLP(x); with grad non-NULL also ∂L/∂θ of L = Σ dy ⊙ y into
 * grad (m->size), and ∂L/∂x into dx when non-NULL. Dropout when train. */
void ref_mlp_run(const ref_mlp *m, const double *theta, const double *x, uint32_t batch, int train,
                 uint64_t counter, double *y, const double *dy, double *grad, double *dx);

#endif
