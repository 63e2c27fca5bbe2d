// SPDX-License-Identifier: Apache-2.0
// tern/runtime/step_features.h — the optional parts of a training step, as
// bits a program names at compile time (Model::train_step<kFeatures>()).
#pragma once

#include <cstdint>

#include "tern/runtime/spec.h"

namespace tern {

// What a training step may do beyond a plain single step with SGD and stored
// gradients. A program that calls train_step<kFeatures>() links the code of
// these features only (firmware flash: docs/firmware-size.md); plain
// train_step() links every one.
using StepFeatures = std::uint32_t;
constexpr StepFeatures kStepDivergenceGuard = 1u << 0;     // spec.divergence_guard
constexpr StepFeatures kStepAccumulation = 1u << 1;        // spec.accumulation_rows
constexpr StepFeatures kStepExampleGradients = 1u << 2;    // spec.example_rows (clipping, noise)
constexpr StepFeatures kStepFusedUpdate = 1u << 3;         // spec.fused_update
constexpr StepFeatures kStepAdam = 1u << 4;                // Adam or AdamW
constexpr StepFeatures kStepGlobalClipping = 1u << 5;      // ClipParams::global_clip, stored gradients
constexpr StepFeatures kStepSchedule = 1u << 6;            // a learning-rate schedule (schedule.h)
constexpr StepFeatures kAllStepFeatures = (1u << 7) - 1;

// The features the step of `spec` needs. Global clipping and a learning-rate
// schedule other than a constant one without warm-up are settings, not part
// of the spec: add kStepGlobalClipping or kStepSchedule to use them.
constexpr StepFeatures step_features(const ModelSpec& spec) {
  StepFeatures f = 0;
  if (spec.divergence_guard) f |= kStepDivergenceGuard;
  if (spec.accumulation_rows != 0) f |= kStepAccumulation;
  if (spec.example_rows != 0) f |= kStepExampleGradients;
  if (spec.fused_update) f |= kStepFusedUpdate;
  if (spec.optimizer != OptimizerKind::kSgd) f |= kStepAdam;
  return f;
}

}  // namespace tern
