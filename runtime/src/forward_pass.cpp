// SPDX-License-Identifier: Apache-2.0
// The forward pass: point l+1 = layer l (point l), for inference (forward;
// infer and predict run it in chunks, chunked_inference.cpp) and as the
// first part of a training step. Shapes were validated by Model::build(),
// so the dense-layer kernels are called through the kernel table without
// further checks.
#include <cstring>

#include "input_checks.h"
#include "portable_ops.h"
#include "tern/kernels/kernel_table.h"
#include "tern/runtime/model.h"

namespace tern {

void Model::run_forward(const float* x0, std::size_t ld0, std::size_t rows) {
  const KernelTable& k = kernels_of(isa_);
  const bool training = spec_.mode == Mode::kTraining;
  float* scratch = buffer(ModelBuffer::kScratch).data;
  backward_rows_ = 0;  // forward() alone sets it, after this run
  const float* in = x0;
  std::size_t ld_in = ld0;
  for (std::uint32_t l = 0; l < spec_.layer_count; ++l) {
    const LayerSpec& ls = spec_.layers[l];
    const float* weight = buffer(l, LayerBuffer::kWeight);
    const float* bias = buffer(l, LayerBuffer::kBias);
    const std::size_t m = ls.out;
    float* out = points_[l + 1];
    switch (ls.kind) {
      case LayerKind::kDense:
        if (ls.act == Pointwise::kIdentity || ls.act == Pointwise::kRelu) {
          k.gemm_rows_f32(rows, ls.in, m, in, ld_in, weight, m, bias, out, m,
                          ls.act == Pointwise::kRelu ? Activation::kRelu : Activation::kNone,
                          scratch);
        } else {
          // Training keeps the pre-activation for the derivative; inference
          // applies the function in place.
          float* z = training ? buffer(l, LayerBuffer::kPreActivation) : out;
          k.gemm_rows_f32(rows, ls.in, m, in, ld_in, weight, m, bias, z, m, Activation::kNone,
                          scratch);
          k.pointwise_forward_f32(ls.act, rows, m, z, m, out, m);
        }
        break;
      case LayerKind::kActivation:
        k.pointwise_forward_f32(ls.act, rows, m, in, ld_in, out, m);
        break;
      case LayerKind::kLayerNorm:
        ops::layer_norm_forward(rows, m, in, ld_in, weight, bias, out, m,
                                buffer(l, LayerBuffer::kMean), buffer(l, LayerBuffer::kRstd));
        break;
      case LayerKind::kResidual: {
        const bool from_input = ls.from == 0;
        const float* skip = from_input ? x0 : points_[ls.from];
        ops::add_rows(rows, m, in, ld_in, skip, from_input ? ld0 : m, out, m);
        break;
      }
    }
    in = out;
    ld_in = m;
  }
  rows_done_ = rows;
}

Status Model::forward(const float* x, std::size_t ldx, std::size_t rows) {
  const char* op = "forward";
  if (!built()) {
    return Status::error(StatusCode::kFailedPrecondition, "%s: the model is not built", op);
  }
  TERN_RETURN_IF_ERROR(check_rows(op, rows, spec_.rows));
  TERN_RETURN_IF_ERROR(check_input(op, x, ldx, spec_.input_width, rows));
  for (std::size_t i = 0; i < rows; ++i) {
    const std::size_t j = first_non_finite(x + i * ldx, spec_.input_width);
    if (j != spec_.input_width) {
      return Status::error(StatusCode::kNonFinite, "%s: input row %zu column %zu is not finite",
                           op, i, j);
    }
  }
  if (spec_.mode == Mode::kTraining) {
    // backward() needs the layers' inputs, point 0 included (layer 0's
    // weight gradient, a residual reading the input): a training model keeps
    // its own copy of the caller's rows.
    for (std::size_t i = 0; i < rows; ++i) {
      // memmove: x may be a view of the arena (point(0) of an earlier pass).
      std::memmove(points_[0] + i * spec_.input_width, x + i * ldx,
                  spec_.input_width * sizeof(float));
    }
    run_forward(points_[0], spec_.input_width, rows);
  } else {
    run_forward(x, ldx, rows);
  }
  // Finite inputs can still give Inf or NaN outputs (weights or inputs near
  // float's limit overflow a sum, Inf - Inf is NaN): an answer that is not a
  // number is an error, not a result (predict would map it to a class).
  const MatrixView<const float> y = output();
  for (std::size_t i = 0; i < rows; ++i) {
    const std::size_t j = first_non_finite(y.row(i), y.cols);
    if (j != y.cols) {
      return Status::error(StatusCode::kNonFinite,
                           "%s: output row %zu column %zu is %g (the weights or inputs overflow "
                           "float)",
                           op, i, j, format_arg(y(i, j)));
    }
  }
  if (spec_.mode == Mode::kTraining) backward_rows_ = rows;
  return Status();
}

}  // namespace tern
