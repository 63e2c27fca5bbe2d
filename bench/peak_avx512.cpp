// FMA peak and cache read bandwidth with AVX-512 (built with the AVX-512
// kernel flags only; called after the driver checked the CPU).
//
// Why 24 chains: a zmm FMA has 4 cycles of latency and the cores with two
// 512-bit FMA units issue two per cycle, so at least 8 independent chains are
// needed; 24 leave room for a longer latency and still fit the 32 zmm
// registers with the two constant operands.
#include <immintrin.h>

#include "units.h"

namespace tern_bench::avx512 {

namespace {
constexpr int kChains = 24;
constexpr int kLanes = 16;

// Through memory rather than _mm512_reduce_add_ps, whose GCC 12 expansion
// trips -Wmaybe-uninitialized inside the compiler's own headers.
float horizontal_sum(__m512 v) {
  alignas(64) float lane[kLanes];
  _mm512_store_ps(lane, v);
  float s = 0.0f;
  for (float x : lane) s += x;
  return s;
}
}  // namespace

double fma_peak(std::size_t steps, float* sink) {
  // acc = acc * a + c converges to c / (1 - a) = 1: no overflow, no
  // subnormals, however long it runs.
  const __m512 a = _mm512_set1_ps(0.999f);
  const __m512 c = _mm512_set1_ps(0.001f);
  __m512 acc[kChains];
  for (int i = 0; i < kChains; ++i) acc[i] = _mm512_set1_ps(static_cast<float>(i));
  for (std::size_t s = 0; s < steps; ++s) {
    // Unrolled, so every accumulator lives in a register for the whole loop.
#pragma GCC unroll 32
    for (int i = 0; i < kChains; ++i) acc[i] = _mm512_fmadd_ps(acc[i], a, c);
  }
  __m512 sum = acc[0];
  for (int i = 1; i < kChains; ++i) sum = _mm512_add_ps(sum, acc[i]);
  *sink = horizontal_sum(sum);
  return 2.0 * kLanes * kChains * static_cast<double>(steps);
}

float read_stream(const float* p, std::size_t count) {
  // Eight accumulators: two loads per cycle against a 4-cycle add latency.
  __m512 s[8];
  for (__m512& v : s) v = _mm512_setzero_ps();
  for (std::size_t i = 0; i < count; i += 8 * kLanes) {
    for (int u = 0; u < 8; ++u) s[u] = _mm512_add_ps(s[u], _mm512_load_ps(p + i + u * kLanes));
  }
  for (int u = 1; u < 8; ++u) s[0] = _mm512_add_ps(s[0], s[u]);
  return horizontal_sum(s[0]);
}

}  // namespace tern_bench::avx512
