// SPDX-License-Identifier: Apache-2.0
// tern/platform/checked_size.h — size arithmetic that cannot wrap.
//
// Every size tern multiplies comes from a caller (a row count, a stride, a
// parameter count) and may be anything up to SIZE_MAX. A product or sum that
// wraps turns a huge, impossible buffer into a small, plausible one: the
// checks pass and the kernels read and write outside the caller's memory.
// So each such product goes through these helpers, which say "does not fit"
// instead of wrapping, and the checked entry points turn that into a Status
// that names the sizes.
#pragma once

#include <cstddef>
#include <cstdint>

namespace tern {

// a * b into *out; false (and *out untouched) when the product exceeds SIZE_MAX.
constexpr bool checked_mul(std::size_t a, std::size_t b, std::size_t* out) {
  if (a != 0 && b > SIZE_MAX / a) return false;
  *out = a * b;
  return true;
}

// a + b into *out; false (and *out untouched) when the sum exceeds SIZE_MAX.
constexpr bool checked_add(std::size_t a, std::size_t b, std::size_t* out) {
  if (b > SIZE_MAX - a) return false;
  *out = a + b;
  return true;
}

// The most bytes one buffer can span. No C++ object is larger than
// PTRDIFF_MAX bytes (GCC and Clang refuse to create one, since subtracting
// two pointers into it could not be represented), so a view claiming more is
// a caller's error however the address space is laid out.
constexpr std::size_t kMaxExtentBytes = static_cast<std::size_t>(PTRDIFF_MAX);

// The bytes a rows x cols view with row stride ld spans, elements of
// elem_bytes each: ((rows - 1) * ld + cols) * elem_bytes. rows and cols must
// be >= 1 and ld >= cols (the callers check both first). False when any step
// overflows or the result exceeds kMaxExtentBytes.
constexpr bool view_bytes(std::size_t rows, std::size_t cols, std::size_t ld,
                          std::size_t elem_bytes, std::size_t* bytes) {
  std::size_t elems = 0, b = 0;
  if (!checked_mul(rows - 1, ld, &elems)) return false;
  if (!checked_add(elems, cols, &elems)) return false;
  if (!checked_mul(elems, elem_bytes, &b)) return false;
  if (b > kMaxExtentBytes) return false;
  *bytes = b;
  return true;
}

// Whether [p, p + bytes) runs past the top of the address space, i.e. the
// end address would wrap to a small one.
inline bool extent_wraps(const void* p, std::size_t bytes) {
  const std::uintptr_t begin = reinterpret_cast<std::uintptr_t>(p);
  return bytes > UINTPTR_MAX - begin;
}

}  // namespace tern
