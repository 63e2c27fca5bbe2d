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
// (step, tensor) pairs give distinct keys for one seed.
inline std::uint64_t noise_key(std::uint64_t seed, std::uint32_t step, std::uint32_t tensor) {
  std::uint64_t x = (std::uint64_t{step} << 32) | tensor;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  x = x ^ (x >> 31);
  return seed ^ x;
}

}  // namespace tern
