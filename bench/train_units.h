// bench/train_units.h — the hand-written Eigen training steps tern-bench
// measures beside tern's Model::train_step (bench/train_bench.cpp).
//
// Same rules as units.h: the Eigen code lives in its own translation unit
// (peer_eigen_train.cpp) compiled with one ISA's kernel flags, and this
// interface is plain functions over pointers and sizes. The state objects are
// opaque and allocated once, before timing.
#pragma once

#include <cstddef>
#include <cstdint>

namespace tern_bench::eigen_train {

// MLP 784-256-128-10 (ReLU, softmax cross-entropy, Adam) at `batch` rows:
// forward, loss, backward (every weight and bias gradient, the deltas of
// the two hidden layers), Adam on all six tensors.
struct Mlp;
Mlp* mlp_create(std::size_t batch);
// One step on x (batch x 784) and labels; returns the mean loss.
float mlp_step(Mlp* s, const float* x, const std::uint32_t* labels);
void mlp_destroy(Mlp* s);

// Feed-forward block LayerNorm(X + Dense(gelu(Dense(X)))) over n rows of
// width d, inner width d_ff, MSE loss, Adam on W1, b1, W2, b2, gamma, beta
// (no delta for X: nothing precedes the block).
struct Ffn;
Ffn* ffn_create(std::size_t n, std::size_t d, std::size_t d_ff);
float ffn_step(Ffn* s, const float* x, const float* target);
void ffn_destroy(Ffn* s);

}  // namespace tern_bench::eigen_train

namespace tern_bench {
// Registers train_step/<impl>/<model> for every tern ISA built and the Eigen
// peer (bench/train_bench.cpp, part of the baseline driver). A non-empty
// eigen_skip is why the Eigen peer cannot run in this process.
void register_training_benchmarks(const char* eigen_skip);
// Registers rank1_examples/..., rank1_fused/... and rank1_accum/... for every
// tern ISA built (bench/rank1_bench.cpp): per-example gradient norms,
// fused update and gradient accumulation against the plain step.
void register_rank1_benchmarks();
}  // namespace tern_bench
