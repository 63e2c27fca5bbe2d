// SPDX-License-Identifier: Apache-2.0
// Private to the runtime: the key of the Gaussian noise added to a tensor's
// gradient (ClipParams in tern/runtime/model.h; add_gaussian_noise_f32 in
// tern/kernels/elementwise.h).
#pragma once

#include <cstdint>

namespace tern {

// Noise for tensor t of step s: the counter-based generator of
// add_gaussian_noise_f32 with a key of its own and the element's offset
// within the tensor as the index, so that the noise of an element depends
// neither on the order in which tensors are updated nor on how a tensor is
// cut into blocks (the fused update adds it fused_block_rows(spec) rows at a
// time, at offset p0 * m). The key is the secret seed xor a 64-bit mix of
// (step, tensor), in portable integer code: the finalizer of SplitMix64
// (multipliers and shifts of Stafford's "Mix13"), a bijection, so distinct
// (step, tensor) pairs give distinct keys for one seed while step < 2^32.
// The step counter is 64 bits (Model::steps): a step's high 32 bits, when
// not 0, are mixed into the result once more through the same bijection, so
// the keys of steps below 2^32 (every key tern ever produced) are unchanged
// and steps 2^32 apart do not repeat each other's noise.
inline std::uint64_t mix_key(std::uint64_t x) {
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}
inline std::uint64_t noise_key(std::uint64_t seed, std::uint64_t step, std::uint32_t tensor) {
  std::uint64_t x = mix_key((step << 32) | tensor);
  const std::uint64_t high = step >> 32;
  if (high != 0) x = mix_key(x ^ high);
  return seed ^ x;
}

}  // namespace tern
