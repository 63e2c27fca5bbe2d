// SPDX-License-Identifier: Apache-2.0
// tern.h: learning-rate schedules, over Model::set_schedule() and
// Model::learning_rate().
#include "tern.h"

#include "tern/runtime/model.h"
#include "tern/runtime/schedule.h"

#include "c_handle.h"

using tern::c_api::bad_handle;
using tern::c_api::live;
using tern::c_api::null_argument;
using tern::c_api::report;

static_assert(TERN_SCHEDULE_CONSTANT == static_cast<int>(tern::ScheduleKind::kConstant) &&
                  TERN_SCHEDULE_STEP_DECAY == static_cast<int>(tern::ScheduleKind::kStepDecay) &&
                  TERN_SCHEDULE_COSINE == static_cast<int>(tern::ScheduleKind::kCosine),
              "tern.h and schedule.h disagree on the schedule kinds");

extern "C" {

tern_schedule tern_schedule_defaults(void) {
  const tern::LearningRateSchedule d;
  tern_schedule s;
  s.kind = static_cast<int32_t>(d.kind);
  s.decay_factor = d.decay_factor;
  s.min_factor = d.min_factor;
  s.warmup_steps = d.warmup_steps;
  s.total_steps = d.total_steps;
  s.decay_steps = d.decay_steps;
  return s;
}

tern_status tern_model_set_schedule(tern_model* model, const tern_schedule* schedule,
                                    tern_error* err) {
  const char* fn = "tern_model_set_schedule";
  tern::Model* m = live(model);
  if (m == nullptr) return report(bad_handle(fn), err);
  if (schedule == nullptr) return report(null_argument(fn, "schedule"), err);
  // Refused like tern_model_set_optimizer: an inference model never steps,
  // so a schedule given to it would be silently lost.
  if (m->spec().mode != tern::Mode::kTraining) {
    return report(tern::Status::error(tern::StatusCode::kFailedPrecondition,
                                      "%s: an inference model has no optimizer (create it with "
                                      "TERN_MODE_TRAINING)",
                                      fn),
                  err);
  }
  // The kind is range-checked before it is narrowed to the enum.
  if (schedule->kind < TERN_SCHEDULE_CONSTANT || schedule->kind > TERN_SCHEDULE_COSINE) {
    return report(tern::Status::error(tern::StatusCode::kInvalidArgument,
                                      "%s: unknown schedule kind %ld", fn,
                                      static_cast<long>(schedule->kind)),
                  err);
  }
  tern::LearningRateSchedule s;
  s.kind = static_cast<tern::ScheduleKind>(schedule->kind);
  s.decay_factor = schedule->decay_factor;
  s.min_factor = schedule->min_factor;
  s.warmup_steps = schedule->warmup_steps;
  s.total_steps = schedule->total_steps;
  s.decay_steps = schedule->decay_steps;
  return report(m->set_schedule(s), err);
}

float tern_model_learning_rate(const tern_model* model) {
  const tern::Model* m = live(model);
  return m != nullptr ? m->learning_rate() : 0.0f;
}

}  // extern "C"
