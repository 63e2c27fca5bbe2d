// SPDX-License-Identifier: Apache-2.0
// kernels/avx2/simd_avx2.h — what the generic templates need from AVX2 + FMA3
// beyond xsimd: an explicit fused multiply-add and masked partial
// loads/stores (vmaskmovps) for column tails.
//
// xsimd::fma is fused for fma3<avx2>, but tern calls _mm256_fmadd_ps itself
// so that no ISA depends on which xsimd architecture tag carries the fused
// overload (see simd_avx512.h for the case where none does). The sign
// operations (neg, abs, copysign) are written here as bit operations for the
// same reason: xsimd 8.1.0's avx512f negation is 0 - x, which maps +0 to +0,
// so the element-wise templates never use xsimd's unary minus or abs.
//
// Element-wise kernels also need: 2^k from exponent bits, masked tails that
// read as a chosen value, and the fixed 16-virtual-lane sum of
// tern/kernels/elementwise.h (here the 16 lanes are two ymm registers).
#pragma once

#include <immintrin.h>
#include <xsimd/xsimd.hpp>

#include <cstddef>

#include "tern/platform/compiler.h"

namespace tern::kernels::avx2 {

using Arch = xsimd::fma3<xsimd::avx2>;

struct Simd {
  using V = xsimd::batch<float, Arch>;
  TERN_INLINE static V fma(V a, V b, V c) { return _mm256_fmadd_ps(a, b, c); }
  // Lane i is enabled when its sign bit is set: lanes < `lanes`.
  TERN_INLINE static __m256i mask(std::size_t lanes) {
    const __m256i index = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(lanes)), index);
  }
  // Lanes >= `lanes` read as zero; masked lanes do not fault or touch memory.
  TERN_INLINE static V load_partial(const float* p, std::size_t lanes) {
    return _mm256_maskload_ps(p, mask(lanes));
  }
  TERN_INLINE static void store_partial(float* p, V v, std::size_t lanes) {
    _mm256_maskstore_ps(p, mask(lanes), v);
  }
  // c + a * b in the first `lanes` lanes; the other lanes of c unchanged.
  TERN_INLINE static V fma_partial(V a, V b, V c, std::size_t lanes) {
    const __m256 keep = _mm256_castsi256_ps(mask(lanes));
    return _mm256_blendv_ps(c, _mm256_fmadd_ps(a, b, c), keep);
  }
  // The in-register levels of the fixed tree (pairs l+4, l+2, l+1; the l+8
  // level adds two registers before) for 8 accumulators at once: returns lane
  // q = the tree sum of acc[q], every pairing exactly the scalar tree's.
  TERN_INLINE static V reduce_batch(const V* acc) {
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
  // An 8 x 8 block transposed in place: lane c of r[q] goes to lane q of
  // r[c]. Pure data movement, so every value keeps its bits (used by the
  // kernels with lanes along p, see simd_avx512.h).
  TERN_INLINE static void transpose(V* r) {
    __m256 a[8], b[8];
    for (int q = 0; q < 4; ++q) {
      a[2 * q] = _mm256_unpacklo_ps(r[2 * q], r[2 * q + 1]);
      a[2 * q + 1] = _mm256_unpackhi_ps(r[2 * q], r[2 * q + 1]);
    }
    for (int q = 0; q < 2; ++q) {  // b[4q+c], 128-bit half e: rows 4q..4q+3 of column 4e+c
      const __m256d x0 = _mm256_castps_pd(a[4 * q]), x1 = _mm256_castps_pd(a[4 * q + 1]);
      const __m256d x2 = _mm256_castps_pd(a[4 * q + 2]), x3 = _mm256_castps_pd(a[4 * q + 3]);
      b[4 * q] = _mm256_castpd_ps(_mm256_unpacklo_pd(x0, x2));
      b[4 * q + 1] = _mm256_castpd_ps(_mm256_unpackhi_pd(x0, x2));
      b[4 * q + 2] = _mm256_castpd_ps(_mm256_unpacklo_pd(x1, x3));
      b[4 * q + 3] = _mm256_castpd_ps(_mm256_unpackhi_pd(x1, x3));
    }
    for (int c = 0; c < 4; ++c) {
      r[c] = _mm256_permute2f128_ps(b[c], b[4 + c], 0x20);
      r[4 + c] = _mm256_permute2f128_ps(b[c], b[4 + c], 0x31);
    }
  }
  // Lanes >= `lanes` read as `fill`.
  TERN_INLINE static V load_partial_or(const float* p, std::size_t lanes, float fill) {
    const __m256i m = mask(lanes);
    return _mm256_blendv_ps(_mm256_set1_ps(fill), _mm256_maskload_ps(p, m), _mm256_castsi256_ps(m));
  }
  // Lanes >= `lanes` set to +0.
  TERN_INLINE static V keep(V v, std::size_t lanes) { return _mm256_and_ps(v, _mm256_castsi256_ps(mask(lanes))); }

  // a / b, correctly rounded (the templates never use xsimd's operator/,
  // which is an estimate on NEON).
  TERN_INLINE static V div(V a, V b) { return _mm256_div_ps(a, b); }
  // -(a * b) + c, rounded once: std::fma(-a, b, c).
  TERN_INLINE static V fnma(V a, V b, V c) { return _mm256_fnmadd_ps(a, b, c); }
  TERN_INLINE static V neg(V v) { return _mm256_xor_ps(v, _mm256_set1_ps(-0.0f)); }
  TERN_INLINE static V abs(V v) { return _mm256_andnot_ps(_mm256_set1_ps(-0.0f), v); }
  // |mag| with the sign bit of sgn: std::copysign(mag, sgn).
  TERN_INLINE static V copysign(V mag, V sgn) {
    const __m256 sign = _mm256_set1_ps(-0.0f);
    return _mm256_or_ps(_mm256_andnot_ps(sign, mag), _mm256_and_ps(sign, sgn));
  }
  TERN_INLINE static V sqrt(V v) { return _mm256_sqrt_ps(v); }
  TERN_INLINE static V floor(V v) { return _mm256_floor_ps(v); }
  // 2^k for integer-valued k in [-126, 127], from the exponent bits.
  TERN_INLINE static V pow2i(V k) {
    const __m256i e = _mm256_add_epi32(_mm256_cvtps_epi32(k), _mm256_set1_epi32(127));
    return _mm256_castsi256_ps(_mm256_slli_epi32(e, 23));
  }

  // The 16 virtual lanes, l[0..7] in acc[0] and l[8..15] in acc[1], summed
  // by the fixed tree: l[k] += l[k+8], l[k] += l[k+4], l[k] += l[k+2], l[0] + l[1].
  static constexpr std::size_t kAccumulators = 2;
  TERN_INLINE static float sum_tree16(const V* acc) {
    const __m256 s8 = _mm256_add_ps(acc[0], acc[1]);
    const __m128 s4 = _mm_add_ps(_mm256_castps256_ps128(s8), _mm256_extractf128_ps(s8, 1));
    const __m128 s2 = _mm_add_ps(s4, _mm_movehl_ps(s4, s4));
    return _mm_cvtss_f32(_mm_add_ss(s2, _mm_shuffle_ps(s2, s2, 1)));
  }
};

}  // namespace tern::kernels::avx2
