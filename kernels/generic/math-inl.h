// kernels/generic/math-inl.h — tern's exp and tanh, lane by lane. Included
// inside an ISA namespace after `Arch` and `Simd` (kernels/<isa>/simd_<isa>.h)
// and kernels/src/math_constants.h; see kernels/generic/README.md.
//
// Why a second copy of the algorithm: the scalar reference
// (kernels/scalar/elementwise_scalar.cpp, tern::exp_f32 / tanh_f32) is
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
