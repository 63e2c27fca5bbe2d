// SPDX-License-Identifier: Apache-2.0
// The Gaussian noise kernel (add_gaussian_noise_f32, tern/kernels/elementwise.h):
//  (1) every ISA this CPU runs against the scalar table, bit for bit, on odd
//      counts and tails, misaligned, with guard zones, at first indices that
//      cross a 2^32 boundary of the index;
//  (2) block-order independence: noising [0, a) and [a, n) separately, in
//      either order and on different ISAs, equals noising [0, n) at once;
//  (3) the scalar reference against the generator stated in elementwise.h,
//      re-derived here from the definition (hash, grid, fma);
//  (4) erfinv_f32 against the inverse of erf / erfc in double (bisection),
//      with a stated bound;
//  (5) statistics of 2^20 deviates against the standard normal: moments,
//      tail fractions, a chi-square over 100 equiprobable bins, the
//      Kolmogorov-Smirnov distance, lag-1 correlation, and independence of
//      different keys. The generator is deterministic, so these cannot
//      flake; the bounds are still several standard errors wide, as for a
//      truly random sample, so that they would also hold for other keys;
//  (6) argument errors, with their exact messages.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "alloc_counter.h"
#include "tern/kernels/isa_selection.h"
#include "tern/kernels/kernel_table.h"
#include "tern/kernels/elementwise.h"
#include "test_util.h"

using namespace tern;
using tern::test::GuardedMatrix;

namespace {

constexpr double kPi = 3.14159265358979323846;
constexpr std::uint64_t kKey = 0x0123456789abcdefull;
constexpr std::uint64_t k2To32 = std::uint64_t{1} << 32;

// The mixer of elementwise.h, written from its description.
std::uint32_t mix(std::uint32_t x) {
  x = x ^ (x >> 16);
  x = static_cast<std::uint32_t>(std::uint64_t{x} * 0x7feb352du);
  x = x ^ (x >> 15);
  x = static_cast<std::uint32_t>(std::uint64_t{x} * 0x846ca68bu);
  return x ^ (x >> 16);
}

std::uint32_t hash_ref(std::uint64_t key, std::uint64_t index) {
  const std::uint32_t hi = static_cast<std::uint32_t>(index >> 32),
                      lo = static_cast<std::uint32_t>(index);
  const std::uint32_t khi = static_cast<std::uint32_t>(key >> 32),
                      klo = static_cast<std::uint32_t>(key);
  const std::uint32_t a = mix(mix(mix(hi ^ 0x9e3779b9u) ^ khi) ^ klo);
  const std::uint32_t b = mix(a ^ 0x517cc1b7u);
  return mix(mix(lo ^ a) ^ b);
}

// The grid point of a hash: the midpoint of cell floor(h / 2^8) of 2^24
// equal cells of (-1, 1), in double.
double uniform_ref(std::uint32_t h) {
  return (2.0 * static_cast<double>(h >> 8) + 1.0) / 16777216.0 - 1.0;
}

// erfinv(x) in double for x in (-1, 1): bisection on erf (erfc above 0.5,
// where 1 - x is exact and erf would lose it), 200 halvings or until the
// bracket stops shrinking.
double erfinv_ref(double x) {
  if (x < 0) return -erfinv_ref(-x);
  double lo = 0.0, hi = 7.0;
  for (int i = 0; i < 200; ++i) {
    const double mid = 0.5 * (lo + hi);
    if (mid == lo || mid == hi) break;
    const bool below = x > 0.5 ? std::erfc(mid) > 1.0 - x : std::erf(mid) < x;
    (below ? lo : hi) = mid;
  }
  return 0.5 * (lo + hi);
}

// Standard normal CDF in double.
double phi(double z) { return 0.5 * std::erfc(-z / std::sqrt(2.0)); }

bool bits_equal(float a, float b) { return std::memcmp(&a, &b, sizeof a) == 0; }

// Deviates through the checked API: stddev 1 on zeros, i.e. fma(sqrt2, erfinv, 0).
std::vector<float> deviates(std::size_t n, std::uint64_t key, std::uint64_t first = 0) {
  std::vector<float> z(n, 0.0f);
  REQUIRE(add_gaussian_noise_f32(n, z.data(), 1.0f, key, first).ok());
  return z;
}

const std::size_t kCounts[] = {0,  1,  2,  3,  5,  7,  8,   13,   15,
                               16, 17, 31, 33, 63, 65, 127, 1009, 4099};
const std::uint64_t kFirsts[] = {
    0, 1, 12345, k2To32 - 5, k2To32 * 7 - 1000, ~std::uint64_t{0} - 5000};

}  // namespace

