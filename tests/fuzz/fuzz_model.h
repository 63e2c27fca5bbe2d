// SPDX-License-Identifier: Apache-2.0
// The models the fuzz targets load into, shared with the seed generator
// (make_seeds.cpp) so that the seeds are valid files for them. One of each
// kind the tests build, small enough for fast iterations: every layer kind
// (Dense with each activation, Activation, LayerNorm, Residual), each
// optimizer (SGD's one moment, Adam's and AdamW's two), inference and
// training models, and the training variants that change what build()
// plans (divergence guard, fused update, example gradients, accumulation).
// A file is loaded into every model, so a file of any of these
// architectures gets past the architecture comparison into the rest of the
// loader.
#pragma once

#include <cstddef>
#include <cstdlib>
#include <cstdint>

#include "tern/runtime/crc32.h"
#include "tern/runtime/model.h"
#include "tern/runtime/plan.h"
#include "tern/runtime/spec.h"

namespace tern::fuzz {

// The first model of the original corpus: every layer kind, a residual,
// Adam state (two moments).
constexpr ModelSpec kFuzzSpec = ModelSpec::input(3, 2)
                                    .dense(4, Pointwise::kGelu)
                                    .layer_norm()
                                    .activation(Pointwise::kTanh)
                                    .dense(3)
                                    .residual(0)
                                    .training(LossKind::kMse, OptimizerKind::kAdam);

constexpr ModelSpec kFuzzSpecs[] = {
    kFuzzSpec,
    mlp({4, 6, 3}, 4, Mode::kTraining, Pointwise::kRelu, LossKind::kSoftmaxCrossEntropy,
        OptimizerKind::kSgd),
    mlp({5, 7, 3}, 3, Mode::kTraining, Pointwise::kSigmoid, LossKind::kSoftmaxCrossEntropy,
        OptimizerKind::kAdamW),
    ffn(2, 4, 8, Mode::kTraining),
    mlp({4, 6, 3}, 1, Mode::kInference),
    mlp({6, 8, 3}, 4, Mode::kTraining).with_divergence_guard().with_fused_update(),
    mlp({6, 5, 3}, 4, Mode::kTraining, Pointwise::kTanh).with_example_gradients().with_accumulation(8),
};
constexpr std::size_t kFuzzSpecCount = sizeof kFuzzSpecs / sizeof kFuzzSpecs[0];

// Bytes of one arena holding every model, each at a 64-byte boundary.
constexpr std::size_t fuzz_arena_bytes() {
  std::size_t total = 0;
  for (const ModelSpec& s : kFuzzSpecs) total += (arena_bytes(s) + 63) / 64 * 64;
  return total;
}

// Parameters, moments and step count as one checksum: a rejected input
// must leave it unchanged.
inline std::uint32_t fingerprint(const Model& m) {
  std::uint32_t c = crc32(nullptr, 0);
  for (std::uint32_t t = 0; t < m.tensor_count(); ++t) {
    const Tensor x = m.tensor(t);
    for (const Span<float>& s : {x.value, x.moment1, x.moment2}) {
      c = crc32(s.data, s.size * sizeof(float), c);
    }
  }
  const auto steps = m.steps();  // whatever width the step counter has
  return crc32(&steps, sizeof steps, c);
}

// Stores the CRC-32 of bytes [begin, end) little-endian at `end`, where
// model files (model_file.h: "end-4 u32 CRC-32 of every byte before it")
// and checkpoint records (checkpoint.h) keep it, so that a fuzzed input
// gets past the checksum into the checks behind it.
inline void fix_crc(unsigned char* begin, unsigned char* end) {
  const std::uint32_t crc = crc32(begin, static_cast<std::size_t>(end - begin));
  for (int i = 0; i < 4; ++i) end[i] = static_cast<unsigned char>(crc >> (8 * i));
}
// The bytes of that trailing CRC-32.
constexpr std::size_t kCrcBytes = 4;

// Every model of kFuzzSpecs, built once in one static arena and
// initialised with seed 1.
class FuzzModels {
 public:
  // False if a model does not build (a broken target, not an input).
  bool build() {
    std::size_t at = 0;
    for (std::size_t i = 0; i < kFuzzSpecCount; ++i) {
      const std::size_t bytes = arena_bytes(kFuzzSpecs[i]);
      if (!arenas_[i].attach(memory_ + at, bytes).ok()) return false;
      if (!models_[i].build(kFuzzSpecs[i], arenas_[i]).ok()) return false;
      models_[i].initialize(1);
      at += (bytes + 63) / 64 * 64;
    }
    return true;
  }
  Model& operator[](std::size_t i) { return models_[i]; }

 private:
  alignas(64) unsigned char memory_[fuzz_arena_bytes()];
  Arena arenas_[kFuzzSpecCount];
  Model models_[kFuzzSpecCount];
};

// A broken invariant of a fuzz target: abort, so libFuzzer keeps the input.
inline void require(bool ok) {
  if (!ok) std::abort();
}

// The models of kFuzzSpecs, built on first use and kept for the process
// (a target's inputs all load into the same models).
inline FuzzModels& models() {
  static FuzzModels* m = [] {
    auto* built = new FuzzModels;
    require(built->build());
    return built;
  }();
  return *m;
}

}  // namespace tern::fuzz
