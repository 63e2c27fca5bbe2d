// SPDX-License-Identifier: Apache-2.0
// tern.h: optimizer settings and the training step.
#include "tern.h"

#include "tern/runtime/model.h"

#include "c_handle.h"

using tern::c_api::bad_handle;
using tern::c_api::live;
using tern::c_api::null_argument;
using tern::c_api::report;

static_assert(TERN_WEIGHT_DECAY_DENSE_WEIGHTS ==
                  static_cast<int>(tern::WeightDecayScope::kDenseWeights) &&
                  TERN_WEIGHT_DECAY_ALL_PARAMETERS ==
                      static_cast<int>(tern::WeightDecayScope::kAllParameters),
              "tern.h and training_inputs.h disagree on the weight decay scopes");
static_assert(TERN_MSE_HALF_SUM_OVER_ROWS == static_cast<int>(tern::MseReduction::kHalfSumOverRows) &&
                  TERN_MSE_MEAN == static_cast<int>(tern::MseReduction::kMean) &&
                  TERN_MSE_SUM == static_cast<int>(tern::MseReduction::kSum),
              "tern.h and training_inputs.h disagree on the MSE reductions");

namespace {

// A C enum field in [0, count): the C++ enums are 8 bits wide, so a value
// outside is refused here rather than truncated into a valid one.
tern::Status check_enum_field(const char* field, std::int32_t value, std::int32_t count) {
  if (value >= 0 && value < count) return tern::Status();
  return tern::Status::error(tern::StatusCode::kInvalidArgument,
                             "tern_model_set_optimizer: %s %d is not one of 0 .. %d", field,
                             static_cast<int>(value), static_cast<int>(count - 1));
}

}  // namespace

extern "C" {

tern_optimizer_params tern_optimizer_defaults(void) {
  const tern::OptimizerParams d;
  return tern_optimizer_params{d.learning_rate,
                               d.momentum,
                               d.beta1,
                               d.beta2,
                               d.epsilon,
                               d.weight_decay,
                               static_cast<int32_t>(d.weight_decay_scope),
                               static_cast<int32_t>(d.mse_reduction)};
}

tern_status tern_model_set_optimizer(tern_model* model, const tern_optimizer_params* params,
                                     tern_error* err) {
  tern::Model* m = live(model);
  if (m == nullptr) return report(bad_handle("tern_model_set_optimizer"), err);
  if (params == nullptr) return report(null_argument("tern_model_set_optimizer", "params"), err);
  // Decision: refused rather than accepted without effect. An inference
  // model never steps, so settings given to it would be silently lost.
  if (m->spec().mode != tern::Mode::kTraining) {
    return report(tern::Status::error(tern::StatusCode::kFailedPrecondition,
                                      "tern_model_set_optimizer: an inference model has no "
                                      "optimizer (create it with TERN_MODE_TRAINING)"),
                  err);
  }
  tern::OptimizerParams p;
  p.learning_rate = params->learning_rate;
  p.momentum = params->momentum;
  p.beta1 = params->beta1;
  p.beta2 = params->beta2;
  p.epsilon = params->epsilon;
  p.weight_decay = params->weight_decay;
  const tern::Status scope =
      check_enum_field("weight_decay_scope", params->weight_decay_scope, 2);
  if (!scope.ok()) return report(scope, err);
  const tern::Status reduction = check_enum_field("mse_reduction", params->mse_reduction, 3);
  if (!reduction.ok()) return report(reduction, err);
  p.weight_decay_scope = static_cast<tern::WeightDecayScope>(params->weight_decay_scope);
  p.mse_reduction = static_cast<tern::MseReduction>(params->mse_reduction);
  return report(m->set_optimizer(p), err);
}

tern_status tern_model_train_step(tern_model* model, const tern_batch* batch, float* mean_loss,
                                  tern_error* err) {
  tern::Model* m = live(model);
  if (m == nullptr) return report(bad_handle("tern_model_train_step"), err);
  if (batch == nullptr) return report(null_argument("tern_model_train_step", "batch"), err);
  return report(m->train_step(tern::c_api::to_batch(*batch), mean_loss), err);
}

}  // extern "C"