TEST_CASE("add_gaussian_noise: every ISA matches scalar bit for bit, tails and offsets") {
  std::mt19937 rng(61);
  const std::vector<Isa> isas = tern::test::runnable_isas();
  const float scale = 0.37f;
  for (std::size_t count : kCounts)
    for (std::uint64_t first : kFirsts)
      for (std::size_t offset : {0, 1, 3}) {
        GuardedMatrix g0(1, count == 0 ? 1 : count, 0, offset);
        g0.fill_random(rng, -2, 2);
        GuardedMatrix want(1, g0.cols(), 0, offset);
        want.copy_from(g0);
        kernel_table(Isa::kScalar)->add_gaussian_noise_f32(count, want.data(), scale, kKey, first);
        for (Isa isa : isas) {
          GuardedMatrix got(1, g0.cols(), 0, offset);
          got.copy_from(g0);
          kernel_table(isa)->add_gaussian_noise_f32(count, got.data(), scale, kKey, first);
          INFO("isa ", isa_name(isa), " count ", count, " first ", first, " offset ", offset);
          CHECK(got.guards_intact());
          CHECK(got.bits_equal(want));
        }
        if (count == 0) {
          CHECK(want.bits_equal(g0));  // nothing written
        }
      }
}

TEST_CASE("add_gaussian_noise: blocks in any order, on any ISA, equal the whole") {
  const std::vector<Isa> isas = tern::test::runnable_isas();
  const std::size_t n = 1000;
  for (std::uint64_t first : {std::uint64_t{0}, k2To32 - 333}) {
    std::vector<float> whole(n, 0.25f);
    kernel_table(Isa::kScalar)->add_gaussian_noise_f32(n, whole.data(), 1.5f, kKey, first);
    for (std::size_t a : {std::size_t{1}, std::size_t{16}, std::size_t{333}, std::size_t{999}})
      for (std::size_t ia = 0; ia < isas.size(); ++ia) {
        const Isa first_isa = isas[ia], second_isa = isas[(ia + 1) % isas.size()];
        std::vector<float> blocks(n, 0.25f);
        // The second block first, on another ISA than the first block.
        kernel_table(second_isa)
            ->add_gaussian_noise_f32(n - a, blocks.data() + a, 1.5f, kKey, first + a);
        kernel_table(first_isa)->add_gaussian_noise_f32(a, blocks.data(), 1.5f, kKey, first);
        INFO("split at ", a, " isas ", isa_name(first_isa), " + ", isa_name(second_isa));
        CHECK(std::memcmp(blocks.data(), whole.data(), n * sizeof(float)) == 0);
      }
  }
}

TEST_CASE("add_gaussian_noise: the scalar reference is the generator stated in elementwise.h") {
  std::mt19937 rng(62);
  std::uniform_int_distribution<std::uint64_t> any;
  for (int trial = 0; trial < 20; ++trial) {
    const std::uint64_t key = any(rng);
    const std::uint64_t first = trial % 2 == 0 ? any(rng) >> 20 : any(rng);
    const std::size_t n = 257;
    if (first > ~std::uint64_t{0} - n) continue;
    std::vector<float> g(n);
    for (float& v : g) v = std::uniform_real_distribution<float>(-1, 1)(rng);
    std::vector<float> out = g;
    const float stddev = 0.75f;
    REQUIRE(select_isa(Isa::kScalar).ok());
    REQUIRE(add_gaussian_noise_f32(n, out.data(), stddev, key, first).ok());
    reset_isa_selection();
    const float scale = stddev * static_cast<float>(std::sqrt(2.0));
    for (std::size_t e = 0; e < n; ++e) {
      const std::uint32_t h = hash_ref(key, first + e);
      REQUIRE(noise_bits_u32(key, first + e) == h);
      const double x = uniform_ref(h);
      REQUIRE(static_cast<double>(noise_uniform_f32(key, first + e)) == x);
      const float want = std::fma(scale, erfinv_f32(static_cast<float>(x)), g[e]);
      REQUIRE(bits_equal(out[e], want));
    }
  }
  // The grid: 2^24 midpoints, symmetric about 0, nearest ones +-2^-24 and
  // the extremes +-(1 - 2^-24).
  CHECK(uniform_ref(0) == -1.0 + std::ldexp(1.0, -24));
  CHECK(uniform_ref(0xffffffffu) == 1.0 - std::ldexp(1.0, -24));
  CHECK(uniform_ref(0x7fffff00u) == -std::ldexp(1.0, -24));
}

