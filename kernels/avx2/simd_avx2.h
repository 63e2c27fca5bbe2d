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
  // dst[j * 32 + c] = src[c * lds + j] for c < rows (<= 32), j < cols.
  static void pack_transposed(const float* src, std::size_t lds, std::size_t rows,
                              std::size_t cols, float* dst);
};

}  // namespace tern::kernels::avx2
