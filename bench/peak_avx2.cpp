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

float horizontal_sum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}
}  // namespace

double fma_peak(std::size_t steps, float* sink) {
  // acc = acc * a + c converges to c / (1 - a) = 1: no overflow, no
  // subnormals, however long it runs.
  const __m256 a = _mm256_set1_ps(0.999f);
  const __m256 c = _mm256_set1_ps(0.001f);
  __m256 acc[kChains];
  for (int i = 0; i < kChains; ++i) acc[i] = _mm256_set1_ps(static_cast<float>(i));
  for (std::size_t s = 0; s < steps; ++s) {
    // Unrolled, so every accumulator lives in a register for the whole loop.
#pragma GCC unroll 32
    for (int i = 0; i < kChains; ++i) acc[i] = _mm256_fmadd_ps(acc[i], a, c);
  }
  __m256 sum = acc[0];
  for (int i = 1; i < kChains; ++i) sum = _mm256_add_ps(sum, acc[i]);
  *sink = horizontal_sum(sum);
  return 2.0 * kLanes * kChains * static_cast<double>(steps);
}

float read_stream(const float* p, std::size_t count) {
  // Eight accumulators: two loads per cycle against a 4-cycle add latency.
  __m256 s[8];
  for (__m256& v : s) v = _mm256_setzero_ps();
  for (std::size_t i = 0; i < count; i += 8 * kLanes) {
    for (int u = 0; u < 8; ++u) s[u] = _mm256_add_ps(s[u], _mm256_load_ps(p + i + u * kLanes));
  }
  for (int u = 1; u < 8; ++u) s[0] = _mm256_add_ps(s[0], s[u]);
  return horizontal_sum(s[0]);
}

}  // namespace tern_bench::avx2
