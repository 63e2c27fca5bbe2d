// SPDX-License-Identifier: Apache-2.0
// tern/runtime/c_header_export.h — a trained model as a C header, for
// compiling the weights into firmware (flash) instead of loading a file.
#pragma once

#include <cstddef>
#include <cstdint>

#include "tern/platform/compiler.h"
#include "tern/platform/status.h"
#include "tern/runtime/byte_io.h"
#include "tern/runtime/model.h"
#include "tern/runtime/spec.h"

namespace tern {

// Writes a C header (valid C99 and C++17) with the architecture and every
// parameter as exact hexadecimal float literals:
//   #define <NAME>_PARAMETER_COUNT / _ARCHITECTURE_WORDS / _INPUT_WIDTH / _OUTPUT_WIDTH
//   static const uint32_t <name>_architecture[];   // see architecture_words()
//   static const float <name>_parameters[];        // tensors in model order
// and, for a C firmware on tern.h, the model as a tern_spec and the bytes
// it needs, all constant expressions (they name tern.h's constants, so a C
// program includes tern.h first):
//   <NAME>_ROWS, _MODE, _LOSS, _OPTIMIZER, _LAYER_COUNT, _TRAINING_OPTIONS
//   (divergence guard, fused update, example rows, accumulation rows, input
//   gradient),
//   _LAYERS (the tern_layer initialisers, weight initialiser included),
//   _SPEC(layers), _INFERENCE_SPEC(layers) (one row, no training options); _ARENA_BYTES and _INFERENCE_ARENA_BYTES (TERN_HANDLE_BYTES + the
//   buffers: tern_arena_bytes of the two specs), _MODEL_FILE_BYTES,
//   _MODEL_FILE_STATE_BYTES (tern_model_file_bytes without and with the
//   optimizer state; the latter 0 for an inference model),
//   _CHECKPOINT_RECORD_BYTES, _CHECKPOINT_STORAGE_BYTES
//   (tern_checkpoint_storage_bytes on byte-writable storage; 0 for an
//   inference model).
// The tern_spec is the exported model's spec, field for field, so its sizes
// are the model's own. The macros are named <NAME>_..., as the header's
// other macros: the caller picks the prefix (a name "tern_fan" gives
// TERN_FAN_ARENA_BYTES).
// `name` must be a C identifier of at most 48 characters (so every macro
// and guard built from it stays short). kNonFinite if a parameter is NaN or
// Inf: C has no literal for them.
Status export_c_header(const Model& model, const char* name, const ByteSink& sink);

#if TERN_HAS_OS
// export_c_header into the file `path`, atomically as save_model_file
// (model_file.h) saves: validated first, written to a temporary file beside
// `path`, fsync'ed and renamed over it, so a failure (a NaN weight, a full
// disk) leaves the previous header at `path` as it was.
Status export_c_header_file(const Model& model, const char* name, const char* path);
#endif

// The architecture fingerprint as 32-bit words: input width, layer count,
// then kind, activation, in, out, from for each layer. Writes up to
// `capacity` words and returns how many the spec has (2 + 5 L).
std::size_t architecture_words(const ModelSpec& spec, std::uint32_t* out, std::size_t capacity);

// Copies exported parameters (e.g. from a generated header) into a model of
// the same architecture; the model is unchanged on error.
Status load_parameters(Model& model, const std::uint32_t* architecture, std::size_t words,
                       const float* values, std::size_t count);

}  // namespace tern
