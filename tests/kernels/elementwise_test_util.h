// SPDX-License-Identifier: Apache-2.0
// Fixtures shared by the tests of the element-wise kernels
// (tern/kernels/elementwise.h), one test file per kernel family:
// test_transcendentals.cpp, test_pointwise.cpp, test_softmax_losses.cpp,
// test_optimizers.cpp, test_elementwise_scalar.cpp and
// test_elementwise_api.cpp. Row lengths and layouts to sweep, special
// values, bitwise comparison of every ISA against the scalar table, ULP
// distances.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include <doctest/doctest.h>

#include "tern/kernels/isa_selection.h"
#include "tern/kernels/kernel_table.h"
#include "tern/kernels/elementwise.h"
#include "tern/platform/compiler.h"
#include "test_util.h"

namespace tern::test {

// Row lengths around every vector width and its multiples (1 to 65), and
// one long row.
inline const std::size_t kSizes[] = {1,  2,  3,  5,  7,  8,   15,  16,  17,
                                     31, 32, 33, 63, 64, 65, 127, 1000};
inline const Pointwise kPointwise[] = {Pointwise::kIdentity, Pointwise::kRelu, Pointwise::kGelu,
                                       Pointwise::kTanh, Pointwise::kSigmoid};
inline constexpr float kInf = std::numeric_limits<float>::infinity();
inline constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();
inline const double kU = std::ldexp(1.0, -24);  // unit roundoff of float

// Equal bits, or both NaN (NaN payloads are not part of the contract).
inline bool same(float a, float b) {
  if (std::isnan(a) && std::isnan(b)) return true;
  return std::memcmp(&a, &b, sizeof a) == 0;
}

// |got - ref| in units of the float ulp at ref (subnormal spacing below
// FLT_MIN). Overflow: a float result of +-inf matches a reference beyond
// the float range.
inline double ulp_error(float got, double ref) {
  const double max_float = std::numeric_limits<float>::max();
  if (std::fabs(ref) > max_float * (1 + kU)) {
    return (std::isinf(got) && (got > 0) == (ref > 0)) ? 0.0 : 1e30;
  }
  if (std::isinf(got)) return 1e30;
  const double a = std::fabs(ref);
  const double ulp = a < std::numeric_limits<float>::min()
                         ? std::ldexp(1.0, -149)
                         : std::ldexp(1.0, std::ilogb(static_cast<float>(a)) - 23);
  return std::fabs(static_cast<double>(got) - ref) / ulp;
}

// A view shape and layout: padding at each row end, misalignment in floats.
struct Layout {
  std::size_t pad, offset;
};
inline const Layout kLayouts[] = {{0, 0}, {3, 1}};

inline GuardedMatrix make(std::size_t rows, std::size_t cols, Layout l) {
  return GuardedMatrix(rows, cols, cols + l.pad, l.offset);
}

// Puts special values into about one element in eight.
inline void sprinkle_specials(GuardedMatrix& a, std::mt19937& rng) {
  const float specials[] = {0.0f, -0.0f, kInf, -kInf, kNaN, 1e-40f, -1e-40f, 100.0f, -100.0f,
                            88.7f, -88.7f, 0.625f, -0.625f, 1e30f, -1e30f};
  std::uniform_int_distribution<std::size_t> pick(0, sizeof specials / sizeof specials[0] - 1);
  std::uniform_int_distribution<int> coin(0, 7);
  for (std::size_t r = 0; r < a.rows(); ++r)
    for (std::size_t c = 0; c < a.cols(); ++c)
      if (coin(rng) == 0) a.at(r, c) = specials[pick(rng)];
}

// ARMv7 NEON flushes denormal inputs and results of its arithmetic to zero
// (docs/arm.md, "Denormals on ARMv7"; tests/kernels/test_denormals.cpp): there,
// where the scalar reference gives a subnormal, the kernel's zero is the
// documented result. Its sign is the flushed value's, unless later steps
// combine it with other zeros (gelu(-1e-40): fma(-0, -0, -0) = +0). Every
// other ISA, and every other value, must match bit for bit.
inline bool same_for(Isa isa, float got, float want) {
  if (same(got, want)) return true;
  const bool ftz = isa == Isa::kNeon && TERN_ARCH_ARM32;
  return ftz && std::fpclassify(want) == FP_SUBNORMAL && got == 0.0f;
}

// Compares the used areas of two matrices under `same_for` and reports the
// first difference.
inline void require_same(const GuardedMatrix& got, const GuardedMatrix& want, const char* what,
                         Isa isa, std::size_t n, std::size_t m) {
  for (std::size_t i = 0; i < got.rows(); ++i)
    for (std::size_t j = 0; j < got.cols(); ++j)
      if (!same_for(isa, got.at(i, j), want.at(i, j))) {
        FAIL(std::string(what) << "[" << std::string(isa_name(isa)) << "] " << n << "x" << m
                               << " at (" << i << "," << j << "): " << got.at(i, j)
                               << " vs scalar " << want.at(i, j));
      }
  REQUIRE(got.guards_intact());
}

// The ISAs this run can execute other than scalar: each is compared with
// the scalar table.
inline std::vector<Isa> vector_isas() {
  std::vector<Isa> out;
  for (Isa isa : runnable_isas())
    if (isa != Isa::kScalar) out.push_back(isa);
  return out;
}

inline const KernelTable& scalar_table() { return *kernel_table(Isa::kScalar); }

struct Shape {
  std::size_t n, m;
};
// Every size as a row length (the reduction and tail dimension) against a
// few row counts, and every size as a row count against a mid-size row.
inline std::vector<Shape> shapes() {
  std::vector<Shape> out;
  for (std::size_t m : kSizes) {
    out.push_back({1, m});
    out.push_back({3, m});
  }
  for (std::size_t n : kSizes) out.push_back({n, 33});
  out.push_back({17, 17});
  return out;
}

// The documented 16-lane row sum, written out again.
inline float sum16(const std::vector<float>& t) {
  float l[16] = {};
  for (std::size_t j = 0; j < t.size(); ++j) l[j % 16] = l[j % 16] + t[j];
  for (int k = 0; k < 8; ++k) l[k] = l[k] + l[k + 8];
  for (int k = 0; k < 4; ++k) l[k] = l[k] + l[k + 4];
  for (int k = 0; k < 2; ++k) l[k] = l[k] + l[k + 2];
  return l[0] + l[1];
}

}  // namespace tern::test