TEST_CASE("erfinv_f32: within 6e-7 relative of erfinv in double over the noise grid") {
  // Every 61st grid point, plus the 4096 points at each end (the tail
  // branch, where w >= 5) and the 4096 around 0.
  double worst = 0, worst_x = 0;
  auto check = [&](std::int64_t t) {  // x = t * 2^-24, t odd
    const double x = std::ldexp(static_cast<double>(t), -24);
    const double want = erfinv_ref(x);
    const double got = erfinv_f32(static_cast<float>(x));
    const double rel = std::fabs(got - want) / std::fabs(want);
    if (rel > worst) {
      worst = rel;
      worst_x = x;
    }
  };
  const std::int64_t top = (std::int64_t{1} << 24) - 1;
  for (std::int64_t t = -top; t <= top; t += 2 * 61) check(t);
  for (std::int64_t k = 0; k < 4096; ++k) {
    check(top - 2 * k);
    check(-top + 2 * k);
    check(2 * k + 1);
    check(-(2 * k + 1));
  }
  INFO("worst relative error ", worst, " at x = ", worst_x);
  CHECK(worst < 6e-7);
  // Exactly odd: x and -x give deviates of opposite sign, same magnitude.
  for (std::int64_t t = 1; t < top; t += 2 * 9973) {
    const float x = std::ldexp(static_cast<float>(t), -24);
    CHECK(bits_equal(erfinv_f32(-x), -erfinv_f32(x)));
  }
}

TEST_CASE("add_gaussian_noise: 2^20 deviates are standard normal") {
  const std::size_t n = std::size_t{1} << 20;
  const std::vector<float> z = deviates(n, kKey);
  const double nd = static_cast<double>(n);
  double s1 = 0, s2 = 0, s4 = 0, lag = 0;
  std::size_t over2 = 0, over3 = 0, over4 = 0;
  std::vector<double> bins(100, 0.0);
  for (std::size_t i = 0; i < n; ++i) {
    const double v = z[i];
    s1 += v;
    s2 += v * v;
    s4 += v * v * v * v;
    if (i > 0) lag += v * z[i - 1];
    const double a = std::fabs(v);
    over2 += a > 2;
    over3 += a > 3;
    over4 += a > 4;
    bins[std::min<std::size_t>(99, static_cast<std::size_t>(phi(v) * 100.0))] += 1;
  }
  // Standard errors of a truly normal sample of n: mean 1/sqrt(n), mean of
  // z^2 sqrt(2/n), of z^4 sqrt(96/n), a fraction p sqrt(p(1-p)/n). Bounds
  // are 6 of them.
  const double se = 1.0 / std::sqrt(nd);
  CHECK(std::fabs(s1 / nd) < 6 * se);
  CHECK(std::fabs(s2 / nd - 1.0) < 6 * std::sqrt(2.0) * se);
  CHECK(std::fabs(s4 / nd - 3.0) < 6 * std::sqrt(96.0) * se);
  CHECK(std::fabs(lag / (nd - 1)) < 6 * se);
  auto tail_ok = [&](std::size_t count, double t) {
    const double p = std::erfc(t / std::sqrt(2.0));
    INFO("P(|z| > ", t, "): ", static_cast<double>(count) / nd, " expected ", p);
    CHECK(std::fabs(static_cast<double>(count) / nd - p) < 6 * std::sqrt(p * (1 - p) / nd));
  };
  tail_ok(over2, 2);
  tail_ok(over3, 3);
  tail_ok(over4, 4);
  // Chi-square over 100 equiprobable bins: 99 degrees of freedom, mean 99,
  // standard deviation 14.1; 99 + 6 * 14.1 < 185.
  double chi2 = 0;
  for (double b : bins) chi2 += (b - nd / 100) * (b - nd / 100) / (nd / 100);
  INFO("chi-square ", chi2);
  CHECK(chi2 < 185.0);
  // Kolmogorov-Smirnov: sqrt(n) D exceeds 1.95 with probability 0.001.
  std::vector<float> sorted = z;
  std::sort(sorted.begin(), sorted.end());
  double d = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const double f = phi(sorted[i]);
    d = std::max(d, std::max(f - static_cast<double>(i) / nd, static_cast<double>(i + 1) / nd - f));
  }
  INFO("sqrt(n) D = ", std::sqrt(nd) * d);
  CHECK(std::sqrt(nd) * d < 1.95);
  // The largest deviate the grid allows is sqrt(2) erfinv(1 - 2^-24) = 5.42.
  CHECK(std::fabs(sorted.front()) < 5.5);
  CHECK(std::fabs(sorted.back()) < 5.5);
}

