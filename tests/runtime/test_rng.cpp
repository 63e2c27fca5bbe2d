// SPDX-License-Identifier: Apache-2.0
// The deterministic generator, shuffling and initialisation.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <vector>

#include "runtime_test_util.h"
#include "tern/runtime/rng.h"

using namespace tern;

TEST_CASE("rng: PCG32 reproduces the published reference sequence") {
  // pcg32 seeded with initstate 42, initseq 54: the first outputs printed by
  // the reference implementation's demo program.
  Rng rng(42, 54);
  const std::uint32_t expected[6] = {0xa15c02b7u, 0x7b47f409u, 0xba1d3330u,
                                     0x83d2f293u, 0xbfa4784bu, 0xcbed606eu};
  for (std::uint32_t e : expected) CHECK(rng.next_u32() == e);
}

TEST_CASE("rng: below() is in range and unbiased; uniform() is exact on a 2^-24 grid") {
  Rng rng(7);
  const std::uint32_t bound = 10;
  std::vector<int> counts(bound, 0);
  const int draws = 100000;
  for (int i = 0; i < draws; ++i) {
    const std::uint32_t v = rng.below(bound);
    REQUIRE(v < bound);
    ++counts[v];
  }
  // Chi-square with 9 degrees of freedom: 27.9 is the 0.999 quantile.
  double chi2 = 0;
  for (int c : counts) chi2 += (c - draws / 10.0) * (c - draws / 10.0) / (draws / 10.0);
  CHECK(chi2 < 27.9);
  CHECK(rng.below(1) == 0);
  for (int i = 0; i < 1000; ++i) {
    const float u = rng.uniform();
    REQUIRE(u >= 0.0f);
    REQUIRE(u < 1.0f);
    CHECK(std::ldexp(double(u), 24) == std::floor(std::ldexp(double(u), 24)));
  }
  // A constexpr generator: usable to build data tables at compile time.
  constexpr std::uint32_t first = Rng(42, 54).next_u32();
  static_assert(first == 0xa15c02b7u, "constexpr PCG32");
}

TEST_CASE("rng: shuffle is a seeded permutation") {
  std::vector<std::uint32_t> a(1000), b(1000), c(1000);
  iota(Span<std::uint32_t>{a.data(), a.size()});
  b = a;
  c = a;
  Rng r1(123), r2(123), r3(124);
  shuffle(Span<std::uint32_t>{a.data(), a.size()}, r1);
  shuffle(Span<std::uint32_t>{b.data(), b.size()}, r2);
  shuffle(Span<std::uint32_t>{c.data(), c.size()}, r3);
  CHECK(a == b);
  CHECK(a != c);
  std::vector<int> seen(1000, 0);
  for (std::uint32_t v : a) ++seen[v];
  for (int s : seen) CHECK(s == 1);
  int fixed = 0;
  for (std::uint32_t i = 0; i < 1000; ++i) fixed += a[i] == i;
  CHECK(fixed < 10);  // a random permutation has ~1 fixed point
  // Every position of a 3-element array is reached by each value.
  int where[3][3] = {};
  Rng r4(5);
  for (int t = 0; t < 3000; ++t) {
    std::uint32_t small[3] = {0, 1, 2};
    shuffle(Span<std::uint32_t>{small, 3}, r4);
    for (int i = 0; i < 3; ++i) ++where[small[i]][i];
  }
  for (auto& row : where)
    for (int count : row) CHECK(count > 800);
}

TEST_CASE("initialize: He / Xavier uniform limits, zero biases, deterministic per seed") {
  const ModelSpec spec = ModelSpec::input(50, 4)
                             .dense(40, Pointwise::kRelu)
                             .dense(30, Pointwise::kTanh)
                             .layer_norm()
                             .dense(20, Pointwise::kSigmoid, Init::kHe)
                             .training(LossKind::kMse, OptimizerKind::kAdam);
  tern::test::ModelInArena a(spec), b(spec), c(spec);
  REQUIRE(a.status.ok());
  a.model.initialize(99);
  b.model.initialize(99);
  c.model.initialize(100);
  CHECK(tern::test::bits_equal(tern::test::parameters_of(a.model),
                               tern::test::parameters_of(b.model)));
  CHECK_FALSE(tern::test::bits_equal(tern::test::parameters_of(a.model),
                                     tern::test::parameters_of(c.model)));
  const double limits[3] = {std::sqrt(6.0 / 50), std::sqrt(6.0 / (40 + 30)), std::sqrt(6.0 / 30)};
  const std::uint32_t weight_tensors[3] = {0, 2, 6};
  for (int i = 0; i < 3; ++i) {
    CAPTURE(i);
    const Tensor w = a.model.tensor(weight_tensors[i]);
    double max_abs = 0, mean = 0;
    for (float v : w.value) {
      max_abs = std::fmax(max_abs, std::fabs(double(v)));
      mean += v;
    }
    mean /= double(w.value.size);
    CHECK(max_abs <= limits[i] * (1 + 1e-6));
    CHECK(max_abs > limits[i] * 0.9);  // the range is actually used
    CHECK(std::fabs(mean) < limits[i] * 0.1);
    for (float v : a.model.tensor(weight_tensors[i] + 1).value) CHECK(v == 0.0f);
  }
  const Tensor gamma = a.model.tensor(4), beta = a.model.tensor(5);
  for (float v : gamma.value) CHECK(v == 1.0f);
  for (float v : beta.value) CHECK(v == 0.0f);
  for (std::uint32_t t = 0; t < a.model.tensor_count(); ++t) {
    for (float v : a.model.tensor(t).moment1) CHECK(v == 0.0f);
    for (float v : a.model.tensor(t).moment2) CHECK(v == 0.0f);
  }
}
