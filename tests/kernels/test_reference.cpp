// SPDX-License-Identifier: Apache-2.0
// Every kernel of every ISA this CPU runs, against
//  (1) the arithmetic contract of tern/kernels/dense.h, spelled out here as
//      explicit std::fma chains: equality of bits, not closeness;
//  (2) a double-precision reference with the rounding-error bound of a chain
//      of fused multiply-adds.
// Shapes cover 1, primes, and tails around every vector width (8, 16, 32);
// views are strided and misaligned; guard zones catch stray writes.
#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "tern/kernels/dense.h"
#include "tern/kernels/isa_selection.h"
#include "tern/kernels/kernel_table.h"
#include "test_util.h"

using namespace tern;
using tern::test::GuardedMatrix;

namespace {

const std::size_t kShapes[] = {1, 2, 3, 5, 7, 8, 15, 16, 17, 31, 32, 33, 63, 64, 65, 127};

// The contract, one element at a time (independent of kernels/scalar).
float contract_gemm(const GuardedMatrix& x, const GuardedMatrix& w, const float* b, bool relu,
                    std::size_t i, std::size_t j) {
  float acc = b ? b[j] : 0.0f;
  for (std::size_t p = 0; p < x.cols(); ++p) acc = std::fma(x.at(i, p), w.at(p, j), acc);
  return relu ? (acc > 0.0f ? acc : 0.0f) : acc;
}

bool same_bits(float a, float b) { return std::memcmp(&a, &b, sizeof a) == 0; }

struct Shape {
  std::size_t n, k, m;
};

std::vector<Shape> shape_grid() {
  std::vector<Shape> out;
  // Every listed size in every dimension against a mid-size partner, plus a
  // diagonal, plus 1000 in each dimension once.
  for (std::size_t s : kShapes) {
    out.push_back({s, 17, 33});
    out.push_back({7, s, 33});
    out.push_back({7, 17, s});
    out.push_back({s, s, s});
  }
  out.push_back({1000, 3, 5});
  out.push_back({3, 1000, 5});
  out.push_back({3, 5, 1000});
  return out;
}

void check_gemm_rows(Isa isa, Shape s, std::size_t pad, std::size_t offset, bool use_bias,
                     bool relu, bool use_scratch, std::mt19937& rng) {
  const KernelTable* t = kernel_table(isa);
  GuardedMatrix x(s.n, s.k, s.k + pad, offset), w(s.k, s.m, s.m + pad, offset);
  GuardedMatrix b(1, s.m, s.m, offset), y(s.n, s.m, s.m + pad, offset);
  x.fill_random(rng);
  w.fill_random(rng);
  b.fill_random(rng);
  const float* bias = use_bias ? b.data() : nullptr;
  GuardedMatrix scratch(1, gemm_rows_scratch_floats(s.k) + 1, 0, offset);
  t->gemm_rows_f32(s.n, s.k, s.m, x.data(), x.stride(), w.data(), w.stride(), bias, y.data(),
                   y.stride(), relu ? Activation::kRelu : Activation::kNone,
                   use_scratch ? scratch.data() : nullptr);
  REQUIRE(scratch.guards_intact());
  REQUIRE(y.guards_intact());
  std::vector<double> ref, scale;
  tern::test::ref_gemm_rows(x, w, bias, relu, &ref, &scale);
  for (std::size_t i = 0; i < s.n; ++i)
    for (std::size_t j = 0; j < s.m; ++j) {
      const float got = y.at(i, j);
      if (!same_bits(got, contract_gemm(x, w, bias, relu, i, j))) {
        FAIL("gemm_rows[" << std::string(isa_name(isa)) << "] " << s.n << "x" << s.k << "x" << s.m << " at ("
                          << i << "," << j << "): " << got << " differs from the FMA chain "
                          << contract_gemm(x, w, bias, relu, i, j));
      }
      const double tol = tern::test::fma_chain_tolerance(s.k + 1, scale[i * s.m + j]);
      if (std::fabs(got - ref[i * s.m + j]) > tol) {
        FAIL("gemm_rows[" << std::string(isa_name(isa)) << "] off the double reference by "
                          << std::fabs(got - ref[i * s.m + j]) << " > " << tol);
      }
    }
}

void check_rank1(Isa isa, Shape s, std::size_t pad, std::size_t offset, float alpha,
                 bool use_scratch, std::mt19937& rng) {
  const KernelTable* t = kernel_table(isa);
  GuardedMatrix u(s.n, s.k, s.k + pad, offset), d(s.n, s.m, s.m + pad, offset);
  GuardedMatrix g(s.k, s.m, s.m + pad, offset), g0(s.k, s.m);
  u.fill_random(rng);
  d.fill_random(rng);
  g.fill_random(rng);
  g0.copy_from(g);
  GuardedMatrix scratch(1, rank1_accumulate_scratch_floats(s.n) + 1, 0, offset);
  t->rank1_accumulate_f32(s.n, s.k, s.m, alpha, u.data(), u.stride(), d.data(), d.stride(),
                          g.data(), g.stride(), use_scratch ? scratch.data() : nullptr);
  REQUIRE(scratch.guards_intact());
  REQUIRE(g.guards_intact());
  const double uround = std::ldexp(1.0, -24);
  for (std::size_t p = 0; p < s.k; ++p)
    for (std::size_t j = 0; j < s.m; ++j) {
      float chain = 0.0f;
      double ref = 0.0, scale = 0.0;
      for (std::size_t i = 0; i < s.n; ++i) {
        chain = std::fma(u.at(i, p), d.at(i, j), chain);
        ref += double(u.at(i, p)) * d.at(i, j);
        scale += std::fabs(double(u.at(i, p)) * d.at(i, j));
      }
      const float expect = std::fma(alpha, chain, g0.at(p, j));
      const float got = g.at(p, j);
      if (!same_bits(got, expect)) {
        FAIL("rank1_accumulate[" << std::string(isa_name(isa)) << "] " << s.n << "x" << s.k << "x" << s.m
                                 << " at (" << p << "," << j << "): " << got << " vs " << expect);
      }
      const double full = double(g0.at(p, j)) + double(alpha) * ref;
      const double tol = (s.n + 2) * uround * (std::fabs(double(alpha)) * scale +
                                               std::fabs(double(g0.at(p, j)))) * 1.0001 + 1e-37;
      if (std::fabs(got - full) > tol) FAIL("rank1_accumulate off the double reference");
    }
}

void t_backprop_signed_zero(Isa isa, const GuardedMatrix& d, const GuardedMatrix& w,
                           GuardedMatrix* dx) {
  kernel_table(isa)->backprop_rows_f32(d.rows(), w.rows(), d.cols(), d.data(), d.stride(),
                                       w.data(), w.stride(), dx->data(), dx->stride());
}

// The backprop contract: 16 virtual lanes over j, then the fixed tree.
float contract_backprop(const GuardedMatrix& d, const GuardedMatrix& w, std::size_t i,
                        std::size_t p) {
  float lane[16];
  for (std::size_t l = 0; l < 16; ++l) {
    lane[l] = 0.0f;
    for (std::size_t j = l; j < d.cols(); j += 16) lane[l] = std::fma(d.at(i, j), w.at(p, j), lane[l]);
  }
  for (std::size_t h : {8, 4, 2, 1})
    for (std::size_t l = 0; l < h; ++l) lane[l] = lane[l] + lane[l + h];
  return lane[0];
}

void check_backprop(Isa isa, Shape s, std::size_t pad, std::size_t offset, std::mt19937& rng) {
  const KernelTable* t = kernel_table(isa);
  GuardedMatrix d(s.n, s.m, s.m + pad, offset), w(s.k, s.m, s.m + pad, offset);
  GuardedMatrix dx(s.n, s.k, s.k + pad, offset);
  d.fill_random(rng);
  w.fill_random(rng);
  t->backprop_rows_f32(s.n, s.k, s.m, d.data(), d.stride(), w.data(), w.stride(), dx.data(),
                       dx.stride());
  REQUIRE(dx.guards_intact());
  for (std::size_t i = 0; i < s.n; ++i)
    for (std::size_t p = 0; p < s.k; ++p) {
      double ref = 0.0, scale = 0.0;
      for (std::size_t j = 0; j < s.m; ++j) {
        ref += double(d.at(i, j)) * w.at(p, j);
        scale += std::fabs(double(d.at(i, j)) * w.at(p, j));
      }
      const float expect = contract_backprop(d, w, i, p);
      const float got = dx.at(i, p);
      if (!same_bits(got, expect)) {
        FAIL("backprop_rows[" << std::string(isa_name(isa)) << "] " << s.n << "x" << s.k << "x"
                              << s.m << " at (" << i << "," << p << "): " << got << " vs "
                              << expect);
      }
      // Each lane chain has ceil(m/16) roundings and the tree 4 more.
      if (std::fabs(got - ref) > tern::test::fma_chain_tolerance((s.m + 15) / 16 + 4, scale))
        FAIL("backprop_rows off the double reference");
    }
}

void check_column_sums(Isa isa, std::size_t n, std::size_t m, std::size_t pad, std::size_t offset,
                       float alpha, std::mt19937& rng) {
  const KernelTable* t = kernel_table(isa);
  GuardedMatrix d(n, m, m + pad, offset), g(1, m, m, offset), g0(1, m);
  d.fill_random(rng);
  g.fill_random(rng);
  g0.copy_from(g);
  t->column_sums_accumulate_f32(n, m, alpha, d.data(), d.stride(), g.data());
  REQUIRE(g.guards_intact());
  for (std::size_t j = 0; j < m; ++j) {
    float s = 0.0f;
    double ref = 0.0, scale = 0.0;
    for (std::size_t i = 0; i < n; ++i) {
      s = s + d.at(i, j);
      ref += d.at(i, j);
      scale += std::fabs(d.at(i, j));
    }
    const float expect = std::fma(alpha, s, g0.at(0, j));
    if (!same_bits(g.at(0, j), expect)) FAIL("column_sums[" << std::string(isa_name(isa)) << "] bits differ");
    const double full = g0.at(0, j) + double(alpha) * ref;
    const double tol = (n + 2) * std::ldexp(1.0, -24) *
                           (std::fabs(alpha) * scale + std::fabs(g0.at(0, j))) * 1.0001 + 1e-37;
    if (std::fabs(g.at(0, j) - full) > tol) FAIL("column_sums off the double reference");
  }
}

}  // namespace

