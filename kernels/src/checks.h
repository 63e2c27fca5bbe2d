// SPDX-License-Identifier: Apache-2.0
// Private to the kernels library: the argument checks every checked entry
// point shares (dense.cpp, elementwise.cpp).
//
// A view is a rows x cols block of floats with a row stride; these helpers
// validate one view and compute the bytes it spans, so that outputs can be
// tested against inputs for overlap. Element-wise kernels may also run in
// place: an output that is *the same view* as an input (same first element,
// same stride) is safe when every output element depends only on the input
// element at the same index; any other overlap is rejected.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>

#include "tern/platform/checked_size.h"
#include "tern/platform/status.h"

namespace tern::kernels {

// The byte range a row-major view touches, [begin, end), and where and how
// it starts (for the same-view test). check_view guarantees end >= begin
// (no wrap), so the overlap tests below are exact.
struct Extent {
  std::uintptr_t begin = 0, end = 0;
  std::size_t rows = 0, ld = 0;
};

// Operands must be 4-byte aligned (alignof(float); the labels of the loss
// kernels are uint32_t, also 4). A float* that is not is already undefined
// behaviour to form and dereference in C++, and the scalar kernels and the
// runtime's loops do dereference them as floats. The SIMD kernels use
// unaligned loads and stores, so any 4-byte-aligned address works at full
// speed: rejecting the rest costs callers nothing they could legally do.
constexpr std::size_t kOperandAlignment = alignof(float);
static_assert(alignof(std::uint32_t) == kOperandAlignment, "labels share the floats' check");

// Validates a rows x cols view with row stride ld and reports the bytes it
// spans. Empty views are valid whatever the pointer. Every size product is
// overflow-checked (tern/platform/checked_size.h): a view whose extent does
// not fit in size_t, exceeds the largest object (PTRDIFF_MAX bytes) or runs
// past the top of the address space is rejected, naming its sizes.
inline Status check_view(const char* op, const char* name, const void* p, std::size_t rows,
                         std::size_t cols, std::size_t ld, Extent* extent) {
  *extent = Extent{};
  if (rows == 0 || cols == 0) return Status();
  if (p == nullptr) {
    return Status::error(StatusCode::kInvalidArgument, "%s: %s is null for a %zux%zu operand", op,
                         name, rows, cols);
  }
  if (reinterpret_cast<std::uintptr_t>(p) % kOperandAlignment != 0) {
    return Status::error(StatusCode::kMisaligned,
                         "%s: %s at %p is not %zu-byte aligned (float operands must be)", op, name,
                         p, kOperandAlignment);
  }
  if (ld < cols) {
    return Status::error(StatusCode::kInvalidArgument,
                         "%s: row stride of %s is %zu, smaller than its %zu columns", op, name, ld,
                         cols);
  }
  std::size_t bytes = 0;
  if (!view_bytes(rows, cols, ld, sizeof(float), &bytes) || extent_wraps(p, bytes)) {
    return Status::error(StatusCode::kInvalidArgument,
                         "%s: %s of %zux%zu floats (row stride %zu) does not fit in the address "
                         "space",
                         op, name, rows, cols, ld);
  }
  extent->begin = reinterpret_cast<std::uintptr_t>(p);
  extent->end = extent->begin + bytes;
  extent->rows = rows;
  extent->ld = ld;
  return Status();
}

// A scalar parameter (learning rate, scale, ...) that must be finite.
inline Status check_finite(const char* op, const char* name, float value) {
  if (!std::isfinite(value)) {
    return Status::error(StatusCode::kInvalidArgument, "%s: %s is %g, must be finite", op, name,
                         static_cast<double>(value));
  }
  return Status();
}

inline bool overlaps(const Extent& a, const Extent& b) {
  return a.begin < a.end && b.begin < b.end && a.begin < b.end && b.begin < a.end;
}

// Same first element and, when there is more than one row, the same stride:
// every element of one view is the element of the other at the same index.
inline bool same_view(const Extent& a, const Extent& b) {
  return a.begin == b.begin && a.rows == b.rows && (a.ld == b.ld || a.rows == 1);
}

inline Status check_disjoint(const char* op, const char* out_name, const Extent& out,
                             const char* in_name, const Extent& in) {
  if (overlaps(out, in)) {
    return Status::error(StatusCode::kInvalidArgument, "%s: output %s overlaps input %s", op,
                         out_name, in_name);
  }
  return Status();
}

// Two outputs may never share a byte.
inline Status check_outputs_disjoint(const char* op, const char* a_name, const Extent& a,
                                     const char* b_name, const Extent& b) {
  if (overlaps(a, b)) {
    return Status::error(StatusCode::kInvalidArgument, "%s: outputs %s and %s overlap", op, a_name,
                         b_name);
  }
  return Status();
}

// For element-wise kernels: the output may be the input itself (in place) or
// lie entirely apart from it.
inline Status check_same_or_disjoint(const char* op, const char* out_name, const Extent& out,
                                     const char* in_name, const Extent& in) {
  if (overlaps(out, in) && !same_view(out, in)) {
    return Status::error(StatusCode::kInvalidArgument,
                         "%s: output %s partially overlaps input %s (in place needs the same "
                         "pointer and stride)",
                         op, out_name, in_name);
  }
  return Status();
}

}  // namespace tern::kernels
