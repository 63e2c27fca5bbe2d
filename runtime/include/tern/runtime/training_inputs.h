// SPDX-License-Identifier: Apache-2.0
// tern/runtime/training_inputs.h — what a training call is given: a batch
// of samples (Batch) and the optimizer's settings (OptimizerParams).
#pragma once

#include <cstddef>
#include <cstdint>

namespace tern {

// A batch for training or evaluation. Sample s is the row x + s * ldx (with
// its label labels[s] or target row targets + s * ldt); the batch is samples
// 0 .. rows-1, or indices[0 .. rows-1] when indices is given (a shuffled
// epoch gathers its batches this way, without copying the data set).
// Every entry that takes a Batch checks ldx >= input width, ldt >= output
// width, 4-byte alignment of every array, and that the rows that may be read
// (samples of them with indices, else rows) fit in the address space with
// their strides, overflow-checked, before reading any of them.
struct Batch {
  const float* x = nullptr;
  std::size_t ldx = 0;
  std::size_t rows = 0;
  const std::uint32_t* labels = nullptr;  // softmax cross-entropy
  const float* targets = nullptr;         // MSE
  std::size_t ldt = 0;
  const std::uint32_t* indices = nullptr;  // optional
  std::size_t samples = 0;                 // with indices: rows of x that exist
};

// Which parameters weight decay applies to (OptimizerParams::weight_decay).
// kDenseWeights is tern's own default: decay shrinks the weights that
// multiply inputs; biases and LayerNorm's gamma/beta shift or scale
// activations, and pulling them to 0 only biases the fit. kAllParameters is
// PyTorch's convention (torch.optim.SGD / Adam / AdamW apply weight_decay to
// every parameter they are given): choose it to reproduce a PyTorch recipe
// that passes model.parameters() whole (docs/pytorch.md).
enum class WeightDecayScope : std::uint8_t { kDenseWeights = 0, kAllParameters = 1 };

// How a training step reduces the MSE loss (LossKind::kMse) over its rows
// and output columns; the step's gradient is the gradient of that loss and
// train_step / accumulate report that loss. evaluate() always reports the
// half sum over rows (its figure does not depend on a training setting).
//   kHalfSumOverRows: 0.5 * sum((p - t)^2) / rows (tern's default: the
//     gradient is (p - t) / rows, as in most textbooks).
//   kMean: sum((p - t)^2) / (rows * cols), PyTorch's nn.MSELoss() (mean
//     reduction): 2 / cols times the default.
//   kSum: sum((p - t)^2), PyTorch's nn.MSELoss(reduction="sum"). The step is
//     then proportional to the rows; not with example gradients or
//     accumulation (their gradients are formed per example and divided by
//     the rows of the step, so a sum would have no one meaning there).
// The scaling is one float multiplication of the loss kernel's gradient
// scale and of its loss sum, so it gives the same bits on every ISA.
enum class MseReduction : std::uint8_t { kHalfSumOverRows = 0, kMean = 1, kSum = 2 };

struct OptimizerParams {
  float learning_rate = 1e-3f;
  float momentum = 0.9f;  // SGD
  float beta1 = 0.9f;     // Adam, AdamW
  float beta2 = 0.999f;
  float epsilon = 1e-8f;
  // Applied to the parameters weight_decay_scope names (by default Dense
  // weights only, not biases or LayerNorm's gamma/beta): SGD and Adam add
  // weight_decay * w to the gradient, AdamW decays w directly (decoupled:
  // w *= 1 - lr * weight_decay), as torch.optim does.
  float weight_decay = 0.0f;
  WeightDecayScope weight_decay_scope = WeightDecayScope::kDenseWeights;
  // MSE loss only (ignored by softmax cross-entropy).
  MseReduction mse_reduction = MseReduction::kHalfSumOverRows;
};

}  // namespace tern
