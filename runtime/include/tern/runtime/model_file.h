// SPDX-License-Identifier: Apache-2.0
// tern/runtime/model_file.h — trained weights in and out of a model: a small
// versioned binary file with a checksum, through a ByteSink / ByteSource
// (byte_io.h) or, with an OS, a file.
//
// Loading never leaves a model half-updated by a bad file. The header is
// read and checked first — magic, format version, sizes against the file's,
// the architecture against the model's — so a file of another model is
// refused after reading its header, however large it is, and no read goes
// past the size the model's spec implies. Then the whole payload is read
// and validated — CRC-32, every value finite, second moments >= 0, room for
// another optimizer step — and only then read a second time into the
// weights. No staging buffer, no heap. There is no bound on the size of a
// finite weight (any float is a legal parameter); a model whose weights
// overflow on an input reports it where it happens, from forward().
//
// File layout (format version 2), all integers and floats little-endian:
//   0   "TERNMODL"                      magic, 8 bytes
//   8   u32 format version              kModelFormatVersion
//   12  u32 flags                       bit 0: optimizer state follows the weights
//   16  u32 input width
//   20  u32 layer count L
//   24  L x 16 bytes: u8 kind, u8 activation, u16 zero, u32 in, u32 out,
//       u32 from                        the architecture fingerprint
//   24+16L  u32 optimizer kind, u64 optimizer steps   (0, 0 without state)
//   36+16L  u64 parameter floats P, u64 state floats S (0, P for SGD, 2P for Adam)
//   52+16L  P floats: every tensor in model order (layer by layer, W then b)
//           S floats: moment 1 of every tensor, then moment 2
//   end-4   u32 CRC-32 (IEEE, as zlib; crc32.h) of every byte before it
// The batch size and mode are not part of the file: weights trained with a
// batch of 64 load into an inference model of one row.
//
// Version 1 (tern 0.1) is version 2 with a u32 step count: its fields after
// the layer records are u32 optimizer kind, u32 steps, u64 P, u64 S, and
// the payload starts at 48+16L. The loader reads both; save_model writes
// version 2 only. Version 2 exists for the 64-bit step counter
// (Model::steps): the low half of its u64 sits where version 1 kept the
// u32, the high half is inserted after it.
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

// Raised whenever the layout above changes. A file of an older version this
// build still reads (kModelFormatOldestVersion and up) loads as it always
// did; any other version is refused (kCorruptData), never guessed at.
constexpr std::uint32_t kModelFormatVersion = 2;
constexpr std::uint32_t kModelFormatOldestVersion = 1;
// The first 8 bytes of every model file.
constexpr char kModelMagic[8] = {'T', 'E', 'R', 'N', 'M', 'O', 'D', 'L'};

// Header bytes and total file bytes for a spec; constexpr, so firmware can
// reserve a flash or RAM buffer for the file (an invalid spec: a compile
// error there, 0 at run time).
// 52: the fixed fields (magic 8; version, flags, input width, layer count,
// optimizer kind: 4 each; steps, parameter and state counts: 8 each); 16
// per layer; 4 per float; 4 for the trailing CRC-32. Version 1 had a 4-byte
// step count: 48.
constexpr std::size_t model_file_header_bytes(std::uint32_t layers,
                                              std::uint32_t version = kModelFormatVersion) {
  return (version == 1 ? 48 : 52) + 16 * std::size_t{layers};
}

namespace model_file_detail {

// Reached by model_file_bytes() for an invalid spec, or one whose file
// size does not fit a size_t. Not constexpr: in a constant expression (a
// buffer's bound) that is a compile error naming the function; at run time
// they give 0 (plan.h, arena_bytes_needs_a_valid_spec, has the reason).
inline std::size_t model_file_bytes_needs_a_valid_spec() { return 0; }
inline std::size_t model_file_bytes_overflow_size_t() { return 0; }

}  // namespace model_file_detail

constexpr std::size_t model_file_bytes(const ModelSpec& spec, bool optimizer_state) {
  if (!check_spec(spec).ok()) return model_file_detail::model_file_bytes_needs_a_valid_spec();
  const std::uint64_t params = parameter_floats(spec);
  // SGD keeps one moment (momentum) per parameter; Adam and AdamW two.
  const std::uint64_t moments = spec.optimizer == OptimizerKind::kSgd ? 1 : 2;
  // 3 floats of 4 bytes per parameter at most: beyond SIZE_MAX / 12 the
  // byte count would not fit a size_t (only possible on 32-bit targets).
  if (params > SIZE_MAX / 12) return model_file_detail::model_file_bytes_overflow_size_t();
  const std::uint64_t state = optimizer_state ? moments * params : 0;
  return model_file_header_bytes(spec.layer_count) +
         static_cast<std::size_t>(4 * (params + state)) + 4;
}

// Saves the parameters (and, with optimizer_state, the moments and step
// count of a training model). kNonFinite if a parameter is NaN or Inf.
Status save_model(const Model& model, const ByteSink& sink, bool optimizer_state = false);

// Loads parameters (and optimizer state if asked and present). On any error
// the model is unchanged: kCorruptData (truncated, trailing bytes, bad magic,
// unknown version, inconsistent header, checksum mismatch, a negative second
// moment, a step count of 2^64 - 1 that leaves no room for a step),
// kShapeMismatch (the file's architecture differs), kNonFinite,
// kFailedPrecondition (optimizer state asked of a file without it or into a
// model that cannot hold it), kIoError (the source failed or changed between
// the validation and copy passes — only then may the weights be partly
// written).
Status load_model(Model& model, const ByteSource& source, bool optimizer_state = false);

// Everything load_model checks, without changing the model: ok exactly when
// load_model(model, source, optimizer_state) would load the file (barring a
// source that changes in between). Checkpoints use it to decide which slot
// holds a state that really loads.
Status validate_model(const Model& model, const ByteSource& source, bool optimizer_state = false);

// What a model file's header says, for a tool that must learn the
// architecture before it has a model to load into (tern-info --model).
struct ModelFileInfo {
  ModelSpec architecture;      // the file's layers: rows 1, inference (a file has neither)
  std::uint32_t version = 0;   // format version
  bool optimizer_state = false;
  OptimizerKind optimizer = OptimizerKind::kSgd;  // with optimizer state only
  std::uint64_t steps = 0;                        // with optimizer state only
  std::uint64_t parameters = 0;                   // parameter floats
};
// Reads and checks the header alone: the checks load_model makes before it
// reads the payload (magic, version, flags, reserved bytes, the file's size
// against the header, a valid architecture, counts that agree with it). The
// payload is not read: load_model (or validate_model) into a model built
// from `architecture` checks the CRC-32 and the values. *info is written
// only on success. kInvalidArgument: no source.read or `info` null;
// kCorruptData, kIoError: as load_model.
Status read_model_file_info(const ByteSource& source, ModelFileInfo* info);

#if TERN_HAS_OS
// Atomic: the model is validated first (nothing is created when it cannot
// be saved), written to a temporary file in the target's directory,
// fsync'ed, renamed over `path` and the directory fsync'ed. A failure at any
// point (a full disk, a write error) leaves the previous file at `path`
// byte for byte as it was and removes the temporary file.
Status save_model_file(const Model& model, const char* path, bool optimizer_state = false);
// Refuses a path that is not a regular file (a directory, a FIFO, a device)
// with kInvalidArgument before reading, and never blocks on one.
Status load_model_file(Model& model, const char* path, bool optimizer_state = false);
#endif

}  // namespace tern
