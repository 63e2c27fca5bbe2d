// SPDX-License-Identifier: Apache-2.0
// kernels/generic/math-inl.h — tern's exp and tanh, lane by lane. Included
// inside an ISA namespace after `Arch` and `Simd` (kernels/<isa>/simd_<isa>.h)
// and kernels/src/math_constants.h; see kernels/generic/README.md.
//
// Why a second copy of the algorithm: the scalar reference
// (kernels/src/math_f32.cpp, tern::exp_f32 / tanh_f32) is
// written as plain branches; here the same operations run branch-free, every
// lane computing each path and a select keeping the right one. The operation
// sequence and the constants are the same, and every operation used is
// correctly rounded IEEE arithmetic (add, sub, mul, div, fused multiply-add,
// floor, compares, selects, bit operations), so each lane returns the
// reference's bits; the tests check that on dense sweeps.
//
// xsimd pitfalls avoided on purpose (they differ between ISAs or from IEEE):
// xsimd::fma (unfused on avx512f), division (a reciprocal estimate refined
// by Newton steps on NEON, not a correctly rounded quotient: Simd::div),
// unary minus and abs (0 - x on avx512f),
// operator!= (an *ordered* compare: NaN != NaN is false), min/max (the NaN
// and signed-zero rules are the instruction's, not C++'s). Sign operations
// and fused multiply-adds come from Simd; NaN tests use xsimd::isnan; clamps
// are written as compare + select, the exact form of the scalar ternaries.

using MathV = Simd::V;

// exp_f32, lane by lane (formula in tern/kernels/elementwise.h).
TERN_INLINE MathV exp_v(MathV x) {
  using namespace ::tern::kernels::math;
  MathV xc = xsimd::select(x < MathV(kExpMin), MathV(kExpMin), x);
  xc = xsimd::select(xc > MathV(kExpMax), MathV(kExpMax), xc);
  const MathV n = Simd::fma(xc, MathV(kLog2e), MathV(kRoundToInt)) - MathV(kRoundToInt);
  MathV r = Simd::fnma(n, MathV(kLn2Hi), xc);
  r = Simd::fnma(n, MathV(kLn2Lo), r);
  MathV p(kExpC6);
  p = Simd::fma(p, r, MathV(kExpC5));
  p = Simd::fma(p, r, MathV(kExpC4));
  p = Simd::fma(p, r, MathV(kExpC3));
  p = Simd::fma(p, r, MathV(kExpC2));
  p = Simd::fma(p, r, MathV(1.0f));
  p = Simd::fma(p, r, MathV(1.0f));
  const MathV n1 = Simd::floor(MathV(0.5f) * n);
  const MathV n2 = n - n1;
  const MathV y = (p * Simd::pow2i(n1)) * Simd::pow2i(n2);
  return xsimd::select(xsimd::isnan(x), x, y);
}

// tanh_f32, lane by lane: both branches, then a select on |x| < 0.625.
TERN_INLINE MathV tanh_v(MathV x) {
  using namespace ::tern::kernels::math;
  const MathV a = Simd::abs(x);
  const MathV z = a * a;
  MathV p(kTanhT5);
  p = Simd::fma(p, z, MathV(kTanhT4));
  p = Simd::fma(p, z, MathV(kTanhT3));
  p = Simd::fma(p, z, MathV(kTanhT2));
  p = Simd::fma(p, z, MathV(kTanhT1));
  p = Simd::fma(p, z, MathV(kTanhT0));
  const MathV small = Simd::fma(a * z, p, a);
  const MathV one(1.0f);
  const MathV large = one - Simd::div(MathV(2.0f), exp_v(MathV(2.0f) * a) + one);
  return Simd::copysign(xsimd::select(a < MathV(kTanhSmall), small, large), x);
}

// 1 / (1 + exp(-x)).
TERN_INLINE MathV sigmoid_v(MathV x) {
  const MathV one(1.0f);
  return Simd::div(one, one + exp_v(Simd::neg(x)));
}

