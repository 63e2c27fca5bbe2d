// SPDX-License-Identifier: Apache-2.0
// What the MLP firmware examples (mlp_inference.cpp, mlp_training.cpp)
// share: their model, their data, their checksum and failure report; output
// is firmware_print.h's.
#pragma once

#include <cstdint>
#include <cstring>

#include "firmware_print.h"
#include "tern/kernels/isa_selection.h"
#include "tern/runtime/model.h"
#include "tern/runtime/rng.h"

namespace mlp_firmware {

// The model both examples run: 2 inputs, two hidden ReLU layers of 16, 2
// classes (is a point inside a circle?), batches of 8 rows for training.
constexpr std::uint32_t kBatch = 8;
constexpr tern::ModelSpec mlp_spec(tern::OptimizerKind optimizer) {
  return tern::mlp({2, 16, 16, 2}, kBatch, tern::Mode::kTraining, tern::Pointwise::kRelu,
                   tern::LossKind::kSoftmaxCrossEntropy, optimizer);
}

// A point in [-1, 1)^2 and whether it lies inside the circle of radius 0.6.
inline std::uint32_t sample(tern::Rng& rng, float* point) {
  point[0] = rng.symmetric(1.0f);
  point[1] = rng.symmetric(1.0f);
  return point[0] * point[0] + point[1] * point[1] < 0.36f ? 1u : 0u;
}


// The parameters' bits, tensor by tensor.
inline std::uint32_t parameter_checksum(const tern::Model& m) {
  std::uint32_t h = FIRMWARE_FNV_OFFSET;
  for (std::uint32_t t = 0; t < m.tensor_count(); ++t) {
    const tern::Span<float> v = m.tensor(t).value;
    h = firmware_fnv1a_floats(h, v.data, v.size);
  }
  return h;
}

inline int report(const char* what, const tern::Status& s) {
  firmware_put("FAILED: ");
  firmware_put(what);
  firmware_put(": ");
  firmware_put(s.message());
  firmware_put("\n");
  return 1;
}

// Nothing to detect on a microcontroller: the firmware states what its core
// runs, and a Cortex-M has no vector unit tern uses.
inline void state_cpu() {
#if defined(TERN_BARE_METAL) && TERN_BARE_METAL
  tern::set_cpu_isas(tern::isa_bit(tern::Isa::kScalar));
#endif
}

}  // namespace mlp_firmware
