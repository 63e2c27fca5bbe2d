// SPDX-License-Identifier: Apache-2.0
// bench/peak_loops-inl.h — the FMA-peak and read-bandwidth loops of units.h,
// written once for every ISA.
//
// No include guard and no includes: peak_<isa>.cpp includes it inside its
// own namespace (tern_bench::<isa>), compiled with that ISA's flags, after
// defining
//   kChains, kLanes      independent FMA chains, floats per vector
//   struct Vec           V (the vector type) and, each one instruction or a
//                        few: splat(x), fma(acc, a, c) = acc * a + c,
//                        add(a, b), load(p) (64-byte aligned p), sum(v)
// Every function here is a loop over those, so the ISA's file holds only
// what differs: the register count behind kChains and the intrinsics.

double fma_peak(std::size_t steps, float* sink) {
  // acc = acc * a + c converges to c / (1 - a) = 1: no overflow, no
  // subnormals, however long it runs.
  const Vec::V a = Vec::splat(0.999f);
  const Vec::V c = Vec::splat(0.001f);
  Vec::V acc[kChains];
  for (int i = 0; i < kChains; ++i) acc[i] = Vec::splat(static_cast<float>(i));
  for (std::size_t s = 0; s < steps; ++s) {
    // Unrolled, so every accumulator lives in a register for the whole loop.
#pragma GCC unroll 32
    for (int i = 0; i < kChains; ++i) acc[i] = Vec::fma(acc[i], a, c);
  }
  Vec::V sum = acc[0];
  for (int i = 1; i < kChains; ++i) sum = Vec::add(sum, acc[i]);
  *sink = Vec::sum(sum);
  // Two flops (a multiply and an add) per lane per FMA.
  return 2.0 * kLanes * kChains * static_cast<double>(steps);
}

float read_stream(const float* p, std::size_t count) {
  // Eight accumulators: two loads per cycle against a 4-cycle add latency.
  constexpr int kUnroll = 8;
  Vec::V s[kUnroll];
  for (Vec::V& v : s) v = Vec::splat(0.0f);
  for (std::size_t i = 0; i < count; i += kUnroll * kLanes) {
    for (int u = 0; u < kUnroll; ++u) s[u] = Vec::add(s[u], Vec::load(p + i + u * kLanes));
  }
  for (int u = 1; u < kUnroll; ++u) s[0] = Vec::add(s[0], s[u]);
  return Vec::sum(s[0]);
}
