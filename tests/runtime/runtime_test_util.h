// SPDX-License-Identifier: Apache-2.0
// Helpers shared by the runtime tests: 64-byte aligned heap buffers for
// arenas, synthetic data and batches of it, and bitwise comparison of
// parameter tensors.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include <doctest/doctest.h>

#include "tern/kernels/isa_selection.h"
#include "tern/runtime/arena.h"
#include "tern/runtime/model.h"
#include "tern/runtime/rng.h"
#include "test_util.h"

namespace tern::test {

// A heap buffer whose data() is 64-byte aligned (set-up only, outside any
// counted scope).
class AlignedBuffer {
 public:
  explicit AlignedBuffer(std::size_t bytes, unsigned char fill = 0)
      : storage_(bytes + 64, fill), bytes_(bytes) {
    const auto a = reinterpret_cast<std::uintptr_t>(storage_.data());
    offset_ = (64 - a % 64) % 64;
  }
  unsigned char* data() { return storage_.data() + offset_; }
  std::size_t size() const { return bytes_; }

 private:
  std::vector<unsigned char> storage_;
  std::size_t bytes_;
  std::size_t offset_ = 0;
};

// A model and the arena it lives in.
struct ModelInArena {
  explicit ModelInArena(const ModelSpec& spec, std::size_t extra = 0, unsigned char fill = 0)
      : buffer(arena_bytes(spec) + extra, fill) {
    status = arena.attach(buffer.data(), buffer.size());
    if (status.ok()) status = model.build(spec, arena);
  }
  AlignedBuffer buffer;
  Arena arena;
  Model model;
  Status status;
};

// A model of `spec` in its own arena, built (the test stops if it cannot
// be) and initialised with `seed`: the start of most training tests.
struct ReadyModel : ModelInArena {
  ReadyModel(const ModelSpec& spec, std::uint64_t seed) : ModelInArena(spec) {
    REQUIRE_MESSAGE(status.ok(), status.message());
    model.initialize(seed);
  }
};

// `count` samples for a spec: inputs in [-1, 1), labels uniform over the
// classes, regression targets in [-1, 1), from PCG32 (seed, stream).
struct SyntheticData {
  std::vector<float> x, targets;
  std::vector<std::uint32_t> labels;
  std::size_t count = 0;
};
inline SyntheticData synthetic_data(const ModelSpec& spec, std::size_t count, std::uint64_t seed,
                                    std::uint64_t stream) {
  SyntheticData d;
  d.count = count;
  Rng rng(seed, stream);
  d.x.resize(count * spec.input_width);
  for (float& v : d.x) v = rng.symmetric(1.0f);
  const std::uint32_t m = spec.output_width();
  d.labels.resize(count);
  for (auto& l : d.labels) l = rng.below(m);
  d.targets.resize(count * m);
  for (float& v : d.targets) v = rng.symmetric(1.0f);
  return d;
}

// Rows first .. first + rows - 1 of the data, for either loss (labels and
// targets both point at the rows; the loss reads the one it needs).
inline Batch batch_of(const ModelSpec& spec, const SyntheticData& d, std::size_t first,
                      std::size_t rows) {
  Batch b;
  b.x = d.x.data() + first * spec.input_width;
  b.ldx = spec.input_width;
  b.rows = rows;
  b.labels = d.labels.data() + first;
  b.targets = d.targets.data() + first * spec.output_width();
  b.ldt = spec.output_width();
  return b;
}

// Moves every parameter off its initial value (LayerNorm's gamma off 1, the
// biases off 0) reproducibly, so that gradient checks see every term of
// the backward pass at work.
inline void perturb(Model& m, std::uint64_t seed) {
  Rng rng(seed, 3);
  for (std::uint32_t t = 0; t < m.tensor_count(); ++t) {
    for (float& v : m.tensor(t).value) v += rng.symmetric(0.3f);
  }
}

// One field of every tensor of a model (&Tensor::value, grad, moment1 or
// moment2), in tensor order.
inline std::vector<float> concatenated(const Model& m, Span<float> Tensor::*field) {
  std::vector<float> out;
  for (std::uint32_t t = 0; t < m.tensor_count(); ++t) {
    const Tensor tensor = m.tensor(t);
    const Span<float>& s = tensor.*field;
    out.insert(out.end(), s.begin(), s.end());
  }
  return out;
}

// All parameter values of a model, in tensor order.
inline std::vector<float> parameters_of(const Model& m) { return concatenated(m, &Tensor::value); }

inline bool bits_equal(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() &&
         (a.empty() || std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0);
}

// Everything training changes: every tensor's values and both optimizer
// moments, and the step count. Equality is bitwise.
struct TrainingState {
  std::vector<float> values;
  std::uint64_t steps = 0;
  explicit TrainingState(const Model& m) : steps(m.steps()) {
    for (std::uint32_t t = 0; t < m.tensor_count(); ++t) {
      const Tensor x = m.tensor(t);
      for (const Span<float>& s : {x.value, x.moment1, x.moment2})
        values.insert(values.end(), s.begin(), s.end());
    }
  }
  bool operator==(const TrainingState& o) const {
    return steps == o.steps && bits_equal(values, o.values);
  }
};

}  // namespace tern::test
