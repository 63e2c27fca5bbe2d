// Model files and C header export (format in tern/runtime/persist.h).
#include "tern/runtime/persist.h"

#include <cstring>

#include "le_bytes.h"

#include "portable_ops.h"

#if TERN_HAS_OS
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#endif

namespace tern {

// ---------------------------------------------------------------------------
// CRC-32
// ---------------------------------------------------------------------------
namespace {

struct CrcTable {
  std::uint32_t v[256];
};
// Byte-at-a-time table: entry b is the CRC register after shifting b through
// eight steps of the reflected polynomial.
constexpr CrcTable make_crc_table() {
  CrcTable t{};
  for (std::uint32_t b = 0; b < 256; ++b) {
    std::uint32_t c = b;
    for (int i = 0; i < 8; ++i) c = (c & 1u) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
    t.v[b] = c;
  }
  return t;
}
constexpr CrcTable kCrcTable = make_crc_table();

}  // namespace

std::uint32_t crc32(const void* data, std::size_t bytes, std::uint32_t crc) {
  const auto* p = static_cast<const unsigned char*>(data);
  crc = ~crc;
  for (std::size_t i = 0; i < bytes; ++i) crc = kCrcTable.v[(crc ^ p[i]) & 0xffu] ^ (crc >> 8);
  return ~crc;
}

// ---------------------------------------------------------------------------
// Sinks and sources
// ---------------------------------------------------------------------------

Status MemorySink::write(void* context, const void* data, std::size_t bytes) {
  auto* self = static_cast<MemorySink*>(context);
  if (bytes > self->capacity_ - self->size_) {
    return Status::error(StatusCode::kOutOfMemory,
                         "memory sink: writing %zu bytes at %zu overflows its %zu bytes", bytes,
                         self->size_, self->capacity_);
  }
  std::memcpy(self->buffer_ + self->size_, data, bytes);
  self->size_ += bytes;
  return Status();
}

namespace {

Status memory_read(void* context, std::size_t offset, void* data, std::size_t bytes) {
  const auto* base = static_cast<const unsigned char*>(context);
  std::memcpy(data, base + offset, bytes);
  return Status();
}

}  // namespace

ByteSource memory_source(const void* data, std::size_t size) {
  ByteSource s;
  s.read = &memory_read;
  s.context = const_cast<void*>(data);
  s.size = size;
  return s;
}

// ---------------------------------------------------------------------------
// Encoding helpers
// ---------------------------------------------------------------------------
namespace {

using detail::get_u32;
using detail::get_u64;
using detail::put_u32;
using detail::put_u64;
std::uint32_t float_bits(float f) {
  std::uint32_t b;
  std::memcpy(&b, &f, sizeof b);
  return b;
}
float bits_float(std::uint32_t b) {
  float f;
  std::memcpy(&f, &b, sizeof f);
  return f;
}

// Text without libc formatting: newlib-nano, the C library of small
// firmware, prints "%zu" as "zu" and its printf family references malloc.
// Only strings, decimal and hexadecimal integers are needed here. Truncates
// (never overflows) at cap - 1 characters and keeps the text NUL-terminated.
class Text {
 public:
  Text(char* out, std::size_t cap) : out_(out), cap_(cap) { terminate(); }
  Text& s(const char* text) {
    while (*text != '\0') put(*text++);
    return *this;
  }
  Text& u(std::uint64_t v) {
    char digits[20];
    int n = 0;
    do {
      digits[n++] = static_cast<char>('0' + v % 10);
      v /= 10;
    } while (v != 0);
    while (n > 0) put(digits[--n]);
    return *this;
  }
  Text& i(long long v) {
    if (v < 0) put('-');
    return u(v < 0 ? 0ull - static_cast<unsigned long long>(v) : static_cast<unsigned long long>(v));
  }
  // `digits` hexadecimal digits, lower case, leading zeros kept.
  Text& x(std::uint32_t v, int digits) {
    for (int d = digits - 1; d >= 0; --d) put("0123456789abcdef"[(v >> (4 * d)) & 0xfu]);
    return *this;
  }
  const char* c_str() const { return out_; }
  std::size_t size() const { return n_; }

