// SPDX-License-Identifier: Apache-2.0
// Private to the kernels library: the constants of tern's exp, log and tanh,
// shared by the scalar reference (kernels/src/math_f32.cpp and the scalar
// kernels) and
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

// --- log (scalar per row of a loss; lane-wise in the noise kernel) ------
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

// --- Gaussian noise (add_gaussian_noise_f32) ----------------------------
// The integer mixer of the counter-based generator: x ^= x >> 16;
// x *= kNoiseMul1; x ^= x >> 15; x *= kNoiseMul2; x ^= x >> 16. Shifts and
// multipliers are the "lowbias32" set found by C. Wellons' hash prospector
// (2018), a bijection on 32 bits with low avalanche bias. The two seeds
// only separate the derivations of the two per-block subkeys.
constexpr unsigned kNoiseMul1 = 0x7feb352du;
constexpr unsigned kNoiseMul2 = 0x846ca68bu;
constexpr unsigned kNoiseSeedA = 0x9e3779b9u;  // 2^32 / golden ratio
constexpr unsigned kNoiseSeedB = 0x517cc1b7u;  // 2^32 / pi
// Uniform odd numerators t in [-(2^24 - 1), 2^24 - 1]: x = t * 2^-24.
constexpr int kNoiseHalfRange = 16777216;  // 2^24
constexpr float kNoiseScale = 0x1p-24f;
// erfinv(x) = x P(w), w = -log((1 - x)(1 + x)), after M. Giles,
// "Approximating the erfinv function" (GPU Computing Gems, 2011), single
// precision: w < 5: P is a degree-8 polynomial in w - 2.5; else in
// sqrt(w) - 3. His published decimal coefficients, each rounded to float.
constexpr float kErfinvSplit = 5.0f;
constexpr float kErfinvCenter = 2.5f;
constexpr float kErfinvA0 = 0x1.e2cb10p-26f;   //  2.81022636e-08
constexpr float kErfinvA1 = 0x1.70966cp-22f;   //  3.43273939e-07
constexpr float kErfinvA2 = -0x1.d8e6aep-19f;  // -3.5233877e-06
constexpr float kErfinvA3 = -0x1.26b582p-18f;  // -4.39150654e-06
constexpr float kErfinvA4 = 0x1.ca65b6p-13f;   //  0.00021858087
constexpr float kErfinvA5 = -0x1.48a810p-10f;  // -0.00125372503
constexpr float kErfinvA6 = -0x1.11c9dep-8f;   // -0.00417768164
constexpr float kErfinvA7 = 0x1.f91ec6p-3f;    //  0.246640727
constexpr float kErfinvA8 = 0x1.805c5ep+0f;    //  1.50140941
constexpr float kErfinvTailCenter = 3.0f;
constexpr float kErfinvB0 = -0x1.a3e136p-13f;  // -0.000200214257
constexpr float kErfinvB1 = 0x1.a76ad6p-14f;   //  0.000100950558
constexpr float kErfinvB2 = 0x1.61b8e4p-10f;   //  0.00134934322
constexpr float kErfinvB3 = -0x1.e17bcep-9f;   // -0.00367342844
constexpr float kErfinvB4 = 0x1.7824f6p-8f;    //  0.00573950773
constexpr float kErfinvB5 = -0x1.f38baep-8f;   // -0.0076224613
constexpr float kErfinvB6 = 0x1.354afcp-7f;    //  0.00943887047
constexpr float kErfinvB7 = 0x1.006db6p+0f;    //  1.00167406
constexpr float kErfinvB8 = 0x1.6a9efcp+1f;    //  2.83297682
// sqrt(2) rounded to float: a standard normal deviate is sqrt(2) erfinv(x).
constexpr float kSqrt2 = 0x1.6a09e6p+0f;

}  // namespace tern::kernels::math
