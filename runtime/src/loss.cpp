// SPDX-License-Identifier: Apache-2.0
// The loss of a training step and its gradient, the delta of the output
// point: softmax cross-entropy or 0.5 * squared error, summed over rows by
// the kernels in a fixed order.
#include <cstring>

#include "portable_ops.h"
#include "tern/kernels/kernel_table.h"
#include "tern/runtime/model.h"

namespace tern {

namespace {

// What MseReduction multiplies tern's half sum 0.5 * sum((p - t)^2) by,
// loss and gradient alike, before the step divides by its rows: 1; 2 / cols
// for PyTorch's mean (the mean over rows becomes sum / (rows * cols)); 2 *
// rows for the sum (the mean over rows becomes the sum; set_optimizer allows
// it only where the step divides by its rows, not per example). Float
// only: widths and rows are at most kMaxDimension = 2^24, exact in float, so
// 2 / cols is one correctly rounded division and 2 * rows is exact; the
// same bits on every ISA, and no soft double arithmetic on a Cortex-M
// (about 2.5 KB of flash in an SGD firmware).
float mse_reduction_factor(MseReduction reduction, std::size_t cols, std::size_t rows) {
  switch (reduction) {
    case MseReduction::kMean: return 2.0f / static_cast<float>(cols);
    case MseReduction::kSum: return 2.0f * static_cast<float>(rows);
    case MseReduction::kHalfSumOverRows: break;
  }
  return 1.0f;
}

}  // namespace

// The forward pass on the loaded batch (point 0), then the loss; writes the
// delta of the output point, scaled by grad_scale. The loss sum may be
// non-finite (the caller decides what that means).
void Model::forward_and_loss(std::size_t rows, float grad_scale, float* loss_sum) {
  run_forward(points_[0], spec_.input_width, rows);
  gradient_rows_ = 0;  // the deltas of the last backward pass are being replaced
  const std::uint32_t L = spec_.layer_count;
  const std::size_t m = spec_.output_width();
  const float* labels = buffer(ModelBuffer::kLabels).data;
  *loss_sum = 0.0f;
  if (spec_.loss == LossKind::kSoftmaxCrossEntropy) {
    kernels_of(isa_).softmax_cross_entropy_f32(rows, m, points_[L], m,
                                        reinterpret_cast<const std::uint32_t*>(labels),
                                        grad_scale, deltas_[L], m, loss_sum);
  } else {
    // The reduction's factor over the half sum (MseReduction, one float
    // multiplication each side; loss_gradient_scale() has the rest).
    const float factor = mse_reduction_factor(opt_.mse_reduction, m, rows);
    kernels_of(isa_).mse_f32(rows, m, points_[L], m, labels, m, grad_scale * factor, deltas_[L],
                             m, loss_sum);
    *loss_sum *= factor;
  }
  // spec.input_gradient: dL/dY kept before the backward pass changes the
  // output delta in place (output_gradient()).
  const ModelBufferView& dl_dy = buffer(ModelBuffer::kOutputGradient);
  if (dl_dy.data != nullptr) std::memcpy(dl_dy.data, deltas_[L], rows * m * sizeof(float));
}

// The output delta is the gradient of the mean loss over the rows, except
// where the gradients are formed from kept factors (example gradients,
// accumulation): those need each example's own gradient first and divide by
// the rows when they form the step.
float Model::loss_gradient_scale(std::size_t rows) const {
  if (gradient_path_ == GradientPath::kFromFactors) return 1.0f;
  return 1.0f / static_cast<float>(rows);
}

// Loads the batch and runs the forward pass and the loss (output delta
// scaled by grad_scale). The inputs were checked finite, so a non-finite
// loss means the weights or activations have blown up: the caller stops
// before the gradients spread it.
Status Model::load_and_forward(const char* op, const Batch& batch, float grad_scale,
                               float* loss_sum) {
  // set_optimizer refuses this on a built model; settings given before
  // build() are kept by it, so the step checks again.
  if (opt_.mse_reduction == MseReduction::kSum && spec_.loss == LossKind::kMse &&
      gradient_path_ == GradientPath::kFromFactors) {
    return Status::error(StatusCode::kFailedPrecondition,
                         "%s: the MSE sum reduction (2) is not offered with example gradients or "
                         "accumulation (example_rows %u, accumulation_rows %u); nothing was "
                         "changed",
                         op, static_cast<unsigned>(spec_.example_rows),
                         static_cast<unsigned>(spec_.accumulation_rows));
  }
  TERN_RETURN_IF_ERROR(load_batch(batch));
  forward_and_loss(batch.rows, grad_scale, loss_sum);
  if (!ops::is_finite(*loss_sum)) {
    return Status::error(StatusCode::kNonFinite,
                         "%s: the loss is not finite (training diverged; lower the learning "
                         "rate?); nothing was changed",
                         op);
  }
  return Status();
}

}  // namespace tern
