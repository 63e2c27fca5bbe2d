// SPDX-License-Identifier: Apache-2.0
// Rank-1 edits of a Dense layer's weights (docs/rank1.md):
// W += scale * sum_j a_j^T b_j with caller factors, checked before W
// changes, and the factors of one gradient step (edit_factors) for a
// caller that wants to edit instead of train. Editing is not training: it
// works on inference models too and leaves the optimizer state alone.
#include <cmath>
#include <cstdint>
#include <cstring>

#include "input_checks.h"
#include "portable_ops.h"
#include "tern/kernels/kernel_table.h"
#include "tern/runtime/model.h"

namespace tern {

namespace {

// max(m, |v|) for finite v. A comparison, not std::fmax: GCC 12's
// vectoriser for aarch64 fails (an internal compiler error) on an fmax
// reduction over a double accumulator.
double larger_magnitude(double m, float v) {
  const double x = v < 0.0f ? -static_cast<double>(v) : static_cast<double>(v);
  return x > m ? x : m;
}

}  // namespace

Status Model::rank1_edit(std::uint32_t layer, std::size_t count, const float* a, std::size_t lda,
                         const float* b, std::size_t ldb, float scale) {
  const char* op = "rank1_edit";
  if (!built()) {
    return Status::error(StatusCode::kFailedPrecondition, "%s: the model is not built", op);
  }
  if (layer >= spec_.layer_count || spec_.layers[layer].kind != LayerKind::kDense) {
    return Status::error(StatusCode::kInvalidArgument, "%s: layer %u is not a Dense layer", op,
                         static_cast<unsigned>(layer));
  }
  const std::size_t in = spec_.layers[layer].in, out = spec_.layers[layer].out;
  if (count == 0) return Status();
  if (a == nullptr || b == nullptr) {
    return Status::error(StatusCode::kInvalidArgument, "%s: factor %s is null", op,
                         a == nullptr ? "a" : "b");
  }
  if (lda < in || ldb < out) {
    return Status::error(StatusCode::kShapeMismatch,
                         "%s: factor strides %zu and %zu are smaller than the layer's %zu inputs "
                         "and %zu outputs",
                         op, lda, ldb, in, out);
  }
  // count, lda and ldb come from the caller: (count - 1) * ld + width must
  // not wrap (checked_size.h), or a huge count would pass as a small extent.
  TERN_RETURN_IF_ERROR(check_rows_extent(op, "factor a", a, count, in, lda));
  TERN_RETURN_IF_ERROR(check_rows_extent(op, "factor b", b, count, out, ldb));
  if (!std::isfinite(scale)) {
    return Status::error(StatusCode::kNonFinite, "%s: scale %g is not finite", op,
                         static_cast<double>(scale));
  }
  float* w = buffer(layer, LayerBuffer::kWeight);
  // Byte ranges as integers: the factors may be any caller memory. The
  // extents were checked above, so neither end wraps.
  const std::uintptr_t w_begin = reinterpret_cast<std::uintptr_t>(w);
  const std::uintptr_t w_end = w_begin + in * out * sizeof(float);
  const auto overlaps = [&](const float* f, std::size_t ld, std::size_t width) {
    std::size_t bytes = 0;
    view_bytes(count, width, ld, sizeof(float), &bytes);
    const std::uintptr_t begin = reinterpret_cast<std::uintptr_t>(f);
    const std::uintptr_t end = begin + bytes;
    return begin < w_end && w_begin < end;
  };
  if (overlaps(a, lda, in) || overlaps(b, ldb, out)) {
    return Status::error(StatusCode::kInvalidArgument,
                         "%s: a factor overlaps the weights it would edit", op);
  }
  // Finite factors, and a bound on every edited weight: |W + scale sum_j
  // a_j^T b_j| <= max|W| + |scale| sum_j max|a_j| max|b_j| (in double, where
  // it cannot overflow). Within float's range no step of the FMA chains
  // overflows, so an edit that passes leaves W finite.
  double bound = 0.0;
  for (std::size_t j = 0; j < count; ++j) {
    double max_a = 0.0, max_b = 0.0;
    for (std::size_t p = 0; p < in; ++p) {
      const float v = a[j * lda + p];
      if (!ops::is_finite(v)) {
        return Status::error(StatusCode::kNonFinite, "%s: a[%zu][%zu] is not finite", op, j, p);
      }
      max_a = larger_magnitude(max_a, v);
    }
    for (std::size_t q = 0; q < out; ++q) {
      const float v = b[j * ldb + q];
      if (!ops::is_finite(v)) {
        return Status::error(StatusCode::kNonFinite, "%s: b[%zu][%zu] is not finite", op, j, q);
      }
      max_b = larger_magnitude(max_b, v);
    }
    bound += max_a * max_b;
  }
  double max_w = 0.0;
  for (std::size_t i = 0; i < in * out; ++i) max_w = larger_magnitude(max_w, w[i]);
  bound = max_w + std::fabs(static_cast<double>(scale)) * bound;
  if (!(bound <= 3.0e38)) {
    return Status::error(StatusCode::kNonFinite,
                         "%s: the edit could overflow the weights (|W + edit| up to %g); scale it "
                         "down",
                         op, bound);
  }
  kernels_of(isa_).rank1_accumulate_f32(count, in, out, scale, a, lda, b, ldb, w, out, nullptr);
  // A later divergence must not restore the unedited weights.
  restart_divergence_history();
  return Status();
}

Status Model::edit_factors(const Batch& batch, std::uint32_t layer, float* u, float* delta) {
  const char* op = "edit_factors";
  TERN_RETURN_IF_ERROR(check_training(op));
  if (layer >= spec_.layer_count || spec_.layers[layer].kind != LayerKind::kDense) {
    return Status::error(StatusCode::kInvalidArgument, "%s: layer %u is not a Dense layer", op,
                         static_cast<unsigned>(layer));
  }
  if (u == nullptr || delta == nullptr) {
    return Status::error(StatusCode::kInvalidArgument, "%s: output %s is null", op,
                         u == nullptr ? "u" : "delta");
  }
  TERN_RETURN_IF_ERROR(check_aligned(op, "output u", u));
  TERN_RETURN_IF_ERROR(check_aligned(op, "output delta", delta));
  const std::size_t rows = batch.rows;
  float loss_sum = 0.0f;
  TERN_RETURN_IF_ERROR(load_and_forward(op, batch, 1.0f / static_cast<float>(rows), &loss_sum));
  propagate_deltas(layer, rows);
  const LayerSpec& ls = spec_.layers[layer];
  std::memcpy(u, points_[layer], rows * ls.in * sizeof(float));
  std::memcpy(delta, deltas_[layer + 1], rows * ls.out * sizeof(float));
  return Status();
}

}  // namespace tern