 private:
  void put(char c) {
    if (n_ + 1 < cap_) out_[n_++] = c;
    terminate();
  }
  void terminate() {
    if (cap_ > 0) out_[n_ < cap_ ? n_ : cap_ - 1] = '\0';
  }
  char* out_;
  std::size_t cap_;
  std::size_t n_ = 0;
};

constexpr std::size_t kMaxHeaderBytes = model_file_header_bytes(kMaxLayers);
// Payload is streamed through a stack buffer of this many bytes: large
// enough to amortise a callback per chunk, small enough for a firmware stack.
constexpr std::size_t kChunkBytes = 256;

const char* optimizer_name(OptimizerKind k) {
  switch (k) {
    case OptimizerKind::kSgd: return "sgd";
    case OptimizerKind::kAdam: return "adam";
    case OptimizerKind::kAdamW: return "adamw";
  }
  return "unknown";
}

std::uint64_t state_floats(const ModelSpec& spec, std::uint64_t params) {
  return spec.optimizer == OptimizerKind::kSgd ? params : 2 * params;
}

// Buffered, checksummed writes to a sink.
class Writer {
 public:
  explicit Writer(const ByteSink& sink) : sink_(sink) {}
  void bytes(const void* data, std::size_t n) {
    const auto* p = static_cast<const unsigned char*>(data);
    while (n > 0 && status_.ok()) {
      const std::size_t take = n < kChunkBytes - used_ ? n : kChunkBytes - used_;
      std::memcpy(buffer_ + used_, p, take);
      used_ += take;
      p += take;
      n -= take;
      if (used_ == kChunkBytes) flush();
    }
  }
  void u32(std::uint32_t v) {
    unsigned char b[4];
    put_u32(b, v);
    bytes(b, 4);
  }
  void f32(float v) { u32(float_bits(v)); }
  void text(const char* s) { bytes(s, std::strlen(s)); }
  void flush() {
    if (used_ == 0 || !status_.ok()) return;
    crc_ = crc32(buffer_, used_, crc_);
    status_ = sink_.write(sink_.context, buffer_, used_);
    used_ = 0;
  }
  std::uint32_t crc() const { return crc_; }
  const Status& status() const { return status_; }

