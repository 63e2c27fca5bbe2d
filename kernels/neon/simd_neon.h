// SPDX-License-Identifier: Apache-2.0
// kernels/neon/simd_neon.h — what the generic templates need from NEON
// beyond xsimd: an explicit fused multiply-add, and partial loads/stores for
// column tails on an instruction set that has no masked memory access.
//
// Why vfmaq_f32 and not xsimd::fma: xsimd 8.1.0 maps fma on NEON to
// vfmaq_f32 only when the compiler defines __ARM_FEATURE_FMA, and to
// x * y + z (two roundings) otherwise — a flag mistake would silently cost
// bit-identity. Calling vfmaq_f32 directly fails to compile instead.
//
// Tails: NEON cannot mask lanes of a load or store, and reading past the end
// of a row is not an option (the row may end at the last byte of a page, and
// the guard-zone tests would see a store). Tails of 1-3 lanes are therefore
// moved with 2-lane and single-lane loads/stores (vld1_f32, vld1q_lane_f32):
// exactly the bytes of the valid lanes are touched, the other lanes read as
// +0.0f. These are plain moves, so no value is altered on the way — not even
// a denormal on ARMv7, where only arithmetic flushes.
//
// Division and square root: xsimd 8.1.0 computes both on NEON from a
// reciprocal (square-root) estimate refined by Newton steps — not the
// correctly rounded IEEE result the scalar reference gets — so the templates
// call Simd::div and Simd::sqrt. AArch64 has vector FDIV/FSQRT. ARMv7 NEON
// has neither, so each lane goes through the VFP unit's VDIV.F32/VSQRT.F32,
// which are correctly rounded (and, unlike NEON, keep denormals).
// Sign operations (neg, abs, copysign) are bit operations on the integer
// view, never float arithmetic, so they are exact on every input.
//
// Arch: xsimd::neon64 on AArch64 (ARMv8-A AdvSIMD), xsimd::neon on ARMv7.
// Both have 4 float lanes in a 128-bit q register.
#pragma once

#include <arm_neon.h>
#include <xsimd/xsimd.hpp>

#include <cstddef>

#include "tern/platform/compiler.h"
#include <cstdint>

#if !defined(__ARM_NEON) || !defined(__ARM_FEATURE_FMA)
#error "kernels/neon needs NEON with fused multiply-add (ARMv8-A, or ARMv7 -mfpu=neon-vfpv4)"
#endif

namespace tern::kernels::neon {

#if defined(__aarch64__)
using Arch = xsimd::neon64;
#else
using Arch = xsimd::neon;
#endif

struct Simd {
  using V = xsimd::batch<float, Arch>;
  static_assert(V::size == 4, "NEON float vectors have 4 lanes");

  // c + a * b with a single rounding (VFMA.F32 / FMLA).
  TERN_INLINE static V fma(V a, V b, V c) { return vfmaq_f32(c, a, b); }

  // Lanes >= `lanes` (1..4) read as zero; no byte past p + lanes is read.
  TERN_INLINE static V load_partial(const float* p, std::size_t lanes) {
    const float32x2_t zero = vdup_n_f32(0.0f);
    switch (lanes) {
      case 1: return vcombine_f32(vld1_lane_f32(p, zero, 0), zero);
      case 2: return vcombine_f32(vld1_f32(p), zero);
      case 3: return vcombine_f32(vld1_f32(p), vld1_lane_f32(p + 2, zero, 0));
      default: return vld1q_f32(p);
    }
  }
  // Writes lanes [0, lanes) (1..4); no byte past p + lanes is written.
  TERN_INLINE static void store_partial(float* p, V v, std::size_t lanes) {
    const float32x4_t r = v;
    switch (lanes) {
      case 1: vst1q_lane_f32(p, r, 0); break;
      case 2: vst1_f32(p, vget_low_f32(r)); break;
      case 3:
        vst1_f32(p, vget_low_f32(r));
        vst1q_lane_f32(p + 2, r, 2);
        break;
      default: vst1q_f32(p, r); break;
    }
  }
  // Lane i is all ones when i < `lanes`.
  TERN_INLINE static uint32x4_t mask(std::size_t lanes) {
    const uint32x4_t index = {0, 1, 2, 3};
    return vcltq_u32(index, vdupq_n_u32(static_cast<std::uint32_t>(lanes)));
  }

  // c + a * b in the first `lanes` lanes (1..4); the other lanes of c
  // unchanged, bit for bit (a select, not an arithmetic blend).
  TERN_INLINE static V fma_partial(V a, V b, V c, std::size_t lanes) {
    return vbslq_f32(mask(lanes), vfmaq_f32(c, a, b), c);
  }
  // The last two levels of backprop_rows' fixed tree for 4 outputs at once.
  // acc[q] holds output q's four partial sums s0..s3 (levels l+8 and l+4
  // already added as whole vectors); lane q of the result is
  // (s0 + s2) + (s1 + s3), the contract's pairing exactly.
  TERN_INLINE static V reduce_batch(const V* acc) {
    const float32x4_t a0 = acc[0], a1 = acc[1], a2 = acc[2], a3 = acc[3];
    // (l, l+2): lanes [s0+s2, s1+s3] of two outputs per register.
    const float32x4_t b01 = vaddq_f32(vcombine_f32(vget_low_f32(a0), vget_low_f32(a1)),
                                      vcombine_f32(vget_high_f32(a0), vget_high_f32(a1)));
    const float32x4_t b23 = vaddq_f32(vcombine_f32(vget_low_f32(a2), vget_low_f32(a3)),
                                      vcombine_f32(vget_high_f32(a2), vget_high_f32(a3)));
    // (l, l+1): even lanes with odd lanes, which also puts output q in lane q.
    const float32x4x2_t u = vuzpq_f32(b01, b23);
    return vaddq_f32(u.val[0], u.val[1]);
  }