// log_f32, lane by lane, for positive normal finite x only (no NaN, sign,
// zero, infinity or subnormal handling: on those inputs log_f32 takes its
// special branches and this does not). Its one caller, the noise kernel,
// feeds (1 - x)(1 + x) for x on a grid of (-1, 1), always in [2^-23, 1].
// The integer steps (bit pattern minus sqrt(1/2)'s, arithmetic shift, mask,
// add, int to float) are exact on every ISA; the float steps are
// log_f32's, in its order. For normal x log_f32's e_adjust is +0 and
// float(e) + 0 = float(e) (never -0), so to_float(e) is its ef.
//
// N vectors at once, each step applied to all N before the next: the
// chains of one vector are long (a divide, a sqrt, 20 dependent fused
// multiply-adds), so interleaving independent vectors keeps the FMA units
// busy instead of waiting on latency. Per lane nothing changes.
using MathI = xsimd::batch<std::int32_t, Arch>;
template <std::size_t N>
TERN_INLINE void log_positive_normal_n(const MathV* x, MathV* out) {
  using namespace ::tern::kernels::math;
  const MathI sqrt_half(static_cast<std::int32_t>(kSqrtHalfBits));
  MathV ef[N], t[N], s[N], z[N], q[N], h[N];
  for (std::size_t k = 0; k < N; ++k) {
    const MathI d = xsimd::bitwise_cast<MathI>(x[k]) - sqrt_half;
    const MathI e = d >> 23;  // arithmetic shift on signed lanes: floor(d / 2^23)
    const MathV f = xsimd::bitwise_cast<MathV>((d & MathI(0x007fffff)) + sqrt_half);
    ef[k] = xsimd::to_float(e);
    t[k] = f - MathV(1.0f);
  }
  for (std::size_t k = 0; k < N; ++k) s[k] = Simd::div(t[k], MathV(2.0f) + t[k]);
  for (std::size_t k = 0; k < N; ++k) z[k] = s[k] * s[k];
  for (std::size_t k = 0; k < N; ++k) q[k] = Simd::fma(MathV(kLogL4), z[k], MathV(kLogL3));
  for (std::size_t k = 0; k < N; ++k) q[k] = Simd::fma(q[k], z[k], MathV(kLogL2));
  for (std::size_t k = 0; k < N; ++k) q[k] = Simd::fma(q[k], z[k], MathV(kLogL1));
  for (std::size_t k = 0; k < N; ++k) h[k] = (MathV(0.5f) * t[k]) * t[k];
  for (std::size_t k = 0; k < N; ++k) {
    const MathV big_r = z[k] * q[k];
    const MathV b = Simd::fnma(s[k], h[k] + big_r, h[k]);
    out[k] = Simd::fma(ef[k], MathV(kLn2Hi), t[k] - Simd::fnma(ef[k], MathV(kLn2Lo), b));
  }
}

// erfinv_f32, lane by lane, for the x of the noise kernel (see above), N
// vectors in lockstep: both polynomials on every lane, then the select of
// the reference's branch.
template <std::size_t N>
TERN_INLINE void erfinv_noise_n(const MathV* x, MathV* out) {
  using namespace ::tern::kernels::math;
  const MathV one(1.0f);
  MathV w[N], c[N], r[N], p[N], q[N];
  for (std::size_t k = 0; k < N; ++k) w[k] = (one - x[k]) * (one + x[k]);
  log_positive_normal_n<N>(w, w);
  for (std::size_t k = 0; k < N; ++k) {
    w[k] = MathV(0.0f) - w[k];
    c[k] = w[k] - MathV(kErfinvCenter);
    r[k] = Simd::sqrt(w[k]) - MathV(kErfinvTailCenter);
    p[k] = MathV(kErfinvA0);
    q[k] = MathV(kErfinvB0);
  }
  const float a_coef[] = {kErfinvA1, kErfinvA2, kErfinvA3, kErfinvA4,
                          kErfinvA5, kErfinvA6, kErfinvA7, kErfinvA8};
  const float b_coef[] = {kErfinvB1, kErfinvB2, kErfinvB3, kErfinvB4,
                          kErfinvB5, kErfinvB6, kErfinvB7, kErfinvB8};
  for (std::size_t i = 0; i < 8; ++i) {
    const MathV ai(a_coef[i]), bi(b_coef[i]);
    for (std::size_t k = 0; k < N; ++k) {
      p[k] = Simd::fma(p[k], c[k], ai);
      q[k] = Simd::fma(q[k], r[k], bi);
    }
  }
  for (std::size_t k = 0; k < N; ++k)
    out[k] = xsimd::select(w[k] < MathV(kErfinvSplit), p[k], q[k]) * x[k];
}
