// SPDX-License-Identifier: Apache-2.0
// tern/runtime/spec.h — a model described at compile time.
//
// Firmware has to know its RAM budget before it runs, so a tern model is a
// value, not a graph of heap objects: a ModelSpec is a fixed-capacity list of
// layers plus the few facts that decide memory — the width of the input, the
// number of rows processed per step (batch size, or sequence length for
// position-wise layers), inference or training, the loss and the optimizer.
// Every function here is constexpr, so
//
//     constexpr auto spec = tern::mlp({784, 256, 128, 10}, 32,
//                                     tern::Mode::kTraining);
//     alignas(64) static std::byte arena[tern::arena_bytes(spec)];
//
// sizes the arena in the compiler (tern/runtime/plan.h does the sizing).
//
// Layers are applied to an n x width activation matrix, one row per sample
// (an MLP over a batch) or per position (a feed-forward block over a
// sequence); the same kernels serve both. "Points" number the activation
// matrices: point 0 is the model input, point l + 1 the output of layer l.
// A residual layer adds an earlier point to its input.
//
// check_spec() says what is wrong with a hand-written spec; the builders
// below only produce specs whose widths agree.
#pragma once

#include <cstddef>
#include <cstdint>
#include <initializer_list>

#include "tern/kernels/elementwise.h"

namespace tern {

// Enough for an MLP of a dozen layers or two feed-forward blocks; each layer
// costs ~200 bytes in the Model object, so the capacity is kept small.
constexpr std::size_t kMaxLayers = 16;

// LayerNorm's variance floor, the value most frameworks use by default.
constexpr float kLayerNormEpsilon = 1e-5f;

enum class LayerKind : std::uint8_t {
  kDense = 1,       // Y = act(X W + b), W in x out; act may be any Pointwise
  kActivation = 2,  // Y = act(X)
  kLayerNorm = 3,   // per row: Y = (X - mean) / sqrt(var + eps) * gamma + beta
  kResidual = 4,    // Y = X + point[from]
};

enum class Mode : std::uint8_t { kInference = 0, kTraining = 1 };
enum class LossKind : std::uint8_t { kSoftmaxCrossEntropy = 0, kMse = 1 };
// kSgd keeps a velocity per parameter (momentum may be 0); Adam and AdamW
// keep two moments.
enum class OptimizerKind : std::uint8_t { kSgd = 0, kAdam = 1, kAdamW = 2 };
// kAuto: He for ReLU/GELU layers, Xavier otherwise. Both are uniform
// distributions, so initialisation needs only sqrt, which IEEE rounds
// exactly: the same seed gives the same weights on every platform.
enum class Init : std::uint8_t { kAuto = 0, kHe = 1, kXavier = 2 };

struct LayerSpec {
  LayerKind kind = LayerKind::kDense;
  Pointwise act = Pointwise::kIdentity;
  Init init = Init::kAuto;
  std::uint32_t in = 0;    // width of the input point
  std::uint32_t out = 0;   // width of the output point
  std::uint32_t from = 0;  // residual only: the point added to the input
};

// What check_spec() found wrong, and where.
enum class SpecError : std::uint8_t {
  kOk = 0,
  kNoLayers,
  kTooManyLayers,   // a builder was asked for more than kMaxLayers
  kZeroRows,
  kZeroWidth,
  kWidthMismatch,   // layer.in != width of its input point, or a non-dense layer changes width
  kBadResidual,     // from is not an earlier point, or its width differs
  kBadActivation,
  kBadKind,
  kBadLoss,         // softmax cross-entropy needs >= 2 outputs
  kTooLarge,        // a buffer would not fit in size_t
  kBadTrainingOption,  // fused update, example gradients or accumulation misconfigured
  kBadInputGradient,   // input_gradient with example_rows or accumulation_rows
};
const char* spec_error_text(SpecError e);

struct SpecCheck {
  SpecError error = SpecError::kOk;
  std::uint32_t layer = 0;  // the offending layer, when there is one
  constexpr bool ok() const { return error == SpecError::kOk; }
};

struct ModelSpec {
  LayerSpec layers[kMaxLayers] = {};
  std::uint32_t layer_count = 0;
  std::uint32_t input_width = 0;
  std::uint32_t rows = 0;  // rows per step: batch size or sequence length
  Mode mode = Mode::kInference;
  LossKind loss = LossKind::kSoftmaxCrossEntropy;
  OptimizerKind optimizer = OptimizerKind::kAdam;
  bool overflowed = false;  // a builder ran out of layer slots
  // Training only: plan a snapshot of the parameters and optimizer moments
  // into the arena, so that train_step() can restore the last good state
  // when training diverges (Model::set_divergence_policy). Costs one more
  // copy of the parameters and moments in RAM.
  bool divergence_guard = false;

