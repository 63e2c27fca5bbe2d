/* SPDX-License-Identifier: Apache-2.0 */
/* tern/c/summary.h — tern's C interface, one topic: the model described in
 * words.
 * Included by tern.h, whose opening essay describes the interface as a
 * whole; include tern.h rather than this file. */
#ifndef TERN_C_SUMMARY_H
#define TERN_C_SUMMARY_H

#include "tern/c/types.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- summary -------------------------------------------------------- */
/* The model in words, as a NUL-terminated string in buffer[0 .. capacity):
 * its layers (kind, activation, input and output shape, parameters), the
 * parameter total, every buffer of its arena (offset, bytes, shape, what it
 * holds) and the arena total, the text of tern::summary_text
 * (tern/runtime/summary.h). The buffers listed are the model's own; the
 * arena tern_arena_bytes asks for also holds the handle in front of them.
 * *needed (may be NULL) receives the bytes the text takes, NUL included,
 * whether it fits or not. A smaller buffer is TERN_OUT_OF_MEMORY naming both
 * sizes, and then nothing is written to it; buffer NULL with capacity 0
 * asks for the size that way. */
tern_status tern_model_summary(const tern_model* model, char* buffer, size_t capacity,
                               size_t* needed, tern_error* err);

#ifdef __cplusplus
}
#endif

#endif /* TERN_C_SUMMARY_H */
