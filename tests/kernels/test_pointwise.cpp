// SPDX-License-Identifier: Apache-2.0
// The bias add and the point-wise activations, forward and backward
// (tern/kernels/elementwise.h, "Point-wise nonlinearities"): every ISA
// against the scalar table bit for bit, on every row length, strided and
// misaligned, in place, with special values, and through every branch of
// the vector exp and tanh; then against double precision and central
// finite differences (tests/support/reference_elementwise.h).
#include <doctest/doctest.h>

#include <cmath>
#include <random>
#include <string>

#include "elementwise_test_util.h"
#include "reference_elementwise.h"

using namespace tern;
using namespace tern::test;

// ---------------------------------------------------------------------------
// Every ISA against the scalar table, bit for bit
// ---------------------------------------------------------------------------
TEST_CASE("add_bias: every ISA matches scalar bit for bit") {
  std::mt19937 rng(11);
  for (Shape s : shapes())
    for (Layout l : kLayouts) {
      GuardedMatrix y0 = make(s.n, s.m, l), b = make(1, s.m, l);
      y0.fill_random(rng, -3, 3);
      b.fill_random(rng, -3, 3);
      GuardedMatrix want = make(s.n, s.m, l);
      want.copy_from(y0);
      scalar_table().add_bias_f32(s.n, s.m, b.data(), want.data(), want.stride());
      for (std::size_t i = 0; i < s.n; ++i)
        for (std::size_t j = 0; j < s.m; ++j) REQUIRE(want.at(i, j) == y0.at(i, j) + b.at(0, j));
      for (Isa isa : vector_isas()) {
        GuardedMatrix y = make(s.n, s.m, l);
        y.copy_from(y0);
        kernel_table(isa)->add_bias_f32(s.n, s.m, b.data(), y.data(), y.stride());
        require_same(y, want, "add_bias", isa, s.n, s.m);
      }
    }
}

TEST_CASE("pointwise forward and backward: every ISA matches scalar, in place too") {
  std::mt19937 rng(12);
  for (Pointwise f : kPointwise) {
    const std::string f_text = pointwise_name(f);
    CAPTURE(f_text);
    for (Shape s : shapes())
      for (Layout l : kLayouts)
        for (bool specials : {false, true}) {
          const KernelTable& st = scalar_table();
          GuardedMatrix x = make(s.n, s.m, l), dy = make(s.n, s.m, l);
          x.fill_random(rng, -6, 6);
          dy.fill_random(rng, -2, 2);
          if (specials) sprinkle_specials(x, rng);
          GuardedMatrix y_want = make(s.n, s.m, l), dx_want = make(s.n, s.m, l);
          st.pointwise_forward_f32(f, s.n, s.m, x.data(), x.stride(), y_want.data(),
                                   y_want.stride());
          st.pointwise_backward_f32(f, s.n, s.m, x.data(), x.stride(), y_want.data(),
                                    y_want.stride(), dy.data(), dy.stride(), dx_want.data(),
                                    dx_want.stride());
          REQUIRE(y_want.guards_intact());
          REQUIRE(dx_want.guards_intact());
          for (Isa isa : vector_isas()) {
            const KernelTable& t = *kernel_table(isa);
            GuardedMatrix y = make(s.n, s.m, l), dx = make(s.n, s.m, l);
            t.pointwise_forward_f32(f, s.n, s.m, x.data(), x.stride(), y.data(), y.stride());
            require_same(y, y_want, "pointwise_forward", isa, s.n, s.m);
            t.pointwise_backward_f32(f, s.n, s.m, x.data(), x.stride(), y_want.data(),
                                     y_want.stride(), dy.data(), dy.stride(), dx.data(),
                                     dx.stride());
            require_same(dx, dx_want, "pointwise_backward", isa, s.n, s.m);
            // In place: Y over X, dX over dY.
            GuardedMatrix inplace = make(s.n, s.m, l);
            inplace.copy_from(x);
            t.pointwise_forward_f32(f, s.n, s.m, inplace.data(), inplace.stride(),
                                    inplace.data(), inplace.stride());
            require_same(inplace, y_want, "pointwise_forward in place", isa, s.n, s.m);
            inplace.copy_from(dy);
            t.pointwise_backward_f32(f, s.n, s.m, x.data(), x.stride(), y_want.data(),
                                     y_want.stride(), inplace.data(), inplace.stride(),
                                     inplace.data(), inplace.stride());
            require_same(inplace, dx_want, "pointwise_backward in place", isa, s.n, s.m);
          }
        }
  }
}

