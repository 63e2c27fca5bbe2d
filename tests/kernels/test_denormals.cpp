// SPDX-License-Identifier: Apache-2.0
// Denormals (subnormal floats, |x| < 2^-126) on every ISA this CPU runs.
//
// Scalar code, x86 AVX2/AVX-512 and AArch64 NEON compute with IEEE gradual
// underflow (tern never sets flush-to-zero), so they agree bit for bit here
// as everywhere. ARMv7 NEON cannot: its arithmetic always flushes denormal
// inputs and results to zero of the same sign, whatever FPSCR says. This file
// pins down exactly what that costs (docs/arm.md: "Denormals on ARMv7"):
//   - a denormal result of an FMA or an add becomes +-0;
//   - a denormal operand counts as 0, even when the result would be normal;
//   - values that are only moved (loads, stores, k = 0 copies of the bias)
//     keep their bits;
//   - division and square root, which ARMv7 NEON lacks and tern computes
//     lane by lane on the VFP unit, keep denormals as scalar code does.
// The other test files use data in [-1, 1] whose products and sums stay far
// above 2^-126, so they never meet this case.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "test_util.h"
#include "tern/kernels/kernel_table.h"
#include "tern/kernels/elementwise.h"
#include "tern/platform/compiler.h"

using namespace tern;

namespace {

// True where the ISA's arithmetic flushes denormals to zero.
bool flushes_denormals(Isa isa) { return isa == Isa::kNeon && TERN_ARCH_ARM32; }

std::uint32_t bits(float f) {
  std::uint32_t b;
  std::memcpy(&b, &f, sizeof b);
  return b;
}

// m = 7 covers a full 4-lane vector and a 3-lane tail on NEON, a masked tail
// on AVX2/AVX-512.
constexpr std::size_t m = 7;

// y = x * w + bias for a 1 x 1 x m problem, every column the same.
std::vector<float> gemm_1x1(Isa isa, float x, float w, float bias, std::size_t k = 1) {
  std::vector<float> xs(k, x), ws(k * m, w), b(m, bias), y(m, -1.0f);
  kernel_table(isa)->gemm_rows_f32(1, k, m, xs.data(), k, ws.data(), m, b.data(), y.data(), m,
                                   Activation::kNone, nullptr);
  return y;
}

}  // namespace

TEST_CASE("denormals: IEEE everywhere except ARMv7 NEON, which flushes them to zero") {
  const float tiny = std::ldexp(1.0f, -70);      // normal, its square is not
  const float denormal = std::ldexp(1.0f, -140);  // tiny * tiny, exactly representable
  const float sub_in = std::ldexp(1.0f, -130);    // a denormal input
  const float big = std::ldexp(1.0f, 100);
  REQUIRE(std::fpclassify(denormal) == FP_SUBNORMAL);
  REQUIRE(std::fpclassify(sub_in) == FP_SUBNORMAL);

  for (Isa isa : tern::test::runnable_isas()) {
    CAPTURE(std::string(isa_name(isa)));
    const bool ftz = flushes_denormals(isa);

    // A denormal result: 2^-70 * 2^-70 + 0 = 2^-140.
    for (float y : gemm_1x1(isa, tiny, tiny, 0.0f)) CHECK(bits(y) == bits(ftz ? 0.0f : denormal));
    // ... with the sign kept when flushed.
    for (float y : gemm_1x1(isa, -tiny, tiny, 0.0f))
      CHECK(bits(y) == bits(ftz ? -0.0f : -denormal));

    // A denormal operand with a normal exact result: 2^-130 * 2^100 = 2^-30.
    // Flushing the operand loses the whole term, not just a tiny remainder.
    for (float y : gemm_1x1(isa, sub_in, big, 0.0f))
      CHECK(bits(y) == bits(ftz ? 0.0f : std::ldexp(1.0f, -30)));

    // A denormal addend (the bias) under an FMA with a zero product.
    for (float y : gemm_1x1(isa, 0.0f, 1.0f, denormal)) CHECK(bits(y) == bits(ftz ? 0.0f : denormal));

    // k = 0 is a pure copy of the bias into Y: moves never flush.
    for (float y : gemm_1x1(isa, 0.0f, 0.0f, denormal, 0)) CHECK(bits(y) == bits(denormal));

    // Additions flush too: column sums of denormals.
    std::vector<float> d(3 * m, denormal), g(m, 0.0f);
    kernel_table(isa)->column_sums_accumulate_f32(3, m, 1.0f, d.data(), m, g.data());
    for (float v : g) CHECK(bits(v) == bits(ftz ? 0.0f : 3.0f * denormal));

    // Whatever the ISA, the scalar table is IEEE: it is what TERN_ISA=scalar
    // gives a program that must keep denormals on ARMv7.
    if (isa == Isa::kScalar) {
      CHECK(bits(gemm_1x1(isa, tiny, tiny, 0.0f)[0]) == bits(denormal));
    }
  }
}

TEST_CASE("denormals in the element-wise kernels: flushed where NEON arithmetic makes them") {
  constexpr std::size_t m = 7;
  for (Isa isa : tern::test::runnable_isas()) {
    CAPTURE(std::string(isa_name(isa)));
    const bool ftz = flushes_denormals(isa);
    const KernelTable* t = kernel_table(isa);
    const KernelTable* ref = kernel_table(Isa::kScalar);

    // softmax of [0, -100, -100, ...]: exp(-100) = 3.7e-44 is subnormal, made
    // by exp's final scaling multiply; 1 + 3.7e-44 rounds to 1 either way.
    std::vector<float> x(m, -100.0f), y(m), want(m);
    x[0] = 0.0f;
    t->softmax_rows_f32(1, m, x.data(), m, y.data(), m);
    ref->softmax_rows_f32(1, m, x.data(), m, want.data(), m);
    REQUIRE(std::fpclassify(want[1]) == FP_SUBNORMAL);
    CHECK(bits(y[0]) == bits(1.0f));
    for (std::size_t j = 1; j < m; ++j) CHECK(bits(y[j]) == bits(ftz ? 0.0f : want[j]));

    // sigmoid(-88) = 1 / (1 + e^88) = 6e-39: the subnormal comes out of a
    // division, which on ARMv7 runs on the VFP unit: identical bits on every
    // ISA.
    std::vector<float> z(m, -88.0f), s(m), s_want(m);
    t->pointwise_forward_f32(Pointwise::kSigmoid, 1, m, z.data(), m, s.data(), m);
    ref->pointwise_forward_f32(Pointwise::kSigmoid, 1, m, z.data(), m, s_want.data(), m);
    REQUIRE(std::fpclassify(s_want[0]) == FP_SUBNORMAL);
    for (std::size_t j = 0; j < m; ++j) CHECK(bits(s[j]) == bits(s_want[j]));
  }
}
