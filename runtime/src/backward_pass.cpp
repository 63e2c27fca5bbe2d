// SPDX-License-Identifier: Apache-2.0
// The backward pass (model.h has the words): for each layer from the last
// down, propagate its delta, then accumulate its parameter gradients — into
// the gradient buffers, or with a fused update straight into the optimizer a
// block of W at a time (optimizer_step.cpp).
#include <cstring>

#include "optimizer_step.h"
#include "portable_ops.h"
#include "tern/kernels/kernel_table.h"
#include "tern/runtime/model.h"

namespace tern {

// Propagate: layer l's share of the backward pass without its parameter
// gradients. The activation derivative is applied in place on the delta of
// point l+1 (Dense), and with `to_input` dL/d(point l) is written to
// deltas_[l], plus the deltas of the skip connections that read point l.
void Model::propagate_delta(std::uint32_t l, std::size_t rows, bool to_input) {
  const KernelTable& k = kernels_of(isa_);
  const LayerSpec& ls = spec_.layers[l];
  const float* weight = buffer(l, LayerBuffer::kWeight);
  const std::size_t m = ls.out, kin = ls.in;
  float* d = deltas_[l + 1];
  const float* x = points_[l];
  const float* y = points_[l + 1];
  float* dx = to_input ? deltas_[l] : nullptr;
  switch (ls.kind) {
    case LayerKind::kDense:
      if (ls.act == Pointwise::kRelu) {
        // relu'(z) = z > 0, and y = relu(z) > 0 exactly when z > 0.
        k.pointwise_backward_f32(Pointwise::kRelu, rows, m, y, m, y, m, d, m, d, m);
      } else if (ls.act != Pointwise::kIdentity) {
        k.pointwise_backward_f32(ls.act, rows, m, buffer(l, LayerBuffer::kPreActivation), m, y, m,
                                 d, m, d, m);
      }
      if (dx != nullptr) k.backprop_rows_f32(rows, kin, m, d, m, weight, m, dx, kin);
      break;
    case LayerKind::kActivation:
      if (dx != nullptr) k.pointwise_backward_f32(ls.act, rows, m, x, m, y, m, d, m, dx, m);
      break;
    case LayerKind::kLayerNorm:
      if (dx != nullptr) {
        ops::layer_norm_backward(rows, m, x, m, buffer(l, LayerBuffer::kMean),
                                 buffer(l, LayerBuffer::kRstd), weight, d, m, dx, m, nullptr,
                                 nullptr);
      }
      break;
    case LayerKind::kResidual:
      if (dx != nullptr) std::memcpy(dx, d, rows * m * sizeof(float));
      break;
  }
  if (dx != nullptr) add_skip_deltas(l, rows);
}

// Deltas of the residual layers that read point l, added to point l's.
void Model::add_skip_deltas(std::uint32_t l, std::size_t rows) {
  const std::size_t width = spec_.width(l);
  for (std::uint32_t r = l + 1; r < spec_.layer_count; ++r) {
    const LayerSpec& rs = spec_.layers[r];
    if (rs.kind == LayerKind::kResidual && rs.from == l) {
      ops::accumulate_rows(rows, width, deltas_[r + 1], width, deltas_[l], width);
    }
  }
}

// Propagate every layer from the loss down to layer `stop` (not from layer
// `stop` to the layer below). No parameter gradient is touched.
void Model::propagate_deltas(std::uint32_t stop, std::size_t rows) {
  for (std::uint32_t l = spec_.layer_count; l-- > stop;) propagate_delta(l, rows, l > stop);
}

// The whole backward pass on `rows` rows after forward_and_loss(): layer by
// layer, propagate, then the layer's parameter gradients. With `fused`
// (GradientPath::kFused) a Dense layer's weights are updated instead of
// getting a gradient, block by block, after backprop_rows has used the old W.
void Model::backward_pass(std::size_t rows, const UpdateConstants* fused) {
  const KernelTable& k = kernels_of(isa_);
  zero_gradients_but_dense_weights();
  float* scratch = rank1_scratch(rows);
  for (std::uint32_t l = spec_.layer_count; l-- > 0;) {
    // Layer 0 propagates only to the input gradient (spec.input_gradient).
    propagate_delta(l, rows, l >= 1 || deltas_[0] != nullptr);
    const LayerSpec& ls = spec_.layers[l];
    const std::size_t m = ls.out, kin = ls.in;
    const float* d = deltas_[l + 1];
    const float* x = points_[l];
    if (ls.kind == LayerKind::kDense) {
      k.column_sums_accumulate_f32(rows, m, 1.0f, d, m, buffer(l, LayerBuffer::kBiasGrad));
      if (fused == nullptr) {
        k.rank1_gradient_f32(rows, kin, m, 1.0f, x, kin, d, m,
                             buffer(l, LayerBuffer::kWeightGrad), m, scratch);
      } else {
        (this->*step_parts_->update_weights_fused)(l, rows, x, kin, d, m, 1.0f, 0.0f, *fused);
      }
    } else if (ls.kind == LayerKind::kLayerNorm) {
      ops::layer_norm_backward(rows, m, x, m, buffer(l, LayerBuffer::kMean),
                               buffer(l, LayerBuffer::kRstd), buffer(l, LayerBuffer::kWeight), d,
                               m, nullptr, m, buffer(l, LayerBuffer::kWeightGrad),
                               buffer(l, LayerBuffer::kBiasGrad));
    }
  }
  gradient_rows_ = rows;
}

}  // namespace tern
