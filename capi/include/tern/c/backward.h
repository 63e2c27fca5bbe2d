/* SPDX-License-Identifier: Apache-2.0 */
/* tern/c/backward.h — tern's C interface, one topic: the open backward pass:
 * forward, backward, gradients.
 * Included by tern.h, whose opening essay describes the interface as a
 * whole; include tern.h rather than this file. */
#ifndef TERN_C_BACKWARD_H
#define TERN_C_BACKWARD_H

#include "tern/c/types.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- the open backward pass ------------------------------------------ */
/* tern::Model::forward, backward, compute_gradients, apply_gradients,
 * input_gradient and output_gradient (tern/runtime/model.h has the full
 * contracts); C and C++ give the same bits.
 *
 * Runs the layers on rows x input_width inputs x (row stride ldx), as one
 * batch of at most tern_model_rows rows; y (may be NULL) receives the
 * outputs (rows x output width, row stride ldy). A training model keeps
 * what tern_model_backward needs. Errors as tern_model_infer's, plus rows
 * above tern_model_rows (TERN_INVALID_ARGUMENT). */
tern_status tern_model_forward(tern_model* model, const float* x, size_t ldx, size_t rows,
                               float* y, size_t ldy, tern_error* err);
/* The backward pass of the last tern_model_forward from dl_dy = dL/dY
 * (rows x output width, row stride ldg), the gradient of the caller's own
 * loss with respect to the outputs, taken as given (divide by rows for a
 * mean): the parameter gradients of sum_i dl_dy_i . y_i replace the
 * previous ones, ready for tern_model_apply_gradients. The gradient the
 * built-in loss produced (tern_model_output_gradient) gives
 * tern_model_compute_gradients' bits.
 * Errors: no forward to differentiate (another call ran the layers or
 * changed the parameters since, or backward already ran on it), or a spec
 * with fused_update, example_rows or accumulation_rows
 * (TERN_FAILED_PRECONDITION, naming it); rows other than the forward's,
 * dl_dy NULL, ldg below the output width (TERN_INVALID_ARGUMENT); a value
 * NaN or Inf (TERN_NON_FINITE, naming row and column). On error nothing
 * changes. */
tern_status tern_model_backward(tern_model* model, const float* dl_dy, size_t ldg, size_t rows,
                                tern_error* err);
/* Forward, loss and backward on a batch: the gradients of the mean loss
 * replace the previous ones; *mean_loss may be NULL. Not with fused_update
 * or accumulation_rows (TERN_FAILED_PRECONDITION). */
tern_status tern_model_compute_gradients(tern_model* model, const tern_batch* batch,
                                         float* mean_loss, tern_error* err);
/* One optimizer step with the current gradients. */
tern_status tern_model_apply_gradients(tern_model* model, tern_error* err);
/* A spec with input_gradient 1: copies dL/dX (rows x input width) of the
 * last backward pass (tern_model_compute_gradients, tern_model_train_step
 * at the parameters before its update, or tern_model_backward) into dx,
 * row stride lddx, and its row count into *rows (may be NULL). dx needs
 * room for tern_model_rows rows at most, and must not overlap the arena.
 * Errors: input_gradient 0, or no backward pass since the last loss or
 * initialisation (TERN_FAILED_PRECONDITION); dx NULL or lddx below the
 * input width (TERN_INVALID_ARGUMENT). */
tern_status tern_model_input_gradient(const tern_model* model, float* dx, size_t lddx,
                                      size_t* rows, tern_error* err);
/* The same for dL/dY (rows x output width) as the loss produced it (the
 * gradient of the mean loss) or tern_model_backward received it. */
tern_status tern_model_output_gradient(const tern_model* model, float* dy, size_t lddy,
                                       size_t* rows, tern_error* err);

#ifdef __cplusplus
}
#endif

#endif /* TERN_C_BACKWARD_H */
