// SPDX-License-Identifier: Apache-2.0
// tern/runtime/schedule.h — learning-rate schedules in the runtime: a plain
// struct (no heap, no callback) that Model::set_schedule() stores.
//
// The rate step s uses (s = steps() before the step: 0 for the first one
// after initialize()) is
//
//   optimizer().learning_rate * schedule_factor(schedule, s) * scale
//
// multiplied in that order, where scale is the divergence guard's
// learning-rate scale (1 without reductions). The schedule reads only the
// model's step count, so
//   - nothing is reset when it changes: set_optimizer() and set_schedule()
//     keep the optimizer moments and the step count;
//   - a state loaded with its step count (load_model with optimizer state,
//     load_checkpoint) continues the schedule where it was — the schedule
//     itself is a setting, not part of a file: set the same one again;
//   - a divergence the guard undoes also puts the schedule back (it restores
//     the step count).
//
// The factor, warm-up first:
//   s < warmup_steps              (s + 1) / warmup_steps: a linear ramp to 1
//   then, with t = s - warmup_steps:
//   kConstant                     1
//   kStepDecay                    max(min_factor, decay_factor^(t / decay_steps))
//                                 (integer division: a drop every decay_steps)
//   kCosine                       min_factor + (1 - min_factor) (1 + cos(pi p)) / 2,
//                                 p = t / (total_steps - warmup_steps), and
//                                 min_factor from step total_steps on
//
// Same bits on every ISA and platform: the factor is float arithmetic in a
// fixed order (the build has -ffp-contract=off), the power by squaring, and
// the cosine is cos_pi(), tern's own polynomial, not the platform's libm
// (whose cos differs between C libraries in the last bits).
#pragma once

#include <cstdint>

#include "tern/platform/status.h"

namespace tern {

enum class ScheduleKind : std::uint8_t { kConstant = 0, kStepDecay = 1, kCosine = 2 };

struct LearningRateSchedule {
  ScheduleKind kind = ScheduleKind::kConstant;
  // Steps of linear warm-up before the kind's factor starts (every kind);
  // kCosine: at most total_steps.
  std::uint64_t warmup_steps = 0;
  // kCosine: the step from which the factor is min_factor (>= 1), warm-up
  // included.
  std::uint64_t total_steps = 0;
  // kStepDecay: steps between drops (>= 1) and the factor of each drop, in
  // (0, 1].
  std::uint64_t decay_steps = 0;
  float decay_factor = 0.1f;
  // The floor of kStepDecay and kCosine, a fraction of the learning rate in
  // [0, 1]. At 0 the last steps of a cosine move no weight (Adam's moments
  // still follow the gradients).
  float min_factor = 0.0f;
};

// Whether every factor is 1 (constant, no warm-up): the default, which a
// training step runs without the schedule's code (kStepSchedule,
// step_features.h).
constexpr bool schedule_is_constant(const LearningRateSchedule& s) {
  return s.kind == ScheduleKind::kConstant && s.warmup_steps == 0;
}

// ok, or kInvalidArgument naming the field and its value: an unknown kind;
// kStepDecay with decay_steps 0 or decay_factor outside (0, 1]; kCosine with
// total_steps 0 or warmup_steps above total_steps; min_factor outside
// [0, 1]; a value that is NaN.
Status check_schedule(const LearningRateSchedule& schedule);

// The factor of step s (the formula above) of a schedule check_schedule()
// accepts; in [0, 1].
float schedule_factor(const LearningRateSchedule& schedule, std::uint64_t step);

// cos(pi x) for x in [0, 1], within 2e-7 of the true value: polynomials of
// sin and cos on [0, pi/4] (Taylor terms to degree 11 and 10, whose
// truncation error is below 2e-10) after the symmetries of the quadrants.
// x outside [0, 1] is clamped to it.
float cos_pi(float x);

}  // namespace tern
