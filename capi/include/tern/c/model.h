/* SPDX-License-Identifier: Apache-2.0 */
/* tern/c/model.h — tern's C interface, one topic: the model: version and
 * errors, building, training, inference.
 * Included by tern.h, whose opening essay describes the interface as a
 * whole; include tern.h rather than this file. */
#ifndef TERN_C_MODEL_H
#define TERN_C_MODEL_H

#include "tern/c/types.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- version and errors --------------------------------------------- */
/* The version the library was built as, e.g. "0.1.0" (compare with
 * TERN_VERSION_STRING from the header). */
const char* tern_version(void);
int tern_version_number(void);
/* Stable lower-case name of a status, e.g. "out_of_memory". */
const char* tern_status_name(tern_status status);

/* ---- building ------------------------------------------------------- */
/* Checks the spec; TERN_OK or the first problem, with the layer involved. */
tern_status tern_spec_check(const tern_spec* spec, tern_error* err);
/* Bytes the arena must have for this spec (handle included), 0 if the spec
 * is invalid. */
size_t tern_arena_bytes(const tern_spec* spec);
/* Builds the model in `arena` (TERN_ARENA_ALIGNMENT-aligned, at least
 * tern_arena_bytes(spec) bytes) and initialises its weights with seed 1.
 * On success *model points into the arena. */
tern_status tern_model_create(const tern_spec* spec, void* arena, size_t arena_bytes,
                              tern_model** model, tern_error* err);
/* Re-initialises the weights (He or Xavier uniform, seeded: the same seed
 * gives the same weights on every platform) and resets the optimizer. */
tern_status tern_model_initialize(tern_model* model, uint64_t seed, tern_error* err);

uint32_t tern_model_input_width(const tern_model* model);
uint32_t tern_model_output_width(const tern_model* model);
uint32_t tern_model_rows(const tern_model* model);
size_t tern_model_parameter_count(const tern_model* model);
/* The kernel ISA the model runs on: "scalar", "avx2", "avx512" or "neon". */
const char* tern_model_isa(const tern_model* model);

/* ---- training ------------------------------------------------------- */
/* The defaults listed in tern_optimizer_params. */
tern_optimizer_params tern_optimizer_defaults(void);
tern_status tern_model_set_optimizer(tern_model* model, const tern_optimizer_params* params,
                                     tern_error* err);
/* Forward, loss, backward and one optimizer step on 1 <= rows <= spec.rows
 * samples; *mean_loss (may be NULL) receives the batch's mean loss. */
tern_status tern_model_train_step(tern_model* model, const tern_batch* batch, float* mean_loss,
                                  tern_error* err);

/* ---- inference ------------------------------------------------------ */
/* Runs rows x input_width inputs (row stride ldx floats), any number of
 * rows >= 1 (in chunks of the model's rows), and writes the rows x
 * output_width outputs to y (row stride ldy floats). Every input is checked
 * finite first. An output that is not finite (weights or inputs that
 * overflow float) is TERN_NON_FINITE naming its row r: y's rows before r
 * then hold their outputs, rows r onwards are untouched. */
tern_status tern_model_infer(tern_model* model, const float* x, size_t ldx, size_t rows, float* y,
                             size_t ldy, tern_error* err);
/* The index of the largest output of each row (first on ties), any number
 * of rows; outputs that are not finite are TERN_NON_FINITE, never a class
 * (classes before the named row are written, the rest untouched). */
tern_status tern_model_predict(tern_model* model, const float* x, size_t ldx, size_t rows,
                               uint32_t* classes, tern_error* err);

#ifdef __cplusplus
}
#endif

#endif /* TERN_C_MODEL_H */
