// SPDX-License-Identifier: Apache-2.0
// kernels/avx512/simd_avx512.h — what the generic templates need from
// AVX-512 beyond xsimd: a fused multiply-add that really is fused, and
// masked partial loads/stores for column tails.
//
// Why not xsimd::fma: in xsimd 8.1.0 the avx512f architecture has no fma
// override and falls back to the generic `x * y + z` — two roundings, and not
// what AVX2 (which maps to vfmadd) or the scalar std::fma compute. tern would
// silently lose bit-identity. Simd::fma calls _mm512_fmadd_ps directly.
// Likewise xsimd's avx512f negation is 0 - x (so -(+0) is +0, not -0): the
// sign operations below are bit operations, and the element-wise templates
// never use xsimd's unary minus or abs.
//
// Element-wise kernels also need: 2^k from exponent bits, masked tails that
// read as a chosen value, and the fixed 16-virtual-lane sum of
// tern/kernels/elementwise.h (here the 16 lanes are exactly one zmm).
#pragma once

// GCC 12's AVX-512 headers pass _mm512_undefined_ps() through masked
// builtins and then warn -Wmaybe-uninitialized at every inlined use of
// extract/shuffle intrinsics. The warning is located in the header, so it is
// silenced for the header alone.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <immintrin.h>
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif
#include <xsimd/xsimd.hpp>

#include <cstddef>

#include "tern/platform/compiler.h"

namespace tern::kernels::avx512 {

using Arch = xsimd::avx512f;

struct Simd {
  using V = xsimd::batch<float, Arch>;
  TERN_INLINE static V fma(V a, V b, V c) { return _mm512_fmadd_ps(a, b, c); }
  TERN_INLINE static __mmask16 mask(std::size_t lanes) {
    return static_cast<__mmask16>((1u << lanes) - 1u);
  }
  // Lanes >= `lanes` read as zero; no byte past p + lanes is touched.
  TERN_INLINE static V load_partial(const float* p, std::size_t lanes) {
    return _mm512_maskz_loadu_ps(mask(lanes), p);
  }
  TERN_INLINE static void store_partial(float* p, V v, std::size_t lanes) {
    _mm512_mask_storeu_ps(p, mask(lanes), v);
  }
  // c + a * b in the first `lanes` lanes; the other lanes of c unchanged.
  TERN_INLINE static V fma_partial(V a, V b, V c, std::size_t lanes) {
    return _mm512_mask3_fmadd_ps(a, b, c, mask(lanes));
  }
  // The fixed tree (pairs l+8, l+4, l+2, l+1) of 16 accumulators at once:
  // returns lane q = the tree sum of acc[q]. Each level adds two registers
  // whose lanes hold the two halves of every pair, gathered by shuffles, so
  // the pairing (and thus every rounding) is exactly the scalar tree's.
  TERN_INLINE static V reduce_batch(const V* acc) {
    __m512 b1[8], b2[4], b3[2];
    for (int q = 0; q < 8; ++q) {  // (l, l+8): blocks 0,1 with blocks 2,3
      const __m512 x = acc[2 * q], y = acc[2 * q + 1];
      b1[q] = _mm512_add_ps(_mm512_shuffle_f32x4(x, y, 0x44), _mm512_shuffle_f32x4(x, y, 0xEE));
    }
    for (int q = 0; q < 4; ++q) {  // (l, l+4): even blocks with odd blocks
      const __m512 x = b1[2 * q], y = b1[2 * q + 1];
      b2[q] = _mm512_add_ps(_mm512_shuffle_f32x4(x, y, 0x88), _mm512_shuffle_f32x4(x, y, 0xDD));
    }
    for (int q = 0; q < 2; ++q) {  // (l, l+2) inside each 128-bit block
      const __m512 x = b2[2 * q], y = b2[2 * q + 1];
      b3[q] = _mm512_add_ps(_mm512_shuffle_ps(x, y, _MM_SHUFFLE(1, 0, 1, 0)),
                            _mm512_shuffle_ps(x, y, _MM_SHUFFLE(3, 2, 3, 2)));
    }
    // (l, l+1). Lane 4j+e now holds accumulator 4e+j; one permute restores order.
    const __m512 e = _mm512_add_ps(_mm512_shuffle_ps(b3[0], b3[1], _MM_SHUFFLE(2, 0, 2, 0)),
                                   _mm512_shuffle_ps(b3[0], b3[1], _MM_SHUFFLE(3, 1, 3, 1)));
    const __m512i order = _mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15);
    return _mm512_permutexvar_ps(order, e);
  }
  // A 16 x 16 block transposed in place: lane c of r[q] goes to lane q of
  // r[c]. Pure data movement (unpack, then 128-bit block shuffles), so every
  // value keeps its bits. The kernels with lanes along p use it to turn
  // column vectors into rows of a row-major matrix and back.
  TERN_INLINE static void transpose(V* r) {
    __m512 a[16], b[16];
    for (int q = 0; q < 8; ++q) {  // a[2q]: lanes 4b..4b+1 of rows 2q, 2q+1 interleaved
      a[2 * q] = _mm512_unpacklo_ps(r[2 * q], r[2 * q + 1]);
      a[2 * q + 1] = _mm512_unpackhi_ps(r[2 * q], r[2 * q + 1]);
    }
    for (int q = 0; q < 4; ++q) {  // b[4q+c], 128-bit block e: rows 4q..4q+3 of column 4e+c
      const __m512d x0 = _mm512_castps_pd(a[4 * q]), x1 = _mm512_castps_pd(a[4 * q + 1]);
      const __m512d x2 = _mm512_castps_pd(a[4 * q + 2]), x3 = _mm512_castps_pd(a[4 * q + 3]);
      b[4 * q] = _mm512_castpd_ps(_mm512_unpacklo_pd(x0, x2));
      b[4 * q + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(x0, x2));
      b[4 * q + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(x1, x3));
      b[4 * q + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(x1, x3));
    }
    for (int c = 0; c < 4; ++c) {  // column 4e+c: block e of b[c], b[4+c], b[8+c], b[12+c]
      const __m512 x = _mm512_shuffle_f32x4(b[c], b[4 + c], 0x88);  // blocks 0, 2
      const __m512 y = _mm512_shuffle_f32x4(b[c], b[4 + c], 0xDD);  // blocks 1, 3
      const __m512 z = _mm512_shuffle_f32x4(b[8 + c], b[12 + c], 0x88);
      const __m512 w = _mm512_shuffle_f32x4(b[8 + c], b[12 + c], 0xDD);
      r[c] = _mm512_shuffle_f32x4(x, z, 0x88);
      r[8 + c] = _mm512_shuffle_f32x4(x, z, 0xDD);
      r[4 + c] = _mm512_shuffle_f32x4(y, w, 0x88);
      r[12 + c] = _mm512_shuffle_f32x4(y, w, 0xDD);
    }
  }
  // Lanes >= `lanes` read as `fill`.
  TERN_INLINE static V load_partial_or(const float* p, std::size_t lanes, float fill) {
    return _mm512_mask_loadu_ps(_mm512_set1_ps(fill), mask(lanes), p);
  }
  // Lanes >= `lanes` set to +0.
  TERN_INLINE static V keep(V v, std::size_t lanes) { return _mm512_maskz_mov_ps(mask(lanes), v); }

