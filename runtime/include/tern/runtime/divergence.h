// SPDX-License-Identifier: Apache-2.0
// tern/runtime/divergence.h — the divergence guard's policy and report
// (Model::set_divergence_policy, Model::divergence; divergence_guard.cpp).
#pragma once

#include <cstdint>

namespace tern {

// What train_step() does when training diverges. Needs a spec with
// divergence_guard (the arena then holds a snapshot of the last good state).
//
// Divergence means what users mean by it: the loss running away from its
// recent history, not only NaN or Inf (Adam at a learning rate of 1 can take
// a loss of 0.5 to 4e5 without ever producing an Inf). Each guarded step's
// mean loss L is judged against two running figures, both plain floats in
// the Model (no heap, nothing per step but a few float operations):
//   smoothed  S = S + (L - S) / loss_smoothing      (an exponential average)
//   reference R = S if S < R, else R + (S - R) / reference_window
// i.e. R is the running minimum of S, forgetting it over about
// reference_window steps (a running minimum with decay: the same job as the
// minimum over a window of that many steps, without a history buffer, so
// the window can be long and cost nothing). With limit =
// loss_factor * max(R, loss_floor):
//   * the step diverges when L is not finite, or S (with L in it) > limit,
//     or the parameters or moments are not finite after the update;
//   * the state the step starts from is kept as the last good state only if
//     its own loss met the rule, L <= limit (so a state whose loss was
//     3e36 is never "good").
// The smoothing lets one hard batch pass (a single L of 20 x the reference
// lifts S to about 3.4 x at the defaults) while a blow-up trips the rule at
// once and a jump to more than loss_factor x trips it within a few steps.
// The decay lets a slow rise (a new data distribution, a warm-up) become
// the new normal: R trails a steadily growing S by a factor of about
// 1 + rate * reference_window, so growth faster than e^(loss_factor - 1)
// per reference_window steps (20 x per 1000 steps at the defaults) is a
// divergence and slower growth is not. loss_floor keeps a loss
// that has reached 0 (an exactly fitted MSE) from making every rise a
// divergence; set it to the loss scale of your problem if that is tiny.
// The first step after build(), initialize() or set_steps() sets S and R to
// its loss. loss_factor 0 judges only non-finite values (the guard before
// this rule).
enum class DivergenceAction : std::uint8_t {
  kStop = 0,                // restore the last good state, return kNonFinite
  kReduceLearningRate = 1,  // restore it, scale the learning rate, return ok
};
struct DivergencePolicy {
  DivergenceAction action = DivergenceAction::kReduceLearningRate;
  // After each recovery the guard's learning-rate scale is multiplied by
  // this, in (0, 1). The scale multiplies whatever learning rate
  // set_optimizer() gives (one float multiplication per step), so a
  // schedule that calls set_optimizer() every step keeps the reduction.
  float learning_rate_factor = 0.5f;
  // Recoveries allowed before train_step() stops anyway (kNonFinite).
  std::uint32_t max_recoveries = 8;
  // The rule above. loss_factor: 0 (only NaN/Inf), or finite and > 1; 4
  // lets a loss double or triple on noise without a false alarm.
  float loss_factor = 4.0f;
  // Steps the loss is averaged over (>= 1; 1 judges each batch's loss
  // alone). 8 smooths the batch-to-batch noise of small batches.
  std::uint32_t loss_smoothing = 8;
  // Steps over which the reference forgets its minimum (>= 1; see above).
  std::uint32_t reference_window = 1000;
  // The reference never counts as lower than this (finite, >= 0). 0.01 is a
  // nearly perfect fit for cross-entropy and unit-scale MSE targets.
  float loss_floor = 0.01f;
};
// What the guard has seen since build() / initialize().
struct DivergenceReport {
  std::uint32_t recoveries = 0;   // times the last good state was restored
  std::uint64_t last_step = 0;    // the step that diverged last (steps() + 1 then)
  float last_loss = 0.0f;         // its mean loss (non-finite, above the rule, or finite
                                  // when the update blew the weights up)
  bool stopped = false;           // the last divergence ended training: train_step()
                                  // refuses (kFailedPrecondition) until it is cleared
  // The product of the reductions so far: the learning rate used is
  // optimizer().learning_rate * learning_rate_scale.
  float learning_rate_scale = 1.0f;
  float smoothed_loss = 0.0f;     // S and R of the rule (0 before the first step)
  float reference_loss = 0.0f;
};

}  // namespace tern
