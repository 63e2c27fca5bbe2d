// SPDX-License-Identifier: Apache-2.0
// Internal to runtime/src: the header of a model file (layout in
// tern/runtime/model_file.h): its constants, writing it, and reading and
// checking it before anything else of the file is believed. model_file.cpp
// (save, validate, load) is built on it.
#pragma once

#include <cstddef>
#include <cstdint>

#include "tern/platform/status.h"
#include "tern/runtime/byte_io.h"
#include "tern/runtime/model.h"
#include "tern/runtime/model_file.h"

namespace tern::detail::model_file {

// Flags bit 0: optimizer state follows the parameters. No other bit is
// defined; a file with one set is refused.
constexpr std::uint32_t kFlagOptimizerState = 1u;
// Bytes before the layer records: magic, version, flags, input width, layer
// count. Enough to learn the header's full length.
constexpr std::size_t kFixedPrefixBytes = 24;
// Bytes of one layer record: kind, activation, 2 zero bytes, in, out, from.
constexpr std::size_t kLayerRecordBytes = 16;
// The largest header, so parsing needs no buffer sized at run time.
constexpr std::size_t kMaxHeaderBytes = model_file_header_bytes(kMaxLayers);

// The optimizer field is the OptimizerKind value; 2 (AdamW) is the largest.
constexpr std::uint32_t kLastOptimizer = static_cast<std::uint32_t>(OptimizerKind::kAdamW);

const char* optimizer_name(OptimizerKind k);

// Floats of optimizer state for `params` parameters: one moment for SGD
// (momentum), two for Adam and AdamW.
std::uint64_t state_floats(OptimizerKind optimizer, std::uint64_t params);

// Writes the header of `model`'s file into `out` (kMaxHeaderBytes) and
// returns its length.
std::size_t encode_header(const Model& model, bool with_state, unsigned char* out);

// What the header of a file says, before it is believed.
struct ParsedHeader {
  std::uint32_t version = 0;
  std::uint32_t flags = 0;
  ModelSpec spec;  // the file's architecture (rows 1, inference)
  std::uint32_t optimizer = 0;
  std::uint64_t steps = 0;
  std::uint64_t params = 0, state = 0;
  std::size_t header_bytes = 0;
  bool has_state() const { return (flags & kFlagOptimizerState) != 0; }
};

// src.read at `offset`, its failure reported as kIoError naming the bytes.
Status read_at(const ByteSource& src, std::size_t offset, void* data, std::size_t bytes);

// kCorruptData "load: <what>".
Status corrupt(const char* what);

// Checks the fixed prefix, reads the layer records and counts, and checks
// the file's size against them. Reads the header only. `header` holds
// kMaxHeaderBytes.
Status parse_header(const ByteSource& src, unsigned char* header, ParsedHeader* h);

// The header's fields must agree with each other: a valid architecture,
// parameter and state counts that match it, and optimizer fields that are
// all 0 in a weights-only file.
Status check_header(const ParsedHeader& h);

// The file's architecture against the model's: kShapeMismatch naming the
// first difference.
Status compare_architecture(const ModelSpec& file, const ModelSpec& model);

}  // namespace tern::detail::model_file