  // a / b, correctly rounded (the templates never use xsimd's operator/,
  // which is an estimate on NEON).
  TERN_INLINE static V div(V a, V b) { return _mm512_div_ps(a, b); }
  // -(a * b) + c, rounded once: std::fma(-a, b, c).
  TERN_INLINE static V fnma(V a, V b, V c) { return _mm512_fnmadd_ps(a, b, c); }
  TERN_INLINE static V neg(V v) { return _mm512_xor_ps(v, _mm512_set1_ps(-0.0f)); }
  TERN_INLINE static V abs(V v) { return _mm512_andnot_ps(_mm512_set1_ps(-0.0f), v); }
  // |mag| with the sign bit of sgn: std::copysign(mag, sgn).
  TERN_INLINE static V copysign(V mag, V sgn) {
    const __m512 sign = _mm512_set1_ps(-0.0f);
    return _mm512_or_ps(_mm512_andnot_ps(sign, mag), _mm512_and_ps(sign, sgn));
  }
  // The unmasked forms of the next intrinsics pass _mm512_undefined_*() as
  // the merge source, which GCC 12 reports as an uninitialised use (a false
  // positive) once inlined; the zero-masking forms with every lane enabled
  // compile to the same instructions without it.
  static constexpr __mmask16 kAll = 0xffff;
  TERN_INLINE static V sqrt(V v) { return _mm512_maskz_sqrt_ps(kAll, v); }
  TERN_INLINE static V floor(V v) { return _mm512_maskz_roundscale_ps(kAll, v, _MM_FROUND_TO_NEG_INF); }
  // 2^k for integer-valued k in [-126, 127], from the exponent bits.
  TERN_INLINE static V pow2i(V k) {
    const __m512i e = _mm512_add_epi32(_mm512_maskz_cvtps_epi32(kAll, k), _mm512_set1_epi32(127));
    return _mm512_castsi512_ps(_mm512_maskz_slli_epi32(kAll, e, 23));
  }

  // The 16 virtual lanes l[0..15] in acc[0], summed by the fixed tree:
  // l[k] += l[k+8], l[k] += l[k+4], l[k] += l[k+2], l[0] + l[1].
  static constexpr std::size_t kAccumulators = 1;
  TERN_INLINE static float sum_tree16(const V* acc) {
    const __m512 a = acc[0];
    const __m256 s8 = _mm256_add_ps(_mm512_maskz_extractf32x8_ps(0xff, a, 0),
                                    _mm512_maskz_extractf32x8_ps(0xff, a, 1));
    const __m128 s4 = _mm_add_ps(_mm256_castps256_ps128(s8), _mm256_extractf128_ps(s8, 1));
    const __m128 s2 = _mm_add_ps(s4, _mm_movehl_ps(s4, s4));
    return _mm_cvtss_f32(_mm_add_ss(s2, _mm_shuffle_ps(s2, s2, 1)));
  }
};

}  // namespace tern::kernels::avx512