TEST_CASE("gemm_rows: FMA-chain contract and double reference, every ISA, odd shapes") {
  for (Isa isa : tern::test::runnable_isas()) {
    CAPTURE(isa_name(isa));
    std::mt19937 rng(1234);
    for (const Shape& s : shape_grid()) {
      check_gemm_rows(isa, s, 0, 0, true, false, true, rng);
      check_gemm_rows(isa, s, 3, 1, false, true, true, rng);  // strided, misaligned, fused ReLU
      check_gemm_rows(isa, s, 5, 3, true, true, false, rng);  // W read in place
    }
    // k beyond one packed panel depth (blocked chain, reloaded partial sums).
    for (std::size_t k : {255, 256, 257, 600}) {
      check_gemm_rows(isa, {9, k, 37}, 1, 1, true, true, true, rng);
      check_gemm_rows(isa, {9, k, 37}, 0, 0, false, false, false, rng);
    }
  }
}

TEST_CASE("rank1_accumulate: FMA-chain contract and double reference, every ISA") {
  for (Isa isa : tern::test::runnable_isas()) {
    CAPTURE(isa_name(isa));
    std::mt19937 rng(99);
    for (const Shape& s : shape_grid()) {
      check_rank1(isa, s, 0, 0, 1.0f, true, rng);
      check_rank1(isa, s, 7, 1, -0.37f, true, rng);
      check_rank1(isa, s, 2, 0, 0.5f, false, rng);
    }
    // n around the packing limit: packed up to kPanelDepth rows, in place above.
    for (std::size_t n : {255, 256, 257}) {
      check_rank1(isa, {n, 41, 35}, 1, 1, 1.0f, true, rng);
    }
    // Few columns, lanes along p (generic/rank1_cols-inl.h): every m up to
    // 16, row counts from just past the streamed kernel on, k short, odd and
    // past several blocks; tight strides (one contiguous run of rows) and
    // padded, misaligned ones (rows finished one by one).
    for (std::size_t m = 1; m <= 16; ++m)
      for (std::size_t n : {5, 6, 13, 32, 40})
        for (std::size_t k : {1, 3, 17, 31, 67, 130}) {
          check_rank1(isa, {n, k, m}, 0, 0, 0.75f, true, rng);
          check_rank1(isa, {n, k, m}, 3, 1, -1.5f, false, rng);
        }
  }
}

