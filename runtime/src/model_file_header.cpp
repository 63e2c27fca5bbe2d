// SPDX-License-Identifier: Apache-2.0
// The header of a model file: writing it, reading it, checking it
// (model_file_header.h); read_model_file_info (model_file.h).
#include "model_file_header.h"

#include <cstring>

#include "le_bytes.h"
#include "model_checks.h"
#include "portable_ops.h"

namespace tern::detail::model_file {

using detail::get_u32;
using detail::get_u64;
using detail::put_u32;
using detail::put_u64;

const char* optimizer_name(OptimizerKind k) {
  switch (k) {
    case OptimizerKind::kSgd: return "sgd";
    case OptimizerKind::kAdam: return "adam";
    case OptimizerKind::kAdamW: return "adamw";
  }
  return "unknown";
}

std::uint64_t state_floats(OptimizerKind optimizer, std::uint64_t params) {
  return optimizer == OptimizerKind::kSgd ? params : 2 * params;
}

std::size_t encode_header(const Model& model, bool with_state, unsigned char* out) {
  const ModelSpec& spec = model.spec();
  const std::uint32_t layers = spec.layer_count;
  std::memcpy(out, kModelMagic, sizeof kModelMagic);
  put_u32(out + 8, kModelFormatVersion);
  put_u32(out + 12, with_state ? kFlagOptimizerState : 0u);
  put_u32(out + 16, spec.input_width);
  put_u32(out + 20, layers);
  unsigned char* p = out + kFixedPrefixBytes;
  for (std::uint32_t l = 0; l < layers; ++l, p += kLayerRecordBytes) {
    const LayerSpec& ls = spec.layers[l];
    p[0] = static_cast<unsigned char>(ls.kind);
    p[1] = static_cast<unsigned char>(ls.act);
    p[2] = 0;
    p[3] = 0;
    put_u32(p + 4, ls.in);
    put_u32(p + 8, ls.out);
    put_u32(p + 12, ls.kind == LayerKind::kResidual ? ls.from : 0u);
  }
  const std::uint64_t params = model.parameter_count();
  put_u32(p, with_state ? static_cast<std::uint32_t>(spec.optimizer) : 0u);
  put_u64(p + 4, with_state ? model.steps() : 0u);
  put_u64(p + 12, params);
  put_u64(p + 20, with_state ? state_floats(spec.optimizer, params) : 0u);
  return model_file_header_bytes(layers);
}

Status read_at(const ByteSource& src, std::size_t offset, void* data, std::size_t bytes) {
  const Status s = src.read(src.context, offset, data, bytes);
  if (!s.ok()) {
    return Status::error(StatusCode::kIoError, "load: reading %zu bytes at offset %zu failed: %s",
                         bytes, offset, s.message());
  }
  return Status();
}

Status corrupt(const char* what) { return Status::error(StatusCode::kCorruptData, "load: %s", what); }

Status parse_header(const ByteSource& src, unsigned char* header, ParsedHeader* h) {
  const std::size_t size = src.size;
  if (size < kFixedPrefixBytes) {
    return Status::error(StatusCode::kCorruptData,
                         "load: truncated: %zu bytes, a model file has at least %zu", size,
                         model_file_header_bytes(1, kModelFormatOldestVersion) + 4);
  }
  TERN_RETURN_IF_ERROR(read_at(src, 0, header, kFixedPrefixBytes));
  if (std::memcmp(header, kModelMagic, sizeof kModelMagic) != 0) {
    return corrupt("not a tern model file (bad magic)");
  }
  h->version = get_u32(header + 8);
  if (h->version < kModelFormatOldestVersion || h->version > kModelFormatVersion) {
    return Status::error(StatusCode::kCorruptData,
                         "load: format version %u; this build reads versions %u to %u",
                         static_cast<unsigned>(h->version),
                         static_cast<unsigned>(kModelFormatOldestVersion),
                         static_cast<unsigned>(kModelFormatVersion));
  }
  h->flags = get_u32(header + 12);
  if ((h->flags & ~kFlagOptimizerState) != 0) {
    return Status::error(StatusCode::kCorruptData, "load: unknown flags 0x%x",
                         static_cast<unsigned>(h->flags));
  }
  const std::uint32_t layers = get_u32(header + 20);
  if (layers == 0 || layers > kMaxLayers) {
    return Status::error(StatusCode::kCorruptData, "load: layer count %u is not in 1..%zu",
                         static_cast<unsigned>(layers), kMaxLayers);
  }
  h->header_bytes = model_file_header_bytes(layers, h->version);
  if (size < h->header_bytes + 4) {
    return Status::error(StatusCode::kCorruptData,
                         "load: truncated: %zu bytes, the header of %u layers needs %zu", size,
                         static_cast<unsigned>(layers), h->header_bytes + 4);
  }
  TERN_RETURN_IF_ERROR(read_at(src, kFixedPrefixBytes, header + kFixedPrefixBytes,
                               h->header_bytes - kFixedPrefixBytes));
  ModelSpec& spec = h->spec;
  spec = ModelSpec::input(get_u32(header + 16), 1);
  spec.layer_count = layers;
  const unsigned char* p = header + kFixedPrefixBytes;
  for (std::uint32_t l = 0; l < layers; ++l, p += kLayerRecordBytes) {
    LayerSpec& ls = spec.layers[l];
    ls.kind = static_cast<LayerKind>(p[0]);
    ls.act = static_cast<Pointwise>(p[1]);
    ls.in = get_u32(p + 4);
    ls.out = get_u32(p + 8);
    ls.from = get_u32(p + 12);
    // Bytes a save always writes as zero must be zero: otherwise two files
    // that load to the same model would differ, and the byte could be a
    // field of a newer format this reader does not know.
    if (p[2] != 0 || p[3] != 0 || (ls.kind != LayerKind::kResidual && ls.from != 0)) {
      return Status::error(StatusCode::kCorruptData,
                           "load: layer %u: reserved bytes are %02x %02x and from = %u; a file "
                           "tern writes has zeros there (from is used only by residual layers)",
                           static_cast<unsigned>(l), static_cast<unsigned>(p[2]),
                           static_cast<unsigned>(p[3]), static_cast<unsigned>(ls.from));
    }
  }
  h->optimizer = get_u32(p);
  if (h->version == 1) {  // u32 steps (model_file.h, "Version 1")
    h->steps = get_u32(p + 4);
    p += 8;
  } else {
    h->steps = get_u64(p + 4);
    p += 12;
  }
  h->params = get_u64(p);
  h->state = get_u64(p + 8);
  // Sizes before anything else, so a truncated file is reported as such.
  // 2^60 floats keeps 4 * (params + state) far from overflowing 64 bits.
  const std::uint64_t limit = std::uint64_t{1} << 60;
  if (h->params >= limit || h->state >= limit) {
    return Status::error(StatusCode::kCorruptData,
                         "load: the header counts %llu parameter and %llu state floats; at most "
                         "2^60 each",
                         static_cast<unsigned long long>(h->params),
                         static_cast<unsigned long long>(h->state));
  }
  const std::uint64_t expected = h->header_bytes + 4 * (h->params + h->state) + 4;
  if (size < expected) {
    return Status::error(StatusCode::kCorruptData,
                         "load: truncated: %zu bytes, the header describes %llu", size,
                         static_cast<unsigned long long>(expected));
  }
  if (size > expected) {
    return Status::error(StatusCode::kCorruptData,
                         "load: %zu trailing bytes after the %llu the header describes",
                         static_cast<std::size_t>(size - expected),
                         static_cast<unsigned long long>(expected));
  }
  return Status();
}

Status check_header(const ParsedHeader& h) {
  if (!check_spec(h.spec).ok()) return corrupt("the architecture in the file is not a valid model");
  const std::uint64_t params = parameter_floats(h.spec);
  if (h.params != params) {
    return Status::error(StatusCode::kCorruptData,
                         "load: the header counts %llu parameters, the architecture in the file "
                         "has %llu",
                         static_cast<unsigned long long>(h.params),
                         static_cast<unsigned long long>(params));
  }
  if (!h.has_state()) {
    if (h.optimizer != 0 || h.steps != 0 || h.state != 0) {
      return Status::error(StatusCode::kCorruptData,
                           "load: the flags say the file has no optimizer state, but its "
                           "optimizer fields are set (kind %u, %llu steps, %llu state floats; "
                           "all 0 in a weights-only file)",
                           static_cast<unsigned>(h.optimizer),
                           static_cast<unsigned long long>(h.steps),
                           static_cast<unsigned long long>(h.state));
    }
    return Status();
  }
  if (h.optimizer > kLastOptimizer) {
    return Status::error(StatusCode::kCorruptData,
                         "load: optimizer kind %u is unknown (0 sgd, 1 adam, 2 adamw)",
                         static_cast<unsigned>(h.optimizer));
  }
  const OptimizerKind opt = static_cast<OptimizerKind>(h.optimizer);
  const std::uint64_t state = state_floats(opt, params);
  if (h.state != state) {
    return Status::error(StatusCode::kCorruptData,
                         "load: the header counts %llu optimizer state floats, %s over %llu "
                         "parameters keeps %llu",
                         static_cast<unsigned long long>(h.state), optimizer_name(opt),
                         static_cast<unsigned long long>(params),
                         static_cast<unsigned long long>(state));
  }
  return Status();
}

Status compare_architecture(const ModelSpec& file, const ModelSpec& model) {
  if (file.input_width != model.input_width || file.layer_count != model.layer_count) {
    return Status::error(StatusCode::kShapeMismatch,
                         "load: the file holds a model of input width %u and %u layers, the "
                         "model has input width %u and %u layers",
                         static_cast<unsigned>(file.input_width),
                         static_cast<unsigned>(file.layer_count),
                         static_cast<unsigned>(model.input_width),
                         static_cast<unsigned>(model.layer_count));
  }
  for (std::uint32_t l = 0; l < file.layer_count; ++l) {
    const LayerSpec& a = file.layers[l];
    const LayerSpec& b = model.layers[l];
    const bool same = a.kind == b.kind && a.act == b.act && a.in == b.in && a.out == b.out &&
                      (a.kind != LayerKind::kResidual || a.from == b.from);
    if (same) continue;
    // Two descriptions must fit one 160-character status message.
    char in_file[64], in_model[64];
    detail::describe_layer(a, in_file, sizeof in_file);
    detail::describe_layer(b, in_model, sizeof in_model);
    return Status::error(StatusCode::kShapeMismatch,
                         "load: layer %u differs: file has %s, model has %s",
                         static_cast<unsigned>(l), in_file, in_model);
  }
  return Status();
}

}  // namespace tern::detail::model_file

namespace tern {

// The header's public reading (model_file.h).
Status read_model_file_info(const ByteSource& source, ModelFileInfo* info) {
  using namespace detail::model_file;
  if (source.read == nullptr) return Status::error(StatusCode::kInvalidArgument, "load: no source");
  if (info == nullptr) return Status::error(StatusCode::kInvalidArgument, "load: info is null");
  unsigned char header[kMaxHeaderBytes];
  ParsedHeader h;
  TERN_RETURN_IF_ERROR(parse_header(source, header, &h));
  TERN_RETURN_IF_ERROR(check_header(h));
  ModelFileInfo out;
  out.architecture = h.spec;
  out.version = h.version;
  out.optimizer_state = h.has_state();
  // check_header() has checked the kind of a file with state (0 without).
  out.optimizer = static_cast<OptimizerKind>(h.optimizer);
  out.steps = h.steps;
  out.parameters = h.params;
  *info = out;
  return Status();
}

}  // namespace tern
