// kernels/avx512/simd_avx512.h — what the generic templates need from
// AVX-512 beyond xsimd: a fused multiply-add that really is fused, and
// masked partial loads/stores for column tails.
//
// Why not xsimd::fma: in xsimd 8.1.0 the avx512f architecture has no fma
// override and falls back to the generic `x * y + z` — two roundings, and not
// what AVX2 (which maps to vfmadd) or the scalar std::fma compute. tern would
// silently lose bit-identity. Simd::fma calls _mm512_fmadd_ps directly.
#pragma once

#include <immintrin.h>
#include <xsimd/xsimd.hpp>

#include <cstddef>

namespace tern::kernels::avx512 {

using Arch = xsimd::avx512f;

struct Simd {
  using V = xsimd::batch<float, Arch>;
  static V fma(V a, V b, V c) { return _mm512_fmadd_ps(a, b, c); }
  static __mmask16 mask(std::size_t lanes) {
    return static_cast<__mmask16>((1u << lanes) - 1u);
  }
  // Lanes >= `lanes` read as zero; no byte past p + lanes is touched.
  static V load_partial(const float* p, std::size_t lanes) {
    return _mm512_maskz_loadu_ps(mask(lanes), p);
  }
  static void store_partial(float* p, V v, std::size_t lanes) {
    _mm512_mask_storeu_ps(p, mask(lanes), v);
  }
  // dst[j * 32 + c] = src[c * lds + j] for c < rows (<= 32), j < cols.
  static void pack_transposed(const float* src, std::size_t lds, std::size_t rows,
                              std::size_t cols, float* dst);
};

}  // namespace tern::kernels::avx512
