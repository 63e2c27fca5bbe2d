// SPDX-License-Identifier: Apache-2.0
// Clipping and noise settings (ClipParams in tern/runtime/model.h), and
// global-norm clipping of stored gradients. Per-example clipping and the
// noise are applied where the gradients are formed from factors
// (example_gradients.cpp).
#include <cmath>

#include "tern/kernels/kernel_table.h"
#include "tern/runtime/model.h"

namespace tern {

namespace {
bool non_negative_finite(float v) { return std::isfinite(v) && v >= 0.0f; }
}  // namespace

Status Model::set_clipping(const ClipParams& p) {
  const char* op = "set_clipping";
  TERN_RETURN_IF_ERROR(check_training(op));
  if (!non_negative_finite(p.example_clip) || !non_negative_finite(p.noise_multiplier) ||
      !non_negative_finite(p.global_clip)) {
    return Status::error(StatusCode::kInvalidArgument,
                         "%s: example clip %g, noise multiplier %g and global clip %g must be "
                         "finite and >= 0",
                         op, static_cast<double>(p.example_clip),
                         static_cast<double>(p.noise_multiplier),
                         static_cast<double>(p.global_clip));
  }
  if (p.example_clip > 0.0f && spec_.example_rows == 0) {
    return Status::error(StatusCode::kFailedPrecondition,
                         "%s: per-example clipping needs per-example norms: build the spec with "
                         ".with_example_gradients()",
                         op);
  }
  if (p.divisor != ExampleGradientDivisor::kRows && p.divisor != ExampleGradientDivisor::kExamples) {
    return Status::error(StatusCode::kInvalidArgument,
                         "%s: divisor %u is not an ExampleGradientDivisor (0 rows, 1 examples)", op,
                         static_cast<unsigned>(p.divisor));
  }
  if (p.divisor == ExampleGradientDivisor::kExamples && spec_.example_rows == 0) {
    return Status::error(StatusCode::kFailedPrecondition,
                         "%s: dividing by examples needs examples: build the spec with "
                         ".with_example_gradients() (example_rows is 0)",
                         op);
  }
  if (p.noise_multiplier > 0.0f && !(p.example_clip > 0.0f)) {
    return Status::error(StatusCode::kInvalidArgument,
                         "%s: noise is scaled by the per-example clip bound, which is 0", op);
  }
  // The noise kernel multiplies the deviation by sqrt(2): keep that finite
  // (1.5 > sqrt(2) leaves room for the kernel's rounding).
  if (!std::isfinite(p.noise_multiplier * p.example_clip * 1.5f)) {
    return Status::error(StatusCode::kInvalidArgument,
                         "%s: noise deviation %g * %g overflows float", op,
                         static_cast<double>(p.noise_multiplier),
                         static_cast<double>(p.example_clip));
  }
  if (p.global_clip > 0.0f && gradient_path_ == GradientPath::kFused) {
    return Status::error(StatusCode::kFailedPrecondition,
                         "%s: a fused update changes each layer before the next layer's gradient "
                         "exists, so the global norm is unknown; build the spec with "
                         ".with_example_gradients() (norms from the factors first)",
                         op);
  }
  clip_ = p;
  return Status();
}

// Global-norm clipping of stored gradients (GradientPath::kStored): the
// norm of the gradient group, one fixed-order reduction through
// backprop_rows (a 1 x 1 product of the group with itself; the padding
// between tensors is zero), then one multiply per element.
// Called with clip_.global_clip > 0 (stored_gradients()).
void Model::clip_stored_gradients() {
  const ModelBufferView& gradients = buffer(ModelBuffer::kGradients);
  float* g = gradients.data;
  const std::size_t count = gradients.bytes / sizeof(float);
  float sq = 0.0f;
  kernels_of(isa_).backprop_rows_f32(1, 1, count, g, count, g, count, &sq, 1);
  gradient_norm_ = std::sqrt(sq);
  if (!(gradient_norm_ > clip_.global_clip)) return;
  const float c = clip_.global_clip / gradient_norm_;
  for (std::size_t i = 0; i < count; ++i) g[i] *= c;
}

}  // namespace tern
