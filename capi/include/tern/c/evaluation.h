/* SPDX-License-Identifier: Apache-2.0 */
/* tern/c/evaluation.h — tern's C interface, one topic: evaluation of a model
 * on a data set.
 * Included by tern.h, whose opening essay describes the interface as a
 * whole; include tern.h rather than this file. */
#ifndef TERN_C_EVALUATION_H
#define TERN_C_EVALUATION_H

#include "tern/c/types.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- evaluation ----------------------------------------------------- */
/* What tern_model_evaluate reports (tern::Evaluation): the rows evaluated,
 * the mean over them of the spec's loss (softmax cross-entropy, or half the
 * squared error summed over the outputs, as training defines it); for
 * softmax cross-entropy the rows whose largest output (first on ties) is the
 * label and that count / rows; for MSE the squared errors summed over rows
 * and outputs / (rows x output width). The figures of the other loss are 0. */
typedef struct tern_evaluation {
  size_t rows;
  float mean_loss;
  size_t correct;
  float accuracy;
  float mean_squared_error;
} tern_evaluation;
/* Evaluates a training or inference model on data->rows >= 1 samples, any
 * number of them (run in chunks of the model's rows; the samples
 * data->indices selects when given), reading data->labels or data->targets
 * as the loss needs. Changes no weight, optimizer state or
 * step count: training afterwards goes on exactly as it would have. The
 * same bits on every ISA, and for any model rows. A sample whose input,
 * target, output or loss is not finite (TERN_NON_FINITE) or whose label is
 * out of range (TERN_INVALID_ARGUMENT) is an error naming its row; *out is
 * then untouched. */
tern_status tern_model_evaluate(tern_model* model, const tern_batch* data, tern_evaluation* out,
                                tern_error* err);
/* Each row's own loss (tern::Model::row_losses): losses[i] (data->rows
 * floats, 4-byte aligned) is row i's term of tern_model_evaluate's mean
 * over the same data, the same bits on every ISA. Call it on a step's batch
 * before tern_model_train_step for the per-example losses of that step.
 * Errors as tern_model_evaluate's; after one, the rows before the named
 * row hold their losses and the rest are untouched. */
tern_status tern_model_row_losses(tern_model* model, const tern_batch* data, float* losses,
                                  tern_error* err);

#ifdef __cplusplus
}
#endif

#endif /* TERN_C_EVALUATION_H */
