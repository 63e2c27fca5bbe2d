// tern/runtime/model_file.h — trained weights in and out of a model: a small
// versioned binary file with a checksum, through a ByteSink / ByteSource
// (byte_io.h) or, with an OS, a file.
//
// Loading never leaves a model half-updated by a bad file: the whole file is
// read and validated first — magic, format version, sizes, CRC-32, the
// architecture against the model's, every value finite — and only then read
// a second time into the weights. No staging buffer, no heap.
//
// File layout, all integers and floats little-endian:
//   0   "TERNMODL"                      magic, 8 bytes
//   8   u32 format version              kModelFormatVersion
//   12  u32 flags                       bit 0: optimizer state follows the weights
//   16  u32 input width
//   20  u32 layer count L
//   24  L x 16 bytes: u8 kind, u8 activation, u16 zero, u32 in, u32 out,
//       u32 from                        the architecture fingerprint
//   24+16L  u32 optimizer kind, u32 optimizer steps   (0, 0 without state)
//   32+16L  u64 parameter floats P, u64 state floats S (0, P for SGD, 2P for Adam)
//   48+16L  P floats: every tensor in model order (layer by layer, W then b)
//           S floats: moment 1 of every tensor, then moment 2
//   end-4   u32 CRC-32 (IEEE, as zlib; crc32.h) of every byte before it
// The batch size and mode are not part of the file: weights trained with a
// batch of 64 load into an inference model of one row.
#pragma once

#include <cstddef>
#include <cstdint>

#include "tern/platform/compiler.h"
#include "tern/platform/status.h"
#include "tern/runtime/byte_io.h"
#include "tern/runtime/model.h"
#include "tern/runtime/plan.h"
#include "tern/runtime/spec.h"

namespace tern {

// Raised whenever the layout above changes; a file of another version is
// refused (kCorruptData), never guessed at.
constexpr std::uint32_t kModelFormatVersion = 1;
// The first 8 bytes of every model file.
constexpr char kModelMagic[8] = {'T', 'E', 'R', 'N', 'M', 'O', 'D', 'L'};

// Header bytes and total file bytes for a spec (0 for an invalid spec);
// constexpr, so firmware can reserve a flash or RAM buffer for the file.
// 48: the fixed fields (magic 8, version, flags, input width, layer count,
// optimizer kind, steps: 4 each; parameter and state counts: 8 each); 16 per
// layer; 4 per float; 4 for the trailing CRC-32.
constexpr std::size_t model_file_header_bytes(std::uint32_t layers) {
  return 48 + 16 * std::size_t{layers};
}
constexpr std::size_t model_file_bytes(const ModelSpec& spec, bool optimizer_state) {
  if (!check_spec(spec).ok()) return 0;
  const std::uint64_t params = parameter_floats(spec);
  // SGD keeps one moment (momentum) per parameter; Adam and AdamW two.
  const std::uint64_t moments = spec.optimizer == OptimizerKind::kSgd ? 1 : 2;
  const std::uint64_t state = optimizer_state ? moments * params : 0;
  return model_file_header_bytes(spec.layer_count) +
         static_cast<std::size_t>(4 * (params + state)) + 4;
}

// Saves the parameters (and, with optimizer_state, the moments and step
// count of a training model). kNonFinite if a parameter is NaN or Inf.
Status save_model(const Model& model, const ByteSink& sink, bool optimizer_state = false);

// Loads parameters (and optimizer state if asked and present). On any error
// the model is unchanged: kCorruptData (truncated, trailing bytes, bad magic,
// unknown version, checksum mismatch), kShapeMismatch (the file's
// architecture differs), kNonFinite, kFailedPrecondition (optimizer state
// asked of a file without it or into a model that cannot hold it), kIoError
// (the source failed or changed between the validation and copy passes —
// only then may the weights be partly written).
Status load_model(Model& model, const ByteSource& source, bool optimizer_state = false);

#if TERN_HAS_OS
Status save_model_file(const Model& model, const char* path, bool optimizer_state = false);
Status load_model_file(Model& model, const char* path, bool optimizer_state = false);
#endif

}  // namespace tern
