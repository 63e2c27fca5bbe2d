// SPDX-License-Identifier: Apache-2.0
// infer() and predict(): any number of rows through the layers, a chunk of
// at most spec.rows rows at a time (the activation buffers hold no more).
// Every input is checked before the first chunk runs; an output that is not
// finite stops the call at its row, with the rows before it delivered (the
// rule and its reason are in model.h).
#include <cstring>

#include "input_checks.h"
#include "tern/runtime/model.h"

namespace tern {
namespace {

// Whether [a, a + a_bytes) and [b, b + b_bytes) share a byte (both extents
// were checked not to wrap).
bool overlaps(const void* a, std::size_t a_bytes, const void* b, std::size_t b_bytes) {
  const auto pa = reinterpret_cast<std::uintptr_t>(a), pb = reinterpret_cast<std::uintptr_t>(b);
  return pa < pb + b_bytes && pb < pa + a_bytes;
}

// An output array of `rows` rows of `width` 4-byte elements, `ld` apart:
// not null, aligned, addressable, and clear of the input (a later chunk
// reads it) and of the model's block (which the passes write).
Status check_output(const char* op, const char* name, const void* out, std::size_t rows,
                    std::size_t width, std::size_t ld, const float* x, std::size_t ldx,
                    std::size_t in_width, const void* block, std::size_t block_bytes) {
  if (out == nullptr) return Status::error(StatusCode::kInvalidArgument, "%s: %s is null", op, name);
  if (ld < width) {
    return Status::error(StatusCode::kInvalidArgument,
                         "%s: %s row stride %zu is smaller than the %zu outputs", op, name, ld,
                         width);
  }
  TERN_RETURN_IF_ERROR(check_rows_extent(op, name, out, rows, width, ld));
  std::size_t out_bytes = 0, x_bytes = 0;
  view_bytes(rows, width, ld, sizeof(float), &out_bytes);  // checked above
  view_bytes(rows, in_width, ldx, sizeof(float), &x_bytes);  // checked by the caller
  if (overlaps(out, out_bytes, x, x_bytes)) {
    return Status::error(StatusCode::kInvalidArgument,
                         "%s: %s overlaps the input (a later chunk would read outputs)", op,
                         name);
  }
  if (overlaps(out, out_bytes, block, block_bytes)) {
    return Status::error(StatusCode::kInvalidArgument, "%s: %s overlaps the model's arena block",
                         op, name);
  }
  return Status();
}

}  // namespace

Status Model::check_inference_input(const char* op, const float* x, std::size_t ldx,
                                    std::size_t rows) const {
  if (!built()) {
    return Status::error(StatusCode::kFailedPrecondition, "%s: the model is not built", op);
  }
  if (rows == 0) return Status::error(StatusCode::kInvalidArgument, "%s: 0 rows", op);
  TERN_RETURN_IF_ERROR(check_input(op, x, ldx, spec_.input_width, rows));
  for (std::size_t i = 0; i < rows; ++i) {
    const std::size_t j = first_non_finite(x + i * ldx, spec_.input_width);
    if (j != spec_.input_width) {
      return Status::error(StatusCode::kNonFinite, "%s: input row %zu column %zu is not finite",
                           op, i, j);
    }
  }
  return Status();
}

Status Model::forward_chunk(const char* op, const float* x, std::size_t ldx, std::size_t first,
                            std::size_t count, std::size_t* finite_rows) {
  run_forward(x + first * ldx, ldx, count);
  const MatrixView<const float> y = output();
  for (std::size_t i = 0; i < count; ++i) {
    const std::size_t j = first_non_finite(y.row(i), y.cols);
    if (j != y.cols) {
      *finite_rows = i;
      return Status::error(StatusCode::kNonFinite,
                           "%s: output row %zu column %zu is %g (the weights or inputs overflow "
                           "float)",
                           op, first + i, j, format_arg(y(i, j)));
    }
  }
  *finite_rows = count;
  return Status();
}

Status Model::infer(const float* x, std::size_t ldx, std::size_t rows, float* y,
                    std::size_t ldy) {
  const char* op = "infer";
  TERN_RETURN_IF_ERROR(check_inference_input(op, x, ldx, rows));
  const std::size_t width = spec_.output_width();
  TERN_RETURN_IF_ERROR(
      check_output(op, "y", y, rows, width, ldy, x, ldx, spec_.input_width, base_, bytes_));
  for (std::size_t first = 0; first < rows; first += spec_.rows) {
    const std::size_t left = rows - first;
    const std::size_t count = left < spec_.rows ? left : spec_.rows;
    std::size_t finite = 0;
    const Status s = forward_chunk(op, x, ldx, first, count, &finite);
    const MatrixView<const float> out = output();
    for (std::size_t i = 0; i < finite; ++i) {
      std::memcpy(y + (first + i) * ldy, out.row(i), width * sizeof(float));
    }
    if (!s.ok()) return s;
  }
  return Status();
}

Status Model::predict(const float* x, std::size_t ldx, std::size_t rows,
                      std::uint32_t* classes) {
  const char* op = "predict";
  if (classes == nullptr) {
    return Status::error(StatusCode::kInvalidArgument, "%s: classes is null", op);
  }
  TERN_RETURN_IF_ERROR(check_aligned(op, "classes", classes));
  TERN_RETURN_IF_ERROR(check_inference_input(op, x, ldx, rows));
  TERN_RETURN_IF_ERROR(
      check_output(op, "classes", classes, rows, 1, 1, x, ldx, spec_.input_width, base_, bytes_));
  for (std::size_t first = 0; first < rows; first += spec_.rows) {
    const std::size_t left = rows - first;
    const std::size_t count = left < spec_.rows ? left : spec_.rows;
    std::size_t finite = 0;
    const Status s = forward_chunk(op, x, ldx, first, count, &finite);
    // Only finite rows are compared: a NaN compares false and would give
    // class 0.
    const MatrixView<const float> y = output();
    for (std::size_t i = 0; i < finite; ++i) {
      std::uint32_t best = 0;
      for (std::size_t j = 1; j < y.cols; ++j) {
        if (y(i, j) > y(i, best)) best = static_cast<std::uint32_t>(j);
      }
      classes[first + i] = best;
    }
    if (!s.ok()) return s;
  }
  return Status();
}

}  // namespace tern
