// The passes of a model: forward, loss, backward, optimizer update. Shapes
// were validated by Model::build(), so the dense-layer kernels are called
// through the kernel table without further checks.
#include <cstring>
#include <limits>

#include "ops.h"
#include "tern/kernels/elementwise.h"
#include "tern/runtime/model.h"

namespace tern {

namespace {

Status check_rows(const char* op, std::size_t rows, std::uint32_t capacity) {
  if (rows == 0 || rows > capacity) {
    return Status::error(StatusCode::kInvalidArgument,
                         "%s: %zu rows; the model was built for 1..%u rows per step", op, rows,
                         static_cast<unsigned>(capacity));
  }
  return Status();
}

Status check_input(const char* op, const float* x, std::size_t ldx, std::size_t width) {
  if (x == nullptr) return Status::error(StatusCode::kInvalidArgument, "%s: input is null", op);
  if (ldx < width) {
    return Status::error(StatusCode::kInvalidArgument,
                         "%s: input row stride %zu is smaller than the input width %zu", op, ldx,
                         width);
  }
  return Status();
}

// Index of the first non-finite value of a row, or `width` if none.
std::size_t first_non_finite(const float* row, std::size_t width) {
  for (std::size_t j = 0; j < width; ++j) {
    if (!ops::is_finite(row[j])) return j;
  }
  return width;
}

}  // namespace

Status Model::check_training(const char* op) const {
  if (!built()) {
    return Status::error(StatusCode::kFailedPrecondition, "%s: the model is not built", op);
  }
  if (spec_.mode != Mode::kTraining) {
    return Status::error(StatusCode::kFailedPrecondition,
                         "%s: the model was built for inference (Mode::kInference): it has no "
                         "gradients or optimizer state",
                         op);
  }
  return Status();
}

// ---------------------------------------------------------------------------
// Forward
// ---------------------------------------------------------------------------

void Model::run_forward(const float* x0, std::size_t ld0, std::size_t rows) {
  const KernelTable& k = *kernels_;
  const bool training = spec_.mode == Mode::kTraining;
  const float* in = x0;
  std::size_t ld_in = ld0;
  for (std::uint32_t l = 0; l < spec_.layer_count; ++l) {
    const LayerSpec& ls = spec_.layers[l];
    const LayerBuffers& b = layers_[l];
    const std::size_t m = ls.out;
    float* out = points_[l + 1];
    switch (ls.kind) {
      case LayerKind::kDense:
        if (ls.act == Pointwise::kIdentity || ls.act == Pointwise::kRelu) {
          k.gemm_rows_f32(rows, ls.in, m, in, ld_in, b.weight, m, b.bias, out, m,
                          ls.act == Pointwise::kRelu ? Activation::kRelu : Activation::kNone,
                          scratch_);
        } else {
          // Training keeps the pre-activation for the derivative; inference
          // applies the function in place.
          float* z = training ? b.pre : out;
          k.gemm_rows_f32(rows, ls.in, m, in, ld_in, b.weight, m, b.bias, z, m, Activation::kNone,
                          scratch_);
          k.pointwise_forward_f32(ls.act, rows, m, z, m, out, m);
        }
        break;
      case LayerKind::kActivation:
        k.pointwise_forward_f32(ls.act, rows, m, in, ld_in, out, m);
        break;
      case LayerKind::kLayerNorm:
        ops::layer_norm_forward(rows, m, in, ld_in, b.weight, b.bias, out, m, b.mean, b.rstd);
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
  TERN_RETURN_IF_ERROR(check_input(op, x, ldx, spec_.input_width));
  for (std::size_t i = 0; i < rows; ++i) {
    const std::size_t j = first_non_finite(x + i * ldx, spec_.input_width);
    if (j != spec_.input_width) {
      return Status::error(StatusCode::kNonFinite, "%s: input row %zu column %zu is not finite",
                           op, i, j);
    }
  }
  run_forward(x, ldx, rows);
  return Status();
}

Status Model::predict(const float* x, std::size_t ldx, std::size_t rows, std::uint32_t* classes) {
  if (classes == nullptr) {
    return Status::error(StatusCode::kInvalidArgument, "predict: classes is null");
  }
  TERN_RETURN_IF_ERROR(forward(x, ldx, rows));
  const MatrixView<const float> y = output();
  for (std::size_t i = 0; i < rows; ++i) {
    std::uint32_t best = 0;
    for (std::size_t j = 1; j < y.cols; ++j) {
      if (y(i, j) > y(i, best)) best = static_cast<std::uint32_t>(j);
    }
    classes[i] = best;
  }
  return Status();
}

// ---------------------------------------------------------------------------
// Training
// ---------------------------------------------------------------------------

// Copies the batch into point 0 and the label buffer, validating as it goes.
Status Model::load_batch(const Batch& batch) {
  const char* op = "train";
  const std::size_t rows = batch.rows;
  const std::uint32_t in_w = spec_.input_width, out_w = spec_.output_width();
  TERN_RETURN_IF_ERROR(check_rows(op, rows, spec_.rows));
  TERN_RETURN_IF_ERROR(check_input(op, batch.x, batch.ldx, in_w));
  const bool sce = spec_.loss == LossKind::kSoftmaxCrossEntropy;
  if (sce && batch.labels == nullptr) {
    return Status::error(StatusCode::kInvalidArgument,
                         "%s: softmax cross-entropy needs labels, and batch.labels is null", op);
  }
  if (!sce && (batch.targets == nullptr || batch.ldt < out_w)) {
    return Status::error(StatusCode::kInvalidArgument,
                         "%s: MSE needs targets with a row stride >= %u (targets %s, stride %zu)",
                         op, static_cast<unsigned>(out_w), batch.targets == nullptr ? "null" : "given",
                         batch.ldt);
  }
  if (spec_.example_rows != 0 && rows % spec_.example_rows != 0) {
    return Status::error(StatusCode::kInvalidArgument,
                         "%s: %zu rows are not whole examples of %u rows (spec.example_rows)", op,
                         rows, static_cast<unsigned>(spec_.example_rows));
  }
  if (batch.indices != nullptr && batch.samples == 0) {
    return Status::error(StatusCode::kInvalidArgument,
                         "%s: batch.indices given but batch.samples is 0", op);
  }
  float* x0 = points_[0];
  for (std::size_t i = 0; i < rows; ++i) {
    std::size_t s = i;
    if (batch.indices != nullptr) {
      s = batch.indices[i];
      if (s >= batch.samples) {
        return Status::error(StatusCode::kInvalidArgument,
                             "%s: batch row %zu selects sample %zu of %zu", op, i, s,
                             batch.samples);
      }
    }
    const float* src = batch.x + s * batch.ldx;
    const std::size_t j = first_non_finite(src, in_w);
    if (j != in_w) {
      return Status::error(StatusCode::kNonFinite,
                           "%s: input sample %zu (batch row %zu) column %zu is not finite", op, s,
                           i, j);
    }
    std::memcpy(x0 + i * in_w, src, in_w * sizeof(float));
    if (sce) {
      const std::uint32_t label = batch.labels[s];
      if (label >= out_w) {
        return Status::error(StatusCode::kInvalidArgument,
                             "%s: label %u of sample %zu is out of range for %u classes", op,
                             static_cast<unsigned>(label), s, static_cast<unsigned>(out_w));
      }
      static_cast<std::uint32_t*>(labels_)[i] = label;
    } else {
      const float* t = batch.targets + s * batch.ldt;
      const std::size_t jt = first_non_finite(t, out_w);
      if (jt != out_w) {
        return Status::error(StatusCode::kNonFinite,
                             "%s: target of sample %zu column %zu is not finite", op, s, jt);
      }
      std::memcpy(static_cast<float*>(labels_) + i * out_w, t, out_w * sizeof(float));
    }
  }
  return Status();
}

// The plain backward pass: layer by layer, each layer's delta propagated
// (propagate_layer), then its parameter gradients accumulated. With a fused
// update (sgd/adam non-null) a Dense layer's weights are updated instead,
// block by block, after backprop_rows has used the old W.
void Model::run_backward(std::size_t rows, const SgdParams* sgd, const AdamStepConstants* adam) {
  const KernelTable& k = *kernels_;
  std::memset(gradients_, 0, gradient_bytes_);
  float* rank1_scratch = rank1_accumulate_scratch_floats(rows) != 0 ? scratch_ : nullptr;
  for (std::uint32_t l = spec_.layer_count; l-- > 0;) {
    propagate_layer(l, rows, l >= 1);
    const LayerSpec& ls = spec_.layers[l];
    const LayerBuffers& b = layers_[l];
    const std::size_t m = ls.out, kin = ls.in;
    const float* d = deltas_[l + 1];
    const float* x = points_[l];
    if (ls.kind == LayerKind::kDense) {
      k.column_sums_accumulate_f32(rows, m, 1.0f, d, m, b.bias_grad);
      if (b.weight_grad != nullptr) {
        k.rank1_accumulate_f32(rows, kin, m, 1.0f, x, kin, d, m, b.weight_grad, m, rank1_scratch);
      } else {
        update_weights_fused(l, rows, x, kin, d, m, 1.0f, 0.0f, sgd, adam);
      }
    } else if (ls.kind == LayerKind::kLayerNorm) {
      ops::layer_norm_backward(rows, m, x, m, b.mean, b.rstd, b.weight, d, m, nullptr, m,
                               b.weight_grad, b.bias_grad);
    }
  }
}

// Layer l's share of the delta propagation: its activation derivative
// applied in place on its delta (Dense), and with `to_input` dL/d(its
// input) written to deltas_[l], plus the deltas of the skip connections
// that read point l. No parameter gradient is touched.
void Model::propagate_layer(std::uint32_t l, std::size_t rows, bool to_input) {
  const KernelTable& k = *kernels_;
  const LayerSpec& ls = spec_.layers[l];
  const LayerBuffers& b = layers_[l];
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
        k.pointwise_backward_f32(ls.act, rows, m, b.pre, m, y, m, d, m, d, m);
      }
      if (dx != nullptr) k.backprop_rows_f32(rows, kin, m, d, m, b.weight, m, dx, kin);
      break;
    case LayerKind::kActivation:
      if (dx != nullptr) k.pointwise_backward_f32(ls.act, rows, m, x, m, y, m, d, m, dx, m);
      break;
    case LayerKind::kLayerNorm:
      if (dx != nullptr) {
        ops::layer_norm_backward(rows, m, x, m, b.mean, b.rstd, b.weight, d, m, dx, m, nullptr,
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

// Forward pass and loss on the loaded batch; writes the delta of the output
// point. The loss sum may be non-finite (the caller decides what that means).
void Model::forward_loss(std::size_t rows, float scale, float* loss_sum) {
  run_forward(points_[0], spec_.input_width, rows);
  const std::uint32_t L = spec_.layer_count;
  const std::size_t m = spec_.output_width();
  *loss_sum = 0.0f;
  if (spec_.loss == LossKind::kSoftmaxCrossEntropy) {
    kernels_->softmax_cross_entropy_f32(rows, m, points_[L], m,
                                        static_cast<const std::uint32_t*>(labels_), scale,
                                        deltas_[L], m, loss_sum);
  } else {
    kernels_->mse_f32(rows, m, points_[L], m, static_cast<const float*>(labels_), m, scale,
                      deltas_[L], m, loss_sum);
  }
}

// The output delta is the gradient of the mean loss over the rows, except
// where the rank-1 variants need each example's own gradient first (example
// norms, accumulation): those divide by the rows when they form the step.
float Model::loss_gradient_scale(std::size_t rows) const {
  if (spec_.example_rows != 0 || spec_.accumulation_rows != 0) return 1.0f;
  return 1.0f / static_cast<float>(rows);
}

// Loads the batch and runs the forward pass and the loss (output delta
// scaled by grad_scale). The inputs were checked finite, so a non-finite
// loss means the weights or activations have blown up: the caller stops
// before the gradients spread it.
Status Model::load_and_forward(const char* op, const Batch& batch, float grad_scale,
                               float* loss_sum) {
  TERN_RETURN_IF_ERROR(load_batch(batch));
  forward_loss(batch.rows, grad_scale, loss_sum);
  if (!ops::is_finite(*loss_sum)) {
    return Status::error(StatusCode::kNonFinite,
                         "%s: the loss is not finite (training diverged; lower the learning "
                         "rate?); nothing was changed",
                         op);
  }
  return Status();
}

Status Model::compute_gradients(const Batch& batch, float* mean_loss) {
  const char* op = "compute_gradients";
  TERN_RETURN_IF_ERROR(check_training(op));
  if (spec_.fused_update || spec_.accumulation_rows != 0) {
    return Status::error(StatusCode::kFailedPrecondition,
                         "%s: the spec has %s, so gradients are never stored; use %s", op,
                         spec_.fused_update ? "a fused update" : "accumulation",
                         spec_.fused_update ? "train_step()" : "accumulate() and flush()");
  }
  const std::size_t rows = batch.rows;
  float loss_sum = 0.0f;
  TERN_RETURN_IF_ERROR(load_and_forward(op, batch, loss_gradient_scale(rows), &loss_sum));
  if (spec_.example_rows != 0) {
    std::memset(gradients_, 0, gradient_bytes_);
    propagate(rows);
    finish_step(rows, false, nullptr, nullptr);
  } else {
    run_backward(rows, nullptr, nullptr);
    clip_gradient_buffers();
  }
  if (mean_loss != nullptr) *mean_loss = loss_sum * (1.0f / static_cast<float>(rows));
  return Status();
}

// ++steps_ and the step's optimizer constants: [0] for tensors without
// weight decay, [1] for Dense weights.
Status Model::begin_update(SgdParams* sgd, AdamStepConstants* adam) {
  ++steps_;
  for (int decayed = 0; decayed < 2; ++decayed) {
    const float decay = decayed ? opt_.weight_decay : 0.0f;
    sgd[decayed].learning_rate = opt_.learning_rate;
    sgd[decayed].momentum = opt_.momentum;
    sgd[decayed].weight_decay = decay;
    adam[decayed] = AdamStepConstants{};
    if (spec_.optimizer != OptimizerKind::kSgd) {
      AdamParams p;
      p.learning_rate = opt_.learning_rate;
      p.beta1 = opt_.beta1;
      p.beta2 = opt_.beta2;
      p.epsilon = opt_.epsilon;
      p.weight_decay = decay;
      p.decoupled = spec_.optimizer == OptimizerKind::kAdamW;
      p.step = steps_;
      const Status s = adam_step_constants(p, &adam[decayed]);
      if (!s.ok()) {
        --steps_;
        return s;
      }
    }
  }
  return Status();
}

// The optimizer on `count` elements of a tensor from `offset` on, with the
// gradient `grad` (count floats).
void Model::apply_optimizer(std::uint32_t layer, bool is_weight, std::size_t offset,
                            std::size_t count, const float* grad, const SgdParams* sgd,
                            const AdamStepConstants* adam) {
  const LayerBuffers& b = layers_[layer];
  const int decayed = (is_weight && spec_.layers[layer].kind == LayerKind::kDense) ? 1 : 0;
  float* w = (is_weight ? b.weight : b.bias) + offset;
  float* m1 = (is_weight ? b.weight_m : b.bias_m) + offset;
  if (spec_.optimizer == OptimizerKind::kSgd) {
    kernels_->sgd_momentum_f32(count, w, grad, m1, sgd[decayed]);
  } else {
    float* m2 = (is_weight ? b.weight_v : b.bias_v) + offset;
    kernels_->adam_f32(count, w, grad, m1, m2, adam[decayed]);
  }
}

// The optimizer on every tensor that has a gradient buffer (all of them,
// except Dense weights under a fused update).
void Model::apply_stored_gradients(const SgdParams* sgd, const AdamStepConstants* adam) {
  for (std::uint32_t l = 0; l < spec_.layer_count; ++l) {
    const LayerSpec& ls = spec_.layers[l];
    if (!has_parameters(ls.kind)) continue;
    const LayerBuffers& b = layers_[l];
    if (b.weight_grad != nullptr) apply_optimizer(l, true, 0, weight_count(l), b.weight_grad, sgd, adam);
    apply_optimizer(l, false, 0, ls.out, b.bias_grad, sgd, adam);
  }
}

Status Model::apply_gradients() {
  const char* op = "apply_gradients";
  TERN_RETURN_IF_ERROR(check_training(op));
  if (spec_.fused_update || spec_.accumulation_rows != 0) {
    return Status::error(StatusCode::kFailedPrecondition,
                         "%s: the spec has %s, so there are no stored gradients to apply", op,
                         spec_.fused_update ? "a fused update" : "accumulation");
  }
  SgdParams sgd[2];
  AdamStepConstants adam[2];
  TERN_RETURN_IF_ERROR(begin_update(sgd, adam));
  apply_stored_gradients(sgd, adam);
  return Status();
}

// Backward pass and optimizer step after forward_loss() on `rows` rows, for
// every spec without accumulation.
Status Model::backward_and_update(std::size_t rows) {
  if (spec_.example_rows == 0 && !spec_.fused_update) {
    run_backward(rows, nullptr, nullptr);
    clip_gradient_buffers();
    return apply_gradients();
  }
  SgdParams sgd[2];
  AdamStepConstants adam[2];
  TERN_RETURN_IF_ERROR(begin_update(sgd, adam));
  if (spec_.example_rows != 0) {
    std::memset(gradients_, 0, gradient_bytes_);
    propagate(rows);
    finish_step(rows, false, sgd, adam);
  } else {
    run_backward(rows, sgd, adam);
  }
  apply_stored_gradients(sgd, adam);
  return Status();
}

Status Model::train_step(const Batch& batch, float* mean_loss) {
  if (snapshot_ != nullptr) return guarded_step(batch, mean_loss);
  if (spec_.accumulation_rows != 0) {
    TERN_RETURN_IF_ERROR(check_training("train_step"));
    if (accumulated_ != 0) {
      return Status::error(StatusCode::kFailedPrecondition,
                           "train_step: %u accumulated rows are waiting; flush() them first",
                           static_cast<unsigned>(accumulated_));
    }
    TERN_RETURN_IF_ERROR(accumulate(batch, mean_loss));
    return flush();
  }
  if (!spec_.fused_update && spec_.example_rows == 0) {
    TERN_RETURN_IF_ERROR(compute_gradients(batch, mean_loss));
    return apply_gradients();
  }
  const char* op = "train_step";
  TERN_RETURN_IF_ERROR(check_training(op));
  const std::size_t rows = batch.rows;
  float loss_sum = 0.0f;
  TERN_RETURN_IF_ERROR(load_and_forward(op, batch, loss_gradient_scale(rows), &loss_sum));
  if (mean_loss != nullptr) *mean_loss = loss_sum * (1.0f / static_cast<float>(rows));
  return backward_and_update(rows);
}

// ---------------------------------------------------------------------------
// Divergence guard
// ---------------------------------------------------------------------------

bool Model::state_finite() const {
  // The groups are whole floats (padding is zero), so they can be scanned
  // as flat float arrays.
  const unsigned char* groups[2] = {params_, moments_};
  const std::size_t bytes[2] = {params_bytes_, moments_bytes_};
  for (int g = 0; g < 2; ++g) {
    const float* f = reinterpret_cast<const float*>(groups[g]);
    const std::size_t n = bytes[g] / sizeof(float);
    for (std::size_t i = 0; i < n; ++i) {
      if (!ops::is_finite(f[i])) return false;
    }
  }
  return true;
}

void Model::copy_state(bool to_snapshot) {
  unsigned char* params_copy = snapshot_;
  unsigned char* moments_copy = snapshot_ + params_bytes_;
  if (to_snapshot) {
    std::memcpy(params_copy, params_, params_bytes_);
    std::memcpy(moments_copy, moments_, moments_bytes_);
    snapshot_steps_ = steps_;
  } else {
    std::memcpy(params_, params_copy, params_bytes_);
    std::memcpy(moments_, moments_copy, moments_bytes_);
    steps_ = snapshot_steps_;
  }
}

// The last good state is the one whose forward pass gave a finite loss (and
// whose parameters and moments are finite): it is copied into the snapshot
// after the forward pass and before the update. A step that then makes the
// state non-finite, or a later step whose loss is non-finite (the weights a
// too large update left behind), restores it — undoing the step that broke
// the model, not only the step that noticed.
Status Model::guarded_step(const Batch& batch, float* mean_loss) {
  const char* op = "train_step";
  TERN_RETURN_IF_ERROR(check_training(op));
  // Bad input is the caller's error, not divergence: nothing changes.
  TERN_RETURN_IF_ERROR(load_batch(batch));
  const std::uint32_t step = steps_ + 1;
  const std::size_t rows = batch.rows;
  const float scale = 1.0f / static_cast<float>(rows);
  float loss_sum = std::numeric_limits<float>::quiet_NaN();
  bool diverged = !state_finite();
  if (!diverged) {
    forward_loss(rows, loss_gradient_scale(rows), &loss_sum);
    diverged = !ops::is_finite(loss_sum);
  }
  if (!diverged) {
    copy_state(true);
    snapshot_valid_ = true;
    TERN_RETURN_IF_ERROR(backward_and_update(rows));
    diverged = !state_finite();
  }
  const float mean = loss_sum * scale;
  if (mean_loss != nullptr) *mean_loss = mean;
  if (!diverged) return Status();

  if (!snapshot_valid_) {
    return Status::error(StatusCode::kNonFinite,
                         "%s: step %u diverged (mean loss %g) before any good state was saved",
                         op, static_cast<unsigned>(step), static_cast<double>(mean));
  }
  copy_state(false);
  divergence_.last_step = step;
  divergence_.last_loss = mean;
  if (policy_.action == DivergenceAction::kStop ||
      divergence_.recoveries >= policy_.max_recoveries) {
    divergence_.stopped = true;
    return Status::error(StatusCode::kNonFinite,
                         "%s: training diverged at step %u (mean loss %g); restored the state "
                         "after step %u and stopped",
                         op, static_cast<unsigned>(step), static_cast<double>(mean),
                         static_cast<unsigned>(steps_));
  }
  ++divergence_.recoveries;
  divergence_.stopped = false;
  opt_.learning_rate *= policy_.learning_rate_factor;
  return Status();
}

}  // namespace tern
