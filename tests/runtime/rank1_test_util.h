// SPDX-License-Identifier: Apache-2.0
// Fixtures shared by the tests of the training variants built on the rank-1
// structure of dense gradients (spec.h: fused_update, example_rows,
// accumulation_rows; model.h: clipping, noise, accumulate/flush,
// rank1_edit, edit_factors): test_example_gradients.cpp, test_clipping.cpp,
// test_fused_update.cpp, test_accumulation.cpp, test_rank1_edit.cpp and
// test_training_variants.cpp. The double-precision reference they compare
// against lives in tests/support/reference_backward.h.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <vector>

#include <doctest/doctest.h>

#include "reference_backward.h"
#include "runtime_test_util.h"

namespace tern::test {

using Data = SyntheticData;
using State = TrainingState;
using Grads = ReferenceGradients;

// Inputs in [-1, 1), labels uniform over the classes, targets in [-1, 1).
inline Data make_data(const ModelSpec& spec, std::size_t count, std::uint64_t seed) {
  return synthetic_data(spec, count, seed, 11);
}

// A model of `spec` initialised with `seed`, then perturb()ed with
// `perturb_seed` so that no gradient term vanishes by symmetry.
struct PerturbedModel : ReadyModel {
  PerturbedModel(const ModelSpec& spec, std::uint64_t seed, std::uint64_t perturb_seed)
      : ReadyModel(spec, seed) {
    perturb(model, perturb_seed);
  }
};

// The settings of each optimizer these tests train with: large enough that
// a step changes the bits of every parameter.
inline void set_optimizer(Model& m, OptimizerKind kind) {
  OptimizerParams p;
  if (kind == OptimizerKind::kSgd) {
    p.learning_rate = 0.05f;
    p.momentum = 0.9f;
    p.weight_decay = 1e-3f;
  } else {
    p.learning_rate = 3e-3f;
    p.weight_decay = kind == OptimizerKind::kAdamW ? 0.02f : 1e-3f;
  }
  REQUIRE(m.set_optimizer(p).ok());
}

inline void set_clip(Model& m, float example_clip, float noise, std::uint64_t seed,
                     float global_clip) {
  ClipParams c;
  c.example_clip = example_clip;
  c.noise_multiplier = noise;
  c.noise_seed = seed;
  c.global_clip = global_clip;
  const Status s = m.set_clipping(c);
  REQUIRE_MESSAGE(s.ok(), s.message());
}

// The reference gradient of the summed loss of rows first .. first + n - 1.
inline Grads gradient_of(const ReferenceModel& ref, const Data& d, std::size_t first,
                         std::size_t n, ReferenceTrace* trace = nullptr,
                         std::vector<std::vector<double>>* dz = nullptr) {
  const ModelSpec& spec = ref.spec();
  return reference_gradient(ref, d.x.data() + first * spec.input_width, n,
                            d.labels.data() + first,
                            d.targets.data() + first * spec.output_width(), trace, dz);
}

// The materialised per-example gradients of a batch (each of its own loss).
inline std::vector<Grads> example_gradients(const ReferenceModel& ref, const Data& d,
                                            std::size_t first, std::size_t rows,
                                            std::size_t example_rows) {
  std::vector<Grads> out;
  for (std::size_t r = 0; r < rows; r += example_rows) {
    out.push_back(gradient_of(ref, d, first + r, example_rows));
  }
  return out;
}

// tern's stored gradients against `expected`: each element within
// rel * |expected| + abs_frac * (largest |expected| of the whole model).
// Returns the number of elements outside, reporting the first five.
inline int compare_grads(const Model& m, const Grads& expected, double rel, double abs_frac) {
  double largest = 0;
  for (const auto& t : expected)
    for (double v : t) largest = std::max(largest, std::fabs(v));
  REQUIRE(largest > 1e-4);
  int bad = 0;
  for (std::uint32_t t = 0; t < m.tensor_count(); ++t) {
    const Tensor x = m.tensor(t);
    REQUIRE(x.grad.size == expected[t].size());
    for (std::size_t i = 0; i < x.grad.size; ++i) {
      const double want = expected[t][i], got = x.grad[i];
      if (!(std::fabs(got - want) <= rel * std::fabs(want) + abs_frac * largest)) {
        if (bad++ < 5) {
          MESSAGE("tensor " << t << " element " << i << ": tern " << got << ", reference " << want);
        }
      }
    }
  }
  return bad;
}

// Every stored gradient of the model, in tensor order.
inline std::vector<float> all_grads(const Model& m) { return concatenated(m, &Tensor::grad); }

// An example clip bound between two of the example norms, well away from
// both (a gap of more than 5 %, the one nearest the median), so that some
// examples are clipped and some are not.
inline double clip_between(std::vector<double> norms) {
  std::sort(norms.begin(), norms.end());
  std::size_t best = 0;
  const double middle = double(norms.size()) / 2.0;
  for (std::size_t i = 1; i < norms.size(); ++i) {
    if (norms[i] <= 1.05 * norms[i - 1]) continue;
    if (best == 0 || std::fabs(double(i) - middle) < std::fabs(double(best) - middle)) best = i;
  }
  REQUIRE(best > 0);
  return std::sqrt(norms[best] * norms[best - 1]);
}

// `steps` train_step()s of a spec with clipping and noise on successive
// batches; returns the state afterwards.
inline State noisy_run(const ModelSpec& spec, OptimizerKind opt, std::uint64_t noise_seed,
                       int steps, float global_clip = 0.0f) {
  const Data d = make_data(spec, spec.rows * std::size_t(steps), 23);
  PerturbedModel m(spec, 7, 7);
  set_optimizer(m.model, opt);
  set_clip(m.model, 0.3f, 1.1f, noise_seed, global_clip);
  for (int s = 0; s < steps; ++s) {
    const Batch b = batch_of(spec, d, std::size_t(s) * spec.rows, spec.rows);
    const Status st = m.model.train_step(b, nullptr);
    REQUIRE_MESSAGE(st.ok(), st.message());
  }
  return State(m.model);
}

// Trains `steps` steps (the last one on a partial batch when rows > 1),
// appending each step's loss to `losses`; returns the state afterwards.
inline State plain_run(const ModelSpec& spec, OptimizerKind opt, int steps,
                       std::vector<float>* losses, const OptimizerParams* params = nullptr) {
  const Data d = make_data(spec, spec.rows * std::size_t(steps), 31);
  PerturbedModel m(spec, 9, 9);
  if (params != nullptr) {
    REQUIRE(m.model.set_optimizer(*params).ok());
  } else {
    set_optimizer(m.model, opt);
  }
  for (int s = 0; s < steps; ++s) {
    std::size_t rows = spec.rows;
    if (s == steps - 1 && rows > 1) rows /= 2;
    if (spec.example_rows > 1) rows -= rows % spec.example_rows;
    float loss = 0;
    const Batch b = batch_of(spec, d, std::size_t(s) * spec.rows, rows);
    const Status st = m.model.train_step(b, &loss);
    REQUIRE_MESSAGE(st.ok(), st.message());
    losses->push_back(loss);
  }
  return State(m.model);
}

}  // namespace tern::test
