// SPDX-License-Identifier: Apache-2.0
// The training step: train_step() and the gradients-only entry points, each
// one dispatch on the step build() chose for the spec (model.h):
//
//   StepFrame     kSingle       load, forward + loss, backward_and_update
//                 kGuarded      the same inside the divergence guard
//                               (divergence_guard.cpp)
//                 kAccumulated  accumulate one micro-batch, then flush
//                               (accumulation.cpp)
//   GradientPath  kStored       backward pass into the gradient buffers,
//                               global clipping, then the optimizer
//                 kFused        backward pass with each Dense W updated
//                               block by block, then the other tensors
//                 kFromFactors  propagate every layer, per-example norms and
//                               clipping, then the gradients from the factors
//                               (example_gradients.cpp)
#include <cstring>

#include "input_checks.h"
#include "optimizer_step.h"
#include "tern/runtime/model.h"

namespace tern {

void Model::zero_gradients() {
  const ModelBufferView& gradients = buffer(ModelBuffer::kGradients);
  if (gradients.bytes != 0) std::memset(gradients.data, 0, gradients.bytes);
}

void Model::zero_gradients_but_dense_weights() {
  const ModelBufferView& gradients = buffer(ModelBuffer::kGradients);
  unsigned char* at = reinterpret_cast<unsigned char*>(gradients.data);
  unsigned char* const end = at + gradients.bytes;
  // The Dense weight gradients lie in layer order inside the gradient group;
  // everything between them (bias and LayerNorm gradients, and the padding
  // the global norm reads as zeros) is zeroed.
  for (std::uint32_t l = 0; l < spec_.layer_count; ++l) {
    if (spec_.layers[l].kind != LayerKind::kDense) continue;
    float* wg = buffer(l, LayerBuffer::kWeightGrad);
    if (wg == nullptr) continue;  // fused: no weight gradient
    unsigned char* start = reinterpret_cast<unsigned char*>(wg);
    if (start > at) std::memset(at, 0, static_cast<std::size_t>(start - at));
    at = start + weight_count(l) * sizeof(float);
  }
  if (end > at) std::memset(at, 0, static_cast<std::size_t>(end - at));
}

const Model::StepParts& Model::every_step_part() {
  static constexpr StepParts kEvery = step_parts(kAllStepFeatures);
  return kEvery;
}

Status Model::use_step_parts(const char* op, const StepParts& parts) {
  const char* missing = nullptr;
  if (step_frame_ == StepFrame::kGuarded && parts.guarded_step == nullptr) {
    missing = "kStepDivergenceGuard";
  } else if (step_frame_ == StepFrame::kAccumulated && parts.accumulated_step == nullptr) {
    missing = "kStepAccumulation";
  } else if (gradient_path_ == GradientPath::kFromFactors && parts.factor_gradients == nullptr) {
    missing = "kStepExampleGradients";
  } else if (gradient_path_ != GradientPath::kStored && parts.update_weights_fused == nullptr) {
    missing = "kStepFusedUpdate";
  } else if (gradient_path_ == GradientPath::kStored && clip_.global_clip > 0.0f &&
             parts.global_clipping == nullptr) {
    missing = "kStepGlobalClipping";
  } else if (spec_.optimizer != OptimizerKind::kSgd && parts.adam_constants == nullptr) {
    missing = "kStepAdam";
  } else if (!schedule_is_constant(schedule_) && parts.schedule_factor == nullptr) {
    missing = "kStepSchedule";
  }
  if (missing != nullptr) {
    return Status::error(StatusCode::kFailedPrecondition,
                         "%s: the model's spec or settings need %s, which this train_step<> "
                         "does not link (use step_features(spec))",
                         op, missing);
  }
  step_parts_ = &parts;
  return Status();
}

Status Model::train_step(const Batch& batch, float* mean_loss) {
  return run_train_step(every_step_part(), batch, mean_loss);
}

Status Model::run_train_step(const StepParts& parts, const Batch& batch, float* mean_loss) {
  TERN_RETURN_IF_ERROR(check_training("train_step"));
  if (mean_loss != nullptr) {
    TERN_RETURN_IF_ERROR(check_aligned("train_step", "mean_loss", mean_loss));
  }
  TERN_RETURN_IF_ERROR(use_step_parts("train_step", parts));
  switch (step_frame_) {
    case StepFrame::kSingle: return single_step(batch, mean_loss);
    case StepFrame::kGuarded: return (this->*parts.guarded_step)(batch, mean_loss);
    case StepFrame::kAccumulated: return (this->*parts.accumulated_step)(batch, mean_loss);
  }
  return Status();
}

// GradientPath::kStored: the backward pass into the gradient buffers, then
// global-norm clipping of them.
void Model::stored_gradients(std::size_t rows) {
  backward_pass(rows, nullptr);
  gradient_norm_ = 0.0f;
  if (clip_.global_clip > 0.0f) (this->*step_parts_->global_clipping)();
}

// GradientPath::kFromFactors on this step's points and deltas; with `update`
// the step's update is under way (fused weights are updated on the way).
void Model::live_factor_gradients(std::size_t rows, const UpdateConstants* update) {
  zero_gradients();
  propagate_for_factors(rows);
  gradients_from_factors(rows, FactorSource::kLive, update);
}

Status Model::single_step(const Batch& batch, float* mean_loss) {
  const std::size_t rows = batch.rows;
  float loss_sum = 0.0f;
  TERN_RETURN_IF_ERROR(
      load_and_forward("train_step", batch, loss_gradient_scale(rows), &loss_sum));
  if (mean_loss != nullptr) *mean_loss = loss_sum * (1.0f / static_cast<float>(rows));
  return backward_and_update(rows);
}

// The backward pass and the optimizer step after forward_and_loss() on
// `rows` rows (kSingle and kGuarded frames).
Status Model::backward_and_update(std::size_t rows) {
  UpdateConstants update;
  switch (gradient_path_) {
    case GradientPath::kStored:
      stored_gradients(rows);
      TERN_RETURN_IF_ERROR(start_update(&update));
      break;
    case GradientPath::kFused:
      TERN_RETURN_IF_ERROR(start_update(&update));
      backward_pass(rows, &update);
      break;
    case GradientPath::kFromFactors:
      TERN_RETURN_IF_ERROR(start_update(&update));
      (this->*step_parts_->factor_gradients)(rows, &update);
      break;
  }
  update_stored_tensors(update);
  return Status();
}

Status Model::compute_gradients(const Batch& batch, float* mean_loss) {
  const char* op = "compute_gradients";
  TERN_RETURN_IF_ERROR(check_training(op));
  if (spec_.fused_update || step_frame_ == StepFrame::kAccumulated) {
    return Status::error(StatusCode::kFailedPrecondition,
                         "%s: the spec has %s, so gradients are never stored; use %s", op,
                         spec_.fused_update ? "a fused update" : "accumulation",
                         spec_.fused_update ? "train_step()" : "accumulate() and flush()");
  }
  if (mean_loss != nullptr) TERN_RETURN_IF_ERROR(check_aligned(op, "mean_loss", mean_loss));
  TERN_RETURN_IF_ERROR(use_step_parts(op, every_step_part()));
  const std::size_t rows = batch.rows;
  float loss_sum = 0.0f;
  TERN_RETURN_IF_ERROR(load_and_forward(op, batch, loss_gradient_scale(rows), &loss_sum));
  if (gradient_path_ == GradientPath::kFromFactors) {
    live_factor_gradients(rows, nullptr);
  } else {
    stored_gradients(rows);
  }
  if (mean_loss != nullptr) *mean_loss = loss_sum * (1.0f / static_cast<float>(rows));
  return Status();
}

}  // namespace tern