TEST_CASE("backprop_rows: 16-lane contract and double reference, every ISA") {
  for (Isa isa : tern::test::runnable_isas()) {
    CAPTURE(isa_name(isa));
    std::mt19937 rng(7);
    for (const Shape& s : shape_grid()) {
      check_backprop(isa, s, 0, 0, rng);
      check_backprop(isa, s, 2, 1, rng);
    }
    check_backprop(isa, {3, 40, 600}, 1, 1, rng);
    // Few columns, lanes along p: every m up to 16, row counts around the
    // path's minimum, k tails around every vector width.
    for (std::size_t m = 1; m <= 16; ++m)
      for (std::size_t n : {3, 4, 5, 7, 16, 32, 40})
        for (std::size_t k : {1, 3, 15, 17, 33, 130}) {
          check_backprop(isa, {n, k, m}, 0, 0, rng);
          check_backprop(isa, {n, k, m}, 2, 1, rng);
        }
    // Signed zeros: a lane past the end of a row must be left exactly as it
    // is. Products that are exactly -0 (a -0.0f factor) keep the lanes at +0,
    // but a lane chain that rounds to -0 must stay -0 through masked tails.
    {
      GuardedMatrix d(2, 17), w(3, 17), dx(2, 3), ref(2, 3);
      d.fill(-0.0f);
      w.fill(1.0f);
      for (std::size_t j = 0; j < 16; ++j) {
        d.at(0, j) = -1e-30f;
        w.at(0, j) = 1e-30f;  // -1e-60 rounds to -0.0f: every lane of row 0 ends at -0
      }
      t_backprop_signed_zero(isa, d, w, &dx);
      for (std::size_t i = 0; i < 2; ++i)
        for (std::size_t p = 0; p < 3; ++p) CHECK(same_bits(dx.at(i, p), contract_backprop(d, w, i, p)));
      CHECK(std::signbit(dx.at(0, 0)));
    }
  }
}

