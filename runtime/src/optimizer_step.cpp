// SPDX-License-Identifier: Apache-2.0
// The update (model.h has the words): SGD with momentum, Adam or AdamW
// applied in place to each tensor from its gradient buffer, or — fused
// update — to one block of a Dense layer's W at a time from a gradient
// block formed just before it.
#include <cmath>
#include <cstring>

#include "gradient_noise.h"
#include "optimizer_step.h"
#include "tern/kernels/kernel_table.h"
#include "tern/runtime/model.h"

namespace tern {

namespace {
bool finite_positive(float v) { return std::isfinite(v) && v > 0.0f; }
bool unit_interval(float v) { return std::isfinite(v) && v >= 0.0f && v < 1.0f; }
}  // namespace

// Decision: settings for the optimizer are refused by a built inference
// model rather than accepted without effect: it never steps, so they would
// be silently lost (the C interface refuses them the same way). Before
// build() they are accepted and kept, for whatever model is built next.
Status Model::check_can_train(const char* op) const {
  if (built() && spec_.mode != Mode::kTraining) {
    return Status::error(StatusCode::kFailedPrecondition,
                         "%s: an inference model has no optimizer (build it with "
                         "Mode::kTraining)",
                         op);
  }
  return Status();
}

Status Model::set_schedule(const LearningRateSchedule& schedule) {
  TERN_RETURN_IF_ERROR(check_can_train("schedule"));
  TERN_RETURN_IF_ERROR(check_schedule(schedule));
  schedule_ = schedule;
  return Status();
}

float Model::learning_rate() const {
  return scaled_learning_rate(schedule_factor(schedule_, steps_));
}

Status Model::set_optimizer(const OptimizerParams& p) {
  TERN_RETURN_IF_ERROR(check_can_train("optimizer"));
  if (!finite_positive(p.learning_rate)) {
    return Status::error(StatusCode::kInvalidArgument,
                         "optimizer: learning rate %g must be finite and > 0",
                         format_arg(p.learning_rate));
  }
  if (!unit_interval(p.momentum) || !unit_interval(p.beta1) || !unit_interval(p.beta2)) {
    return Status::error(StatusCode::kInvalidArgument,
                         "optimizer: momentum %g, beta1 %g and beta2 %g must be in [0, 1)",
                         format_arg(p.momentum), format_arg(p.beta1),
                         format_arg(p.beta2));
  }
  if (!finite_positive(p.epsilon) || !std::isfinite(p.weight_decay) || p.weight_decay < 0.0f) {
    return Status::error(StatusCode::kInvalidArgument,
                         "optimizer: epsilon %g must be > 0 and weight decay %g >= 0",
                         format_arg(p.epsilon), format_arg(p.weight_decay));
  }
  if (p.weight_decay_scope != WeightDecayScope::kDenseWeights &&
      p.weight_decay_scope != WeightDecayScope::kAllParameters) {
    return Status::error(StatusCode::kInvalidArgument,
                         "optimizer: weight decay scope %u is not a WeightDecayScope (0 or 1)",
                         static_cast<unsigned>(p.weight_decay_scope));
  }
  if (p.mse_reduction != MseReduction::kHalfSumOverRows && p.mse_reduction != MseReduction::kMean &&
      p.mse_reduction != MseReduction::kSum) {
    return Status::error(StatusCode::kInvalidArgument,
                         "optimizer: MSE reduction %u is not an MseReduction (0, 1 or 2)",
                         static_cast<unsigned>(p.mse_reduction));
  }
  if (p.mse_reduction == MseReduction::kSum && spec_.loss == LossKind::kMse &&
      gradient_path_ == GradientPath::kFromFactors) {
    return Status::error(StatusCode::kFailedPrecondition,
                         "optimizer: the MSE sum reduction (2) is not offered with example "
                         "gradients or accumulation (example_rows %u, accumulation_rows %u): "
                         "their step is a mean over rows; use the mean reduction (1)",
                         static_cast<unsigned>(spec_.example_rows),
                         static_cast<unsigned>(spec_.accumulation_rows));
  }
  opt_ = p;
  return Status();
}

// Counts the step (++steps_) and computes its constants.
Status Model::start_update(UpdateConstants* update) {
  backward_rows_ = 0;  // the parameters change: backward() needs a new forward()
  if (steps_ == UINT64_MAX) {
    return Status::error(StatusCode::kFailedPrecondition,
                         "optimizer: the step counter is at its maximum %llu; set_steps() "
                         "a smaller count to go on",
                         static_cast<unsigned long long>(steps_));
  }
  // The schedule's step is the count before this one (0 first); the
  // divergence guard's reductions scale whatever rate results (model.h). A
  // constant schedule's factor is 1 without linking the schedule's code.
  const float factor = schedule_is_constant(schedule_)
                           ? 1.0f
                           : step_parts_->schedule_factor(schedule_, steps_);
  const float learning_rate = scaled_learning_rate(factor);
  ++steps_;
  for (int decayed = 0; decayed < 2; ++decayed) {
    SgdParams& sgd = update->sgd[decayed];
    sgd.learning_rate = learning_rate;
    sgd.momentum = opt_.momentum;
    sgd.weight_decay = decayed ? opt_.weight_decay : 0.0f;
    update->adam[decayed] = AdamStepConstants{};
  }
  if (spec_.optimizer != OptimizerKind::kSgd) {
    const Status s = (this->*step_parts_->adam_constants)(learning_rate, update);
    if (!s.ok()) {
      --steps_;
      return s;
    }
  }
  return Status();
}

// Adam's constants of the step start_update() has counted.
Status Model::adam_constants(float learning_rate, UpdateConstants* update) {
  for (int decayed = 0; decayed < 2; ++decayed) {
    AdamParams p;
    p.learning_rate = learning_rate;
    p.beta1 = opt_.beta1;
    p.beta2 = opt_.beta2;
    p.epsilon = opt_.epsilon;
    p.weight_decay = decayed ? opt_.weight_decay : 0.0f;
    p.decoupled = spec_.optimizer == OptimizerKind::kAdamW;
    // The kernel's step is 32 bits and only feeds the bias corrections
    // 1 - beta^step (computed in double). For any beta < 1 a float can
    // hold, beta <= 1 - 2^-24, so beta^(2^32 - 1) <= e^-256 < 2^-53 and
    // 1 - beta^step rounds to exactly 1.0 from step 2^32 - 1 on: passing
    // min(steps, 2^32 - 1) gives the same constants, bit for bit, as the
    // true step would.
    p.step = steps_ < UINT32_MAX ? static_cast<std::uint32_t>(steps_) : UINT32_MAX;
    TERN_RETURN_IF_ERROR(adam_step_constants(p, &update->adam[decayed]));
  }
  return Status();
}

// The optimizer on `count` elements of a tensor from `offset` on, with the
// gradient `grad` (count floats).
void Model::apply_optimizer(std::uint32_t layer, bool is_bias, std::size_t offset,
                            std::size_t count, const float* grad, const UpdateConstants& update) {
  const bool dense_weight = !is_bias && spec_.layers[layer].kind == LayerKind::kDense;
  const int decayed =
      (dense_weight || opt_.weight_decay_scope == WeightDecayScope::kAllParameters) ? 1 : 0;
  float* w = buffer(layer, tensor_buffer(TensorRole::kValue, is_bias)) + offset;
  float* m1 = buffer(layer, tensor_buffer(TensorRole::kMoment1, is_bias)) + offset;
  if (spec_.optimizer == OptimizerKind::kSgd) {
    kernels_of(isa_).sgd_momentum_f32(count, w, grad, m1, update.sgd[decayed]);
  } else {
    float* m2 = buffer(layer, tensor_buffer(TensorRole::kMoment2, is_bias)) + offset;
    (this->*step_parts_->apply_adam)(count, w, grad, m1, m2, update.adam[decayed]);
  }
}

// The Adam (AdamW) kernel, a step part of its own (model.h, StepParts).
void Model::apply_adam(std::size_t count, float* w, const float* grad, float* m1, float* m2,
                       const AdamStepConstants& constants) {
  kernels_of(isa_).adam_f32(count, w, grad, m1, m2, constants);
}

// The optimizer on every tensor that has a gradient buffer (all of them,
// except Dense weights under a fused update).
void Model::update_stored_tensors(const UpdateConstants& update) {
  for (std::uint32_t l = 0; l < spec_.layer_count; ++l) {
    const LayerSpec& ls = spec_.layers[l];
    if (!has_parameters(ls.kind)) continue;
    const float* weight_grad = buffer(l, LayerBuffer::kWeightGrad);
    if (weight_grad != nullptr) apply_optimizer(l, false, 0, weight_count(l), weight_grad, update);
    apply_optimizer(l, true, 0, ls.out, buffer(l, LayerBuffer::kBiasGrad), update);
  }
}

// The packed-panel scratch for a rank1_accumulate over `rows` factor rows,
// or null where the plan has none (fewer than kPackMinRows rows per step).
float* Model::rank1_scratch(std::size_t rows) const {
  const ModelBufferView& scratch = buffer(ModelBuffer::kScratch);
  const std::size_t need = rank1_accumulate_scratch_floats(rows);
  return need != 0 && need <= scratch.bytes / sizeof(float) ? scratch.data : nullptr;
}

// Fused update: W of Dense layer `layer` updated with the gradient
// alpha * sum_i u_i^T d_i (+ noise), fused_block_rows(spec) rows at a time:
// each block of the gradient is formed by rank1_gradient in the block
// buffer (the same FMA chains, the same G = fma(alpha, s, +0) as in the
// gradient buffer of the unfused step), then the optimizer updates those rows of W and of
// its moments. The caller has already propagated the layer's delta with the
// old W. The step's noise uses the step this update counted (start_update).
void Model::update_weights_fused(std::uint32_t layer, std::size_t rows, const float* u,
                                 std::size_t ldu, const float* d, std::size_t ldd, float alpha,
                                 float noise_stddev, const UpdateConstants& update) {
  const LayerSpec& ls = spec_.layers[layer];
  const std::size_t kin = ls.in, m = ls.out;
  // SGD in one pass over W (and the velocity) with the gradient formed in
  // registers (rank1_sgd_update_f32, the same bits as the blocks below):
  // plain SGD on any number of rows (the kernel's register tiles take the
  // step as their epilogue), momentum on a few rows (streamed; with more the
  // register-tiled gradient into the block is faster than re-reading D's rows
  // for every vector of W).
  const bool plain_sgd = update.sgd[1].momentum == 0.0f;
  if (spec_.optimizer == OptimizerKind::kSgd && noise_stddev == 0.0f &&
      (plain_sgd || rows <= kRank1StreamRows)) {
    kernels_of(isa_).rank1_sgd_update_f32(rows, kin, m, alpha, u, ldu, d, ldd,
                                   buffer(layer, LayerBuffer::kWeight), m,
                                   buffer(layer, LayerBuffer::kWeightMoment1), m, update.sgd[1]);
    return;
  }
  float* block = buffer(ModelBuffer::kUpdateBlock).data;
  float* scratch = rank1_scratch(rows);
  const std::uint64_t key = noise_key(clip_.noise_seed, steps_, tensor_index(layer));
  const std::size_t block_rows = fused_block_rows(spec_);
  for (std::size_t p0 = 0; p0 < kin; p0 += block_rows) {
    const std::size_t pr = kin - p0 < block_rows ? kin - p0 : block_rows;
    kernels_of(isa_).rank1_gradient_f32(rows, pr, m, alpha, u + p0, ldu, d, ldd, block, m, scratch);
    if (noise_stddev > 0.0f)
      kernels_of(isa_).add_gaussian_noise_f32(pr * m, block, noise_stddev, key, p0 * m);
    apply_optimizer(layer, false, p0 * m, pr * m, block, update);
  }
}

Status Model::apply_gradients() {
  const char* op = "apply_gradients";
  TERN_RETURN_IF_ERROR(check_training(op));
  if (spec_.fused_update || step_frame_ == StepFrame::kAccumulated) {
    return Status::error(StatusCode::kFailedPrecondition,
                         "%s: the spec has %s, so there are no stored gradients to apply", op,
                         spec_.fused_update ? "a fused update" : "accumulation");
  }
  TERN_RETURN_IF_ERROR(use_step_parts(op, every_step_part()));
  UpdateConstants update;
  TERN_RETURN_IF_ERROR(start_update(&update));
  update_stored_tensors(update);
  return Status();
}

}  // namespace tern
