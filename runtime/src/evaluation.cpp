// SPDX-License-Identifier: Apache-2.0
// Model::evaluate(): the mean loss and the accuracy or mean squared error of
// a data set of any size, chunk by chunk, without touching anything training
// keeps (tern/runtime/evaluation.h has the contract and the reasons).
#include <cstring>

#include "input_checks.h"
#include "portable_ops.h"
#include "tern/kernels/kernel_table.h"
#include "tern/runtime/model.h"

namespace tern {
namespace runtime_detail {

// The running sums of an evaluation, in row order.
struct EvaluationSums {
  double loss = 0.0;  // the rows' losses, each a float from the loss kernel
  std::size_t correct = 0;
  float* row_losses = nullptr;  // row_losses(): each row's loss, by batch row
};

}  // namespace runtime_detail

namespace {

constexpr const char* kOp = "evaluate";

// Everything about the caller's arrays that can be checked before a row is
// read: shapes, strides, alignment and extents (the checks load_batch runs,
// without its limit of spec.rows rows).
Status check_data(const ModelSpec& spec, const Batch& data) {
  const std::uint32_t in_w = spec.input_width, out_w = spec.output_width();
  if (data.rows == 0) {
    return Status::error(StatusCode::kInvalidArgument,
                         "%s: 0 rows (a mean over no rows is undefined)", kOp);
  }
  if (data.indices != nullptr && data.samples == 0) {
    return Status::error(StatusCode::kInvalidArgument,
                         "%s: data.indices given but data.samples is 0", kOp);
  }
  const std::size_t source_rows = data.indices != nullptr ? data.samples : data.rows;
  TERN_RETURN_IF_ERROR(check_input(kOp, data.x, data.ldx, in_w, source_rows));
  if (spec.loss == LossKind::kSoftmaxCrossEntropy) {
    if (data.labels == nullptr) {
      return Status::error(StatusCode::kInvalidArgument,
                           "%s: softmax cross-entropy needs labels, and data.labels is null",
                           kOp);
    }
    TERN_RETURN_IF_ERROR(check_rows_extent(kOp, "data.labels", data.labels, source_rows, 1, 1));
  } else {
    if (data.targets == nullptr || data.ldt < out_w) {
      return Status::error(StatusCode::kInvalidArgument,
                           "%s: MSE needs targets with a row stride >= %u (targets %s, stride %zu)",
                           kOp, static_cast<unsigned>(out_w),
                           data.targets == nullptr ? "null" : "given", data.ldt);
    }
    TERN_RETURN_IF_ERROR(
        check_rows_extent(kOp, "data.targets", data.targets, source_rows, out_w, data.ldt));
  }
  if (data.indices != nullptr) {
    TERN_RETURN_IF_ERROR(check_rows_extent(kOp, "data.indices", data.indices, data.rows, 1, 1));
  }
  return Status();
}

// The sample batch row `row` reads (its index, range-checked).
Status sample_of(const Batch& data, std::size_t row, std::size_t* sample) {
  *sample = row;
  if (data.indices == nullptr) return Status();
  *sample = data.indices[row];
  if (*sample >= data.samples) {
    return Status::error(StatusCode::kInvalidArgument, "%s: row %zu selects sample %zu of %zu",
                         kOp, row, *sample, data.samples);
  }
  return Status();
}

// A row's input, label or target, checked: finite, and a label in range.
Status check_row(const ModelSpec& spec, const Batch& data, std::size_t row, std::size_t sample) {
  const std::uint32_t in_w = spec.input_width, out_w = spec.output_width();
  const std::size_t j = first_non_finite(data.x + sample * data.ldx, in_w);
  if (j != in_w) {
    return Status::error(StatusCode::kNonFinite,
                         "%s: input of row %zu (sample %zu) column %zu is not finite", kOp, row,
                         sample, j);
  }
  if (spec.loss == LossKind::kSoftmaxCrossEntropy) {
    const std::uint32_t label = data.labels[sample];
    if (label >= out_w) {
      return Status::error(StatusCode::kInvalidArgument,
                           "%s: label %u of row %zu (sample %zu) is out of range for %u classes",
                           kOp, static_cast<unsigned>(label), row, sample,
                           static_cast<unsigned>(out_w));
    }
    return Status();
  }
  const std::size_t jt = first_non_finite(data.targets + sample * data.ldt, out_w);
  if (jt != out_w) {
    return Status::error(StatusCode::kNonFinite,
                         "%s: target of row %zu (sample %zu) column %zu is not finite", kOp, row,
                         sample, jt);
  }
  return Status();
}

// The index of the largest value of a finite row, the first on ties (as
// predict() chooses).
std::uint32_t argmax(const float* y, std::size_t width) {
  std::uint32_t best = 0;
  for (std::size_t j = 1; j < width; ++j) {
    if (y[j] > y[best]) best = static_cast<std::uint32_t>(j);
  }
  return best;
}

}  // namespace

// evaluate() and row_losses(): every chunk in row order into *sums.
Status Model::run_evaluation(const char* op, const Batch& data,
                             runtime_detail::EvaluationSums* sums) {
  if (!built()) {
    return Status::error(StatusCode::kFailedPrecondition, "%s: the model is not built", op);
  }
  TERN_RETURN_IF_ERROR(check_data(spec_, data));
  // An inference model has no buffer to gather selected samples into (its
  // point 0 is the caller's input), so it runs them one row at a time: the
  // same bits, as every row's outputs are computed on their own.
  const bool gather_rows = data.indices != nullptr && spec_.mode == Mode::kInference;
  const std::size_t chunk_rows = gather_rows ? 1 : spec_.rows;
  Status s;
  for (std::size_t first = 0; s.ok() && first < data.rows; first += chunk_rows) {
    const std::size_t left = data.rows - first;
    s = evaluate_chunk(data, first, left < chunk_rows ? left : chunk_rows, sums);
  }
  // The activations now hold loss values, not a forward pass's outputs.
  rows_done_ = 0;
  return s;
}

Status Model::row_losses(const Batch& data, float* losses) {
  if (losses == nullptr) {
    return Status::error(StatusCode::kInvalidArgument, "row_losses: losses is null");
  }
  if (reinterpret_cast<std::uintptr_t>(losses) % alignof(float) != 0) {
    return Status::error(StatusCode::kMisaligned, "row_losses: losses at %p is not %zu-byte aligned",
                         static_cast<void*>(losses), alignof(float));
  }
  TERN_RETURN_IF_ERROR(check_rows_extent("row_losses", "losses", losses, data.rows, 1, 1));
  // On an error the rows before the named one hold their losses and the
  // rest are untouched, as infer() delivers its rows.
  runtime_detail::EvaluationSums sums;
  sums.row_losses = losses;
  return run_evaluation("row_losses", data, &sums);
}

Status Model::evaluate(const Batch& data, Evaluation* out) {
  if (out == nullptr) {
    return Status::error(StatusCode::kInvalidArgument, "%s: out is null", kOp);
  }
  runtime_detail::EvaluationSums sums;
  const Status s = run_evaluation(kOp, data, &sums);
  if (!s.ok()) return s;
  const double rows = static_cast<double>(data.rows);
  Evaluation e;
  e.rows = data.rows;
  e.mean_loss = static_cast<float>(sums.loss / rows);
  if (spec_.loss == LossKind::kSoftmaxCrossEntropy) {
    e.correct = sums.correct;
    e.accuracy = static_cast<float>(static_cast<double>(sums.correct) / rows);
  } else {
    // Each row's loss is half its squared errors (exactly: a halving).
    e.mean_squared_error =
        static_cast<float>(2.0 * sums.loss / (rows * static_cast<double>(spec_.output_width())));
  }
  *out = e;
  return Status();
}

Status Model::evaluate_chunk(const Batch& data, std::size_t first, std::size_t count,
                             runtime_detail::EvaluationSums* sums) {
  const std::uint32_t in_w = spec_.input_width, out_w = spec_.output_width();
  const float* x0 = data.x + first * data.ldx;
  std::size_t ld0 = data.ldx;
  for (std::size_t i = 0; i < count; ++i) {
    std::size_t sample = 0;
    TERN_RETURN_IF_ERROR(sample_of(data, first + i, &sample));
    TERN_RETURN_IF_ERROR(check_row(spec_, data, first + i, sample));
    if (data.indices == nullptr) continue;
    if (spec_.mode == Mode::kInference) {
      x0 = data.x + sample * data.ldx;  // one selected row, read in place
    } else {
      // A training model's point 0 holds spec.rows input rows.
      std::memcpy(points_[0] + i * in_w, data.x + sample * data.ldx, in_w * sizeof(float));
      x0 = points_[0];
      ld0 = in_w;
    }
  }
  run_forward(x0, ld0, count);
  const KernelTable& k = kernels_of(isa_);
  float* y = points_[spec_.layer_count];
  for (std::size_t i = 0; i < count; ++i) {
    const std::size_t row = first + i;
    const std::size_t sample = data.indices != nullptr ? data.indices[row] : row;
    float* yi = y + i * out_w;
    const std::size_t j = first_non_finite(yi, out_w);
    if (j != out_w) {
      return Status::error(StatusCode::kNonFinite,
                           "%s: output of row %zu (sample %zu) column %zu is %g (the weights or "
                           "inputs overflow float)",
                           kOp, row, sample, j, format_arg(yi[j]));
    }
    // The row's loss from the loss kernel on this row alone, its gradient
    // written over the row's outputs (which are read before): no delta
    // buffer is touched, and the value is the one training computes.
    float loss = 0.0f;
    if (spec_.loss == LossKind::kSoftmaxCrossEntropy) {
      const std::uint32_t label = data.labels[sample];
      if (argmax(yi, out_w) == label) ++sums->correct;
      k.softmax_cross_entropy_f32(1, out_w, yi, out_w, &label, 1.0f, yi, out_w, &loss);
    } else {
      k.mse_f32(1, out_w, yi, out_w, data.targets + sample * data.ldt, data.ldt, 1.0f, yi, out_w,
                &loss);
    }
    if (!ops::is_finite(loss)) {
      return Status::error(StatusCode::kNonFinite,
                           "%s: the loss of row %zu (sample %zu) is %g (the outputs overflow "
                           "float)",
                           kOp, row, sample, format_arg(loss));
    }
    sums->loss += static_cast<double>(loss);
    if (sums->row_losses != nullptr) sums->row_losses[row] = loss;
  }
  return Status();
}

}  // namespace tern
