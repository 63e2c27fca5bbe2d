// Helpers shared by the runtime tests: 64-byte aligned heap buffers for
// arenas, and bitwise comparison of parameter tensors.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include <unistd.h>

#include <doctest/doctest.h>

#include "tern/kernels/isa_selection.h"
#include "tern/runtime/arena.h"
#include "tern/runtime/model.h"
#include "tern/runtime/rng.h"

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

// Selects an ISA for the scope (the test fails if it cannot be selected),
// restoring the default selection after.
struct IsaScope {
  explicit IsaScope(Isa isa) {
    const Status s = select_isa(isa);
    REQUIRE_MESSAGE(s.ok(), s.message());
  }
  ~IsaScope() { reset_isa_selection(); }
  IsaScope(const IsaScope&) = delete;
  IsaScope& operator=(const IsaScope&) = delete;
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

// A file name unique to this process: ctest runs the suite's ISA variants
// in parallel in the same directory.
inline std::string temp_name(const char* base) {
  return "tmp-" + std::to_string(static_cast<long>(::getpid())) + "-" + base;
}

inline bool contains(const Status& s, const char* text) {
  return std::string(s.message()).find(text) != std::string::npos;
}

// All parameter values of a model, in tensor order.
inline std::vector<float> parameters_of(const Model& m) {
  std::vector<float> out;
  for (std::uint32_t t = 0; t < m.tensor_count(); ++t) {
    const Tensor tensor = m.tensor(t);
    out.insert(out.end(), tensor.value.begin(), tensor.value.end());
  }
  return out;
}

inline bool bits_equal(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() &&
         (a.empty() || std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0);
}

// Everything training changes: every tensor's values and both optimizer
// moments, and the step count. Equality is bitwise.
struct TrainingState {
  std::vector<float> values;
  std::uint32_t steps = 0;
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