TEST_CASE("add_gaussian_noise: different keys and index ranges give independent streams") {
  const std::size_t n = std::size_t{1} << 18;
  const std::vector<float> base = deviates(n, kKey);
  const std::uint64_t others[][2] = {{kKey ^ 1, 0},
                                     {kKey ^ (std::uint64_t{1} << 32), 0},
                                     {kKey + 0x9e3779b97f4a7c15ull, 0},
                                     {kKey, k2To32},  // same low index words, next high word
                                     {kKey, n}};      // the next block of indices
  const double se = 1.0 / std::sqrt(static_cast<double>(n));
  for (const auto& o : others) {
    const std::vector<float> z = deviates(n, o[0], o[1]);
    double cross = 0;
    std::size_t equal = 0;
    for (std::size_t i = 0; i < n; ++i) {
      cross += static_cast<double>(z[i]) * base[i];
      equal += bits_equal(z[i], base[i]);
    }
    INFO("key ", o[0], " first index ", o[1]);
    // Correlation of independent standard normals: standard error 1/sqrt(n).
    CHECK(std::fabs(cross / static_cast<double>(n)) < 6 * se);
    // 2^24 grid values: two independent streams agree on about n / 2^24.
    CHECK(equal < 16);
  }
}

TEST_CASE("add_gaussian_noise: zero stddev adds zero, scale is linear, nothing allocated") {
  std::vector<float> g = {1.0f, -2.0f, 0.5f, -0.0f, 3.0f};
  std::vector<float> orig = g;
  REQUIRE(add_gaussian_noise_f32(g.size(), g.data(), 0.0f, kKey, 0).ok());
  for (std::size_t i = 0; i < g.size(); ++i) CHECK(g[i] == orig[i]);
  // stddev a power of two: stddev * sqrt2 and the product are exact scalings.
  const std::vector<float> z1 = deviates(64, kKey, 5);
  std::vector<float> z8(64, 0.0f);
  tern::test::HeapAllocationScope scope;
  REQUIRE(add_gaussian_noise_f32(64, z8.data(), 8.0f, kKey, 5).ok());
  CHECK(scope.count() == 0);
  for (std::size_t i = 0; i < 64; ++i) CHECK(z8[i] == 8.0f * z1[i]);
}

TEST_CASE("add_gaussian_noise_f32 rejects bad arguments with exact messages") {
  std::vector<float> g(8, 0.0f);
  auto is = [](const Status& s, const std::string& msg) {
    CHECK(s.code() == StatusCode::kInvalidArgument);
    CHECK(std::string(s.message()) == msg);
  };
  is(add_gaussian_noise_f32(8, nullptr, 1.0f, 1, 0),
     "add_gaussian_noise_f32: g is null for a 1x8 operand");
  is(add_gaussian_noise_f32(8, g.data(), -1.0f, 1, 0),
     "add_gaussian_noise_f32: stddev is -1, must be finite and >= 0");
  is(add_gaussian_noise_f32(8, g.data(), std::nanf(""), 1, 0),
     "add_gaussian_noise_f32: stddev is nan, must be finite and >= 0");
  is(add_gaussian_noise_f32(8, g.data(), INFINITY, 1, 0),
     "add_gaussian_noise_f32: stddev is inf, must be finite and >= 0");
  is(add_gaussian_noise_f32(8, g.data(), 3e38f, 1, 0),
     "add_gaussian_noise_f32: stddev 3e+38 times sqrt(2) overflows float");
  is(add_gaussian_noise_f32(8, g.data(), 1.0f, 1, ~std::uint64_t{0} - 6),
     "add_gaussian_noise_f32: first_index 18446744073709551609 + count 8 runs past 2^64 "
     "element indices");
  for (float v : g) CHECK(v == 0.0f);  // nothing written on failure
  // The last index may be 2^64 - 1; an empty call accepts anything but a bad stddev.
  CHECK(add_gaussian_noise_f32(8, g.data(), 1.0f, 1, ~std::uint64_t{0} - 7).ok());
  CHECK(add_gaussian_noise_f32(0, nullptr, 1.0f, 1, ~std::uint64_t{0}).ok());
}
