// SPDX-License-Identifier: Apache-2.0
// Gradient accumulation (spec.accumulation_rows): accumulate() runs the
// forward pass and propagate on a micro-batch and keeps every Dense layer's
// factors (u_i, d_i); flush() forms each weight gradient from all of them as
// one rank-K update and takes one optimizer step (example_gradients.cpp
// forms the gradients).
#include <cstring>

#include "input_checks.h"
#include "optimizer_step.h"
#include "tern/runtime/model.h"

namespace tern {

Status Model::check_accumulating(const char* op) const {
  TERN_RETURN_IF_ERROR(check_training(op));
  if (step_frame_ != StepFrame::kAccumulated) {
    return Status::error(StatusCode::kFailedPrecondition,
                         "%s: the spec keeps no factor rows (build it with .with_accumulation(K))",
                         op);
  }
  return Status();
}

Status Model::accumulate(const Batch& batch, float* mean_loss) {
  const char* op = "accumulate";
  TERN_RETURN_IF_ERROR(check_accumulating(op));
  if (mean_loss != nullptr) TERN_RETURN_IF_ERROR(check_aligned(op, "mean_loss", mean_loss));
  return accumulate_rows(op, batch, mean_loss);
}

Status Model::accumulate_rows(const char* op, const Batch& batch, float* mean_loss) {
  const std::uint32_t K = spec_.accumulation_rows;
  // A micro-batch of more rows than a step takes (spec.rows <= K) can never
  // be accumulated, flushed or not: a wrong argument, named as the batch
  // loader names it. Only filling the accumulator across calls is a state.
  TERN_RETURN_IF_ERROR(check_rows("train", batch.rows, spec_.rows));
  if (batch.rows > K - accumulated_) {
    return Status::error(StatusCode::kFailedPrecondition,
                         "%s: %zu rows do not fit: %u of %u factor rows are in use; flush() first",
                         op, batch.rows, static_cast<unsigned>(accumulated_),
                         static_cast<unsigned>(K));
  }
  const std::size_t rows = batch.rows;
  float loss_sum = 0.0f;
  TERN_RETURN_IF_ERROR(load_and_forward(op, batch, 1.0f, &loss_sum));
  // LayerNorm gradients are sums across micro-batches: start them with the
  // first one.
  if (accumulated_ == 0) zero_gradients();
  propagate_for_factors(rows);
  for (std::uint32_t l = 0; l < spec_.layer_count; ++l) {
    const LayerSpec& ls = spec_.layers[l];
    if (ls.kind != LayerKind::kDense) continue;
    std::memcpy(buffer(l, LayerBuffer::kFactorU) + std::size_t{accumulated_} * ls.in, points_[l],
                rows * ls.in * sizeof(float));
    std::memcpy(buffer(l, LayerBuffer::kFactorD) + std::size_t{accumulated_} * ls.out,
                deltas_[l + 1], rows * ls.out * sizeof(float));
  }
  accumulated_ += static_cast<std::uint32_t>(rows);
  if (mean_loss != nullptr) *mean_loss = loss_sum * (1.0f / static_cast<float>(rows));
  return Status();
}

Status Model::flush() {
  TERN_RETURN_IF_ERROR(check_accumulating("flush"));
  TERN_RETURN_IF_ERROR(use_step_parts("flush", every_step_part()));
  return flush_factors();
}

Status Model::flush_factors() {
  if (accumulated_ == 0) return Status();
  UpdateConstants update;
  TERN_RETURN_IF_ERROR(start_update(&update));
  gradients_from_factors(accumulated_, FactorSource::kAccumulated, &update);
  update_stored_tensors(update);
  accumulated_ = 0;
  zero_gradients();
  return Status();
}

// train_step() with accumulation: one micro-batch, then flush.
Status Model::accumulated_step(const Batch& batch, float* mean_loss) {
  if (accumulated_ != 0) {
    return Status::error(StatusCode::kFailedPrecondition,
                         "train_step: %u accumulated rows are waiting; flush() them first",
                         static_cast<unsigned>(accumulated_));
  }
  TERN_RETURN_IF_ERROR(accumulate_rows("accumulate", batch, mean_loss));
  return flush_factors();
}

}  // namespace tern
