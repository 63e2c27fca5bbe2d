// SPDX-License-Identifier: Apache-2.0
// FMA peak and cache read bandwidth with AVX2 + FMA (built with the AVX2
// kernel flags only; called after the driver checked the CPU).
//
// Why 12 chains: a ymm FMA has 4-5 cycles of latency and two issue per cycle,
// so 8-10 independent chains keep both units busy; 12 do so with margin and,
// with the two constant operands, use 14 of the 16 ymm registers.
#include <immintrin.h>

#include "units.h"

namespace tern_bench::avx2 {

namespace {
constexpr int kChains = 12;
constexpr int kLanes = 8;

struct Vec {
  using V = __m256;
  static V splat(float x) { return _mm256_set1_ps(x); }
  static V fma(V acc, V a, V c) { return _mm256_fmadd_ps(acc, a, c); }
  static V add(V a, V b) { return _mm256_add_ps(a, b); }
  static V load(const float* p) { return _mm256_load_ps(p); }
  static float sum(V v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
  }
};
}  // namespace

#include "peak_loops-inl.h"

}  // namespace tern_bench::avx2