TEST_CASE("vector exp paths: dense sweeps through sigmoid, tanh and softmax match scalar") {
  // One long row sweeping [-110, 110] crosses every branch of exp (clamps,
  // subnormal results, overflow) and of tanh inside the vector kernels.
  const std::size_t m = 1 << 16;
  GuardedMatrix x(1, m, m, 1);
  for (std::size_t j = 0; j < m; ++j) x.at(0, j) = static_cast<float>(-110.0 + 220.0 * j / m);
  // Softmax rows whose maximum is 0: y_j = exp(x_j) / s over [-110, 0].
  const std::size_t rows = 64, cols = m / rows;
  GuardedMatrix sx(rows, cols, cols + 1, 1);
  for (std::size_t i = 0; i < rows; ++i) {
    for (std::size_t j = 0; j < cols; ++j)
      sx.at(i, j) = static_cast<float>(-110.0 * ((i * cols + j) % 4093) / 4093.0);
    sx.at(i, i % cols) = 0.0f;
  }
  for (Pointwise f : {Pointwise::kSigmoid, Pointwise::kTanh, Pointwise::kGelu}) {
    GuardedMatrix want(1, m, m, 1);
    scalar_table().pointwise_forward_f32(f, 1, m, x.data(), m, want.data(), m);
    for (Isa isa : vector_isas()) {
      GuardedMatrix y(1, m, m, 1);
      kernel_table(isa)->pointwise_forward_f32(f, 1, m, x.data(), m, y.data(), m);
      require_same(y, want, pointwise_name(f), isa, 1, m);
    }
  }
  GuardedMatrix want(rows, cols, cols + 1, 1);
  scalar_table().softmax_rows_f32(rows, cols, sx.data(), sx.stride(), want.data(), want.stride());
  for (Isa isa : vector_isas()) {
    GuardedMatrix y(rows, cols, cols + 1, 1);
    kernel_table(isa)->softmax_rows_f32(rows, cols, sx.data(), sx.stride(), y.data(), y.stride());
    require_same(y, want, "softmax sweep", isa, rows, cols);
  }
}

// ---------------------------------------------------------------------------
// Against double precision and finite differences
// ---------------------------------------------------------------------------
TEST_CASE("activations: forward against double, backward against central differences") {
  std::mt19937 rng(31);
  const std::size_t n = 5, m = 41;
  GuardedMatrix x(n, m), y(n, m), dy(n, m), dx(n, m);
  x.fill_random(rng, -6, 6);
  dy.fill_random(rng, -2, 2);
  for (Isa isa : tern::test::runnable_isas()) {
    const std::string isa_text = isa_name(isa);
    CAPTURE(isa_text);
    const IsaScope scope(isa);
    for (Pointwise f : kPointwise) {
      const std::string f_text = pointwise_name(f);
      CAPTURE(f_text);
      REQUIRE(pointwise_forward_f32(f, n, m, x.data(), m, y.data(), m).ok());
      REQUIRE(pointwise_backward_f32(f, n, m, x.data(), m, y.data(), m, dy.data(), m, dx.data(),
                                     m).ok());
      for (std::size_t i = 0; i < n; ++i)
        for (std::size_t j = 0; j < m; ++j) {
          const double v = x.at(i, j);
          const double ref = reference_activation(f, v);
          // Forward: sigmoid and tanh within a few ulp of the value; gelu's
          // 1 + tanh cancels for negative x, so its error scales with |x|.
          const double tol = f == Pointwise::kGelu ? 4 * kU * (std::fabs(ref) + std::fabs(v))
                                                   : 4 * kU * std::fabs(ref) + 1e-45;
          if (std::fabs(y.at(i, j) - ref) > tol)
            FAIL("forward at x = " << v << ": " << y.at(i, j) << " vs " << ref);
          if (f == Pointwise::kRelu && std::fabs(v) < 1e-3) continue;  // the kink
          const double h = 1e-5;
          const double deriv = (reference_activation(f, v + h) - reference_activation(f, v - h)) / (2 * h);
          const double want = dy.at(i, j) * deriv;
          if (std::fabs(dx.at(i, j) - want) > 2e-6 * (1 + std::fabs(want)))
            FAIL("backward at x = " << v << ": " << dx.at(i, j) << " vs " << want);
        }
    }
  }
}
