/* SPDX-License-Identifier: Apache-2.0 */
/* tern/c/parameters.h — tern's C interface, one topic: loading parameters
 * exported as a C header.
 * Included by tern.h, whose opening essay describes the interface as a
 * whole; include tern.h rather than this file. */
#ifndef TERN_C_PARAMETERS_H
#define TERN_C_PARAMETERS_H

#include "tern/c/types.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- exported parameters -------------------------------------------- */
/* Copies parameters exported by tern::export_c_header (the arrays of a
 * generated header, compiled into flash) into a model of the same layers,
 * any rows, either mode:
 *   tern_model_load_parameters(model, net_architecture, NET_ARCHITECTURE_WORDS,
 *                              net_parameters, NET_PARAMETER_COUNT, &err);
 * Only the parameters change: the optimizer moments and step count stay as
 * they were (tern_model_initialize resets them). Everything is checked
 * before a value is copied: on error the model is unchanged.
 * Errors: a bad handle, `architecture` or `values` NULL
 * (TERN_INVALID_ARGUMENT); either not 4-byte aligned (TERN_MISALIGNED);
 * the architecture words differ from the model's,
 * or `count` is not its parameter count (TERN_SHAPE_MISMATCH, naming both);
 * a value is NaN or Inf (TERN_NON_FINITE, naming its index). */
tern_status tern_model_load_parameters(tern_model* model, const uint32_t* architecture,
                                       size_t words, const float* values, size_t count,
                                       tern_error* err);

#ifdef __cplusplus
}
#endif

#endif /* TERN_C_PARAMETERS_H */
