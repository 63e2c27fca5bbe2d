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

float horizontal_sum(float32x4_t v) {
  const float32x2_t s = vadd_f32(vget_low_f32(v), vget_high_f32(v));
  return vget_lane_f32(vpadd_f32(s, s), 0);
}
}  // namespace

double fma_peak(std::size_t steps, float* sink) {
  // acc = c + acc * a converges to c / (1 - a) = 1: no overflow, no
  // subnormals, however long it runs.
  const float32x4_t a = vdupq_n_f32(0.999f);
  const float32x4_t c = vdupq_n_f32(0.001f);
  float32x4_t acc[kChains];
  for (int i = 0; i < kChains; ++i) acc[i] = vdupq_n_f32(static_cast<float>(i));
  for (std::size_t s = 0; s < steps; ++s) {
    // Unrolled, so every accumulator lives in a register for the whole loop.
#pragma GCC unroll 32
    for (int i = 0; i < kChains; ++i) acc[i] = vfmaq_f32(c, acc[i], a);
  }
  float32x4_t sum = acc[0];
  for (int i = 1; i < kChains; ++i) sum = vaddq_f32(sum, acc[i]);
  *sink = horizontal_sum(sum);
  return 2.0 * kLanes * kChains * static_cast<double>(steps);
}

float read_stream(const float* p, std::size_t count) {
  float32x4_t s[8];
  for (float32x4_t& v : s) v = vdupq_n_f32(0.0f);
  for (std::size_t i = 0; i < count; i += 8 * kLanes) {
    for (int u = 0; u < 8; ++u) s[u] = vaddq_f32(s[u], vld1q_f32(p + i + u * kLanes));
  }
  for (int u = 1; u < 8; ++u) s[0] = vaddq_f32(s[0], s[u]);
  return horizontal_sum(s[0]);
}

}  // namespace tern_bench::neon
