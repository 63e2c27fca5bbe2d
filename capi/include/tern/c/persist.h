/* SPDX-License-Identifier: Apache-2.0 */
/* tern/c/persist.h — tern's C interface, one topic: saving and loading a
 * model: to a buffer, and to a file where there is an operating system.
 * Included by tern.h, whose opening essay describes the interface as a
 * whole; include tern.h rather than this file. */
#ifndef TERN_C_PERSIST_H
#define TERN_C_PERSIST_H

#include "tern/c/types.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- saving and loading --------------------------------------------- */
/* Bytes of a saved model (0 for an invalid spec); with optimizer_state != 0
 * the optimizer moments are included. */
size_t tern_model_file_bytes(const tern_spec* spec, int optimizer_state);
/* Writes the model into buffer[0 .. capacity); *written receives the bytes
 * used. TERN_OUT_OF_MEMORY, naming the bytes needed, when the buffer is
 * smaller than tern_model_file_bytes (nothing is written then). */
tern_status tern_model_save(const tern_model* model, void* buffer, size_t capacity,
                            int optimizer_state, size_t* written, tern_error* err);
/* Loads a saved model of the same architecture (format version 1 or 2). The
 * file is validated completely (magic, format version, sizes, architecture
 * from the header before the payload is read, CRC-32, finite values, Adam
 * second moments >= 0, room for another step) before any weight changes:
 * on error the model is unchanged. */
tern_status tern_model_load(tern_model* model, const void* data, size_t size,
                            int optimizer_state, tern_error* err);

/* ---- saving to and loading from a file ------------------------------- */
/* Only where there is an operating system: a build for bare metal
 * (TERN_BARE_METAL defined non-zero, as the Cortex-M toolchain file does)
 * has no files, and these are then not declared (TERN_HAS_FILES 0). */
#if defined(TERN_BARE_METAL) && TERN_BARE_METAL
#define TERN_HAS_FILES 0
#else
#define TERN_HAS_FILES 1
/* Writes the model file (the bytes of tern_model_save) to `path`
 * atomically: everything is checked first (nothing is created when the
 * model cannot be saved), then it is written to a temporary file beside
 * `path`, flushed to storage and renamed over it. On any failure the file
 * that was at `path` is left as it was. TERN_IO_ERROR names the path and
 * the system's reason. */
tern_status tern_model_save_file(const tern_model* model, const char* path, int optimizer_state,
                                 tern_error* err);
/* tern_model_load from the file at `path` (validated completely before any
 * weight changes). A path that is not a regular file is refused before it is
 * read. */
tern_status tern_model_load_file(tern_model* model, const char* path, int optimizer_state,
                                 tern_error* err);
#endif

#ifdef __cplusplus
}
#endif

#endif /* TERN_C_PERSIST_H */
