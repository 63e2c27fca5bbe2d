// kernels/avx2/simd_avx2.h — what the generic templates need from AVX2 + FMA3
// beyond xsimd: an explicit fused multiply-add and masked partial
// loads/stores (vmaskmovps) for column tails.
//
// xsimd::fma is fused for fma3<avx2>, but tern calls _mm256_fmadd_ps itself
// so that no ISA depends on which xsimd architecture tag carries the fused
// overload (see simd_avx512.h for the case where none does).
#pragma once

#include <immintrin.h>
#include <xsimd/xsimd.hpp>

#include <cstddef>

namespace tern::kernels::avx2 {

using Arch = xsimd::fma3<xsimd::avx2>;

struct Simd {
  using V = xsimd::batch<float, Arch>;
  static V fma(V a, V b, V c) { return _mm256_fmadd_ps(a, b, c); }
  // Lane i is enabled when its sign bit is set: lanes < `lanes`.
  static __m256i mask(std::size_t lanes) {
    const __m256i index = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(lanes)), index);
  }
  // Lanes >= `lanes` read as zero; masked lanes do not fault or touch memory.
  static V load_partial(const float* p, std::size_t lanes) {
    return _mm256_maskload_ps(p, mask(lanes));
  }
  static void store_partial(float* p, V v, std::size_t lanes) {
    _mm256_maskstore_ps(p, mask(lanes), v);
  }
  // c + a * b in the first `lanes` lanes; the other lanes of c unchanged.
  static V fma_partial(V a, V b, V c, std::size_t lanes) {
    const __m256 keep = _mm256_castsi256_ps(mask(lanes));
    return _mm256_blendv_ps(c, _mm256_fmadd_ps(a, b, c), keep);
  }
  // The in-register levels of the fixed tree (pairs l+4, l+2, l+1; the l+8
  // level adds two registers before) for 8 accumulators at once: returns lane
  // q = the tree sum of acc[q], every pairing exactly the scalar tree's.
  static V reduce_batch(const V* acc) {
    __m256 b1[4], b2[2];
    for (int q = 0; q < 4; ++q) {  // (l, l+4): low 128 bits with high 128 bits
      const __m256 x = acc[2 * q], y = acc[2 * q + 1];
      b1[q] = _mm256_add_ps(_mm256_permute2f128_ps(x, y, 0x20), _mm256_permute2f128_ps(x, y, 0x31));
    }
    for (int q = 0; q < 2; ++q) {  // (l, l+2) inside each 128-bit half
      const __m256 x = b1[2 * q], y = b1[2 * q + 1];
      b2[q] = _mm256_add_ps(_mm256_shuffle_ps(x, y, _MM_SHUFFLE(1, 0, 1, 0)),
                            _mm256_shuffle_ps(x, y, _MM_SHUFFLE(3, 2, 3, 2)));
    }
    // (l, l+1). Lane 4j+e now holds accumulator 2e+j; one permute restores order.
    const __m256 e = _mm256_add_ps(_mm256_shuffle_ps(b2[0], b2[1], _MM_SHUFFLE(2, 0, 2, 0)),
                                   _mm256_shuffle_ps(b2[0], b2[1], _MM_SHUFFLE(3, 1, 3, 1)));
    return _mm256_permutevar8x32_ps(e, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
  }
};

}  // namespace tern::kernels::avx2
