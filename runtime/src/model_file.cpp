// SPDX-License-Identifier: Apache-2.0
// The model file: save, validate, load (format in tern/runtime/model_file.h).
#include "tern/runtime/model_file.h"

#include <cstring>

#include "byte_io_detail.h"
#include "model_file_header.h"
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
using namespace detail::model_file;

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
    // New weights: the guard's snapshot, figures and any stop described the
    // old ones.
    model.restart_divergence_history();
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
