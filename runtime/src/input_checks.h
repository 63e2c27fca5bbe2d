// SPDX-License-Identifier: Apache-2.0
// Private to the runtime: the checks every entry point that takes caller
// rows runs before it touches the model (forward_pass.cpp, batch_loading.cpp).
#pragma once

#include <cstddef>
#include <cstdint>

#include "portable_ops.h"
#include "tern/platform/checked_size.h"
#include "tern/platform/status.h"

namespace tern {

inline Status check_rows(const char* op, std::size_t rows, std::uint32_t capacity) {
  if (rows == 0 || rows > capacity) {
    return Status::error(StatusCode::kInvalidArgument,
                         "%s: %zu rows; the model was built for 1..%u rows per step", op, rows,
                         static_cast<unsigned>(capacity));
  }
  return Status();
}

// Caller memory read or written as float or uint32_t must be 4-byte aligned
// (the reason is in kernels/src/checks.h, kOperandAlignment): kMisaligned.
inline Status check_aligned(const char* op, const char* name, const void* p) {
  if (reinterpret_cast<std::uintptr_t>(p) % alignof(float) != 0) {
    return Status::error(StatusCode::kMisaligned, "%s: %s at %p is not %zu-byte aligned", op,
                         name, p, alignof(float));
  }
  return Status();
}

// The caller's rows of a matrix: `rows` rows of `width` elements of 4 bytes,
// `ld` elements apart, at `p` (not null, 4-byte aligned). The extent is
// overflow-checked (tern/platform/checked_size.h): a stride so large that
// row r's address would wrap is an error naming it, not a read elsewhere.
// rows and width must be >= 1 and ld >= width (checked by the caller, whose
// message names the model's width).
inline Status check_rows_extent(const char* op, const char* name, const void* p,
                                std::size_t rows, std::size_t width, std::size_t ld) {
  TERN_RETURN_IF_ERROR(check_aligned(op, name, p));
  std::size_t bytes = 0;
  if (!view_bytes(rows, width, ld, sizeof(float), &bytes) || extent_wraps(p, bytes)) {
    return Status::error(StatusCode::kInvalidArgument,
                         "%s: %s of %zu rows with row stride %zu does not fit in the address "
                         "space",
                         op, name, rows, ld);
  }
  return Status();
}

inline Status check_input(const char* op, const float* x, std::size_t ldx, std::size_t width,
                          std::size_t rows) {
  if (x == nullptr) return Status::error(StatusCode::kInvalidArgument, "%s: input is null", op);
  if (ldx < width) {
    return Status::error(StatusCode::kInvalidArgument,
                         "%s: input row stride %zu is smaller than the input width %zu", op, ldx,
                         width);
  }
  return check_rows_extent(op, "input", x, rows, width, ldx);
}

// Index of the first non-finite value of a row, or `width` if none.
inline std::size_t first_non_finite(const float* row, std::size_t width) {
  for (std::size_t j = 0; j < width; ++j) {
    if (!ops::is_finite(row[j])) return j;
  }
  return width;
}

}  // namespace tern
