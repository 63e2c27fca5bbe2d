// SPDX-License-Identifier: Apache-2.0
// The divergence guard (spec.divergence_guard): a training step that keeps a
// snapshot of the last good state — parameters and optimizer moments — and
// restores it when training diverges: a non-finite value, or a loss that
// breaks the policy's rule (DivergencePolicy in tern/runtime/model.h, which
// also explains the rule).
#include <cstring>
#include <limits>

#include "portable_ops.h"
#include "tern/runtime/model.h"

namespace tern {

Status Model::set_divergence_policy(const DivergencePolicy& p) {
  const char* op = "set_divergence_policy";
  TERN_RETURN_IF_ERROR(check_training(op));
  if (guard_.snapshot == nullptr) {
    return Status::error(StatusCode::kFailedPrecondition,
                         "set_divergence_policy: the spec has no divergence guard (build it "
                         "with .with_divergence_guard() so the arena holds a snapshot)");
  }
  if (!(p.learning_rate_factor > 0.0f && p.learning_rate_factor < 1.0f)) {
    return Status::error(StatusCode::kInvalidArgument,
                         "%s: learning rate factor %g must be in (0, 1)", op,
                         static_cast<double>(p.learning_rate_factor));
  }
  if (static_cast<unsigned>(p.action) > 1) {
    return Status::error(StatusCode::kInvalidArgument, "%s: unknown action %u", op,
                         static_cast<unsigned>(p.action));
  }
  if (!(p.loss_factor == 0.0f || (p.loss_factor > 1.0f && ops::is_finite(p.loss_factor)))) {
    return Status::error(StatusCode::kInvalidArgument,
                         "%s: loss factor %g must be 0 (judge only NaN/Inf) or finite and > 1",
                         op, static_cast<double>(p.loss_factor));
  }
  if (p.loss_smoothing == 0 || p.reference_window == 0) {
    return Status::error(StatusCode::kInvalidArgument,
                         "%s: loss smoothing %u and reference window %u must be >= 1 step", op,
                         static_cast<unsigned>(p.loss_smoothing),
                         static_cast<unsigned>(p.reference_window));
  }
  if (!(p.loss_floor >= 0.0f && ops::is_finite(p.loss_floor))) {
    return Status::error(StatusCode::kInvalidArgument, "%s: loss floor %g must be finite and >= 0",
                         op, static_cast<double>(p.loss_floor));
  }
  guard_.policy = p;
  return Status();
}

void Model::set_steps(std::uint64_t steps) {
  steps_ = steps;
  restart_divergence_history();
}

void Model::restart_divergence_history() {
  backward_rows_ = 0;  // the parameters were replaced: the points are stale
  guard_.snapshot_valid = false;
  guard_.history = LossHistory();
  guard_.report.stopped = false;
}

// The learning rate a step uses: the one set, times the schedule's factor,
// times the guard's scale, in that order (schedule.h; a factor or scale of
// 1 is an exact multiplication, the same bits as without).
float Model::scaled_learning_rate(float schedule_factor) const {
  return opt_.learning_rate * schedule_factor * guard_.report.learning_rate_scale;
}

// Whether the parameters and moments are all finite. The groups are whole
// floats (padding is zero), so they are scanned as flat float arrays; the
// moment groups are contiguous (plan.h).
bool Model::state_finite() const {
  const ModelBufferView& params = buffer(ModelBuffer::kParameters);
  const ModelBufferView& moment1 = buffer(ModelBuffer::kMoment1);
  const float* groups[2] = {params.data, moment1.data};
  const std::size_t bytes[2] = {params.bytes,
                                moment1.bytes + buffer(ModelBuffer::kMoment2).bytes};
  for (int g = 0; g < 2; ++g) {
    const std::size_t n = bytes[g] / sizeof(float);
    for (std::size_t i = 0; i < n; ++i) {
      if (!ops::is_finite(groups[g][i])) return false;
    }
  }
  return true;
}

namespace {
// memcpy of a group that may be empty (a model without parameters has null
// group pointers, which memcpy must not be given even for 0 bytes).
void copy_group(void* to, const void* from, std::size_t bytes) {
  if (bytes != 0) std::memcpy(to, from, bytes);
}
}  // namespace

// The snapshot holds the parameter group, then the moment groups; the step
// count and the rule's history beside it in the Model.
void Model::save_state() {
  const ModelBufferView& params = buffer(ModelBuffer::kParameters);
  const ModelBufferView& moment1 = buffer(ModelBuffer::kMoment1);
  const std::size_t moment_bytes = moment1.bytes + buffer(ModelBuffer::kMoment2).bytes;
  copy_group(guard_.snapshot, params.data, params.bytes);
  copy_group(guard_.snapshot + params.bytes, moment1.data, moment_bytes);
  guard_.snapshot_steps = steps_;
  guard_.snapshot_history = guard_.history;
  guard_.snapshot_valid = true;
}

void Model::restore_state() {
  const ModelBufferView& params = buffer(ModelBuffer::kParameters);
  const ModelBufferView& moment1 = buffer(ModelBuffer::kMoment1);
  const std::size_t moment_bytes = moment1.bytes + buffer(ModelBuffer::kMoment2).bytes;
  copy_group(params.data, guard_.snapshot, params.bytes);
  copy_group(moment1.data, guard_.snapshot + params.bytes, moment_bytes);
  steps_ = guard_.snapshot_steps;
  guard_.history = guard_.snapshot_history;
}

// The state a step starts from is the last good state when its parameters
// and moments are finite and its forward pass gives a loss that meets the
// rule: it is copied into the snapshot after the forward pass and before the
// update. A step that then makes the state non-finite, or a later step whose
// loss diverges (the weights a too large update left behind), restores it —
// undoing the step that broke the model, not only the step that noticed.
Status Model::guarded_step(const Batch& batch, float* mean_loss) {
  const char* op = "train_step";
  DivergenceReport& report = guard_.report;
  if (report.stopped) {
    return Status::error(StatusCode::kFailedPrecondition,
                         "%s: training stopped when step %llu diverged; initialize(), load a "
                         "state or clear_divergence_stop() to train again",
                         op, static_cast<unsigned long long>(report.last_step));
  }
  // Bad input is the caller's error, not divergence: nothing changes.
  TERN_RETURN_IF_ERROR(load_batch(batch));
  const std::uint64_t step = steps_ + 1;
  const std::size_t rows = batch.rows;
  const float scale = 1.0f / static_cast<float>(rows);
  float mean = std::numeric_limits<float>::quiet_NaN();
  bool diverged = !state_finite();
  bool loss_rule = false;  // diverged by the rule, with a finite loss
  bool good = true;        // this step's starting state may be the snapshot
  LossHistory next = guard_.history;
  if (!diverged) {
    float loss_sum = 0.0f;
    forward_and_loss(rows, loss_gradient_scale(rows), &loss_sum);
    mean = loss_sum * scale;
    diverged = !ops::is_finite(mean);
  }
  if (!diverged) {
    // The rule (DivergencePolicy). Losses are >= 0, so no difference below
    // overflows; a limit that overflows to +inf accepts every finite loss.
    const DivergencePolicy& p = guard_.policy;
    if (!next.started) {
      next.smoothed = mean;
      next.reference = mean;
      next.started = true;
    } else {
      const float reference = next.reference > p.loss_floor ? next.reference : p.loss_floor;
      const float limit = p.loss_factor * reference;
      next.smoothed += (mean - next.smoothed) / static_cast<float>(p.loss_smoothing);
      if (p.loss_factor != 0.0f) {
        good = mean <= limit;
        loss_rule = !(next.smoothed <= limit);
        diverged = loss_rule;
      }
      if (next.smoothed < next.reference) {
        next.reference = next.smoothed;
      } else {
        next.reference +=
            (next.smoothed - next.reference) / static_cast<float>(p.reference_window);
      }
    }
  }
  if (!diverged) {
    if (good) save_state();
    guard_.history = next;
    report.smoothed_loss = next.smoothed;
    report.reference_loss = next.reference;
    TERN_RETURN_IF_ERROR(backward_and_update(rows));
    diverged = !state_finite();
  }
  if (mean_loss != nullptr) *mean_loss = mean;
  if (!diverged) return Status();
  return guard_recover(step, mean, loss_rule ? &next : nullptr);
}

// Step `step` diverged with mean loss `mean` (by the loss rule, with these
// figures, when `judged` is given): restore the last good state, then stop
// or reduce the learning rate as the policy says.
Status Model::guard_recover(std::uint64_t step, float mean, const LossHistory* judged) {
  const char* op = "train_step";
  if (!guard_.snapshot_valid) {
    return Status::error(StatusCode::kNonFinite,
                         "%s: step %llu diverged (mean loss %g) before any good state was saved",
                         op, static_cast<unsigned long long>(step), static_cast<double>(mean));
  }
  // The reference the step was judged against, for the message (restoring
  // puts the history back to the snapshot's).
  const DivergencePolicy& p = guard_.policy;
  const float reference = guard_.history.reference > p.loss_floor ? guard_.history.reference
                                                                  : p.loss_floor;
  restore_state();
  DivergenceReport& report = guard_.report;
  report.last_step = step;
  report.last_loss = mean;
  report.smoothed_loss = guard_.history.smoothed;
  report.reference_loss = guard_.history.reference;
  if (p.action == DivergenceAction::kStop || report.recoveries >= p.max_recoveries) {
    report.stopped = true;
    if (judged != nullptr) {
      return Status::error(StatusCode::kNonFinite,
                           "%s: loss diverged at step %llu (smoothed %g > %g x reference %g); "
                           "restored the state after step %llu and stopped",
                           op, static_cast<unsigned long long>(step), static_cast<double>(judged->smoothed),
                           static_cast<double>(p.loss_factor), static_cast<double>(reference),
                           static_cast<unsigned long long>(steps_));
    }
    return Status::error(StatusCode::kNonFinite,
                         "%s: training diverged at step %llu (mean loss %g); restored the state "
                         "after step %llu and stopped",
                         op, static_cast<unsigned long long>(step), static_cast<double>(mean),
                         static_cast<unsigned long long>(steps_));
  }
  ++report.recoveries;
  report.stopped = false;
  report.learning_rate_scale *= p.learning_rate_factor;
  return Status();
}

}  // namespace tern