  // ---- training variants that use the rank-1 structure of dense gradients
  // (docs/rank1.md). All three are training-only and compose.
  //
  // Fused update: each Dense layer's weights are updated by the optimizer
  // during the backward pass, a block of rows of W at a time (16, or 64
  // from kPackMinRows rows per step: plan.h, fused_block_rows), right
  // after the layer's delta has been propagated with the old weights. The
  // gradient of a block lives only in a small block buffer, so the plan has
  // no weight-gradient buffer. Same bits as the unfused step.
  bool fused_update = false;
  // Example gradients: rows per example (a batch of n rows holds n /
  // example_rows examples: 1 for an MLP over samples, the sequence length for
  // a feed-forward block), or 0 for off. Plans every delta of the step
  // side by side instead of sharing buffers, so that per-example gradient
  // norms are computed from the rank-1 factors (no per-example gradient is
  // ever formed) and per-example clipping, Gaussian noise (DP-SGD) and
  // global-norm clipping can scale the factors before they are accumulated.
  std::uint32_t example_rows = 0;
  // Gradient accumulation: up to this many rows of factors (u_i, delta_i)
  // are kept per Dense layer across micro-batches (Model::accumulate) and
  // flushed as one rank-K update (Model::flush); 0 for off. At least `rows`.
  std::uint32_t accumulation_rows = 0;

  // ---- gradients at the model's boundary (training only) -----------------
  // Input gradient: plans dL/dX (rows x input_width, the delta of point 0)
  // and a copy of dL/dY (rows x output width) as the loss produced it or
  // backward() received it, so that Model::input_gradient() and
  // Model::output_gradient() hold them after a backward pass. Models that do
  // not ask pay nothing: without it the backward pass stops at layer 0's
  // parameter gradients and the output delta is overwritten in place.
  // An inference spec ignores it (no backward pass; like divergence_guard).
  // Excludes example_rows and accumulation_rows: those passes form the
  // deltas of each example's own loss and scale them in place, so a dL/dX
  // of theirs would not be the gradient of the mean loss.
  bool input_gradient = false;

  // Width of point p (0 = input, l + 1 = output of layer l).
  constexpr std::uint32_t width(std::size_t p) const {
    return p == 0 ? input_width : layers[p - 1].out;
  }
  constexpr std::uint32_t output_width() const { return width(layer_count); }
  constexpr std::uint32_t points() const { return layer_count + 1; }

