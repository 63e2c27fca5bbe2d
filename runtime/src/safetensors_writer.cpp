// SPDX-License-Identifier: Apache-2.0
// Writing a model's parameters as a safetensors file (safetensors.h): F32,
// PyTorch's layouts, the header padded to a multiple of 8 bytes.
#include <cstring>

#include "byte_io_detail.h"
#include "le_bytes.h"
#include "portable_ops.h"
#include "safetensors_names.h"
#include "tern/platform/checked_size.h"
#include "tern/runtime/safetensors.h"

namespace tern {

namespace {

// save_file aligns the data to 8 bytes by padding the header with spaces.
constexpr std::size_t kHeaderAlignment = 8;

void write_decimal(detail::ChecksummedWriter& out, std::uint64_t v) {
  char digits[20];  // 2^64 - 1 has 20 digits
  std::size_t n = 0;
  do {
    digits[n++] = static_cast<char>('0' + v % 10);
    v /= 10;
  } while (v != 0);
  char text[21];
  for (std::size_t i = 0; i < n; ++i) text[i] = digits[n - 1 - i];
  text[n] = '\0';
  out.text(text);
}

// A JSON string: '"' and '\' escaped, control characters as \u00XX; other
// bytes (UTF-8) as they are.
void write_json_string(detail::ChecksummedWriter& out, const char* s) {
  out.text("\"");
  for (const unsigned char* p = reinterpret_cast<const unsigned char*>(s); *p != 0; ++p) {
    if (*p == '"' || *p == '\\') {
      const char escaped[3] = {'\\', static_cast<char>(*p), '\0'};
      out.text(escaped);
    } else if (*p < 0x20) {
      const char* hex = "0123456789abcdef";
      const char escaped[7] = {'\\', 'u', '0', '0', hex[*p >> 4], hex[*p & 15], '\0'};
      out.text(escaped);
    } else {
      out.bytes(p, 1);
    }
  }
  out.text("\"");
}

// The header JSON without its padding; data offsets in tensor order.
void write_header_json(detail::ChecksummedWriter& out, const Model& model, const char* const* names) {
  out.text("{");
  std::uint64_t offset = 0;
  for (std::uint32_t t = 0; t < model.tensor_count(); ++t) {
    detail::TensorName name;
    detail::tensor_name(model, names, t, &name);
    const detail::TorchShape shape = detail::torch_shape(model, t);
    if (t > 0) out.text(",");
    write_json_string(out, name.text);
    out.text(":{\"dtype\":\"F32\",\"shape\":[");
    write_decimal(out, shape.dims[0]);
    if (shape.rank == 2) {
      out.text(",");
      write_decimal(out, shape.dims[1]);
    }
    out.text("],\"data_offsets\":[");
    write_decimal(out, offset);
    out.text(",");
    offset += 4 * std::uint64_t{model.tensor(t).value.size};
    write_decimal(out, offset);
    out.text("]}");
  }
  out.text("}");
}

Status count_bytes(void* context, const void*, std::size_t bytes) {
  std::size_t* total = static_cast<std::size_t*>(context);
  if (!checked_add(*total, bytes, total)) {
    return Status::error(StatusCode::kInvalidArgument, "safetensors: the header does not fit a size_t");
  }
  return Status();
}

// The header's JSON length before padding.
Status json_bytes(const Model& model, const char* const* names, std::size_t* bytes) {
  *bytes = 0;
  detail::ChecksummedWriter counter(ByteSink{&count_bytes, bytes});
  write_header_json(counter, model, names);
  counter.flush();
  return counter.status();
}

Status check_saveable(const Model& model, const char* const* names, std::uint32_t name_count,
                      const char* op) {
  TERN_RETURN_IF_ERROR(detail::check_tensor_names(model, names, name_count, op));
  for (std::uint32_t t = 0; t < model.tensor_count(); ++t) {
    const Span<float> v = model.tensor(t).value;
    for (std::size_t i = 0; i < v.size; ++i) {
      if (!ops::is_finite(v[i])) {
        detail::TensorName name;
        detail::tensor_name(model, names, t, &name);
        return Status::error(StatusCode::kNonFinite, "%s: tensor '%s' element %zu is not finite",
                             op, name.text, i);
      }
    }
  }
  return Status();
}

std::size_t padded(std::size_t json) {
  return (json + kHeaderAlignment - 1) / kHeaderAlignment * kHeaderAlignment;
}

}  // namespace

std::size_t safetensors_bytes(const Model& model, const char* const* names, std::uint32_t name_count,
                              Status* status) {
  Status local;
  Status& s = status != nullptr ? *status : local;
  s = detail::check_tensor_names(model, names, name_count, "safetensors_bytes");
  if (!s.ok()) return 0;
  std::size_t json = 0;
  s = json_bytes(model, names, &json);
  if (!s.ok()) return 0;
  std::size_t data = 0, total = 0;
  if (!checked_mul(model.parameter_count(), 4, &data) || json > SIZE_MAX - kHeaderAlignment ||
      !checked_add(8 + padded(json), data, &total)) {
    s = Status::error(StatusCode::kInvalidArgument, "safetensors_bytes: the file does not fit a size_t");
    return 0;
  }
  return total;
}

Status save_safetensors(const Model& model, const ByteSink& sink, const char* const* names,
                        std::uint32_t name_count) {
  TERN_RETURN_IF_ERROR(check_saveable(model, names, name_count, "save_safetensors"));
  if (sink.write == nullptr) {
    return Status::error(StatusCode::kInvalidArgument, "save_safetensors: the sink has no write callback");
  }
  Status sized;
  if (safetensors_bytes(model, names, name_count, &sized) == 0) return sized;
  std::size_t json = 0;
  TERN_RETURN_IF_ERROR(json_bytes(model, names, &json));
  const std::size_t header = padded(json);
  detail::ChecksummedWriter out(sink);
  unsigned char length[8];
  detail::put_u64(length, header);
  out.bytes(length, sizeof length);
  write_header_json(out, model, names);
  for (std::size_t i = json; i < header; ++i) out.text(" ");
  for (std::uint32_t t = 0; t < model.tensor_count(); ++t) {
    const detail::TorchShape shape = detail::torch_shape(model, t);
    const Span<float> v = model.tensor(t).value;
    for (std::size_t k = 0; k < v.size; ++k) out.f32(v[detail::tern_index(shape, k)]);
  }
  out.flush();
  return out.status();
}

#if TERN_HAS_OS
Status save_safetensors_file(const Model& model, const char* path, const char* const* names,
                             std::uint32_t name_count) {
  // Validated before the temporary file exists, so a refused save creates
  // nothing and leaves `path` alone.
  TERN_RETURN_IF_ERROR(check_saveable(model, names, name_count, "save_safetensors_file"));
  detail::AtomicFile file;
  TERN_RETURN_IF_ERROR(file.create("save", path));
  const Status written = save_safetensors(model, file.sink(), names, name_count);
  if (!written.ok()) return detail::name_path("save", path, written);
  return file.commit();
}
#endif

}  // namespace tern
