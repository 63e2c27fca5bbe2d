// Private to the kernels library: the constants of tern's exp, log and tanh,
// shared by the scalar reference (kernels/scalar/elementwise_scalar.cpp) and
// the vector template (kernels/generic/math-inl.h).
//
// Why one header: bit-identity across ISAs needs both implementations to run
// the same operations on the same constants. The operations are spelled out
// twice (plainly in scalar code, lane-wise in the template) and the tests
// compare the two bit for bit; the constants are written exactly once.
//
// Every value is a float written in hexadecimal, so no decimal-to-binary
// conversion can differ between compilers. How they were obtained is noted
// beside each; the algorithms are described in tern/kernels/elementwise.h.
#pragma once

namespace tern::kernels::math {

// --- exp ---------------------------------------------------------------
// Inputs are clamped to [kExpMin, kExpMax] first. exp(-104) < 2^-150 (half the
// smallest subnormal), so everything below rounds to +0; exp(89) > FLT_MAX, so
// everything above becomes +inf. The clamp also keeps n = round(x log2 e) in
// [-150, 129], where 2^n splits into two normal powers of two.
constexpr float kExpMin = -104.0f;
constexpr float kExpMax = 89.0f;
constexpr float kLog2e = 0x1.715476p+0f;  // 1/ln 2 rounded to float
// fma(x, log2e, 1.5 * 2^23) lands in [2^23, 2^24), where floats are spaced by
// exactly 1: the addition rounds x log2 e to the nearest integer (ties to
// even), and subtracting the constant again is exact.
constexpr float kRoundToInt = 0x1.8p+23f;
// ln 2 = kLn2Hi + kLn2Lo. kLn2Hi is ln 2 rounded to float; since it is a
// multiple of 2^-24 and |x - n ln 2| < 0.35, fma(-n, kLn2Hi, x) is exact.
constexpr float kLn2Hi = 0x1.62e430p-1f;
constexpr float kLn2Lo = -0x1.05c610p-29f;
// exp(r) = 1 + r + r^2 (c2 + c3 r + ... + c6 r^4) on |r| <= ln(2)/2: a
// Chebyshev fit (mpmath.chebyfit, degree 4) of (exp(r) - 1 - r) / r^2.
// Truncation error of the fit: 7.8e-9 absolute on exp(r), under 0.1 ulp.
constexpr float kExpC2 = 0x1.000000p-1f;
constexpr float kExpC3 = 0x1.5554dcp-3f;
constexpr float kExpC4 = 0x1.55551ap-5f;
constexpr float kExpC5 = 0x1.120b6ep-7f;
constexpr float kExpC6 = 0x1.6d110ap-10f;

// --- tanh --------------------------------------------------------------
// Below this |x| tanh is an odd polynomial; above, 1 - 2 / (exp(2|x|) + 1),
// whose subtraction loses at most one bit there (tanh(0.625) = 0.55).
constexpr float kTanhSmall = 0x1.4p-1f;  // 0.625
// tanh(a) = a + a z P(z), z = a^2, P(z) = t0 + t1 z + ... + t5 z^5 on
// z <= 0.625^2: a Chebyshev fit (mpmath.chebyfit, degree 5) of
// (tanh(a) - a) / a^3 as a function of z. Fit error 1.9e-9 relative.
constexpr float kTanhT0 = -0x1.555556p-2f;
constexpr float kTanhT1 = 0x1.1110eap-3f;
constexpr float kTanhT2 = -0x1.ba08c4p-5f;
constexpr float kTanhT3 = 0x1.64a976p-6f;
constexpr float kTanhT4 = -0x1.116a16p-7f;
constexpr float kTanhT5 = 0x1.2c83c0p-9f;

// --- log (scalar only: one call per row of a loss) ---------------------
// x = 2^e f with f in [sqrt(1/2), sqrt(2)): subtracting the bits of
// sqrt(1/2) from the bits of x moves the exponent boundary there.
constexpr unsigned kSqrtHalfBits = 0x3f3504f3u;
// log(f) = 2 atanh(s), s = (f-1)/(f+1), |s| <= 0.1716: the series
// 2s + s R, R = z (2/3 + 2/5 z + 2/7 z^2 + 2/9 z^3), z = s^2; the first
// omitted term, 2/11 s z^5, is below 1e-9.
constexpr float kLogL1 = 0x1.555556p-1f;  // 2/3
constexpr float kLogL2 = 0x1.99999ap-2f;  // 2/5
constexpr float kLogL3 = 0x1.24924ap-2f;  // 2/7
constexpr float kLogL4 = 0x1.c71c72p-3f;  // 2/9

// --- gelu (tanh form) --------------------------------------------------
// gelu(x) = 0.5 x (1 + tanh(x (k0 + k2 x^2))), k0 = sqrt(2/pi),
// k2 = 0.044715 k0; its derivative needs k3 = 3 k2. Each rounded to float.
constexpr float kGeluK0 = 0x1.988454p-1f;
constexpr float kGeluK2 = 0x1.2444f2p-5f;
constexpr float kGeluK3 = 0x1.b6676cp-4f;

}  // namespace tern::kernels::math
