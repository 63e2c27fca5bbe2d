// Private to the runtime: the checks every entry point that takes caller
// rows runs before it touches the model (forward_pass.cpp, batch_loading.cpp).
#pragma once

#include <cstddef>
#include <cstdint>

#include "portable_ops.h"
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

inline Status check_input(const char* op, const float* x, std::size_t ldx, std::size_t width) {
  if (x == nullptr) return Status::error(StatusCode::kInvalidArgument, "%s: input is null", op);
  if (ldx < width) {
    return Status::error(StatusCode::kInvalidArgument,
                         "%s: input row stride %zu is smaller than the input width %zu", op, ldx,
                         width);
  }
  return Status();
}

// Index of the first non-finite value of a row, or `width` if none.
inline std::size_t first_non_finite(const float* row, std::size_t width) {
  for (std::size_t j = 0; j < width; ++j) {
    if (!ops::is_finite(row[j])) return j;
  }
  return width;
}

}  // namespace tern
