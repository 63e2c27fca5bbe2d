// SPDX-License-Identifier: Apache-2.0
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

struct Vec {
  using V = __m512;
  static V splat(float x) { return _mm512_set1_ps(x); }
  static V fma(V acc, V a, V c) { return _mm512_fmadd_ps(acc, a, c); }
  static V add(V a, V b) { return _mm512_add_ps(a, b); }
  static V load(const float* p) { return _mm512_load_ps(p); }
  // Through memory rather than _mm512_reduce_add_ps, whose GCC 12 expansion
  // trips -Wmaybe-uninitialized inside the compiler's own headers.
  static float sum(V v) {
    alignas(64) float lane[kLanes];
    _mm512_store_ps(lane, v);
    float s = 0.0f;
    for (float x : lane) s += x;
    return s;
  }
};
}  // namespace

#include "peak_loops-inl.h"

}  // namespace tern_bench::avx512
