// SPDX-License-Identifier: Apache-2.0
// What the MLP firmware examples (mlp_inference.cpp, mlp_training.cpp)
// share: their model, their data, and output through tern_putchar() with
// integer formatting only (no printf, no float formatting).
#pragma once

#include <cstdint>
#include <cstring>

#include "tern/kernels/isa_selection.h"
#include "tern/runtime/model.h"
#include "tern/runtime/rng.h"

// A weak no-op here, putchar on the host (host_putchar.cpp), semihosting in
// mps2_startup.cpp, a UART on a board.
extern "C" __attribute__((weak)) void tern_putchar(char) {}

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

inline void put(const char* s) {
  while (*s != '\0') tern_putchar(*s++);
}
inline void put_dec(std::uint32_t v) {
  char digits[10];
  int n = 0;
  do {
    digits[n++] = static_cast<char>('0' + v % 10);
    v /= 10;
  } while (v != 0);
  while (n > 0) tern_putchar(digits[--n]);
}
inline void put_hex(std::uint32_t v) {
  put("0x");
  for (int shift = 28; shift >= 0; shift -= 4) tern_putchar("0123456789abcdef"[(v >> shift) & 0xfu]);
}

// FNV-1a over the four bytes of `word`, least significant first.
inline std::uint32_t fnv1a(std::uint32_t h, std::uint32_t word) {
  for (int byte = 0; byte < 4; ++byte) {
    h ^= (word >> (8 * byte)) & 0xffu;
    h *= 16777619u;
  }
  return h;
}
// ... and over the bits of `count` floats.
inline std::uint32_t fnv1a(std::uint32_t h, const float* values, std::size_t count) {
  for (std::size_t i = 0; i < count; ++i) {
    std::uint32_t bits;
    std::memcpy(&bits, &values[i], sizeof bits);
    h = fnv1a(h, bits);
  }
  return h;
}
constexpr std::uint32_t kFnvOffset = 2166136261u;

// The parameters' bits, tensor by tensor.
inline std::uint32_t parameter_checksum(const tern::Model& m) {
  std::uint32_t h = kFnvOffset;
  for (std::uint32_t t = 0; t < m.tensor_count(); ++t) {
    const tern::Span<float> v = m.tensor(t).value;
    h = fnv1a(h, v.data, v.size);
  }
  return h;
}

inline int report(const char* what, const tern::Status& s) {
  put("FAILED: ");
  put(what);
  put(": ");
  put(s.message());
  put("\n");
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
