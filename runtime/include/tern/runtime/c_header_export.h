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