  // ---- builders: each returns a copy with one more layer -----------------
  static constexpr ModelSpec input(std::uint32_t width, std::uint32_t rows_per_step) {
    ModelSpec s;
    s.input_width = width;
    s.rows = rows_per_step;
    return s;
  }
  constexpr ModelSpec dense(std::uint32_t out, Pointwise act = Pointwise::kIdentity,
                            Init init = Init::kAuto) const {
    LayerSpec l;
    l.kind = LayerKind::kDense;
    l.act = act;
    l.init = init;
    l.out = out;
    return with(l);
  }
  constexpr ModelSpec activation(Pointwise act) const {
    LayerSpec l;
    l.kind = LayerKind::kActivation;
    l.act = act;
    l.out = width(layer_count);
    return with(l);
  }
  constexpr ModelSpec layer_norm() const {
    LayerSpec l;
    l.kind = LayerKind::kLayerNorm;
    l.out = width(layer_count);
    return with(l);
  }
  // Adds point `from_point` to the current output.
  constexpr ModelSpec residual(std::uint32_t from_point) const {
    LayerSpec l;
    l.kind = LayerKind::kResidual;
    l.from = from_point;
    l.out = width(layer_count);
    return with(l);
  }
  constexpr ModelSpec training(LossKind loss_kind, OptimizerKind opt) const {
    ModelSpec s = *this;
    s.mode = Mode::kTraining;
    s.loss = loss_kind;
    s.optimizer = opt;
    return s;
  }
  constexpr ModelSpec inference() const {
    ModelSpec s = *this;
    s.mode = Mode::kInference;
    return s;
  }
  constexpr ModelSpec with_divergence_guard(bool on = true) const {
    ModelSpec s = *this;
    s.divergence_guard = on;
    return s;
  }
  constexpr ModelSpec with_fused_update(bool on = true) const {
    ModelSpec s = *this;
    s.fused_update = on;
    return s;
  }
  constexpr ModelSpec with_input_gradient(bool on = true) const {
    ModelSpec s = *this;
    s.input_gradient = on;
    return s;
  }
  constexpr ModelSpec with_example_gradients(std::uint32_t rows_per_example = 1) const {
    ModelSpec s = *this;
    s.example_rows = rows_per_example;
    return s;
  }
  constexpr ModelSpec with_accumulation(std::uint32_t factor_rows) const {
    ModelSpec s = *this;
    s.accumulation_rows = factor_rows;
    return s;
  }
  constexpr ModelSpec with_rows(std::uint32_t rows_per_step) const {
    ModelSpec s = *this;
    s.rows = rows_per_step;
    return s;
  }