 private:
  ByteSink sink_;
  unsigned char buffer_[kChunkBytes];
  std::size_t used_ = 0;
  std::uint32_t crc_ = 0;
  Status status_;
};

Status check_finite_model(const Model& model, bool with_state) {
  for (std::uint32_t t = 0; t < model.tensor_count(); ++t) {
    const Tensor x = model.tensor(t);
    const Span<float> spans[3] = {x.value, with_state ? x.moment1 : Span<float>{},
                                  with_state ? x.moment2 : Span<float>{}};
    for (int s = 0; s < 3; ++s) {
      for (std::size_t i = 0; i < spans[s].size; ++i) {
        if (!ops::is_finite(spans[s][i])) {
          return Status::error(StatusCode::kNonFinite,
                               "save: %s %zu of tensor %u (layer %u) is not finite",
                               s == 0 ? "parameter" : "optimizer moment", i, static_cast<unsigned>(t),
                               static_cast<unsigned>(x.layer));
        }
      }
    }
  }
  return Status();
}

std::size_t encode_header(const Model& model, bool with_state, unsigned char* out) {
  const ModelSpec& spec = model.spec();
  const std::uint32_t L = spec.layer_count;
  std::memcpy(out, kModelMagic, 8);
  put_u32(out + 8, kModelFormatVersion);
  put_u32(out + 12, with_state ? 1u : 0u);
  put_u32(out + 16, spec.input_width);
  put_u32(out + 20, L);
  unsigned char* p = out + 24;
  for (std::uint32_t l = 0; l < L; ++l, p += 16) {
    const LayerSpec& ls = spec.layers[l];
    p[0] = static_cast<unsigned char>(ls.kind);
    p[1] = static_cast<unsigned char>(ls.act);
    p[2] = p[3] = 0;
    put_u32(p + 4, ls.in);
    put_u32(p + 8, ls.out);
    put_u32(p + 12, ls.kind == LayerKind::kResidual ? ls.from : 0u);
  }
  const std::uint64_t params = model.parameter_count();
  put_u32(p, with_state ? static_cast<std::uint32_t>(spec.optimizer) : 0u);
  put_u32(p + 4, with_state ? model.steps() : 0u);
  put_u64(p + 8, params);
  put_u64(p + 16, with_state ? state_floats(spec, params) : 0u);
  return model_file_header_bytes(L);
}

}  // namespace


// ---------------------------------------------------------------------------
// Save
// ---------------------------------------------------------------------------

Status save_model(const Model& model, const ByteSink& sink, bool optimizer_state) {
  if (!model.built()) {
    return Status::error(StatusCode::kFailedPrecondition, "save: the model is not built");
  }
  if (sink.write == nullptr) return Status::error(StatusCode::kInvalidArgument, "save: no sink");
  if (optimizer_state && model.spec().mode != Mode::kTraining) {
    return Status::error(StatusCode::kFailedPrecondition,
                         "save: an inference model has no optimizer state to save");
  }
  TERN_RETURN_IF_ERROR(check_finite_model(model, optimizer_state));
  unsigned char header[kMaxHeaderBytes];
  const std::size_t header_bytes = encode_header(model, optimizer_state, header);
  Writer w(sink);
  w.bytes(header, header_bytes);
  const std::uint32_t tensors = model.tensor_count();
  for (std::uint32_t t = 0; t < tensors; ++t) {
    for (float v : model.tensor(t).value) w.f32(v);
  }
  if (optimizer_state) {
    for (std::uint32_t t = 0; t < tensors; ++t) {
      for (float v : model.tensor(t).moment1) w.f32(v);
    }
    for (std::uint32_t t = 0; t < tensors; ++t) {
      for (float v : model.tensor(t).moment2) w.f32(v);
    }
  }
  w.flush();
  TERN_RETURN_IF_ERROR(w.status());
  unsigned char tail[4];
  put_u32(tail, w.crc());
  return sink.write(sink.context, tail, 4);
}

// ---------------------------------------------------------------------------
// Load
// ---------------------------------------------------------------------------
namespace {

struct ParsedHeader {
  std::uint32_t flags = 0;
  ModelSpec spec;  // the file's architecture (rows 1, inference)
  std::uint32_t optimizer = 0, steps = 0;
  std::uint64_t params = 0, state = 0;
  std::size_t header_bytes = 0;
};

Status read_at(const ByteSource& src, std::size_t offset, void* data, std::size_t bytes) {
  Status s = src.read(src.context, offset, data, bytes);
  if (!s.ok()) {
    return Status::error(StatusCode::kIoError, "load: reading %zu bytes at offset %zu failed: %s",
                         bytes, offset, s.message());
  }
  return Status();
}

Status corrupt(const char* what) {
  return Status::error(StatusCode::kCorruptData, "load: %s", what);
}

Status parse_header(const ByteSource& src, unsigned char* header, ParsedHeader* h) {
  const std::size_t size = src.size;
  const std::size_t min_bytes = model_file_header_bytes(1) + 4;
  if (size < 24) {
    return Status::error(StatusCode::kCorruptData,
                         "load: truncated: %zu bytes, a model file has at least %zu", size,
                         min_bytes);
  }
  TERN_RETURN_IF_ERROR(read_at(src, 0, header, 24));
  if (std::memcmp(header, kModelMagic, 8) != 0) {
    return corrupt("not a tern model file (bad magic)");
  }
  const std::uint32_t version = get_u32(header + 8);
  if (version != kModelFormatVersion) {
    return Status::error(StatusCode::kCorruptData,
                         "load: format version %u; this build reads version %u",
                         static_cast<unsigned>(version),
                         static_cast<unsigned>(kModelFormatVersion));
  }
  h->flags = get_u32(header + 12);
  if ((h->flags & ~1u) != 0) {
    return Status::error(StatusCode::kCorruptData, "load: unknown flags 0x%x",
                         static_cast<unsigned>(h->flags));
  }
  const std::uint32_t L = get_u32(header + 20);
  if (L == 0 || L > kMaxLayers) {
    return Status::error(StatusCode::kCorruptData, "load: layer count %u is not in 1..%zu",
                         static_cast<unsigned>(L), kMaxLayers);
  }
  h->header_bytes = model_file_header_bytes(L);
  if (size < h->header_bytes + 4) {
    return Status::error(StatusCode::kCorruptData,
                         "load: truncated: %zu bytes, the header of %u layers needs %zu", size,
                         static_cast<unsigned>(L), h->header_bytes + 4);
  }
  TERN_RETURN_IF_ERROR(read_at(src, 24, header + 24, h->header_bytes - 24));
  ModelSpec& spec = h->spec;
  spec = ModelSpec::input(get_u32(header + 16), 1);
  spec.layer_count = L;
  const unsigned char* p = header + 24;
  for (std::uint32_t l = 0; l < L; ++l, p += 16) {
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
  // Sizes first: a truncated file is reported as such, not as a checksum error.
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
// and returns the CRC of header + payload.
template <class Visit>
Status stream_payload(const ByteSource& src, const ParsedHeader& h, const unsigned char* header,
                      std::uint32_t* crc_out, Visit&& visit) {
  std::uint32_t crc = crc32(header, h.header_bytes);
  const std::uint64_t floats = h.params + h.state;
  unsigned char chunk[kChunkBytes];
  std::uint64_t index = 0;
  std::size_t offset = h.header_bytes;
  while (index < floats) {
    const std::uint64_t left = floats - index;
    const std::size_t count = static_cast<std::size_t>(left < kChunkBytes / 4 ? left : kChunkBytes / 4);
    TERN_RETURN_IF_ERROR(read_at(src, offset, chunk, count * 4));
    crc = crc32(chunk, count * 4, crc);
    for (std::size_t i = 0; i < count; ++i) visit(index + i, bits_float(get_u32(chunk + 4 * i)));
    index += count;
    offset += count * 4;
  }
  *crc_out = crc;
  return Status();
}

void describe_layer(const LayerSpec& l, char* out, std::size_t cap) {
  Text t(out, cap);
  switch (l.kind) {
    case LayerKind::kDense: t.s("dense ").u(l.in).s("->").u(l.out).s(" ").s(pointwise_name(l.act)); break;
    case LayerKind::kActivation: t.s("activation ").s(pointwise_name(l.act)).s(" ").u(l.out); break;
    case LayerKind::kLayerNorm: t.s("layer_norm ").u(l.out); break;
    case LayerKind::kResidual: t.s("residual ").u(l.out).s(" + point ").u(l.from); break;
    default: t.s("unknown layer kind ").u(static_cast<unsigned>(l.kind));
  }
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
    if (!same) {
      char fa[64], fb[64];
      describe_layer(a, fa, sizeof fa);
      describe_layer(b, fb, sizeof fb);
      return Status::error(StatusCode::kShapeMismatch,
                           "load: layer %u differs: file has %s, model has %s",
                           static_cast<unsigned>(l), fa, fb);
    }
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
  std::uint64_t first_bad = UINT64_MAX;
  std::uint32_t crc = 0;
  TERN_RETURN_IF_ERROR(stream_payload(source, h, header, &crc, [&](std::uint64_t i, float v) {
    if (first_bad == UINT64_MAX && !ops::is_finite(v)) first_bad = i;
  }));
  unsigned char tail[4];
  TERN_RETURN_IF_ERROR(read_at(source, source.size - 4, tail, 4));
  const std::uint32_t stored = get_u32(tail);
  if (stored != crc) {
    return Status::error(StatusCode::kCorruptData,
                         "load: checksum mismatch: the file says %08x, its bytes give %08x",
                         static_cast<unsigned>(stored), static_cast<unsigned>(crc));
  }

  // The file is intact; is it this model?
  if (!check_spec(h.spec).ok()) return corrupt("the architecture in the file is not a valid model");
  const bool has_state = (h.flags & 1u) != 0;
  const std::uint64_t params = parameter_floats(h.spec);
  const OptimizerKind file_opt = static_cast<OptimizerKind>(h.optimizer);
  if (h.params != params ||
      (has_state ? (h.optimizer > 2 ||
                    h.state != (file_opt == OptimizerKind::kSgd ? params : 2 * params))
                 : (h.state != 0 || h.optimizer != 0 || h.steps != 0))) {
    return corrupt("parameter counts do not match the architecture in the file");
  }
  const ModelSpec& spec = model.spec();
  TERN_RETURN_IF_ERROR(compare_architecture(h.spec, spec));
  if (optimizer_state) {
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
  }
  if (first_bad != UINT64_MAX) {
    return Status::error(StatusCode::kNonFinite, "load: value %llu of the payload is not finite",
                         static_cast<unsigned long long>(first_bad));
  }

  // Pass 2: copy. Map the flat payload index to (tensor, element).
  const std::uint32_t tensors = model.tensor_count();
  const bool copy_state = optimizer_state;
  std::uint32_t t = 0;
  std::size_t in_tensor = 0;
  int section = 0;  // 0 values, 1 moment 1, 2 moment 2
  auto section_span = [&model](std::uint32_t tensor, int sec) {
    const Tensor x = model.tensor(tensor);
    return sec == 0 ? x.value : sec == 1 ? x.moment1 : x.moment2;
  };
  Span<float> dst = tensors > 0 ? section_span(0, 0) : Span<float>{};
  std::uint32_t crc2 = 0;
  TERN_RETURN_IF_ERROR(stream_payload(source, h, header, &crc2, [&](std::uint64_t, float v) {
    if (section > 0 && !copy_state) return;
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
  if (copy_state) model.set_steps(h.steps);
  return Status();
}

// ---------------------------------------------------------------------------
// Files (POSIX descriptors: no stdio buffers, no heap)
// ---------------------------------------------------------------------------
#if TERN_HAS_OS
namespace {

Status fd_write(void* context, const void* data, std::size_t bytes) {
  const int fd = *static_cast<int*>(context);
  const auto* p = static_cast<const unsigned char*>(data);
  while (bytes > 0) {
    const ssize_t w = ::write(fd, p, bytes);
    if (w <= 0) return Status::error(StatusCode::kIoError, "write failed");
    p += w;
    bytes -= static_cast<std::size_t>(w);
  }
  return Status();
}

Status fd_read(void* context, std::size_t offset, void* data, std::size_t bytes) {
  const int fd = *static_cast<int*>(context);
  auto* p = static_cast<unsigned char*>(data);
  while (bytes > 0) {
    const ssize_t r = ::pread(fd, p, bytes, static_cast<off_t>(offset));
    if (r <= 0) return Status::error(StatusCode::kIoError, "read failed at offset %zu", offset);
    p += r;
    offset += static_cast<std::size_t>(r);
    bytes -= static_cast<std::size_t>(r);
  }
  return Status();
}

}  // namespace

Status save_model_file(const Model& model, const char* path, bool optimizer_state) {
  int fd = ::open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) return Status::error(StatusCode::kIoError, "save: cannot create %.100s", path);
  Status s = save_model(model, ByteSink{&fd_write, &fd}, optimizer_state);
  if (::close(fd) != 0 && s.ok()) {
    s = Status::error(StatusCode::kIoError, "save: closing %.100s failed", path);
  }
  return s;
}

Status load_model_file(Model& model, const char* path, bool optimizer_state) {
  int fd = ::open(path, O_RDONLY);
  if (fd < 0) return Status::error(StatusCode::kIoError, "load: cannot open %.100s", path);
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    ::close(fd);
    return Status::error(StatusCode::kIoError, "load: cannot stat %.100s", path);
  }
  ByteSource src;
  src.read = &fd_read;
  src.context = &fd;
  src.size = static_cast<std::size_t>(st.st_size);
  Status s = load_model(model, src, optimizer_state);
  ::close(fd);
  return s;
}
#endif

// ---------------------------------------------------------------------------
// C header export
// ---------------------------------------------------------------------------

std::size_t architecture_words(const ModelSpec& spec, std::uint32_t* out, std::size_t capacity) {
  const std::size_t words = 2 + 5 * std::size_t{spec.layer_count};
  std::uint32_t buffer[2 + 5 * kMaxLayers] = {spec.input_width, spec.layer_count};
  for (std::uint32_t l = 0; l < spec.layer_count && l < kMaxLayers; ++l) {
    const LayerSpec& ls = spec.layers[l];
    std::uint32_t* w = buffer + 2 + 5 * l;
    w[0] = static_cast<std::uint32_t>(ls.kind);
    w[1] = static_cast<std::uint32_t>(ls.act);
    w[2] = ls.in;
    w[3] = ls.out;
    w[4] = ls.kind == LayerKind::kResidual ? ls.from : 0u;
  }
  for (std::size_t i = 0; i < words && i < capacity; ++i) out[i] = buffer[i];
  return words;
}

namespace {

// The exact C99 hexadecimal literal of a finite float: "0x1.8p+1f",
// "-0x0p+0f", subnormals as "0x0.XXXXXXp-126f".
void hex_float(float v, char* out, std::size_t cap) {
  const std::uint32_t bits = float_bits(v);
  Text t(out, cap);
  if (bits >> 31) t.s("-");
  const std::uint32_t exponent = (bits >> 23) & 0xffu;
  std::uint32_t mantissa = (bits & 0x7fffffu) << 1;  // 24 bits = 6 hex digits
  if (exponent == 0 && mantissa == 0) {
    t.s("0x0p+0f");
    return;
  }
  int digits = 6;
  while (digits > 0 && (mantissa & 0xfu) == 0) {
    mantissa >>= 4;
    --digits;
  }
  const int power = exponent == 0 ? -126 : static_cast<int>(exponent) - 127;
  t.s(exponent == 0 ? "0x0" : "0x1");
  if (digits > 0) t.s(".").x(mantissa, digits);
  t.s(power < 0 ? "p" : "p+").i(power).s("f");
}

bool valid_identifier(const char* name) {
  if (name == nullptr || name[0] == '\0') return false;
  std::size_t n = 0;
  for (const char* c = name; *c != '\0'; ++c, ++n) {
    const bool alpha = (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || *c == '_';
    const bool digit = *c >= '0' && *c <= '9';
    if (!alpha && !(digit && n > 0)) return false;
  }
  return n <= 48;
}

}  // namespace

Status export_c_header(const Model& model, const char* name, const ByteSink& sink) {
  if (!model.built()) {
    return Status::error(StatusCode::kFailedPrecondition, "export: the model is not built");
  }
  if (sink.write == nullptr) return Status::error(StatusCode::kInvalidArgument, "export: no sink");
  if (!valid_identifier(name)) {
    return Status::error(StatusCode::kInvalidArgument,
                         "export: '%.60s' is not a C identifier of at most 48 characters",
                         name != nullptr ? name : "(null)");
  }
  TERN_RETURN_IF_ERROR(check_finite_model(model, false));
  char upper[49];
  std::size_t n = 0;
  for (; name[n] != '\0'; ++n) {
    const char c = name[n];
    upper[n] = (c >= 'a' && c <= 'z') ? static_cast<char>(c - 'a' + 'A') : c;
  }
  upper[n] = '\0';

  const ModelSpec& spec = model.spec();
  std::uint32_t arch[2 + 5 * kMaxLayers];
  const std::size_t words = architecture_words(spec, arch, sizeof arch / sizeof arch[0]);
  Writer w(sink);
  char line[160];  // one number, layer description or float literal at a time
  auto num = [&](std::uint64_t v) {
    Text(line, sizeof line).u(v);
    w.text(line);
  };
  w.text("/* tern model \"");
  w.text(name);
  w.text("\", generated by tern::export_c_header. Do not edit.\n * Input width ");
  num(spec.input_width);
  w.text("; layers:\n");
  for (std::uint32_t l = 0; l < spec.layer_count; ++l) {
    w.text(" *   ");
    num(l);
    w.text(": ");
    describe_layer(spec.layers[l], line, sizeof line);
    w.text(line);
    w.text("\n");
  }
  const char* parts[] = {
      " * Load into a model built from the same layers (any rows, any mode):\n"
      " *   tern::load_parameters(model, ", name, "_architecture, ", upper,
      "_ARCHITECTURE_WORDS,\n *                         ", name, "_parameters, ", upper,
      "_PARAMETER_COUNT);\n */\n#ifndef TERN_MODEL_", upper, "_H\n#define TERN_MODEL_", upper,
      "_H\n\n#include <stdint.h>\n\n"};
  for (const char* p : parts) w.text(p);
  const struct {
    const char* suffix;
    std::uint64_t value;
  } macros[] = {{"_INPUT_WIDTH ", spec.input_width},
                {"_OUTPUT_WIDTH ", spec.output_width()},
                {"_ARCHITECTURE_WORDS ", words},
                {"_PARAMETER_COUNT ", model.parameter_count()}};
  for (const auto& m : macros) {
    w.text("#define ");
    w.text(upper);
    w.text(m.suffix);
    num(m.value);
    w.text("u\n");
  }
  w.text("\nstatic const uint32_t ");
  w.text(name);
  w.text("_architecture[");
  num(words);
  w.text("] = {");
  for (std::size_t i = 0; i < words; ++i) {
    if (i > 0) w.text(", ");
    num(arch[i]);
    w.text("u");
  }
  w.text("};\n\nstatic const float ");
  w.text(name);
  w.text("_parameters[");
  num(model.parameter_count());
  w.text("] = {\n");
  for (std::uint32_t t = 0; t < model.tensor_count(); ++t) {
    const Tensor x = model.tensor(t);
    const LayerSpec& ls = spec.layers[x.layer];
    const char* what = ls.kind == LayerKind::kDense ? (x.is_bias ? "bias" : "weight")
                                                    : (x.is_bias ? "beta" : "gamma");
    w.text("  /* layer ");
    num(x.layer);
    w.text(" ");
    w.text(layer_kind_name(ls.kind));
    w.text(" ");
    w.text(what);
    w.text(", ");
    num(x.value.size);
    w.text(" floats */\n");
    for (std::size_t i = 0; i < x.value.size; ++i) {
      w.text(i % 6 == 0 ? "  " : " ");
      hex_float(x.value[i], line, sizeof line);
      w.text(line);
      w.text((i % 6 == 5 || i + 1 == x.value.size) ? ",\n" : ",");
    }
  }
  w.text("};\n\n#endif\n");
  w.flush();
  return w.status();
}

Status load_parameters(Model& model, const std::uint32_t* architecture, std::size_t words,
                       const float* values, std::size_t count) {
  if (!model.built()) {
    return Status::error(StatusCode::kFailedPrecondition, "load_parameters: the model is not built");
  }
  if (architecture == nullptr || values == nullptr) {
    return Status::error(StatusCode::kInvalidArgument, "load_parameters: null argument");
  }
  std::uint32_t arch[2 + 5 * kMaxLayers];
  const std::size_t expected = architecture_words(model.spec(), arch, sizeof arch / sizeof arch[0]);
  if (words != expected || std::memcmp(arch, architecture, words * sizeof(std::uint32_t)) != 0) {
    return Status::error(StatusCode::kShapeMismatch,
                         "load_parameters: the exported architecture (%zu words) differs from "
                         "the model's (%zu words)",
                         words, expected);
  }
  if (count != model.parameter_count()) {
    return Status::error(StatusCode::kShapeMismatch,
                         "load_parameters: %zu values given, the model has %zu parameters", count,
                         model.parameter_count());
  }
  for (std::size_t i = 0; i < count; ++i) {
    if (!ops::is_finite(values[i])) {
      return Status::error(StatusCode::kNonFinite, "load_parameters: value %zu is not finite", i);
    }
  }
  std::size_t at = 0;
  for (std::uint32_t t = 0; t < model.tensor_count(); ++t) {
    const Span<float> dst = model.tensor(t).value;
    std::memcpy(dst.data, values + at, dst.size * sizeof(float));
    at += dst.size;
  }
  return Status();
}

}  // namespace tern
