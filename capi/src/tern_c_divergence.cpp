// SPDX-License-Identifier: Apache-2.0
// tern.h: the divergence guard's policy, its report and clearing a stop
// (tern/runtime/divergence.h).
#include "tern.h"

#include "tern/runtime/divergence.h"
#include "tern/runtime/model.h"

#include "c_handle.h"

using tern::c_api::bad_handle;
using tern::c_api::live;
using tern::c_api::null_argument;
using tern::c_api::report;

static_assert(static_cast<int>(TERN_DIVERGENCE_STOP) ==
                      static_cast<int>(tern::DivergenceAction::kStop) &&
                  static_cast<int>(TERN_DIVERGENCE_REDUCE_LEARNING_RATE) ==
                      static_cast<int>(tern::DivergenceAction::kReduceLearningRate),
              "tern_divergence_action mirrors tern::DivergenceAction");

extern "C" {

tern_divergence_policy tern_divergence_policy_defaults(void) {
  const tern::DivergencePolicy d;
  tern_divergence_policy p;
  p.action = static_cast<int32_t>(d.action);
  p.learning_rate_factor = d.learning_rate_factor;
  p.max_recoveries = d.max_recoveries;
  p.loss_factor = d.loss_factor;
  p.loss_smoothing = d.loss_smoothing;
  p.reference_window = d.reference_window;
  p.loss_floor = d.loss_floor;
  return p;
}

tern_status tern_model_set_divergence_policy(tern_model* model,
                                             const tern_divergence_policy* policy,
                                             tern_error* err) {
  const char* fn = "tern_model_set_divergence_policy";
  tern::Model* m = live(model);
  if (m == nullptr) return report(bad_handle(fn), err);
  if (policy == nullptr) return report(null_argument(fn, "policy"), err);
  // Range-checked before it is narrowed to the C++ enum's 8 bits (256
  // would otherwise become kStop).
  if (policy->action != TERN_DIVERGENCE_STOP &&
      policy->action != TERN_DIVERGENCE_REDUCE_LEARNING_RATE) {
    return report(tern::Status::error(tern::StatusCode::kInvalidArgument,
                                      "%s: action %d is not a tern_divergence_action (0 or 1)",
                                      fn, static_cast<int>(policy->action)),
                  err);
  }
  tern::DivergencePolicy p;
  p.action = static_cast<tern::DivergenceAction>(policy->action);
  p.learning_rate_factor = policy->learning_rate_factor;
  p.max_recoveries = policy->max_recoveries;
  p.loss_factor = policy->loss_factor;
  p.loss_smoothing = policy->loss_smoothing;
  p.reference_window = policy->reference_window;
  p.loss_floor = policy->loss_floor;
  return report(m->set_divergence_policy(p), err);
}

tern_status tern_model_divergence(const tern_model* model, tern_divergence_report* out,
                                  tern_error* err) {
  const tern::Model* m = live(model);
  if (m == nullptr) return report(bad_handle("tern_model_divergence"), err);
  if (out == nullptr) return report(null_argument("tern_model_divergence", "report"), err);
  const tern::DivergenceReport& r = m->divergence();
  out->recoveries = r.recoveries;
  out->last_step = r.last_step;
  out->last_loss = r.last_loss;
  out->stopped = r.stopped ? 1 : 0;
  out->learning_rate_scale = r.learning_rate_scale;
  out->smoothed_loss = r.smoothed_loss;
  out->reference_loss = r.reference_loss;
  return report(tern::Status(), err);
}

tern_status tern_model_clear_divergence_stop(tern_model* model, tern_error* err) {
  tern::Model* m = live(model);
  if (m == nullptr) return report(bad_handle("tern_model_clear_divergence_stop"), err);
  // Decision: refused on a model without a guard, as setting its policy is.
  // Nothing there ever stops, so a call would succeed without meaning.
  if (!m->spec().divergence_guard || m->spec().mode != tern::Mode::kTraining) {
    return report(tern::Status::error(tern::StatusCode::kFailedPrecondition,
                                      "tern_model_clear_divergence_stop: the spec has no "
                                      "divergence guard (divergence_guard 0 or an inference "
                                      "model)"),
                  err);
  }
  m->clear_divergence_stop();
  return report(tern::Status(), err);
}

}  // extern "C"
