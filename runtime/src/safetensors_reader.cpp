// SPDX-License-Identifier: Apache-2.0
// Reading a safetensors file into a model (safetensors.h): the header
// parsed streaming into a fixed-size plan, every check made, the values
// validated, and only then the parameters written.
#include <cstring>

#include "byte_io_detail.h"
#include "le_bytes.h"
#include "portable_ops.h"
#include "safetensors_json.h"
#include "safetensors_names.h"
#include "tern/platform/checked_size.h"
#include "tern/runtime/safetensors.h"

namespace tern {

namespace {

// The model has at most two tensors per layer.
constexpr std::uint32_t kMaxModelTensors = 2 * kMaxLayers;

enum class Dtype : std::uint8_t { kF32, kF16, kBF16, kOther };

struct DtypeInfo {
  const char* name;
  std::uint8_t bytes;
  Dtype kind;
};
// Every dtype of the format, so that a file's other tensors (int64 step
// counters, float64 statistics, ...) are sized and placed correctly even
// though only the three float types load into a model.
constexpr DtypeInfo kDtypes[] = {
    {"F32", 4, Dtype::kF32},    {"F16", 2, Dtype::kF16},    {"BF16", 2, Dtype::kBF16},
    {"F64", 8, Dtype::kOther},  {"I64", 8, Dtype::kOther},  {"U64", 8, Dtype::kOther},
    {"I32", 4, Dtype::kOther},  {"U32", 4, Dtype::kOther},  {"I16", 2, Dtype::kOther},
    {"U16", 2, Dtype::kOther},  {"I8", 1, Dtype::kOther},   {"U8", 1, Dtype::kOther},
    {"BOOL", 1, Dtype::kOther}, {"F8_E4M3", 1, Dtype::kOther}, {"F8_E5M2", 1, Dtype::kOther},
};
// The longest dtype name above, NUL included, rounded up.
constexpr std::size_t kDtypeChars = 16;

struct Range {
  std::uint64_t begin = 0, end = 0;
};

// One tensor entry of the header.
struct Entry {
  bool found = false;
  std::uint8_t dtype = 0;  // index into kDtypes
  std::uint32_t rank = 0;
  std::uint64_t dims[2] = {0, 0};  // the first two dimensions
  Range range;
};

// Everything the header says that loading needs: a few hundred bytes.
struct Plan {
  Entry tensors[kMaxModelTensors];
  Range others[kSafetensorsMaxOtherTensors];
  std::uint32_t other_count = 0;
  std::size_t data_start = 0;  // 8 + the header length
  std::size_t data_bytes = 0;
};

// One tensor's entry: {"dtype": ..., "shape": [...], "data_offsets": [b, e]}
// in any order, each exactly once, nothing else.
Status parse_entry(detail::JsonReader& json, const char* name, Entry* entry) {
  TERN_RETURN_IF_ERROR(json.expect('{'));
  bool has_dtype = false, has_shape = false, has_offsets = false;
  std::uint64_t elements = 1;
  bool empty = false;
  TERN_RETURN_IF_ERROR(json.accept('}', &empty));
  while (!empty) {
    char key[16];
    bool fits = false;
    TERN_RETURN_IF_ERROR(json.string(key, sizeof key, &fits));
    TERN_RETURN_IF_ERROR(json.expect(':'));
    if (fits && std::strcmp(key, "dtype") == 0 && !has_dtype) {
      char dtype[kDtypeChars];
      TERN_RETURN_IF_ERROR(json.string(dtype, sizeof dtype, &fits));
      bool known = false;
      for (std::uint8_t d = 0; fits && d < sizeof kDtypes / sizeof kDtypes[0]; ++d) {
        if (std::strcmp(dtype, kDtypes[d].name) == 0) {
          entry->dtype = d;
          known = true;
        }
      }
      if (!known) {
        return Status::error(StatusCode::kCorruptData,
                             "safetensors: tensor '%s' has an unknown dtype '%s'", name, dtype);
      }
      has_dtype = true;
    } else if (fits && std::strcmp(key, "shape") == 0 && !has_shape) {
      TERN_RETURN_IF_ERROR(json.expect('['));
      bool end = false;
      TERN_RETURN_IF_ERROR(json.accept(']', &end));
      while (!end) {
        std::uint64_t dim = 0;
        TERN_RETURN_IF_ERROR(json.unsigned_integer(&dim));
        if (entry->rank < 2) entry->dims[entry->rank] = dim;
        ++entry->rank;
        if (dim != 0 && elements > UINT64_MAX / dim) {
          return Status::error(StatusCode::kCorruptData,
                               "safetensors: tensor '%s': the shape's element count overflows 64 bits",
                               name);
        }
        elements *= dim;
        bool comma = false;
        TERN_RETURN_IF_ERROR(json.accept(',', &comma));
        if (!comma) TERN_RETURN_IF_ERROR(json.expect(']'));
        end = !comma;
      }
      has_shape = true;
    } else if (fits && std::strcmp(key, "data_offsets") == 0 && !has_offsets) {
      TERN_RETURN_IF_ERROR(json.expect('['));
      TERN_RETURN_IF_ERROR(json.unsigned_integer(&entry->range.begin));
      TERN_RETURN_IF_ERROR(json.expect(','));
      TERN_RETURN_IF_ERROR(json.unsigned_integer(&entry->range.end));
      TERN_RETURN_IF_ERROR(json.expect(']'));
      has_offsets = true;
    } else {
      return Status::error(StatusCode::kCorruptData,
                           "safetensors: tensor '%s' has an unknown or repeated key '%s'", name, key);
    }
    bool comma = false;
    TERN_RETURN_IF_ERROR(json.accept(',', &comma));
    if (!comma) TERN_RETURN_IF_ERROR(json.expect('}'));
    empty = !comma;
  }
  if (!has_dtype || !has_shape || !has_offsets) {
    return Status::error(StatusCode::kCorruptData,
                         "safetensors: tensor '%s' lacks %s", name,
                         !has_dtype ? "a dtype" : !has_shape ? "a shape" : "data_offsets");
  }
  if (entry->range.begin > entry->range.end) {
    return Status::error(StatusCode::kCorruptData,
                         "safetensors: tensor '%s' has data_offsets [%llu, %llu]: begin after end",
                         name, static_cast<unsigned long long>(entry->range.begin),
                         static_cast<unsigned long long>(entry->range.end));
  }
  const std::uint64_t bytes = kDtypes[entry->dtype].bytes;
  if (elements > UINT64_MAX / bytes || elements * bytes != entry->range.end - entry->range.begin) {
    return Status::error(StatusCode::kCorruptData,
                         "safetensors: tensor '%s' has %llu bytes of data, its dtype and shape "
                         "need %llu x %llu",
                         name, static_cast<unsigned long long>(entry->range.end - entry->range.begin),
                         static_cast<unsigned long long>(elements),
                         static_cast<unsigned long long>(bytes));
  }
  entry->found = true;
  return Status();
}

// The header, entry by entry, into `plan`.
Status parse_header(const Model& model, const ByteSource& source, const char* const* names,
                    Plan* plan) {
  if (source.size < 8) {
    return Status::error(StatusCode::kCorruptData,
                         "safetensors: the file has %zu bytes, fewer than the 8 of its header length",
                         source.size);
  }
  unsigned char length_bytes[8];
  TERN_RETURN_IF_ERROR(source.read(source.context, 0, length_bytes, 8));
  const std::uint64_t header = detail::get_u64(length_bytes);
  if (header > kSafetensorsMaxHeaderBytes || header > source.size - 8) {
    return Status::error(StatusCode::kCorruptData,
                         "safetensors: a header of %llu bytes does not fit the file's %zu (or the "
                         "format's cap of %llu)",
                         static_cast<unsigned long long>(header), source.size - 8,
                         static_cast<unsigned long long>(kSafetensorsMaxHeaderBytes));
  }
  plan->data_start = 8 + static_cast<std::size_t>(header);
  plan->data_bytes = source.size - plan->data_start;

  detail::JsonReader json(source, 8, plan->data_start);
  TERN_RETURN_IF_ERROR(json.expect('{'));
  bool end = false;
  TERN_RETURN_IF_ERROR(json.accept('}', &end));
  while (!end) {
    detail::TensorName key;
    bool fits = false;
    TERN_RETURN_IF_ERROR(json.string(key.text, sizeof key.text, &fits));
    TERN_RETURN_IF_ERROR(json.expect(':'));
    if (fits && std::strcmp(key.text, "__metadata__") == 0) {
      TERN_RETURN_IF_ERROR(json.skip_value());
    } else {
      Entry entry;
      TERN_RETURN_IF_ERROR(parse_entry(json, key.text, &entry));
      std::uint32_t match = kMaxModelTensors;
      for (std::uint32_t t = 0; fits && t < model.tensor_count(); ++t) {
        detail::TensorName name;
        detail::tensor_name(model, names, t, &name);
        if (std::strcmp(name.text, key.text) == 0) match = t;
      }
      if (match < kMaxModelTensors) {
        if (plan->tensors[match].found) {
          return Status::error(StatusCode::kCorruptData, "safetensors: tensor '%s' appears twice",
                               key.text);
        }
        plan->tensors[match] = entry;
      } else {
        if (plan->other_count == kSafetensorsMaxOtherTensors) {
          return Status::error(StatusCode::kCorruptData,
                               "safetensors: more than %u tensors the model does not use",
                               static_cast<unsigned>(kSafetensorsMaxOtherTensors));
        }
        plan->others[plan->other_count++] = entry.range;
      }
    }
    bool comma = false;
    TERN_RETURN_IF_ERROR(json.accept(',', &comma));
    if (!comma) TERN_RETURN_IF_ERROR(json.expect('}'));
    end = !comma;
  }
  return json.expect_end();
}

// The ranges of every tensor must lie in the data and tile it: sorted by
// begin, each starts where the previous ended and the last ends at the end
// of the file (the format's rule; it also rules out overlaps, a tensor
// read twice, and bytes no tensor owns).
Status check_ranges(const Model& model, const Plan& plan) {
  Range all[kMaxModelTensors + kSafetensorsMaxOtherTensors];
  std::uint32_t count = 0;
  for (std::uint32_t t = 0; t < model.tensor_count(); ++t) {
    if (plan.tensors[t].found) all[count++] = plan.tensors[t].range;
  }
  for (std::uint32_t i = 0; i < plan.other_count; ++i) all[count++] = plan.others[i];
  // Insertion sort by (begin, end): at most 96 ranges.
  for (std::uint32_t i = 1; i < count; ++i) {
    const Range r = all[i];
    std::uint32_t j = i;
    while (j > 0 && (all[j - 1].begin > r.begin ||
                     (all[j - 1].begin == r.begin && all[j - 1].end > r.end))) {
      all[j] = all[j - 1];
      --j;
    }
    all[j] = r;
  }
  std::uint64_t expected = 0;
  for (std::uint32_t i = 0; i < count; ++i) {
    if (all[i].end > plan.data_bytes) {
      return Status::error(StatusCode::kCorruptData,
                           "safetensors: data_offsets [%llu, %llu] lie outside the %zu bytes of data",
                           static_cast<unsigned long long>(all[i].begin),
                           static_cast<unsigned long long>(all[i].end), plan.data_bytes);
    }
  }
  for (std::uint32_t i = 0; i < count; ++i) {
    if (all[i].begin < expected) {
      return Status::error(StatusCode::kCorruptData,
                           "safetensors: data_offsets [%llu, %llu] overlap the tensor before, "
                           "which ends at %llu",
                           static_cast<unsigned long long>(all[i].begin),
                           static_cast<unsigned long long>(all[i].end),
                           static_cast<unsigned long long>(expected));
    }
    if (all[i].begin > expected) {
      return Status::error(StatusCode::kCorruptData,
                           "safetensors: bytes %llu to %llu of the data belong to no tensor",
                           static_cast<unsigned long long>(expected),
                           static_cast<unsigned long long>(all[i].begin));
    }
    expected = all[i].end;
  }
  if (expected != plan.data_bytes) {
    return Status::error(StatusCode::kCorruptData,
                         "safetensors: the tensors end at byte %llu of the data, the file has %zu",
                         static_cast<unsigned long long>(expected), plan.data_bytes);
  }
  return Status();
}

// Every model tensor present, of a float dtype and of its PyTorch shape.
Status check_tensors(const Model& model, const char* const* names, const Plan& plan) {
  for (std::uint32_t t = 0; t < model.tensor_count(); ++t) {
    detail::TensorName name;
    detail::tensor_name(model, names, t, &name);
    const Entry& e = plan.tensors[t];
    if (!e.found) {
      return Status::error(StatusCode::kShapeMismatch, "safetensors: the model's tensor '%s' is missing",
                           name.text);
    }
    if (kDtypes[e.dtype].kind == Dtype::kOther) {
      return Status::error(StatusCode::kShapeMismatch,
                           "safetensors: tensor '%s' is %s; F32, F16 or BF16 needed", name.text,
                           kDtypes[e.dtype].name);
    }
    const detail::TorchShape want = detail::torch_shape(model, t);
    const bool same = e.rank == want.rank && e.dims[0] == want.dims[0] &&
                      (want.rank < 2 || e.dims[1] == want.dims[1]);
    if (!same) {
      return Status::error(StatusCode::kShapeMismatch,
                           "safetensors: tensor '%s' has rank %u, shape [%llu, %llu...]; the model "
                           "needs [%llu%s%llu]",
                           name.text, static_cast<unsigned>(e.rank),
                           static_cast<unsigned long long>(e.dims[0]),
                           static_cast<unsigned long long>(e.dims[1]),
                           static_cast<unsigned long long>(want.dims[0]), want.rank == 2 ? ", " : "",
                           want.rank == 2 ? static_cast<unsigned long long>(want.dims[1]) : 0ull);
    }
  }
  return Status();
}

// IEEE binary16 to float, exactly: every half is a float. False for Inf
// and NaN.
bool half_to_float(std::uint32_t h, float* out) {
  const std::uint32_t sign = (h >> 15) << 31;
  std::uint32_t exponent = (h >> 10) & 0x1f;
  std::uint32_t mantissa = h & 0x3ff;
  if (exponent == 0x1f) return false;
  std::uint32_t bits = sign;
  if (exponent != 0) {
    // Rebias 15 -> 127, widen the mantissa 10 -> 23 bits.
    bits |= ((exponent + 112) << 23) | (mantissa << 13);
  } else if (mantissa != 0) {
    // Subnormal m x 2^-24: shift m up to a leading 1 at bit 10; each shift
    // lowers the exponent by one from the smallest normal's 2^-14.
    exponent = 113;  // 2^-14 biased by 127
    while ((mantissa & 0x400) == 0) {
      mantissa <<= 1;
      --exponent;
    }
    bits |= (exponent << 23) | ((mantissa & 0x3ff) << 13);
  }
  *out = detail::bits_float(bits);
  return true;
}

// bfloat16 is the top half of a float. False for Inf and NaN.
bool bfloat_to_float(std::uint32_t b, float* out) {
  *out = detail::bits_float(b << 16);
  return ops::is_finite(*out);
}

// Calls visit(k, v) for every element of tensor t in the file's order, v
// converted to float; stops with kNonFinite at the first NaN or Inf.
template <class Visit>
Status for_each_value(const ByteSource& source, const Plan& plan, std::uint32_t t,
                      const char* name, Visit visit) {
  const Entry& e = plan.tensors[t];
  const std::size_t width = kDtypes[e.dtype].bytes;
  const Dtype kind = kDtypes[e.dtype].kind;
  // Checked: the range lies inside the file, whose size is a size_t.
  const std::size_t begin = plan.data_start + static_cast<std::size_t>(e.range.begin);
  const std::size_t bytes = static_cast<std::size_t>(e.range.end - e.range.begin);
  unsigned char chunk[detail::kChunkBytes];  // a multiple of 4: whole elements
  std::size_t k = 0;
  for (std::size_t done = 0; done < bytes;) {
    const std::size_t n = bytes - done < sizeof chunk ? bytes - done : sizeof chunk;
    TERN_RETURN_IF_ERROR(source.read(source.context, begin + done, chunk, n));
    for (std::size_t at = 0; at < n; at += width, ++k) {
      float v = 0.0f;
      bool finite = false;
      if (kind == Dtype::kF32) {
        v = detail::bits_float(detail::get_u32(chunk + at));
        finite = ops::is_finite(v);
      } else {
        const std::uint32_t u16 = std::uint32_t{chunk[at]} | (std::uint32_t{chunk[at + 1]} << 8);
        finite = kind == Dtype::kF16 ? half_to_float(u16, &v) : bfloat_to_float(u16, &v);
      }
      if (!finite) {
        return Status::error(StatusCode::kNonFinite,
                             "safetensors: tensor '%s' element %zu is not finite", name, k);
      }
      visit(k, v);
    }
    done += n;
  }
  return Status();
}

Status validate(const Model& model, const ByteSource& source, const char* const* names,
                std::uint32_t name_count, const char* op, Plan* plan) {
  TERN_RETURN_IF_ERROR(detail::check_tensor_names(model, names, name_count, op));
  if (source.read == nullptr) {
    return Status::error(StatusCode::kInvalidArgument, "%s: the source has no read callback", op);
  }
  TERN_RETURN_IF_ERROR(parse_header(model, source, names, plan));
  TERN_RETURN_IF_ERROR(check_ranges(model, *plan));
  TERN_RETURN_IF_ERROR(check_tensors(model, names, *plan));
  for (std::uint32_t t = 0; t < model.tensor_count(); ++t) {
    detail::TensorName name;
    detail::tensor_name(model, names, t, &name);
    TERN_RETURN_IF_ERROR(for_each_value(source, *plan, t, name.text, [](std::size_t, float) {}));
  }
  return Status();
}

}  // namespace

Status validate_safetensors(const Model& model, const ByteSource& source, const char* const* names,
                            std::uint32_t name_count) {
  Plan plan;
  return validate(model, source, names, name_count, "validate_safetensors", &plan);
}

Status load_safetensors(Model& model, const ByteSource& source, const char* const* names,
                        std::uint32_t name_count) {
  Plan plan;
  TERN_RETURN_IF_ERROR(validate(model, source, names, name_count, "load_safetensors", &plan));
  for (std::uint32_t t = 0; t < model.tensor_count(); ++t) {
    detail::TensorName name;
    detail::tensor_name(model, names, t, &name);
    const detail::TorchShape shape = detail::torch_shape(model, t);
    const Span<float> dst = model.tensor(t).value;
    const Status copied = for_each_value(source, plan, t, name.text, [&](std::size_t k, float v) {
      dst[detail::tern_index(shape, k)] = v;
    });
    if (!copied.ok()) {
      model.restart_divergence_history();
      return Status::error(StatusCode::kIoError,
                           "load_safetensors: the source changed or failed after validation (%s)",
                           copied.message());
    }
  }
  model.restart_divergence_history();  // the guard's snapshot held the old parameters
  return Status();
}

#if TERN_HAS_OS
Status load_safetensors_file(Model& model, const char* path, const char* const* names,
                             std::uint32_t name_count) {
  detail::PosixFile file;
  TERN_RETURN_IF_ERROR(file.open_read("load", path));
  return load_safetensors(model, file.source(), names, name_count);
}
#endif

}  // namespace tern
