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

struct OptimizerParams {
  float learning_rate = 1e-3f;
  float momentum = 0.9f;  // SGD
  float beta1 = 0.9f;     // Adam, AdamW
  float beta2 = 0.999f;
  float epsilon = 1e-8f;
  // Applied to Dense weights only (not to biases or LayerNorm's gamma/beta):
  // SGD and Adam add weight_decay * w to the gradient, AdamW decays w
  // directly (decoupled).
  float weight_decay = 0.0f;
};

}  // namespace tern