  // A 4 x 4 block transposed in place: lane c of r[q] goes to lane q of
  // r[c]. Pure data movement, so every value keeps its bits (used by the
  // kernels with lanes along p).
  TERN_INLINE static void transpose(V* r) {
    const float32x4x2_t t01 = vtrnq_f32(r[0], r[1]);  // [r0[0] r1[0] r0[2] r1[2]], [.. 1 .. 3]
    const float32x4x2_t t23 = vtrnq_f32(r[2], r[3]);
    r[0] = vcombine_f32(vget_low_f32(t01.val[0]), vget_low_f32(t23.val[0]));
    r[1] = vcombine_f32(vget_low_f32(t01.val[1]), vget_low_f32(t23.val[1]));
    r[2] = vcombine_f32(vget_high_f32(t01.val[0]), vget_high_f32(t23.val[0]));
    r[3] = vcombine_f32(vget_high_f32(t01.val[1]), vget_high_f32(t23.val[1]));
  }

  // ---- what the element-wise templates need (generic/elementwise-inl.h) ----

  // Lanes >= `lanes` read as `fill`.
  TERN_INLINE static V load_partial_or(const float* p, std::size_t lanes, float fill) {
    return vbslq_f32(mask(lanes), load_partial(p, lanes), vdupq_n_f32(fill));
  }
  // Lanes >= `lanes` set to +0.
  TERN_INLINE static V keep(V v, std::size_t lanes) {
    return vreinterpretq_f32_u32(vandq_u32(vreinterpretq_u32_f32(v), mask(lanes)));
  }

  // c - a * b, rounded once: std::fma(-a, b, c).
  TERN_INLINE static V fnma(V a, V b, V c) { return vfmsq_f32(c, a, b); }
  TERN_INLINE static V div(V a, V b) {
#if defined(__aarch64__)
    return vdivq_f32(a, b);
#else
    return per_lane(a, b, [](float x, float y) { return x / y; });
#endif
  }
  TERN_INLINE static V sqrt(V v) {
#if defined(__aarch64__)
    return vsqrtq_f32(v);
#else
    return per_lane(v, v, [](float x, float) { return __builtin_sqrtf(x); });
#endif
  }
  TERN_INLINE static V neg(V v) { return vreinterpretq_f32_u32(veorq_u32(bits(v), sign_bit())); }
  TERN_INLINE static V abs(V v) { return vreinterpretq_f32_u32(vbicq_u32(bits(v), sign_bit())); }
  // |mag| with the sign bit of sgn: std::copysign(mag, sgn).
  TERN_INLINE static V copysign(V mag, V sgn) {
    return vreinterpretq_f32_u32(vbslq_u32(sign_bit(), bits(sgn), bits(mag)));
  }
  // std::floor, exact for every float.
  TERN_INLINE static V floor(V v) {
#if defined(__aarch64__)
    return vrndmq_f32(v);  // FRINTM
#else
    // ARMv7 has no rounding instruction. Below 2^23 in magnitude, truncate
    // through int32 and step down where truncation went up (negative
    // non-integers); the only zero result of a negative input is -0.0 itself,
    // whose sign the integer round trip loses and the OR restores. At 2^23
    // and above (and for NaN and infinities) every float is its own floor.
    const float32x4_t x = v;
    const float32x4_t t = vcvtq_f32_s32(vcvtq_s32_f32(x));
    const float32x4_t f = vbslq_f32(vcgtq_f32(t, x), vsubq_f32(t, vdupq_n_f32(1.0f)), t);
    const uint32x4_t zero = vceqq_f32(f, vdupq_n_f32(0.0f));
    const uint32x4_t signed_f = vorrq_u32(bits(f), vandq_u32(zero, vandq_u32(bits(x), sign_bit())));
    const uint32x4_t small = vcltq_f32(vabsq_f32(x), vdupq_n_f32(8388608.0f));
    return vbslq_f32(small, vreinterpretq_f32_u32(signed_f), x);
#endif
  }
  // 2^k for integer-valued k in [-126, 127], from the exponent bits.
  TERN_INLINE static V pow2i(V k) {
    const int32x4_t e = vaddq_s32(vcvtq_s32_f32(k), vdupq_n_s32(127));
    return vreinterpretq_f32_s32(vshlq_n_s32(e, 23));
  }

  // The 16 virtual lanes l[0..15] in acc[0..3] (4 each), summed by the fixed
  // tree: l[k] += l[k+8], l[k] += l[k+4], l[k] += l[k+2], l[0] + l[1].
  static constexpr std::size_t kAccumulators = 4;
  TERN_INLINE static float sum_tree16(const V* acc) {
    const float32x4_t s4 = vaddq_f32(vaddq_f32(acc[0], acc[2]), vaddq_f32(acc[1], acc[3]));
    const float32x2_t s2 = vadd_f32(vget_low_f32(s4), vget_high_f32(s4));
    return vget_lane_f32(s2, 0) + vget_lane_f32(s2, 1);
  }

 private:
  TERN_INLINE static uint32x4_t bits(V v) { return vreinterpretq_u32_f32(v); }
  TERN_INLINE static uint32x4_t sign_bit() { return vdupq_n_u32(0x80000000u); }
#if !defined(__aarch64__)
  template <class F>
  TERN_INLINE static V per_lane(V a, V b, F op) {
    float x[4], y[4];
    vst1q_f32(x, a);
    vst1q_f32(y, b);
    for (int i = 0; i < 4; ++i) x[i] = op(x[i], y[i]);
    return vld1q_f32(x);
  }
#endif
};

}  // namespace tern::kernels::neon
