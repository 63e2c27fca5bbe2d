// SPDX-License-Identifier: Apache-2.0
// Private to the kernels library: the counter-based generator behind
// tern's Gaussian noise (contract in tern/kernels/elementwise.h), for the
// code built with baseline flags: the public noise_bits_u32 and
// noise_uniform_f32 (noise_f32.cpp) and the scalar add_gaussian_noise.
// The vector kernels run the same steps lane by lane in
// kernels/generic/elementwise-inl.h; they cannot share these inline
// functions, which would then be compiled with ISA flags too (see
// kernels/generic/README.md).
#pragma once

#include <cstdint>

#include "math_constants.h"

namespace tern::kernels::noise {

// The mixer of the generator: xor-shifts and two odd multipliers.
inline std::uint32_t noise_mix(std::uint32_t x) {
  x ^= x >> 16;
  x *= math::kNoiseMul1;
  x ^= x >> 15;
  x *= math::kNoiseMul2;
  x ^= x >> 16;
  return x;
}

// The subkeys a and b of the 2^32 indices whose high word is `hi`.
struct NoiseSubkeys {
  std::uint32_t a, b;
};
inline NoiseSubkeys noise_subkeys(std::uint64_t key, std::uint32_t hi) {
  const auto khi = static_cast<std::uint32_t>(key >> 32);
  const auto klo = static_cast<std::uint32_t>(key);
  const std::uint32_t a = noise_mix(noise_mix(noise_mix(hi ^ math::kNoiseSeedA) ^ khi) ^ klo);
  return {a, noise_mix(a ^ math::kNoiseSeedB)};
}

inline std::uint32_t noise_bits(NoiseSubkeys k, std::uint32_t lo) {
  return noise_mix(noise_mix(lo ^ k.a) ^ k.b);
}

inline float noise_uniform(std::uint32_t h) {
  const std::int32_t t = static_cast<std::int32_t>((h >> 7) | 1u) - math::kNoiseHalfRange;
  return static_cast<float>(t) * math::kNoiseScale;
}

}  // namespace tern::kernels::noise
