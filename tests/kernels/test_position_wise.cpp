// SPDX-License-Identifier: Apache-2.0
// The position-wise dense layer Z_i = X_i W + b, applied to every row i of an
// n x k matrix with W shared across rows. Its weight gradient is a sum of n
// rank-1 terms X_i^T dZ_i — one per row, each different — and that sum is
// what rank1_accumulate computes. Checked against central finite differences
// of the loss in double precision, under every ISA.
#include <doctest/doctest.h>

#include <cmath>
#include <random>
#include <vector>

#include "test_util.h"
#include "tern/kernels/isa_selection.h"
#include "tern/kernels/dense.h"

using namespace tern;

namespace {

constexpr std::size_t n = 6, k = 5, m = 7;

struct Problem {
  std::vector<double> x, w, b, t;  // X n x k, W k x m, b m, targets n x m
};

// L = sum_ij log(cosh(Z_ij - T_ij)), Z = X W + b: smooth and not quadratic.
double loss(const Problem& p) {
  double l = 0;
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t j = 0; j < m; ++j) {
      double z = p.b[j];
      for (std::size_t q = 0; q < k; ++q) z += p.x[i * k + q] * p.w[q * m + j];
      l += std::log(std::cosh(z - p.t[i * m + j]));
    }
  return l;
}

double central_difference(Problem p, std::vector<double> Problem::*field, std::size_t idx) {
  const double h = 1e-6;
  const double v = (p.*field)[idx];
  (p.*field)[idx] = v + h;
  const double up = loss(p);
  (p.*field)[idx] = v - h;
  const double down = loss(p);
  return (up - down) / (2 * h);
}

}  // namespace

TEST_CASE("dL/dW = sum_i X_i^T dZ_i: finite differences agree, per-row terms differ") {
  std::mt19937 rng(42);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  std::vector<float> x(n * k), w(k * m), b(m), t(n * m);
  for (auto* v : {&x, &w, &b, &t})
    for (float& e : *v) e = dist(rng);
  Problem p{{x.begin(), x.end()}, {w.begin(), w.end()}, {b.begin(), b.end()}, {t.begin(), t.end()}};

  for (Isa isa : tern::test::runnable_isas()) {
    CAPTURE(isa_name(isa));
    REQUIRE(select_isa(isa).ok());
    // Forward in float with tern, then dZ = tanh(Z - T) (derivative of log cosh).
    std::vector<float> z(n * m), dz(n * m);
    REQUIRE(gemm_rows_f32(n, k, m, x.data(), k, w.data(), m, b.data(), z.data(), m).ok());
    for (std::size_t e = 0; e < n * m; ++e) dz[e] = std::tanh(z[e] - t[e]);

    std::vector<float> gw(k * m, 0.0f), gb(m, 0.0f), gx(n * k, -1.0f);
    REQUIRE(rank1_accumulate_f32(n, k, m, 1.0f, x.data(), k, dz.data(), m, gw.data(), m).ok());
    REQUIRE(column_sums_accumulate_f32(n, m, 1.0f, dz.data(), m, gb.data()).ok());
    REQUIRE(backprop_rows_f32(n, k, m, dz.data(), m, w.data(), m, gx.data(), k).ok());

    // Float kernels vs double finite differences: float rounding dominates.
    const double tol = 2e-5;
    for (std::size_t e = 0; e < k * m; ++e)
      CHECK(std::fabs(gw[e] - central_difference(p, &Problem::w, e)) < tol);
    for (std::size_t e = 0; e < m; ++e)
      CHECK(std::fabs(gb[e] - central_difference(p, &Problem::b, e)) < tol);
    for (std::size_t e = 0; e < n * k; ++e)
      CHECK(std::fabs(gx[e] - central_difference(p, &Problem::x, e)) < tol);

    // The per-row rank-1 terms X_i^T dZ_i are not copies of one another: each
    // row contributes a different matrix, and only their sum is the gradient.
    std::vector<std::vector<float>> terms(n, std::vector<float>(k * m, 0.0f));
    for (std::size_t i = 0; i < n; ++i) {
      REQUIRE(rank1_accumulate_f32(1, k, m, 1.0f, &x[i * k], k, &dz[i * m], m, terms[i].data(), m)
                  .ok());
    }
    for (std::size_t i = 1; i < n; ++i) {
      double diff = 0, norm = 0;
      for (std::size_t e = 0; e < k * m; ++e) {
        diff += (terms[i][e] - terms[0][e]) * double(terms[i][e] - terms[0][e]);
        norm += terms[0][e] * double(terms[0][e]);
      }
      CHECK(diff > 0.01 * norm);
    }
    // ... and summing the single-row updates reproduces the n-row gradient
    // (to rounding: the n-row kernel keeps one FMA chain, the sum re-rounds).
    for (std::size_t e = 0; e < k * m; ++e) {
      double s = 0;
      for (std::size_t i = 0; i < n; ++i) s += terms[i][e];
      CHECK(std::fabs(s - gw[e]) < 1e-5);
    }
  }
  reset_isa_selection();
}
