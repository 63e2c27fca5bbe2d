// SPDX-License-Identifier: Apache-2.0
// bench/train_units.h — the hand-written Eigen training steps tern-bench
// measures beside tern's Model::train_step (bench/train_bench.cpp,
// bench/epoch_bench.cpp).
//
// Same rules as units.h: the Eigen code lives in its own translation unit
// (peer_eigen_train.cpp) compiled with one ISA's kernel flags, and this
// interface is plain functions over pointers and sizes. The state objects are
// opaque and allocated once, before timing.
#pragma once

#include <cstddef>
#include <cstdint>

namespace tern_bench::eigen_train {

// The optimizers, with tern's arithmetic (kernels/scalar): plain SGD
// (w -= lr g), SGD with momentum (v = mu v + g, w -= lr v) and Adam (bias-
// corrected, epsilon outside the square root). No weight decay.
enum class Optimizer { kSgd, kMomentum, kAdam };

// How a Dense layer's weights are updated.
//   kGradientBuffers: every gradient into a buffer of its own during the
//     backward pass, then the optimizer over all of them (the textbook step,
//     tern's train_step without with_fused_update()).
//   kIntoWeights: no weight-gradient buffer; each layer's weights are
//     updated as soon as the delta for the layer below has been computed
//     from the old weights (tern's with_fused_update()). Plain SGD:
//     W -= lr X^T D, one product straight into W. Momentum: the velocity is
//     the accumulator, V = mu V + X^T D (one scaling pass, one product into
//     V), then W -= lr V. Adam needs g twice (for m and for v), so the
//     gradient is formed 16 rows of W at a time into a 16 x m block that
//     stays in L1 and the update of those rows follows at once.
//   Biases and LayerNorm's gamma and beta are vectors: both forms give
//   them a gradient buffer.
enum class Update { kGradientBuffers, kIntoWeights };

struct StepConfig {
  Optimizer optimizer = Optimizer::kAdam;
  Update update = Update::kGradientBuffers;
  float learning_rate = 1e-3f;
  float momentum = 0.9f;  // kMomentum only
};

// MLP 784-256-128-10 (ReLU, softmax cross-entropy) with room for `batch`
// rows: forward, loss, backward (every weight and bias gradient, the deltas
// of the two hidden layers), the optimizer on all six tensors.
struct Mlp;
Mlp* mlp_create(std::size_t batch, const StepConfig& config);
// One step on `rows` (<= batch) rows of 784 floats with row stride ldx:
// rows indices[0..rows) of x when indices is not null (a shuffled epoch
// gathers its batch), else the first `rows` rows. labels are indexed the
// same way. Returns the mean loss.
float mlp_step(Mlp* s, const float* x, std::size_t ldx, const std::uint32_t* labels,
               const std::uint32_t* indices, std::size_t rows);
void mlp_set_learning_rate(Mlp* s, float learning_rate);
// Back to the initial weights, zero optimizer state, Adam's step count 0.
void mlp_reset(Mlp* s);
void mlp_destroy(Mlp* s);

// Feed-forward block LayerNorm(X + Dense(gelu(Dense(X)))) over n rows of
// width d, inner width d_ff, MSE loss, the optimizer on W1, b1, W2, b2,
// gamma, beta (no delta for X: nothing precedes the block).
struct Ffn;
Ffn* ffn_create(std::size_t n, std::size_t d, std::size_t d_ff, const StepConfig& config);
float ffn_step(Ffn* s, const float* x, const float* target);
void ffn_reset(Ffn* s);
void ffn_destroy(Ffn* s);

}  // namespace tern_bench::eigen_train

namespace tern_bench {
// Registers train_step/<impl>/<model>/<optimizer>/<update> for every tern
// ISA built and the Eigen peer (bench/train_bench.cpp, part of the baseline
// driver). A non-empty eigen_skip is why the Eigen peer cannot run in this
// process.
void register_training_benchmarks(const char* eigen_skip);
// Registers epoch/<impl>/fashion-mnist_... : one epoch of tern-train-fashion's
// defaults with tern and with the Eigen step (bench/epoch_bench.cpp).
void register_epoch_benchmarks(const char* eigen_skip);
// Registers rank1_examples/... and rank1_accum/... for every tern ISA built
// (bench/rank1_bench.cpp): per-example gradient norms and gradient
// accumulation against the plain step.
void register_rank1_benchmarks();
}  // namespace tern_bench
