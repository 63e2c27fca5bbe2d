// SPDX-License-Identifier: Apache-2.0
// The public reference of tern's noise generator (tern/kernels/elementwise.h):
// the 32 random bits and the uniform deviate of one index of one key.
#include <cstdint>

#include "noise_generator.h"
#include "tern/kernels/elementwise.h"

namespace tern {

using kernels::noise::noise_bits;
using kernels::noise::noise_subkeys;
using kernels::noise::noise_uniform;

std::uint32_t noise_bits_u32(std::uint64_t key, std::uint64_t index) {
  return noise_bits(noise_subkeys(key, static_cast<std::uint32_t>(index >> 32)),
                    static_cast<std::uint32_t>(index));
}

float noise_uniform_f32(std::uint64_t key, std::uint64_t index) {
  return noise_uniform(noise_bits_u32(key, index));
}

}  // namespace tern
