// SPDX-License-Identifier: Apache-2.0
// tern's own exp, log and tanh (tern/kernels/elementwise.h,
// "Transcendentals"; the constants in kernels/src/math_constants.h, the
// vector versions in kernels/generic/math-inl.h), which every element-wise
// kernel evaluates lane by lane: against the double-precision functions
// with stated ULP bounds, and their special values exactly.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>

#include "elementwise_test_util.h"

using namespace tern;
using namespace tern::test;

namespace {

// The largest ULP error seen of one function against its double-precision
// counterpart; a point beyond `bound` fails the test case at once.
struct UlpSweep {
  const char* name;
  float (*f)(float);
  double (*ref)(double);
  double bound;
  double worst = 0;

  void at(float x) {
    const double e = ulp_error(f(x), ref(static_cast<double>(x)));
    if (e > worst) worst = e;
    if (e > bound) FAIL(name << "(" << x << ") = " << f(x) << " is " << e << " ulp off");
  }
  // points + 1 evenly spaced floats of [lo, lo + span].
  void grid(double lo, double span, int points) {
    for (int i = 0; i <= points; ++i) at(static_cast<float>(lo + span * i / points));
  }
};

}  // namespace

// Bounds below are the measured maxima over every float of the domain (an
// exhaustive sweep run once: exp 0.976 ulp over [-103.97, 88.72], tanh 1.371
// ulp over all finite floats, log 0.876 ulp over all positive finite floats),
// rounded up. The tests sweep a dense grid of each domain.
TEST_CASE("exp_f32: within 1 ulp of exp in double over [-87, 88], exact specials") {
  UlpSweep sweep{"exp_f32", exp_f32, [](double x) { return std::exp(x); }, 1.0};
  sweep.grid(-87.0, 175.0, 1 << 20);
  MESSAGE("exp_f32 max error on the grid: " << sweep.worst << " ulp");
  // Every float in [-1, 1] with small exponents too (n = 0 and tiny r).
  for (float x = 1e-30f; x < 1.0f; x *= 1.001f) {
    CHECK(ulp_error(exp_f32(x), std::exp(double(x))) <= 1.0);
    CHECK(ulp_error(exp_f32(-x), std::exp(-double(x))) <= 1.0);
  }
  // Subnormal results: absolute error within one subnormal spacing.
  for (float x = -87.5f; x > -103.9f; x -= 0.01f)
    CHECK(ulp_error(exp_f32(x), std::exp(double(x))) <= 1.0);
  CHECK(exp_f32(0.0f) == 1.0f);
  CHECK(exp_f32(-0.0f) == 1.0f);
  CHECK(exp_f32(1e-30f) == 1.0f);
  CHECK(exp_f32(-1e-30f) == 1.0f);
  CHECK(exp_f32(1.0f) == static_cast<float>(std::exp(1.0)));
  CHECK(exp_f32(88.72f) < kInf);
  CHECK(exp_f32(88.73f) == kInf);
  CHECK(exp_f32(89.0f) == kInf);
  CHECK(exp_f32(1e30f) == kInf);
  CHECK(exp_f32(kInf) == kInf);
  CHECK(exp_f32(-104.0f) == 0.0f);
  CHECK(!std::signbit(exp_f32(-104.0f)));
  CHECK(exp_f32(-1e30f) == 0.0f);
  CHECK(exp_f32(-kInf) == 0.0f);
  CHECK(exp_f32(-100.0f) > 0.0f);  // subnormal, not flushed
  CHECK(std::isnan(exp_f32(kNaN)));
}

TEST_CASE("tanh_f32: within 1.5 ulp of tanh in double, odd, saturating") {
  UlpSweep sweep{"tanh_f32", tanh_f32, [](double x) { return std::tanh(x); }, 1.5};
  sweep.grid(-12.0, 24.0, 1 << 20);
  MESSAGE("tanh_f32 max error on the grid: " << sweep.worst << " ulp");
  for (float x = 1e-38f; x < 20.0f; x *= 1.0007f) {
    CHECK(ulp_error(tanh_f32(x), std::tanh(double(x))) <= 1.5);
    CHECK(same(tanh_f32(-x), -tanh_f32(x)));
  }
  CHECK(same(tanh_f32(0.0f), 0.0f));
  CHECK(same(tanh_f32(-0.0f), -0.0f));
  CHECK(tanh_f32(1e-30f) == 1e-30f);
  CHECK(tanh_f32(kInf) == 1.0f);
  CHECK(tanh_f32(-kInf) == -1.0f);
  CHECK(tanh_f32(50.0f) == 1.0f);
  CHECK(std::isnan(tanh_f32(kNaN)));
}

TEST_CASE("log_f32: within 1 ulp of log in double, specials") {
  UlpSweep sweep{"log_f32", log_f32, [](double x) { return std::log(x); }, 1.0};
  for (std::uint32_t bits = 1; bits < 0x00800000u; bits += 997) {  // subnormals
    float x;
    std::memcpy(&x, &bits, sizeof x);
    sweep.at(x);
  }
  for (float x = std::numeric_limits<float>::min(); x < 3e38f; x *= 1.0001f) sweep.at(x);
  sweep.grid(0.5, 1.5, 1 << 18);  // densely around 1, where log is small
  MESSAGE("log_f32 max error on the grids: " << sweep.worst << " ulp");
  CHECK(same(log_f32(1.0f), 0.0f));
  CHECK(log_f32(0.0f) == -kInf);
  CHECK(log_f32(-0.0f) == -kInf);
  CHECK(log_f32(kInf) == kInf);
  CHECK(std::isnan(log_f32(-1.0f)));
  CHECK(std::isnan(log_f32(-kInf)));
  CHECK(std::isnan(log_f32(kNaN)));
  CHECK(ulp_error(log_f32(1e-45f), std::log(double(1e-45f))) <= 1.0);  // smallest subnormal
}
