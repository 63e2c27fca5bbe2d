// SPDX-License-Identifier: Apache-2.0
// tern/runtime/plan_buffers.h — the buffers of a model's plan, by name.
//
// A plan (tern/runtime/plan.h) gives every buffer a Region of the model's
// block. The buffers are named by enums, LayerBuffer (one of each per layer)
// and ModelBuffer (one of each per model), and held in arrays indexed by
// them, so Model::build() resolves them all in one loop and a new buffer is
// one more enum value plus its place in plan_model().
#pragma once

#include <cstddef>
#include <cstdint>

#include "tern/runtime/spec.h"

namespace tern {

// A buffer of a plan: `bytes` (a multiple of 64, 0 when absent) at `offset`
// from the start of the model's block. 64-bit so that a 32-bit target can
// compute an oversized plan and reject it instead of wrapping around.
struct Region {
  std::uint64_t offset = 0;
  std::uint64_t bytes = 0;
  constexpr bool present() const { return bytes != 0; }
  constexpr std::uint64_t end() const { return offset + bytes; }
};

// The buffers of one layer, by role. Each parameter role is a (weight,
// bias) pair in that order, so tensor_buffer() finds either member.
enum class LayerBuffer : std::uint8_t {
  kWeight,          // Dense W (in x out); LayerNorm gamma (out)
  kBias,            // Dense b (out); LayerNorm beta (out)
  kWeightGrad,      // training, except Dense W under a fused update
  kBiasGrad,        // training
  kWeightMoment1,   // training: SGD velocity or Adam first moment
  kBiasMoment1,
  kWeightMoment2,   // training, Adam/AdamW: second moment
  kBiasMoment2,
  kPreActivation,   // training: Dense pre-activation (GELU, tanh, sigmoid)
  kMean,            // training: LayerNorm mean, one float per row
  kRstd,            // training: LayerNorm 1/std, one float per row
  kFactorU,         // accumulation: K x in inputs (Dense)
  kFactorD,         // accumulation: K x out deltas (Dense)
};
constexpr std::size_t kLayerBufferCount = 13;
static_assert(static_cast<std::size_t>(LayerBuffer::kFactorD) + 1 == kLayerBufferCount,
              "kLayerBufferCount counts every LayerBuffer");

// What a parameter tensor's buffer holds.
enum class TensorRole : std::uint8_t { kValue = 0, kGrad = 1, kMoment1 = 2, kMoment2 = 3 };
constexpr LayerBuffer tensor_buffer(TensorRole role, bool is_bias) {
  return static_cast<LayerBuffer>(2 * static_cast<unsigned>(role) + (is_bias ? 1u : 0u));
}

// The buffers of the whole model, one each.
enum class ModelBuffer : std::uint8_t {
  kParameters,    // the group spans: every W, b, gamma, beta
  kGradients,     //   their gradients (training)
  kMoment1,       //   optimizer moment 1 (training)
  kMoment2,       //   optimizer moment 2 (training, Adam/AdamW); follows kMoment1
  kLabels,        // training: uint32 labels or float targets
  kScratch,       // packed panels (rows >= kPackMinRows)
  kUpdateBlock,   // fused update: fused_block_rows x widest Dense output
  kExampleNorms,  // example gradients: examples x (layers + 1) norms
  kRowScale,      // example gradients: a clip scale per row
  kNormScratch,   // example gradients: Gram blocks, LayerNorm sums;
                  // accumulation alone: Gram blocks
  kSnapshot,      // divergence guard: parameters + moments
  kOutputGradient,  // input gradient: dL/dY, rows x output width
};
constexpr std::size_t kModelBufferCount = 12;
static_assert(static_cast<std::size_t>(ModelBuffer::kOutputGradient) + 1 == kModelBufferCount,
              "kModelBufferCount counts every ModelBuffer");

struct LayerPlan {
  Region buffers[kLayerBufferCount] = {};
  constexpr Region& operator[](LayerBuffer b) { return buffers[static_cast<std::size_t>(b)]; }
  constexpr const Region& operator[](LayerBuffer b) const {
    return buffers[static_cast<std::size_t>(b)];
  }
};

// Every buffer of a model. Model::build() resolves all of them in one loop
// over layers[], buffers[], points[] and deltas[], so a new buffer is added
// here, in plan_model(), and nowhere else.
struct ModelPlan {
  SpecCheck check;
  LayerPlan layers[kMaxLayers] = {};
  Region buffers[kModelBufferCount] = {};
  Region points[kMaxLayers + 1] = {};  // inference: points[0] absent (the caller's input)
  Region deltas[kMaxLayers + 1] = {};  // training only; deltas[0] only with input_gradient
  std::uint64_t parameter_floats = 0;  // sum of the tensors' sizes, without padding
  std::uint32_t tensor_count = 0;      // parameter tensors (two per Dense / LayerNorm)
  std::uint32_t point_buffers = 0;     // distinct activation buffers
  std::uint32_t delta_buffers = 0;     // distinct delta buffers
  std::uint64_t total = 0;             // bytes of the whole block

  constexpr Region& operator[](ModelBuffer b) { return buffers[static_cast<std::size_t>(b)]; }
  constexpr const Region& operator[](ModelBuffer b) const {
    return buffers[static_cast<std::size_t>(b)];
  }
};

}  // namespace tern
