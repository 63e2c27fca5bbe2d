/* SPDX-License-Identifier: Apache-2.0 */
/* tern/c/conventions.h — tern's C interface, one topic: conventions: where
 * tern's defaults differ from PyTorch's.
 * Included by tern.h, whose opening essay describes the interface as a
 * whole; include tern.h rather than this file. */
#ifndef TERN_C_CONVENTIONS_H
#define TERN_C_CONVENTIONS_H

#include "tern/c/types.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- conventions (docs/pytorch.md) ----------------------------------- */
/* Where tern's default differs from PyTorch's, the PyTorch form is one of
 * these values (tern::WeightDecayScope, tern::MseReduction and
 * tern::ExampleGradientDivisor; the header essays have the formulas). */
/* tern_optimizer_params.weight_decay_scope */
typedef enum tern_weight_decay_scope {
  TERN_WEIGHT_DECAY_DENSE_WEIGHTS = 0, /* tern: Dense weights only */
  TERN_WEIGHT_DECAY_ALL_PARAMETERS = 1 /* PyTorch: biases, LayerNorm too */
} tern_weight_decay_scope;
/* tern_optimizer_params.mse_reduction (TERN_LOSS_MSE only) */
typedef enum tern_mse_reduction {
  TERN_MSE_HALF_SUM_OVER_ROWS = 0, /* tern: 0.5 * sum((p - t)^2) / rows */
  TERN_MSE_MEAN = 1,               /* PyTorch MSELoss(): sum / (rows * cols) */
  TERN_MSE_SUM = 2                 /* MSELoss(reduction="sum"); not with
                                      example_rows or accumulation_rows */
} tern_mse_reduction;
/* tern_clip_params.divisor: what the clipped sum of example gradients is
 * divided by */
typedef enum tern_example_divisor {
  TERN_EXAMPLE_DIVISOR_ROWS = 0,    /* tern: the rows of the step */
  TERN_EXAMPLE_DIVISOR_EXAMPLES = 1 /* DP-SGD, Opacus: the examples */
} tern_example_divisor;

#ifdef __cplusplus
}
#endif

#endif /* TERN_C_CONVENTIONS_H */