TEST_CASE("column_sums_accumulate: contract and double reference, every ISA") {
  for (Isa isa : tern::test::runnable_isas()) {
    CAPTURE(isa_name(isa));
    std::mt19937 rng(5);
    for (std::size_t n : kShapes)
      for (std::size_t m : kShapes) check_column_sums(isa, n, m, 1, 1, 0.5f, rng);
    check_column_sums(isa, 1000, 1000, 0, 0, -1.0f, rng);
  }
}

TEST_CASE("degenerate sizes: n = 0 and k = 0") {
  for (Isa isa : tern::test::runnable_isas()) {
    CAPTURE(isa_name(isa));
    REQUIRE(select_isa(isa).ok());
    GuardedMatrix y(3, 5), b(1, 5), g(4, 5), dx(3, 4);
    b.fill(0.25f);
    y.fill(9.0f);
    // k = 0: Y is the bias alone (ReLU applied); X and W may be null.
    REQUIRE(gemm_rows_f32(3, 0, 5, nullptr, 0, nullptr, 5, b.data(), y.data(), 5,
                          Activation::kRelu).ok());
    for (std::size_t i = 0; i < 3; ++i)
      for (std::size_t j = 0; j < 5; ++j) CHECK(y.at(i, j) == 0.25f);
    REQUIRE(gemm_rows_f32(3, 0, 5, nullptr, 0, nullptr, 5, nullptr, y.data(), 5).ok());
    CHECK(y.at(2, 4) == 0.0f);
    // n = 0: nothing is written, nothing is read.
    y.fill(9.0f);
    REQUIRE(gemm_rows_f32(0, 4, 5, nullptr, 4, nullptr, 5, nullptr, y.data(), 5).ok());
    CHECK(y.at(0, 0) == 9.0f);
    // rank-1 with n = 0 adds alpha * 0.
    g.fill(1.5f);
    REQUIRE(rank1_accumulate_f32(0, 4, 5, 1.0f, nullptr, 4, nullptr, 5, g.data(), 5).ok());
    CHECK(g.at(3, 4) == 1.5f);
    // backprop with m = 0: dX is zero (empty sum).
    dx.fill(9.0f);
    REQUIRE(backprop_rows_f32(3, 4, 0, nullptr, 0, nullptr, 0, dx.data(), 4).ok());
    CHECK(dx.at(2, 3) == 0.0f);
    CHECK(y.guards_intact());
    CHECK(dx.guards_intact());
  }
  reset_isa_selection();
}

