// tern/runtime/persist.h — trained weights in and out of a model: a small
// versioned binary file with a checksum, and a C header for flashing.
//
// Firmware reads a model from flash, an SD card or a radio buffer, so I/O
// goes through two tiny callback interfaces instead of files: a ByteSink
// (sequential writes) and a ByteSource (reads at an offset, size known).
// Memory and stdio adapters are provided.
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
//   end-4   u32 CRC-32 (IEEE, as zlib) of every byte before it
// The batch size and mode are not part of the file: weights trained with a
// batch of 64 load into an inference model of one row.
#pragma once

#include <cstddef>
#include <cstdint>

#include "tern/platform/compiler.h"
#include "tern/platform/status.h"
#include "tern/runtime/model.h"
#include "tern/runtime/plan.h"
#include "tern/runtime/spec.h"

namespace tern {

constexpr std::uint32_t kModelFormatVersion = 1;
constexpr char kModelMagic[8] = {'T', 'E', 'R', 'N', 'M', 'O', 'D', 'L'};

// CRC-32 with the IEEE 802.3 polynomial (reflected 0xEDB88320, initial and
// final XOR 0xFFFFFFFF), the checksum of zlib, gzip and PNG. Incremental:
// crc32(b, nb, crc32(a, na)) == crc32 of a followed by b.
std::uint32_t crc32(const void* data, std::size_t bytes, std::uint32_t crc = 0);

struct ByteSink {
  Status (*write)(void* context, const void* data, std::size_t bytes) = nullptr;
  void* context = nullptr;
};
struct ByteSource {
  Status (*read)(void* context, std::size_t offset, void* data, std::size_t bytes) = nullptr;
  void* context = nullptr;
  std::size_t size = 0;
};

// Writes into a caller buffer; kOutOfMemory (with the bytes needed so far)
// when it is full.
class MemorySink {
 public:
  MemorySink(void* buffer, std::size_t capacity)
      : buffer_(static_cast<unsigned char*>(buffer)), capacity_(capacity) {}
  ByteSink sink() { return ByteSink{&MemorySink::write, this}; }
  std::size_t size() const { return size_; }

 private:
  static Status write(void* context, const void* data, std::size_t bytes);
  unsigned char* buffer_;
  std::size_t capacity_;
  std::size_t size_ = 0;
};
ByteSource memory_source(const void* data, std::size_t size);

// Header bytes and total file bytes for a spec (0 for an invalid spec);
// constexpr, so firmware can reserve a flash or RAM buffer for the file.
constexpr std::size_t model_file_header_bytes(std::uint32_t layers) {
  return 48 + 16 * std::size_t{layers};
}
constexpr std::size_t model_file_bytes(const ModelSpec& spec, bool optimizer_state) {
  if (!check_spec(spec).ok()) return 0;
  const std::uint64_t params = parameter_floats(spec);
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

// Writes a C header (valid C99 and C++17) with the architecture and every
// parameter as exact hexadecimal float literals:
//   #define <NAME>_PARAMETER_COUNT / _ARCHITECTURE_WORDS / _INPUT_WIDTH / _OUTPUT_WIDTH
//   static const uint32_t <name>_architecture[];   // see architecture_words()
//   static const float <name>_parameters[];        // tensors in model order
// `name` must be a C identifier of at most 48 characters.
Status export_c_header(const Model& model, const char* name, const ByteSink& sink);

// The architecture fingerprint as 32-bit words: input width, layer count,
// then kind, activation, in, out, from for each layer. Writes up to
// `capacity` words and returns how many the spec has (2 + 5 L).
std::size_t architecture_words(const ModelSpec& spec, std::uint32_t* out, std::size_t capacity);

// Copies exported parameters (e.g. from a generated header) into a model of
// the same architecture; the model is unchanged on error.
Status load_parameters(Model& model, const std::uint32_t* architecture, std::size_t words,
                       const float* values, std::size_t count);

}  // namespace tern
