// SPDX-License-Identifier: Apache-2.0
// tern.h: optimizer settings and the training step.
#include "tern.h"

#include "tern/runtime/model.h"

#include "c_handle.h"

using tern::c_api::bad_handle;
using tern::c_api::live;
using tern::c_api::null_argument;
using tern::c_api::report;

extern "C" {

tern_optimizer_params tern_optimizer_defaults(void) {
  const tern::OptimizerParams d;
  return tern_optimizer_params{d.learning_rate, d.momentum, d.beta1,
                               d.beta2,         d.epsilon,  d.weight_decay};
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
