/* SPDX-License-Identifier: Apache-2.0 */
/* tern.h — the C interface of tern, for firmware and programs written in C.
 *
 * Why a C interface: much firmware is C, and a C ABI is what other languages
 * bind to. It is a thin layer over the C++ runtime (the tern/runtime/ headers): the
 * same planner, the same kernels, the same bits. Like the runtime it never
 * touches the heap and never throws; every fallible call returns a
 * tern_status and, when the caller passes one, fills a tern_error with a
 * message naming the numbers that matter.
 *
 * Memory: the caller provides one buffer, the arena, 64-byte aligned and
 * tern_arena_bytes(spec) bytes long. The model's handle (a C++ tern::Model
 * and its tern::Arena, a few KB) lives at the start of that buffer, every
 * weight, activation, gradient and optimizer moment after it. There is
 * nothing to free: the model is gone when the caller reuses the buffer.
 *
 * A model is described by a tern_spec: the input width, the rows processed
 * per call (batch size), inference or training, the loss and the optimizer,
 * and an array of tern_layer descriptors:
 *
 *   static const tern_layer layers[] = {
 *       {TERN_LAYER_DENSE, TERN_ACT_RELU, 16, 0, TERN_INIT_AUTO},
 *       {TERN_LAYER_DENSE, TERN_ACT_IDENTITY, 2, 0, TERN_INIT_AUTO},
 *   };
 *   tern_spec spec = {2, 8, TERN_MODE_TRAINING, TERN_LOSS_SOFTMAX_CROSS_ENTROPY,
 *                     TERN_OPTIMIZER_SGD, layers, 2, 0, 0, 0, 0, 0};
 *   static TERN_ALIGNAS(TERN_ARENA_ALIGNMENT) unsigned char arena[8192];
 *   tern_model* model;
 *   tern_error err;
 *   if (tern_model_create(&spec, arena, sizeof arena, &model, &err) != TERN_OK)
 *       puts(err.message);   // says how many bytes the model needs
 *
 * Structs only ever grow at the end, and 0 is the default of every field
 * added, so an initialiser written for an older tern.h keeps its meaning.
 *
 * Saved models use tern's versioned file format (format version
 * TERN_MODEL_FORMAT_VERSION, checked by the loader together with a CRC-32),
 * the same bytes the C++ tern::save_model writes.
 *
 * C99; every function is safe to call with NULL pointers (it reports
 * TERN_INVALID_ARGUMENT). One model must not be used by two threads at once.
 */
#ifndef TERN_H
#define TERN_H

/* One header per topic under tern/c/, all of them here, in this order. */
#include "tern/c/types.h"
#include "tern/c/model.h"
#include "tern/c/persist.h"
#include "tern/c/isa.h"
#include "tern/c/divergence.h"
#include "tern/c/rank1.h"
#include "tern/c/evaluation.h"
#include "tern/c/schedule.h"
#include "tern/c/checkpoint.h"
#include "tern/c/parameters.h"
#include "tern/c/summary.h"
#include "tern/c/safetensors.h"
#include "tern/c/backward.h"
#include "tern/c/conventions.h"

#endif /* TERN_H */
