// SPDX-License-Identifier: Apache-2.0
// The key of the Gaussian noise that differentially private training adds to
// parameter tensor t at step `step`, written out from its statement in
// tern/runtime/model.h (ClipParams) rather than taken from the runtime: the
// seed xor the SplitMix64 finalizer of (step << 32 | t). With it, a test can
// regenerate each noise deviate through add_gaussian_noise_f32's generator.
#pragma once

#include <cstdint>

namespace tern::test {

inline std::uint64_t reference_noise_key(std::uint64_t seed, std::uint64_t step,
                                         std::uint64_t tensor) {
  std::uint64_t x = (step << 32) | tensor;
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ull;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebull;
  x ^= x >> 31;
  return seed ^ x;
}

}  // namespace tern::test