 private:
  constexpr ModelSpec with(LayerSpec l) const {
    ModelSpec s = *this;
    if (s.layer_count >= kMaxLayers) {
      s.overflowed = true;
      return s;
    }
    l.in = width(layer_count);
    s.layers[s.layer_count] = l;
    s.layer_count = s.layer_count + 1;
    return s;
  }
};

// A plain MLP: Dense layers of the given widths (first = input), `hidden`
// after every layer but the last, which stays linear (logits or regression
// outputs).
constexpr ModelSpec mlp(std::initializer_list<std::uint32_t> widths, std::uint32_t rows,
                        Mode mode = Mode::kInference, Pointwise hidden = Pointwise::kRelu,
                        LossKind loss = LossKind::kSoftmaxCrossEntropy,
                        OptimizerKind opt = OptimizerKind::kAdam) {
  ModelSpec s;
  const std::uint32_t* w = widths.begin();
  const std::size_t count = widths.size();
  if (count == 0) return s;
  s = ModelSpec::input(w[0], rows);
  for (std::size_t i = 1; i < count; ++i) {
    s = s.dense(w[i], i + 1 < count ? hidden : Pointwise::kIdentity);
  }
  s.mode = mode;
  s.loss = loss;
  s.optimizer = opt;
  return s;
}

// The position-wise feed-forward block of a transformer, over a sequence of
// n rows of width d: LayerNorm(X + Dense(act(Dense(X)))) with inner width
// d_ff. Appended to `base` (whose current output must have width d), so
// blocks can be stacked.
constexpr ModelSpec ffn_block(const ModelSpec& base, std::uint32_t d_ff,
                              Pointwise act = Pointwise::kGelu) {
  const std::uint32_t block_input = base.layer_count;  // point index of X
  const std::uint32_t d = base.width(base.layer_count);
  return base.dense(d_ff, act).dense(d).residual(block_input).layer_norm();
}
constexpr ModelSpec ffn(std::uint32_t n, std::uint32_t d, std::uint32_t d_ff,
                        Mode mode = Mode::kInference, Pointwise act = Pointwise::kGelu,
                        LossKind loss = LossKind::kMse, OptimizerKind opt = OptimizerKind::kAdam) {
  ModelSpec s = ffn_block(ModelSpec::input(d, n), d_ff, act);
  s.mode = mode;
  s.loss = loss;
  s.optimizer = opt;
  return s;
}

// Largest dimension accepted: keeps every product of two dimensions and the
// row count far from overflowing 64-bit arithmetic, and the file format's
// 32-bit fields exact.
constexpr std::uint32_t kMaxDimension = 1u << 24;

constexpr SpecCheck check_spec(const ModelSpec& s) {
  if (s.overflowed) return SpecCheck{SpecError::kTooManyLayers, kMaxLayers};
  if (s.layer_count == 0) return SpecCheck{SpecError::kNoLayers, 0};
  if (s.layer_count > kMaxLayers) return SpecCheck{SpecError::kTooManyLayers, s.layer_count};
  if (s.rows == 0) return SpecCheck{SpecError::kZeroRows, 0};
  if (s.rows > kMaxDimension) return SpecCheck{SpecError::kTooLarge, 0};
  if (s.input_width == 0) return SpecCheck{SpecError::kZeroWidth, 0};
  if (s.input_width > kMaxDimension) return SpecCheck{SpecError::kTooLarge, 0};
  for (std::uint32_t l = 0; l < s.layer_count; ++l) {
    const LayerSpec& L = s.layers[l];
    if (L.out == 0) return SpecCheck{SpecError::kZeroWidth, l};
    if (L.out > kMaxDimension) return SpecCheck{SpecError::kTooLarge, l};
    if (L.in != s.width(l)) return SpecCheck{SpecError::kWidthMismatch, l};
    const unsigned act = static_cast<unsigned>(L.act);
    if (act > static_cast<unsigned>(Pointwise::kSigmoid)) {
      return SpecCheck{SpecError::kBadActivation, l};
    }
    switch (L.kind) {
      case LayerKind::kDense: break;
      case LayerKind::kActivation:
      case LayerKind::kLayerNorm:
        if (L.out != L.in) return SpecCheck{SpecError::kWidthMismatch, l};
        break;
      case LayerKind::kResidual:
        if (L.out != L.in) return SpecCheck{SpecError::kWidthMismatch, l};
        if (L.from >= l || s.width(L.from) != L.in) return SpecCheck{SpecError::kBadResidual, l};
        break;
      default: return SpecCheck{SpecError::kBadKind, l};
    }
  }
  if (s.mode == Mode::kTraining && s.loss == LossKind::kSoftmaxCrossEntropy &&
      s.output_width() < 2) {
    return SpecCheck{SpecError::kBadLoss, s.layer_count - 1};
  }
  if (static_cast<unsigned>(s.mode) > 1 || static_cast<unsigned>(s.loss) > 1 ||
      static_cast<unsigned>(s.optimizer) > 2) {
    return SpecCheck{SpecError::kBadKind, 0};
  }
  // The rank-1 training variants: training only; examples tile the rows of a
  // step and of the accumulator.
  const bool variants = s.fused_update || s.example_rows != 0 || s.accumulation_rows != 0;
  if (variants && s.mode != Mode::kTraining) return SpecCheck{SpecError::kBadTrainingOption, 0};
  if (s.example_rows != 0 && s.rows % s.example_rows != 0) {
    return SpecCheck{SpecError::kBadTrainingOption, 0};
  }
  // An inference spec ignores it, as it ignores the divergence guard, so a
  // training spec copied for inference with only its mode changed stays
  // valid (an inference model has no backward pass to open).
  if (s.input_gradient && (s.example_rows != 0 || s.accumulation_rows != 0)) {
    return SpecCheck{SpecError::kBadInputGradient, 0};
  }
  if (s.accumulation_rows != 0) {
    // The guard snapshots the state around one train_step(); with
    // accumulation the update happens in flush().
    if (s.divergence_guard) return SpecCheck{SpecError::kBadTrainingOption, 0};
    if (s.accumulation_rows < s.rows || s.accumulation_rows > kMaxDimension) {
      return SpecCheck{SpecError::kBadTrainingOption, 0};
    }
    if (s.example_rows != 0 && s.accumulation_rows % s.example_rows != 0) {
      return SpecCheck{SpecError::kBadTrainingOption, 0};
    }
  }
  return SpecCheck{};
}

// Layers with trainable parameters own two tensors: Dense W and b,
// LayerNorm gamma and beta.
constexpr bool has_parameters(LayerKind k) {
  return k == LayerKind::kDense || k == LayerKind::kLayerNorm;
}

}  // namespace tern
