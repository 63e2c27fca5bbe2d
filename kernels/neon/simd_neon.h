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
// Arch: xsimd::neon64 on AArch64 (ARMv8-A AdvSIMD), xsimd::neon on ARMv7.
// Both have 4 float lanes in a 128-bit q register.
#pragma once

#include <arm_neon.h>
#include <xsimd/xsimd.hpp>

#include <cstddef>
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
  static V fma(V a, V b, V c) { return vfmaq_f32(c, a, b); }

  // Lanes >= `lanes` (1..4) read as zero; no byte past p + lanes is read.
  static V load_partial(const float* p, std::size_t lanes) {
    const float32x2_t zero = vdup_n_f32(0.0f);
    switch (lanes) {
      case 1: return vcombine_f32(vld1_lane_f32(p, zero, 0), zero);
      case 2: return vcombine_f32(vld1_f32(p), zero);
      case 3: return vcombine_f32(vld1_f32(p), vld1_lane_f32(p + 2, zero, 0));
      default: return vld1q_f32(p);
    }
  }
  // Writes lanes [0, lanes) (1..4); no byte past p + lanes is written.
  static void store_partial(float* p, V v, std::size_t lanes) {
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
  // c + a * b in the first `lanes` lanes (1..4); the other lanes of c
  // unchanged, bit for bit (a select, not an arithmetic blend).
  static V fma_partial(V a, V b, V c, std::size_t lanes) {
    const uint32x4_t index = {0, 1, 2, 3};
    const uint32x4_t keep = vcltq_u32(index, vdupq_n_u32(static_cast<std::uint32_t>(lanes)));
    return vbslq_f32(keep, vfmaq_f32(c, a, b), c);
  }
  // The last two levels of backprop_rows' fixed tree for 4 outputs at once.
  // acc[q] holds output q's four partial sums s0..s3 (levels l+8 and l+4
  // already added as whole vectors); lane q of the result is
  // (s0 + s2) + (s1 + s3), the contract's pairing exactly.
  static V reduce_batch(const V* acc) {
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
};

}  // namespace tern::kernels::neon
