// SPDX-License-Identifier: Apache-2.0
// A training batch copied into the arena: point 0 and the label buffer,
// every row validated on the way (shape, finiteness, label range, index
// range), so the passes after it never see caller memory.
#include <cstring>

#include "input_checks.h"
#include "tern/runtime/model.h"

namespace tern {

Status Model::load_batch(const Batch& batch) {
  // Every training entry point reports a bad batch under this one name.
  const char* op = "train";
  const std::size_t rows = batch.rows;
  const std::uint32_t in_w = spec_.input_width, out_w = spec_.output_width();
  TERN_RETURN_IF_ERROR(check_rows(op, rows, spec_.rows));
  if (batch.indices != nullptr && batch.samples == 0) {
    return Status::error(StatusCode::kInvalidArgument,
                         "%s: batch.indices given but batch.samples is 0", op);
  }
  // The rows of the caller's arrays that may be read: all `samples` of them
  // when indices select, else the batch's own rows. Their extents are
  // overflow-checked here, so that no stride, however large, can make a
  // sample's address wrap to another sample (or to anything else).
  const std::size_t source_rows = batch.indices != nullptr ? batch.samples : rows;
  TERN_RETURN_IF_ERROR(check_input(op, batch.x, batch.ldx, in_w, source_rows));
  const bool sce = spec_.loss == LossKind::kSoftmaxCrossEntropy;
  if (sce && batch.labels == nullptr) {
    return Status::error(StatusCode::kInvalidArgument,
                         "%s: softmax cross-entropy needs labels, and batch.labels is null", op);
  }
  if (!sce && (batch.targets == nullptr || batch.ldt < out_w)) {
    return Status::error(StatusCode::kInvalidArgument,
                         "%s: MSE needs targets with a row stride >= %u (targets %s, stride %zu)",
                         op, static_cast<unsigned>(out_w), batch.targets == nullptr ? "null" : "given",
                         batch.ldt);
  }
  if (sce) {
    TERN_RETURN_IF_ERROR(check_rows_extent(op, "batch.labels", batch.labels, source_rows, 1, 1));
  } else {
    TERN_RETURN_IF_ERROR(
        check_rows_extent(op, "batch.targets", batch.targets, source_rows, out_w, batch.ldt));
  }
  if (batch.indices != nullptr) {
    TERN_RETURN_IF_ERROR(check_rows_extent(op, "batch.indices", batch.indices, rows, 1, 1));
  }
  if (spec_.example_rows != 0 && rows % spec_.example_rows != 0) {
    return Status::error(StatusCode::kInvalidArgument,
                         "%s: %zu rows are not whole examples of %u rows (spec.example_rows)", op,
                         rows, static_cast<unsigned>(spec_.example_rows));
  }
  float* x0 = points_[0];
  float* labels = buffer(ModelBuffer::kLabels).data;
  for (std::size_t i = 0; i < rows; ++i) {
    std::size_t s = i;
    if (batch.indices != nullptr) {
      s = batch.indices[i];
      if (s >= batch.samples) {
        return Status::error(StatusCode::kInvalidArgument,
                             "%s: batch row %zu selects sample %zu of %zu", op, i, s,
                             batch.samples);
      }
    }
    const float* src = batch.x + s * batch.ldx;
    const std::size_t j = first_non_finite(src, in_w);
    if (j != in_w) {
      return Status::error(StatusCode::kNonFinite,
                           "%s: input sample %zu (batch row %zu) column %zu is not finite", op, s,
                           i, j);
    }
    std::memcpy(x0 + i * in_w, src, in_w * sizeof(float));
    if (sce) {
      const std::uint32_t label = batch.labels[s];
      if (label >= out_w) {
        return Status::error(StatusCode::kInvalidArgument,
                             "%s: label %u of sample %zu is out of range for %u classes", op,
                             static_cast<unsigned>(label), s, static_cast<unsigned>(out_w));
      }
      reinterpret_cast<std::uint32_t*>(labels)[i] = label;
    } else {
      const float* t = batch.targets + s * batch.ldt;
      const std::size_t jt = first_non_finite(t, out_w);
      if (jt != out_w) {
        return Status::error(StatusCode::kNonFinite,
                             "%s: target of sample %zu column %zu is not finite", op, s, jt);
      }
      std::memcpy(labels + i * out_w, t, out_w * sizeof(float));
    }
  }
  return Status();
}

}  // namespace tern