TEST_CASE("checked entry points reject bad arguments with a message") {
  std::vector<float> x(6, 1.0f), w(6, 1.0f), y(4, 0.0f), scratch(64);
  Status s = gemm_rows_f32(2, 3, 2, nullptr, 3, w.data(), 2, nullptr, y.data(), 2);
  CHECK(s.code() == StatusCode::kInvalidArgument);
  CHECK(std::string(s.message()).find("X is null") != std::string::npos);

  s = gemm_rows_f32(2, 3, 2, x.data(), 2, w.data(), 2, nullptr, y.data(), 2);
  CHECK(s.code() == StatusCode::kInvalidArgument);
  CHECK(std::string(s.message()).find("row stride of X is 2, smaller than its 3 columns") !=
        std::string::npos);

  s = gemm_rows_f32(2, 3, 2, x.data(), 3, w.data(), 2, nullptr, x.data(), 2);
  CHECK(std::string(s.message()).find("output Y overlaps input X") != std::string::npos);

  s = gemm_rows_f32(2, 3, 2, x.data(), 3, w.data(), 2, nullptr, y.data(), 2,
                    static_cast<Activation>(7));
  CHECK(s.code() == StatusCode::kInvalidArgument);

  s = backprop_rows_f32(2, 3, 2, y.data(), 2, x.data(), 2, x.data() + 1, 3);
  CHECK(std::string(s.message()).find("output dX overlaps input W") != std::string::npos);

  s = rank1_accumulate_f32(2, 3, 2, 1.0f, x.data(), 3, y.data(), 2, x.data(), 2);
  CHECK(std::string(s.message()).find("output G overlaps input U") != std::string::npos);

  s = column_sums_accumulate_f32(2, 2, 1.0f, y.data(), 2, nullptr);
  CHECK(s.code() == StatusCode::kInvalidArgument);

  // Optional scratch: too small is an error naming the formula; overlapping
  // an operand is refused; null is accepted.
  s = gemm_rows_f32(2, 3, 2, x.data(), 3, w.data(), 2, nullptr, y.data(), 2, Activation::kNone,
                    scratch.data(), 10);
  CHECK(s.code() == StatusCode::kOutOfMemory);
  CHECK(std::string(s.message()).find("needs 96 (gemm_rows_scratch_floats(k))") !=
        std::string::npos);
  std::vector<float> big(256);
  s = gemm_rows_f32(2, 3, 2, big.data(), 3, w.data(), 2, nullptr, y.data(), 2, Activation::kNone,
                    big.data() + 4, 200);
  CHECK(std::string(s.message()).find("scratch overlaps an operand") != std::string::npos);
  s = rank1_accumulate_f32(2, 3, 2, 1.0f, x.data(), 3, y.data(), 2, w.data(), 2, scratch.data(),
                           64);
  CHECK(s.code() == StatusCode::kOutOfMemory);
  CHECK(std::string(s.message()).find("needs 320") != std::string::npos);
}
