// The model file: save, validate, load (format in tern/runtime/model_file.h).
#include "tern/runtime/model_file.h"

#include <cstring>

#include "byte_io_detail.h"
#include "le_bytes.h"
#include "model_checks.h"
#include "portable_ops.h"
#include "tern/runtime/crc32.h"

namespace tern {
namespace {

using detail::get_u32;
using detail::get_u64;
using detail::put_u32;
using detail::put_u64;

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

const char* optimizer_name(OptimizerKind k) {
  switch (k) {
    case OptimizerKind::kSgd: return "sgd";
    case OptimizerKind::kAdam: return "adam";
    case OptimizerKind::kAdamW: return "adamw";
  }
  return "unknown";
}

// Floats of optimizer state for `params` parameters: one moment for SGD
// (momentum), two for Adam and AdamW.
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

// Everything that can make a save fail before a byte is written.
Status check_saveable(const Model& model, bool optimizer_state) {
  if (!model.built()) {
    return Status::error(StatusCode::kFailedPrecondition, "save: the model is not built");
  }
  if (optimizer_state && model.spec().mode != Mode::kTraining) {
    return Status::error(StatusCode::kFailedPrecondition,
                         "save: an inference model has no optimizer state to save");
  }
  return detail::check_finite_state("save", model, optimizer_state);
}

}  // namespace

Status save_model(const Model& model, const ByteSink& sink, bool optimizer_state) {
  if (sink.write == nullptr) return Status::error(StatusCode::kInvalidArgument, "save: no sink");
  TERN_RETURN_IF_ERROR(check_saveable(model, optimizer_state));
  unsigned char header[kMaxHeaderBytes];
  const std::size_t header_bytes = encode_header(model, optimizer_state, header);
  detail::ChecksummedWriter out(sink);
  out.bytes(header, header_bytes);
  // Parameters of every tensor, then moment 1 of every tensor, then moment 2.
  const int sections = optimizer_state ? 3 : 1;
  for (int section = 0; section < sections; ++section) {
    for (std::uint32_t t = 0; t < model.tensor_count(); ++t) {
      const Tensor x = model.tensor(t);
      for (float v : section == 0 ? x.value : section == 1 ? x.moment1 : x.moment2) out.f32(v);
    }
  }
  out.flush();
  TERN_RETURN_IF_ERROR(out.status());
  // The checksum covers every byte before it, so it cannot go through `out`.
  unsigned char tail[4];
  put_u32(tail, out.crc());
  return sink.write(sink.context, tail, sizeof tail);
}

namespace {

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

Status read_at(const ByteSource& src, std::size_t offset, void* data, std::size_t bytes) {
  const Status s = src.read(src.context, offset, data, bytes);
  if (!s.ok()) {
    return Status::error(StatusCode::kIoError, "load: reading %zu bytes at offset %zu failed: %s",
                         bytes, offset, s.message());
  }
  return Status();
}

Status corrupt(const char* what) { return Status::error(StatusCode::kCorruptData, "load: %s", what); }

// Checks the fixed prefix, reads the layer records and counts, and checks
// the file's size against them. Reads the header only. `header` holds
// kMaxHeaderBytes.
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

// The header's fields must agree with each other: a valid architecture,
// parameter and state counts that match it, and optimizer fields that are
// all 0 in a weights-only file.
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

// Streams the payload (params + state floats) through `visit(index, value)`
// and returns the CRC-32 of header and payload.
template <class Visit>
Status stream_payload(const ByteSource& src, const ParsedHeader& h, const unsigned char* header,
                      std::uint32_t* crc_out, Visit&& visit) {
  constexpr std::size_t kFloatsPerChunk = detail::kChunkBytes / 4;
  std::uint32_t crc = crc32(header, h.header_bytes);
  const std::uint64_t floats = h.params + h.state;
  unsigned char chunk[detail::kChunkBytes];
  std::size_t offset = h.header_bytes;
  for (std::uint64_t index = 0; index < floats;) {
    const std::uint64_t left = floats - index;
    const std::size_t count = static_cast<std::size_t>(left < kFloatsPerChunk ? left : kFloatsPerChunk);
    TERN_RETURN_IF_ERROR(read_at(src, offset, chunk, count * 4));
    crc = crc32(chunk, count * 4, crc);
    for (std::size_t i = 0; i < count; ++i) {
      visit(index + i, detail::bits_float(get_u32(chunk + 4 * i)));
    }
    index += count;
    offset += count * 4;
  }
  *crc_out = crc;
  return Status();
}

// The checksum of the payload against the stored one.
Status check_crc(const ByteSource& src, std::uint32_t crc) {
  unsigned char tail[4];
  TERN_RETURN_IF_ERROR(read_at(src, src.size - sizeof tail, tail, sizeof tail));
  const std::uint32_t stored = get_u32(tail);
  if (stored != crc) {
    return Status::error(StatusCode::kCorruptData,
                         "load: checksum mismatch: the file says %08x, its bytes give %08x",
                         static_cast<unsigned>(stored), static_cast<unsigned>(crc));
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

// Whether the model can take what the caller asks of this file.
Status check_request(const ParsedHeader& h, const Model& model, bool optimizer_state) {
  if (!optimizer_state) return Status();
  const ModelSpec& spec = model.spec();
  if (!h.has_state()) {
    return Status::error(StatusCode::kFailedPrecondition,
                         "load: optimizer state was requested but the file has none");
  }
  if (spec.mode != Mode::kTraining) {
    return Status::error(StatusCode::kFailedPrecondition,
                         "load: an inference model cannot hold optimizer state");
  }
  const OptimizerKind file_opt = static_cast<OptimizerKind>(h.optimizer);
  if (file_opt != spec.optimizer) {
    return Status::error(StatusCode::kFailedPrecondition,
                         "load: the file's optimizer state is for %s, the model uses %s",
                         optimizer_name(file_opt), optimizer_name(spec.optimizer));
  }
  // A loaded step count must leave room for the next step (Model::steps).
  if (h.steps == UINT64_MAX) {
    return Status::error(StatusCode::kCorruptData,
                         "load: the step count %llu is the counter's maximum; no step could "
                         "follow it",
                         static_cast<unsigned long long>(h.steps));
  }
  return Status();
}

// The first value of the payload that cannot be loaded: not finite, or a
// negative second moment (Adam's v is a running mean of squared gradients;
// a negative one makes the next step's sqrt(v) NaN).
struct BadValue {
  static constexpr std::uint64_t kNone = UINT64_MAX;
  std::uint64_t index = kNone;
  float value = 0.0f;
  bool negative = false;  // else not finite
};

// Pass 1 of a load: everything but the copy. `header` holds kMaxHeaderBytes;
// *crc receives the checksum the copy pass must reproduce.
Status validate(const Model& model, const ByteSource& source, bool optimizer_state,
                unsigned char* header, ParsedHeader* h, std::uint32_t* crc) {
  if (!model.built()) {
    return Status::error(StatusCode::kFailedPrecondition, "load: the model is not built");
  }
  if (source.read == nullptr) return Status::error(StatusCode::kInvalidArgument, "load: no source");
  TERN_RETURN_IF_ERROR(parse_header(source, header, h));
  TERN_RETURN_IF_ERROR(check_header(*h));
  // The header is consistent and the file's size is the one it describes.
  // Another architecture is told apart before the payload is read when the
  // file is larger than any file of this model could be (3 floats per
  // parameter at most: Adam's value, m and v) — so the cost of refusing a
  // file is bounded by the model's own size, not the file's. A smaller file
  // is checksummed first, so a flipped bit is reported as corruption.
  const Status architecture = compare_architecture(h->spec, model.spec());
  const std::uint64_t most = model_file_header_bytes(model.spec().layer_count, h->version) +
                             12 * std::uint64_t{model.parameter_count()} + 4;
  if (!architecture.ok() && source.size > most) return architecture;

  const std::uint64_t params = h->params;
  const bool adam = h->has_state() && static_cast<OptimizerKind>(h->optimizer) != OptimizerKind::kSgd;
  BadValue bad;
  TERN_RETURN_IF_ERROR(stream_payload(source, *h, header, crc, [&](std::uint64_t i, float v) {
    if (bad.index != BadValue::kNone) return;
    const bool second_moment = adam && i >= 2 * params;
    if (!ops::is_finite(v) || (second_moment && v < 0.0f)) {
      bad.index = i;
      bad.value = v;
      bad.negative = ops::is_finite(v);
    }
  }));
  TERN_RETURN_IF_ERROR(check_crc(source, *crc));
  // The file is intact; is it this model?
  TERN_RETURN_IF_ERROR(architecture);
  TERN_RETURN_IF_ERROR(check_request(*h, model, optimizer_state));
  if (bad.index == BadValue::kNone) return Status();
  if (bad.negative) {
    return Status::error(StatusCode::kCorruptData,
                         "load: value %llu of the payload (second moment %llu) is %g; Adam's "
                         "second moments are means of squares, never negative",
                         static_cast<unsigned long long>(bad.index),
                         static_cast<unsigned long long>(bad.index - 2 * params),
                         static_cast<double>(bad.value));
  }
  return Status::error(StatusCode::kNonFinite, "load: value %llu of the payload is not finite",
                       static_cast<unsigned long long>(bad.index));
}

}  // namespace

Status validate_model(const Model& model, const ByteSource& source, bool optimizer_state) {
  unsigned char header[kMaxHeaderBytes];
  ParsedHeader h;
  std::uint32_t crc = 0;
  return validate(model, source, optimizer_state, header, &h, &crc);
}

Status load_model(Model& model, const ByteSource& source, bool optimizer_state) {
  unsigned char header[kMaxHeaderBytes];
  ParsedHeader h;
  std::uint32_t crc = 0;
  TERN_RETURN_IF_ERROR(validate(model, source, optimizer_state, header, &h, &crc));

  // Pass 2: copy. The flat payload index walks (section, tensor, element):
  // section 0 the parameters, 1 moment 1, 2 moment 2.
  const std::uint32_t tensors = model.tensor_count();
  auto section_span = [&model](std::uint32_t tensor, int section) {
    const Tensor x = model.tensor(tensor);
    return section == 0 ? x.value : section == 1 ? x.moment1 : x.moment2;
  };
  std::uint32_t t = 0;
  std::size_t in_tensor = 0;
  int section = 0;
  Span<float> dst = tensors > 0 ? section_span(0, 0) : Span<float>{};
  std::uint32_t crc2 = 0;
  TERN_RETURN_IF_ERROR(stream_payload(source, h, header, &crc2, [&](std::uint64_t, float v) {
    if (section > 0 && !optimizer_state) return;
    dst[in_tensor] = v;
    if (++in_tensor < dst.size) return;
    in_tensor = 0;
    if (++t == tensors) {
      t = 0;
      ++section;
    }
    if (section <= 2) dst = section_span(t, section);
  }));
  if (crc2 != crc) {
    return Status::error(StatusCode::kIoError,
                         "load: the source changed between validation and copy (checksum %08x, "
                         "then %08x); the weights are now inconsistent",
                         static_cast<unsigned>(crc), static_cast<unsigned>(crc2));
  }
  if (optimizer_state) {
    model.set_steps(h.steps);  // also starts a new history for the divergence guard
  } else {
    // New weights: a divergence stop described the old ones.
    model.clear_divergence_stop();
  }
  return Status();
}

#if TERN_HAS_OS
Status save_model_file(const Model& model, const char* path, bool optimizer_state) {
  // Validated before the temporary file exists, so a refused save creates
  // nothing and leaves `path` alone.
  TERN_RETURN_IF_ERROR(check_saveable(model, optimizer_state));
  detail::AtomicFile file;
  TERN_RETURN_IF_ERROR(file.create("save", path));
  const Status written = save_model(model, file.sink(), optimizer_state);
  if (!written.ok()) return detail::name_path("save", path, written);
  return file.commit();
}

Status load_model_file(Model& model, const char* path, bool optimizer_state) {
  detail::PosixFile file;
  TERN_RETURN_IF_ERROR(file.open_read("load", path));
  return load_model(model, file.source(), optimizer_state);
}
#endif

}  // namespace tern
