/* SPDX-License-Identifier: Apache-2.0 */
/* tern/c/safetensors.h — tern's C interface, one topic: weights in and out of
 * the safetensors format.
 * Included by tern.h, whose opening essay describes the interface as a
 * whole; include tern.h rather than this file. */
#ifndef TERN_C_SAFETENSORS_H
#define TERN_C_SAFETENSORS_H

#include "tern/c/types.h"
#include "tern/c/persist.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- safetensors ---------------------------------------------------- */
/* Weights in and out of the safetensors format (what PyTorch's
 * safetensors.torch.save_file(model.state_dict(), path) writes), through
 * tern::load_safetensors and tern::save_safetensors
 * (tern/runtime/safetensors.h has the whole contract). Names: `names` NULL
 * with name_count 0 for the defaults nn.Sequential gives ("0.weight",
 * "0.bias", "2.weight", ... where module 1 is a Dense layer's activation),
 * or one name per tensor in tensor order. nn.Linear weights ([out][in])
 * are transposed to tern's [in][out] on reading and back on writing; F32,
 * F16 and BF16 load, F32 is written.
 *
 * tern_model_load_safetensors validates everything before a weight
 * changes: on error the model is unchanged. TERN_CORRUPT_DATA: a header
 * that is not JSON or not a safetensors header, offsets outside the data,
 * overlapping ranges or gaps; TERN_SHAPE_MISMATCH: a tensor missing, of the
 * wrong shape or of a dtype other than F32, F16, BF16 (named with its
 * name); TERN_NON_FINITE: a NaN or Inf value; TERN_INVALID_ARGUMENT: a bad
 * handle, `data` NULL, a bad name list. Only the parameters change. */
tern_status tern_model_load_safetensors(tern_model* model, const void* data, size_t size,
                                        const char* const* names, uint32_t name_count,
                                        tern_error* err);
/* The bytes tern_model_save_safetensors writes for these names; 0 for a bad
 * handle or name list. */
size_t tern_model_safetensors_bytes(const tern_model* model, const char* const* names,
                                    uint32_t name_count);
/* Writes the model's parameters as F32 into buffer[0 .. capacity); *written
 * (may be NULL) receives the bytes, 0 on every error. A buffer shorter than
 * tern_model_safetensors_bytes is TERN_OUT_OF_MEMORY naming both sizes, a
 * NaN or Inf parameter TERN_NON_FINITE; nothing is written then. */
tern_status tern_model_save_safetensors(const tern_model* model, const char* const* names,
                                        uint32_t name_count, void* buffer, size_t capacity,
                                        size_t* written, tern_error* err);
#if TERN_HAS_FILES
/* The same with files: the save is atomic like tern_model_save_file, the
 * load refuses a path that is not a regular file. */
tern_status tern_model_save_safetensors_file(const tern_model* model, const char* path,
                                             const char* const* names, uint32_t name_count,
                                             tern_error* err);
tern_status tern_model_load_safetensors_file(tern_model* model, const char* path,
                                             const char* const* names, uint32_t name_count,
                                             tern_error* err);
#endif

#ifdef __cplusplus
}
#endif

#endif /* TERN_C_SAFETENSORS_H */
