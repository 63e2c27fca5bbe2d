// SPDX-License-Identifier: Apache-2.0
// The backward pass from the caller's dL/dY (Model::backward) and the
// accessors of what a backward pass leaves: the deltas that still hold
// dL/d(point), the input gradient dL/dX and the output gradient dL/dY
// (spec.input_gradient). The contracts are in model.h.
#include <cstring>

#include "input_checks.h"
#include "tern/runtime/model.h"

namespace tern {

// Everything backward() checks before it changes anything.
Status Model::check_backward(const char* op, const float* dl_dy, std::size_t ldg,
                             std::size_t rows) const {
  TERN_RETURN_IF_ERROR(check_training(op));
  const char* option = spec_.fused_update            ? "fused_update"
                       : spec_.example_rows != 0     ? "example_rows"
                       : spec_.accumulation_rows != 0 ? "accumulation_rows"
                                                      : nullptr;
  if (option != nullptr) {
    return Status::error(StatusCode::kFailedPrecondition,
                         "%s: the spec has %s, whose step forms no stored gradient from a "
                         "caller's dL/dY; build without it",
                         op, option);
  }
  if (backward_rows_ == 0) {
    return Status::error(StatusCode::kFailedPrecondition,
                         "%s: no forward() to differentiate (a training step, evaluation, "
                         "inference, parameter change or backward() ran since, or none did); "
                         "call forward() first",
                         op);
  }
  if (rows != backward_rows_) {
    return Status::error(StatusCode::kInvalidArgument,
                         "%s: %zu rows of dL/dY, but the last forward() ran %zu rows", op, rows,
                         backward_rows_);
  }
  const std::size_t width = spec_.output_width();
  if (dl_dy == nullptr) {
    return Status::error(StatusCode::kInvalidArgument, "%s: dl_dy is null", op);
  }
  if (ldg < width) {
    return Status::error(StatusCode::kInvalidArgument,
                         "%s: dl_dy row stride %zu is smaller than the output width %zu", op, ldg,
                         width);
  }
  TERN_RETURN_IF_ERROR(check_rows_extent(op, "dl_dy", dl_dy, rows, width, ldg));
  for (std::size_t i = 0; i < rows; ++i) {
    const std::size_t j = first_non_finite(dl_dy + i * ldg, width);
    if (j != width) {
      return Status::error(StatusCode::kNonFinite, "%s: dl_dy row %zu column %zu is not finite",
                           op, i, j);
    }
  }
  return Status();
}

Status Model::backward(const float* dl_dy, std::size_t ldg, std::size_t rows) {
  const char* op = "backward";
  TERN_RETURN_IF_ERROR(check_backward(op, dl_dy, ldg, rows));
  TERN_RETURN_IF_ERROR(use_step_parts(op, every_step_part()));
  const std::size_t width = spec_.output_width();
  float* const out_delta = deltas_[spec_.layer_count];
  // memmove: dl_dy may be a view of the arena (output_gradient() of the
  // last pass, given back to reproduce it).
  for (std::size_t i = 0; i < rows; ++i) {
    std::memmove(out_delta + i * width, dl_dy + i * ldg, width * sizeof(float));
  }
  const ModelBufferView& kept = buffer(ModelBuffer::kOutputGradient);
  if (kept.data != nullptr) std::memcpy(kept.data, out_delta, rows * width * sizeof(float));
  stored_gradients(rows);
  backward_rows_ = 0;  // the pass changed the pre-activation deltas in place
  return Status();
}

// Whether deltas_[p] holds dL/d(point p) of the last backward pass (the
// cases are listed at delta() in model.h).
bool Model::delta_holds(std::uint32_t p) const {
  if (gradient_rows_ == 0 || deltas_[p] == nullptr) return false;
  if (gradient_path_ == GradientPath::kFromFactors) return false;
  if (p >= 1) {
    const LayerSpec& producer = spec_.layers[p - 1];
    if (producer.kind == LayerKind::kDense && producer.act != Pointwise::kIdentity) return false;
  }
  // Slots are shared from their start (plan.h), so a delta written later
  // into this buffer (a lower point) has the same address.
  for (std::uint32_t q = 1; q < p; ++q) {
    if (deltas_[q] == deltas_[p]) return false;
  }
  return true;
}

MatrixView<const float> Model::input_gradient() const {
  if (!built() || !delta_holds(0)) return {};
  const std::size_t w = spec_.input_width;
  return MatrixView<const float>{deltas_[0], gradient_rows_, w, w};
}

MatrixView<const float> Model::output_gradient() const {
  if (!built() || gradient_rows_ == 0) return {};
  const ModelBufferView& kept = buffer(ModelBuffer::kOutputGradient);
  if (kept.data == nullptr) return {};
  const std::size_t w = spec_.output_width();
  return MatrixView<const float>{kept.data, gradient_rows_, w, w};
}

}  // namespace tern
