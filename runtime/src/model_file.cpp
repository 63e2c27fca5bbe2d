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
  put_u32(p + 4, with_state ? model.steps() : 0u);
  put_u64(p + 8, params);
  put_u64(p + 16, with_state ? state_floats(spec.optimizer, params) : 0u);
  return model_file_header_bytes(layers);
}

}  // namespace

Status save_model(const Model& model, const ByteSink& sink, bool optimizer_state) {
  if (!model.built()) {
    return Status::error(StatusCode::kFailedPrecondition, "save: the model is not built");
  }
  if (sink.write == nullptr) return Status::error(StatusCode::kInvalidArgument, "save: no sink");
  if (optimizer_state && model.spec().mode != Mode::kTraining) {
    return Status::error(StatusCode::kFailedPrecondition,
                         "save: an inference model has no optimizer state to save");
  }
  TERN_RETURN_IF_ERROR(detail::check_finite_state("save", model, optimizer_state));
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
  std::uint32_t flags = 0;
  ModelSpec spec;  // the file's architecture (rows 1, inference)
  std::uint32_t optimizer = 0, steps = 0;
  std::uint64_t params = 0, state = 0;
  std::size_t header_bytes = 0;
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
// the file's size against them. `header` holds kMaxHeaderBytes.
Status parse_header(const ByteSource& src, unsigned char* header, ParsedHeader* h) {
  const std::size_t size = src.size;
  if (size < kFixedPrefixBytes) {
    return Status::error(StatusCode::kCorruptData,
                         "load: truncated: %zu bytes, a model file has at least %zu", size,
                         model_file_header_bytes(1) + 4);
  }
  TERN_RETURN_IF_ERROR(read_at(src, 0, header, kFixedPrefixBytes));
  if (std::memcmp(header, kModelMagic, sizeof kModelMagic) != 0) {
    return corrupt("not a tern model file (bad magic)");
  }
  const std::uint32_t version = get_u32(header + 8);
  if (version != kModelFormatVersion) {
    return Status::error(StatusCode::kCorruptData,
                         "load: format version %u; this build reads version %u",
                         static_cast<unsigned>(version), static_cast<unsigned>(kModelFormatVersion));
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
  h->header_bytes = model_file_header_bytes(layers);
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
  }
  h->optimizer = get_u32(p);
  h->steps = get_u32(p + 4);
  h->params = get_u64(p + 8);
  h->state = get_u64(p + 16);
  // Sizes before the checksum, so a truncated file is reported as such. 2^60
  // floats keeps 4 * (params + state) far from overflowing 64 bits.
  const std::uint64_t limit = std::uint64_t{1} << 60;
  if (h->params >= limit || h->state >= limit) return corrupt("parameter counts out of range");
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

// The parts of a checksummed header that must agree with each other and
// with the model (and its request for optimizer state).
Status check_contents(const ParsedHeader& h, const Model& model, bool optimizer_state) {
  if (!check_spec(h.spec).ok()) return corrupt("the architecture in the file is not a valid model");
  const bool has_state = (h.flags & kFlagOptimizerState) != 0;
  const std::uint64_t params = parameter_floats(h.spec);
  const OptimizerKind file_opt = static_cast<OptimizerKind>(h.optimizer);
  const bool counts_agree =
      h.params == params &&
      (has_state ? h.optimizer <= kLastOptimizer && h.state == state_floats(file_opt, params)
                 : h.state == 0 && h.optimizer == 0 && h.steps == 0);
  if (!counts_agree) return corrupt("parameter counts do not match the architecture in the file");
  const ModelSpec& spec = model.spec();
  TERN_RETURN_IF_ERROR(compare_architecture(h.spec, spec));
  if (!optimizer_state) return Status();
  if (!has_state) {
    return Status::error(StatusCode::kFailedPrecondition,
                         "load: optimizer state was requested but the file has none");
  }
  if (spec.mode != Mode::kTraining) {
    return Status::error(StatusCode::kFailedPrecondition,
                         "load: an inference model cannot hold optimizer state");
  }
  if (file_opt != spec.optimizer) {
    return Status::error(StatusCode::kFailedPrecondition,
                         "load: the file's optimizer state is for %s, the model uses %s",
                         optimizer_name(file_opt), optimizer_name(spec.optimizer));
  }
  return Status();
}

}  // namespace

Status load_model(Model& model, const ByteSource& source, bool optimizer_state) {
  if (!model.built()) {
    return Status::error(StatusCode::kFailedPrecondition, "load: the model is not built");
  }
  if (source.read == nullptr) return Status::error(StatusCode::kInvalidArgument, "load: no source");
  unsigned char header[kMaxHeaderBytes];
  ParsedHeader h;
  TERN_RETURN_IF_ERROR(parse_header(source, header, &h));

  // Pass 1: checksum and finiteness, nothing written.
  constexpr std::uint64_t kNone = UINT64_MAX;  // no non-finite value seen
  std::uint64_t first_bad = kNone;
  std::uint32_t crc = 0;
  TERN_RETURN_IF_ERROR(stream_payload(source, h, header, &crc, [&](std::uint64_t i, float v) {
    if (first_bad == kNone && !ops::is_finite(v)) first_bad = i;
  }));
  unsigned char tail[4];
  TERN_RETURN_IF_ERROR(read_at(source, source.size - sizeof tail, tail, sizeof tail));
  const std::uint32_t stored = get_u32(tail);
  if (stored != crc) {
    return Status::error(StatusCode::kCorruptData,
                         "load: checksum mismatch: the file says %08x, its bytes give %08x",
                         static_cast<unsigned>(stored), static_cast<unsigned>(crc));
  }
  // The file is intact; is it this model?
  TERN_RETURN_IF_ERROR(check_contents(h, model, optimizer_state));
  if (first_bad != kNone) {
    return Status::error(StatusCode::kNonFinite, "load: value %llu of the payload is not finite",
                         static_cast<unsigned long long>(first_bad));
  }

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
  if (optimizer_state) model.set_steps(h.steps);
  return Status();
}

#if TERN_HAS_OS
Status save_model_file(const Model& model, const char* path, bool optimizer_state) {
  detail::PosixFile file;
  TERN_RETURN_IF_ERROR(file.create("save", path));
  const Status saved = save_model(model, file.sink(), optimizer_state);
  const Status closed = file.close("save", path);
  return saved.ok() ? closed : saved;
}

Status load_model_file(Model& model, const char* path, bool optimizer_state) {
  detail::PosixFile file;
  TERN_RETURN_IF_ERROR(file.open_read("load", path));
  return load_model(model, file.source(), optimizer_state);
}
#endif

}  // namespace tern
