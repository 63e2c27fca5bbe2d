// SPDX-License-Identifier: Apache-2.0
// FMA peak and cache read bandwidth with NEON (AArch64 AdvSIMD, or ARMv7
// NEON with VFPv4 fused multiply-add).
//
// Why 16 chains: Cortex-A cores have one or two 128-bit FMA pipes with 4 to
// 8 cycles of latency, so up to 16 independent chains are needed to keep
// them busy; AArch64 has 32 vector registers, ARMv7 16 quad registers (the
// compiler spills a little there, which the loads hide on in-order cores
// only partly: read the ARMv7 figure as a lower bound).
#include <arm_neon.h>

#include "units.h"

namespace tern_bench::neon {

namespace {
constexpr int kChains = 16;
constexpr int kLanes = 4;

struct Vec {
  using V = float32x4_t;
  static V splat(float x) { return vdupq_n_f32(x); }
  static V fma(V acc, V a, V c) { return vfmaq_f32(c, acc, a); }  // c + acc * a
  static V add(V a, V b) { return vaddq_f32(a, b); }
  static V load(const float* p) { return vld1q_f32(p); }
  static float sum(V v) {
    const float32x2_t s = vadd_f32(vget_low_f32(v), vget_high_f32(v));
    return vget_lane_f32(vpadd_f32(s, s), 0);
  }
};
}  // namespace

#include "peak_loops-inl.h"

}  // namespace tern_bench::neon
