// SPDX-License-Identifier: Apache-2.0
// tern's float exp, log, tanh and erfinv: the formulas stated in
// tern/kernels/elementwise.h, one value at a time.
//
// They are part of the public API (elementwise.h) and are what every ISA
// shares: the scalar kernels call them element by element, the vector
// kernels (kernels/generic/math-inl.h) compute the same operations lane by
// lane and are tested against them bit for bit, and every ISA's
// softmax_cross_entropy takes the one logarithm of a row's sum from log_f32
// here. Built with the baseline flags like the rest of the library; one
// std::fma where the formula says fma, a plain operator everywhere else
// (-ffp-contract=off keeps the compiler from fusing anything on its own).
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>

#include "math_constants.h"
#include "tern/kernels/elementwise.h"

namespace tern {
namespace {

using namespace kernels::math;

// 2^k for an integer-valued k in [-126, 127], built from its exponent bits.
float pow2(float k) {
  const std::uint32_t bits = static_cast<std::uint32_t>(static_cast<std::int32_t>(k) + 127) << 23;
  float f;
  std::memcpy(&f, &bits, sizeof f);
  return f;
}

}  // namespace

float exp_f32(float x) {
  if (x != x) return x;
  const float xc = x < kExpMin ? kExpMin : (x > kExpMax ? kExpMax : x);
  const float n = std::fma(xc, kLog2e, kRoundToInt) - kRoundToInt;
  float r = std::fma(-n, kLn2Hi, xc);
  r = std::fma(-n, kLn2Lo, r);
  float p = kExpC6;
  p = std::fma(p, r, kExpC5);
  p = std::fma(p, r, kExpC4);
  p = std::fma(p, r, kExpC3);
  p = std::fma(p, r, kExpC2);
  p = std::fma(p, r, 1.0f);
  p = std::fma(p, r, 1.0f);
  const float n1 = std::floor(0.5f * n);
  const float n2 = n - n1;
  return (p * pow2(n1)) * pow2(n2);
}

float log_f32(float x) {
  if (x != x) return x;
  if (x < 0.0f) return std::numeric_limits<float>::quiet_NaN();
  if (x == 0.0f) return -std::numeric_limits<float>::infinity();
  if (x == std::numeric_limits<float>::infinity()) return x;
  float e_adjust = 0.0f;
  if (x < std::numeric_limits<float>::min()) {  // subnormal: make it normal
    x = x * 0x1p23f;
    e_adjust = -23.0f;
  }
  std::uint32_t bits;
  std::memcpy(&bits, &x, sizeof bits);
  // d = e * 2^23 + (mantissa offset), e the exponent relative to sqrt(1/2).
  const std::int32_t d = static_cast<std::int32_t>(bits) - static_cast<std::int32_t>(kSqrtHalfBits);
  const std::int32_t e = d >> 23;  // arithmetic shift: floor(d / 2^23)
  const std::uint32_t fbits = (static_cast<std::uint32_t>(d) & 0x007fffffu) + kSqrtHalfBits;
  float f;
  std::memcpy(&f, &fbits, sizeof f);
  const float ef = static_cast<float>(e) + e_adjust;
  const float t = f - 1.0f;
  const float s = t / (2.0f + t);
  const float z = s * s;
  float q = kLogL4;
  q = std::fma(q, z, kLogL3);
  q = std::fma(q, z, kLogL2);
  q = std::fma(q, z, kLogL1);
  const float big_r = z * q;
  const float h = (0.5f * t) * t;
  const float b = std::fma(-s, h + big_r, h);
  return std::fma(ef, kLn2Hi, t - std::fma(-ef, kLn2Lo, b));
}

float tanh_f32(float x) {
  const float a = std::fabs(x);
  float y;
  if (a < kTanhSmall) {
    const float z = a * a;
    float p = kTanhT5;
    p = std::fma(p, z, kTanhT4);
    p = std::fma(p, z, kTanhT3);
    p = std::fma(p, z, kTanhT2);
    p = std::fma(p, z, kTanhT1);
    p = std::fma(p, z, kTanhT0);
    y = std::fma(a * z, p, a);
  } else {
    y = 1.0f - 2.0f / (exp_f32(2.0f * a) + 1.0f);
  }
  return std::copysign(y, x);
}

float erfinv_f32(float x) {
  const float w = 0.0f - log_f32((1.0f - x) * (1.0f + x));
  // Only the selected polynomial is evaluated here (the vector kernels
  // evaluate both and select): the same bits, less work per element.
  if (w < kErfinvSplit) {
    const float c = w - kErfinvCenter;
    float p = kErfinvA0;
    p = std::fma(p, c, kErfinvA1);
    p = std::fma(p, c, kErfinvA2);
    p = std::fma(p, c, kErfinvA3);
    p = std::fma(p, c, kErfinvA4);
    p = std::fma(p, c, kErfinvA5);
    p = std::fma(p, c, kErfinvA6);
    p = std::fma(p, c, kErfinvA7);
    p = std::fma(p, c, kErfinvA8);
    return p * x;
  }
  const float r = std::sqrt(w) - kErfinvTailCenter;
  float q = kErfinvB0;
  q = std::fma(q, r, kErfinvB1);
  q = std::fma(q, r, kErfinvB2);
  q = std::fma(q, r, kErfinvB3);
  q = std::fma(q, r, kErfinvB4);
  q = std::fma(q, r, kErfinvB5);
  q = std::fma(q, r, kErfinvB6);
  q = std::fma(q, r, kErfinvB7);
  q = std::fma(q, r, kErfinvB8);
  return q * x;
}

}  // namespace tern
