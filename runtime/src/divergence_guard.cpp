// The divergence guard (spec.divergence_guard): a training step that keeps a
// snapshot of the last good state — parameters and optimizer moments — and
// restores it when training diverges (DivergencePolicy in
// tern/runtime/model.h).
#include <cstring>
#include <limits>

#include "portable_ops.h"
#include "tern/runtime/model.h"

namespace tern {

Status Model::set_divergence_policy(const DivergencePolicy& p) {
  TERN_RETURN_IF_ERROR(check_training("set_divergence_policy"));
  if (guard_.snapshot == nullptr) {
    return Status::error(StatusCode::kFailedPrecondition,
                         "set_divergence_policy: the spec has no divergence guard (build it "
                         "with .with_divergence_guard() so the arena holds a snapshot)");
  }
  if (!(p.learning_rate_factor > 0.0f && p.learning_rate_factor < 1.0f)) {
    return Status::error(StatusCode::kInvalidArgument,
                         "set_divergence_policy: learning rate factor %g must be in (0, 1)",
                         static_cast<double>(p.learning_rate_factor));
  }
  if (static_cast<unsigned>(p.action) > 1) {
    return Status::error(StatusCode::kInvalidArgument,
                         "set_divergence_policy: unknown action %u",
                         static_cast<unsigned>(p.action));
  }
  guard_.policy = p;
  return Status();
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

// The snapshot holds the parameter group, then the moment groups.
void Model::save_state() {
  const ModelBufferView& params = buffer(ModelBuffer::kParameters);
  const ModelBufferView& moment1 = buffer(ModelBuffer::kMoment1);
  const std::size_t moment_bytes = moment1.bytes + buffer(ModelBuffer::kMoment2).bytes;
  copy_group(guard_.snapshot, params.data, params.bytes);
  copy_group(guard_.snapshot + params.bytes, moment1.data, moment_bytes);
  guard_.snapshot_steps = steps_;
  guard_.snapshot_valid = true;
}

void Model::restore_state() {
  const ModelBufferView& params = buffer(ModelBuffer::kParameters);
  const ModelBufferView& moment1 = buffer(ModelBuffer::kMoment1);
  const std::size_t moment_bytes = moment1.bytes + buffer(ModelBuffer::kMoment2).bytes;
  copy_group(params.data, guard_.snapshot, params.bytes);
  copy_group(moment1.data, guard_.snapshot + params.bytes, moment_bytes);
  steps_ = guard_.snapshot_steps;
}

// The last good state is the one whose forward pass gave a finite loss (and
// whose parameters and moments are finite): it is copied into the snapshot
// after the forward pass and before the update. A step that then makes the
// state non-finite, or a later step whose loss is non-finite (the weights a
// too large update left behind), restores it — undoing the step that broke
// the model, not only the step that noticed.
Status Model::guarded_step(const Batch& batch, float* mean_loss) {
  const char* op = "train_step";
  // Bad input is the caller's error, not divergence: nothing changes.
  TERN_RETURN_IF_ERROR(load_batch(batch));
  const std::uint64_t step = steps_ + 1;
  const std::size_t rows = batch.rows;
  const float scale = 1.0f / static_cast<float>(rows);
  float loss_sum = std::numeric_limits<float>::quiet_NaN();
  bool diverged = !state_finite();
  if (!diverged) {
    forward_and_loss(rows, loss_gradient_scale(rows), &loss_sum);
    diverged = !ops::is_finite(loss_sum);
  }
  if (!diverged) {
    save_state();
    TERN_RETURN_IF_ERROR(backward_and_update(rows));
    diverged = !state_finite();
  }
  const float mean = loss_sum * scale;
  if (mean_loss != nullptr) *mean_loss = mean;
  if (!diverged) return Status();

  if (!guard_.snapshot_valid) {
    return Status::error(StatusCode::kNonFinite,
                         "%s: step %llu diverged (mean loss %g) before any good state was saved",
                         op, static_cast<unsigned long long>(step), static_cast<double>(mean));
  }
  restore_state();
  DivergenceReport& report = guard_.report;
  report.last_step = step;
  report.last_loss = mean;
  if (guard_.policy.action == DivergenceAction::kStop ||
      report.recoveries >= guard_.policy.max_recoveries) {
    report.stopped = true;
    return Status::error(StatusCode::kNonFinite,
                         "%s: training diverged at step %llu (mean loss %g); restored the state "
                         "after step %llu and stopped",
                         op, static_cast<unsigned long long>(step), static_cast<double>(mean),
                         static_cast<unsigned long long>(steps_));
  }
  ++report.recoveries;
  report.stopped = false;
  opt_.learning_rate *= guard_.policy.learning_rate_factor;
  return Status();
}

}  // namespace tern
