// SPDX-License-Identifier: Apache-2.0
// tern/runtime/summary.h — a model described in words: its layers, its
// parameters and every buffer of its arena.
//
// A model's memory is decided by its spec before it runs (plan.h), so the
// question "where do my 7 MB go?" has an exact answer that the summary
// prints: one line per layer (kind, activation, input and output shape as
// rows x width, parameters), the parameter total, and then the model's
// block buffer by buffer in offset order — offset, bytes, shape where it
// has one, and what it holds — ending with the arena total, which is
// arena_bytes(spec). Every byte of the block belongs to exactly one listed
// buffer, so the listed sizes add up to the total.
//
// Buffers that the planner shares (plan.h, "Memory sharing") are listed
// once, with every use: "points 1, 3" is one buffer holding the
// activations of points 1 and 3 in turn (inference ping-pong), "deltas 3, 1"
// the same for deltas; the shape shown is that of the largest use, which
// sets the buffer's size. A weight's gradient and optimizer moments are
// named after it ("layer 0 W moment 1"; SGD's first moment is its
// "velocity").
//
// Layout of the text (columns are padded with spaces; a value wider than
// its column pushes the rest of the line right, it is never cut):
//
//   model: 784 inputs, 3 layers, 64 rows per step; training (softmax
//          cross-entropy, adam, divergence guard)          <- one line
//   kernels: avx512                          (a built model only)
//   layer  kind                activation  input shape    output shape    parameters
//   0      dense               relu        64 x 784       64 x 256            200960
//   ...
//   parameters: 235146 floats in 6 tensors (940584 bytes)
//   arena buffers, in offset order:
//         offset         bytes  shape                buffer
//              0        802816  784 x 256            layer 0 W
//   ...
//   arena: 7025344 bytes in 25 buffers
//
// The summary is a function of the spec (and, for a built model, of the ISA
// its kernels run on), written through a ByteSink (byte_io.h) or into a
// caller's char buffer; nothing is allocated. It is text for people: tools
// that need the figures call plan_model() (plan.h) instead of parsing it.
#pragma once

#include <cstddef>

#include "tern/platform/status.h"
#include "tern/runtime/byte_io.h"
#include "tern/runtime/model.h"
#include "tern/runtime/spec.h"

namespace tern {

// The summary of a model of `spec`, without a kernels line. An invalid spec
// is refused as Model::build() refuses it (kInvalidArgument or
// kShapeMismatch naming the layer); no sink.write is kInvalidArgument. The
// sink's own errors are returned as they are, after which it may hold part
// of the text.
Status write_summary(const ModelSpec& spec, const ByteSink& sink);
// The summary of a built model, with the ISA of its kernels.
// kFailedPrecondition when the model is not built.
Status write_summary(const Model& model, const ByteSink& sink);

// The same text into buffer[0 .. capacity) as a NUL-terminated string.
// *needed (may be null) receives the bytes the text takes, its NUL
// included, whether it fits or not. A buffer smaller than that is
// kOutOfMemory naming both sizes, and then not a byte of it is written
// (decision: a cut summary would silently drop the buffers at its end). A
// null buffer with capacity 0 is a size query (kOutOfMemory, *needed set);
// a null buffer with a capacity is kInvalidArgument.
Status summary_text(const ModelSpec& spec, char* buffer, std::size_t capacity,
                    std::size_t* needed);
Status summary_text(const Model& model, char* buffer, std::size_t capacity, std::size_t* needed);

}  // namespace tern
