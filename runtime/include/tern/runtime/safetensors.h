// SPDX-License-Identifier: Apache-2.0
// tern/runtime/safetensors.h — a model's weights in and out of the
// safetensors format, the file `safetensors.torch.save_file(
// model.state_dict(), path)` writes, so that weights trained in PyTorch run
// in tern and a model fine-tuned or edited in tern returns to PyTorch.
//
// The format: a u64 little-endian N, then N bytes of a UTF-8 JSON object
// (the header, possibly padded with trailing spaces), then the data.
//   {"__metadata__": {"k": "v", ...},          optional, ignored here
//    "0.weight": {"dtype": "F32", "shape": [out, in],
//                 "data_offsets": [begin, end]}, ...}
// Offsets count from the first byte after the header; each tensor is its
// elements in row-major order, little-endian.
//
// Names. Each model tensor (Model::tensor, plan order) has a name:
//   - by default the name nn.Sequential gives it in a state_dict: modules
//     are numbered in order, a Dense layer is a Linear ("<i>.weight",
//     "<i>.bias") followed, when its activation is not the identity, by the
//     activation as module i + 1 (no parameters); an Activation layer is one
//     module, a LayerNorm one ("<i>.weight" gamma, "<i>.bias" beta). So
//     nn.Sequential(Linear, ReLU, Linear) is "0.weight", "0.bias",
//     "2.weight", "2.bias", tern's mlp() of the same widths. A Residual
//     layer has no nn.Sequential counterpart and takes no number.
//   - or the caller's list, one name per tensor in tensor order (names of a
//     custom nn.Module: "fc1.weight", ...).
// Decision: names, never the file's order. save_file stores tensors sorted
// by dtype and then by name as a string, so "0.bias" precedes "0.weight"
// and "10.weight" precedes "2.weight": the file's order is not the model's,
// and matching by it would load a bias into a weight of the same size
// without an error. Names make every mismatch a "missing tensor" error.
// Names are compared byte for byte after JSON unescaping (\uXXXX to UTF-8);
// the bytes are not otherwise checked to be UTF-8.
//
// Layouts. PyTorch's nn.Linear keeps W as [out][in]; tern keeps [in][out]
// (Y = X W). The reader transposes a Dense weight while it copies, the
// writer transposes back. Biases and LayerNorm gamma and beta are [width].
//
// Reading. load_safetensors parses the header streaming from the source in
// bounded memory (no heap, a few hundred bytes of stack) and validates
// everything before it writes one parameter; on any error the model is
// unchanged:
//   kCorruptData   a file too short for its header length, a header longer
//                  than kSafetensorsMaxHeaderBytes or past the end of the
//                  file, a header that is not JSON or not a safetensors
//                  header (not an object, a tensor entry without dtype,
//                  shape or data_offsets, an unknown key or dtype, begin >
//                  end, a byte count that disagrees with dtype and shape),
//                  offsets outside the data, overlapping ranges or gaps
//                  (the ranges must tile the data exactly, as the format
//                  requires), a duplicate model tensor name, more than
//                  kSafetensorsMaxOtherTensors tensors the model does not use
//   kShapeMismatch a model tensor missing from the file, of the wrong shape
//                  (named with both shapes) or of a dtype other than F32,
//                  F16 and BF16
//   kNonFinite     a NaN or Inf value (named with its tensor and element),
//                  refused as load_model refuses it
//   kInvalidArgument  no source.read, a name list of the wrong length, a
//                  null, empty or too long name, two tensors of one name
//   kFailedPrecondition  the model is not built
//   kIoError       the source failed, or changed between the validation
//                  and copy passes (only then may the weights be partly
//                  written, as with load_model)
// F16 and BF16 values are converted to float exactly (every F16 and BF16
// value, subnormals included, is a float). Tensors of the file the model
// does not name (a BatchNorm's running statistics, ...) are checked for
// their place in the data and otherwise ignored. A successful load replaces
// the parameters only: optimizer moments and the step count are left, like
// load_parameters (c_header_export.h) and rank1_edit, and the divergence
// guard's snapshot is dropped (Model::set_divergence_policy says why).
//
// Writing. save_safetensors writes every model tensor as F32 under its name
// (default or the caller's), Dense weights as [out][in], in tensor order,
// the header padded with spaces to a multiple of 8 bytes (the alignment
// save_file uses, so every tensor starts 8-byte aligned) and no
// __metadata__. kNonFinite for a NaN or Inf parameter (nothing is written);
// names are checked as for reading. Reading a written file back gives the
// same bits.
#pragma once

#include <cstddef>
#include <cstdint>

#include "tern/platform/compiler.h"
#include "tern/platform/status.h"
#include "tern/runtime/byte_io.h"
#include "tern/runtime/model.h"
#include "tern/runtime/spec.h"

namespace tern {

// The format's own cap on the header length (the reference implementation
// refuses a larger N): a bound on the work a hostile length can ask for.
constexpr std::uint64_t kSafetensorsMaxHeaderBytes = 100000000;
// The longest tensor name, in bytes of UTF-8: a model's names are compared
// in a buffer of this size on the stack. PyTorch names are module paths
// ("encoder.layers.3.linear1.weight"); 127 leaves them room. A longer name
// in a file cannot be a model tensor's and is treated as another tensor.
constexpr std::size_t kSafetensorsMaxNameBytes = 127;
// Tensors in the file the model does not use, whose ranges the reader must
// keep to check that the data is tiled without overlaps: bounded because
// the reader has no heap. 64 covers a model's own tensors plus BatchNorm
// statistics and the like; a file with more is refused, not half-checked.
constexpr std::uint32_t kSafetensorsMaxOtherTensors = 64;

// Tensor `tensor`'s default name (above) into out[0, capacity), NUL
// terminated. kInvalidArgument for an invalid spec, a tensor past the
// spec's last or a buffer that is too small.
Status safetensors_default_name(const ModelSpec& spec, std::uint32_t tensor, char* out,
                                std::size_t capacity);

// `names`: null for the default names (name_count must then be 0), or
// model.tensor_count() names.
Status load_safetensors(Model& model, const ByteSource& source, const char* const* names = nullptr,
                        std::uint32_t name_count = 0);
// Everything load_safetensors checks, without changing the model.
Status validate_safetensors(const Model& model, const ByteSource& source,
                            const char* const* names = nullptr, std::uint32_t name_count = 0);
// The bytes save_safetensors writes (0 with an error in *status).
std::size_t safetensors_bytes(const Model& model, const char* const* names, std::uint32_t name_count,
                              Status* status);
Status save_safetensors(const Model& model, const ByteSink& sink, const char* const* names = nullptr,
                        std::uint32_t name_count = 0);

#if TERN_HAS_OS
// Atomic like save_model_file (model_file.h): validated first, written to a
// temporary file beside `path`, fsync'ed and renamed over it.
Status save_safetensors_file(const Model& model, const char* path, const char* const* names = nullptr,
                             std::uint32_t name_count = 0);
// Refuses a path that is not a regular file, like load_model_file.
Status load_safetensors_file(Model& model, const char* path, const char* const* names = nullptr,
                             std::uint32_t name_count = 0);
#endif

}  // namespace tern
