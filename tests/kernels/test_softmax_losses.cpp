// SPDX-License-Identifier: Apache-2.0
// Row softmax and the two losses, softmax cross-entropy and squared error
// (tern/kernels/elementwise.h): every ISA against the scalar table bit for
// bit, in place and with special values; then against double precision,
// and the gradients against central differences of the double losses of
// tests/support/reference_elementwise.h.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "elementwise_test_util.h"
#include "reference_elementwise.h"

using namespace tern;
using namespace tern::test;

// ---------------------------------------------------------------------------
// Every ISA against the scalar table, bit for bit
// ---------------------------------------------------------------------------
TEST_CASE("softmax_rows: every ISA matches scalar, in place, with special values") {
  std::mt19937 rng(13);
  for (Shape s : shapes())
    for (Layout l : kLayouts)
      for (int kind = 0; kind < 3; ++kind) {
        GuardedMatrix x = make(s.n, s.m, l);
        if (kind == 0) x.fill_random(rng, -8, 8);
        if (kind == 1) x.fill_random(rng, -120, 30);  // subnormal and zero exps
        if (kind == 2) {
          x.fill_random(rng, -8, 8);
          sprinkle_specials(x, rng);
        }
        GuardedMatrix want = make(s.n, s.m, l);
        scalar_table().softmax_rows_f32(s.n, s.m, x.data(), x.stride(), want.data(),
                                        want.stride());
        REQUIRE(want.guards_intact());
        for (Isa isa : vector_isas()) {
          GuardedMatrix y = make(s.n, s.m, l);
          kernel_table(isa)->softmax_rows_f32(s.n, s.m, x.data(), x.stride(), y.data(),
                                              y.stride());
          require_same(y, want, "softmax_rows", isa, s.n, s.m);
          y.copy_from(x);
          kernel_table(isa)->softmax_rows_f32(s.n, s.m, y.data(), y.stride(), y.data(),
                                              y.stride());
          require_same(y, want, "softmax_rows in place", isa, s.n, s.m);
        }
      }
}

TEST_CASE("softmax_cross_entropy and mse: every ISA matches scalar, in place") {
  std::mt19937 rng(14);
  for (Shape s : shapes())
    for (Layout l : kLayouts) {
      const KernelTable& st = scalar_table();
      GuardedMatrix z = make(s.n, s.m, l), t = make(s.n, s.m, l);
      z.fill_random(rng, -10, 10);
      t.fill_random(rng, -1, 1);
      std::vector<std::uint32_t> labels(s.n);
      std::uniform_int_distribution<std::uint32_t> pick(0, static_cast<std::uint32_t>(s.m - 1));
      for (auto& c : labels) c = pick(rng);
      const float scale = 1.0f / static_cast<float>(s.n);
      GuardedMatrix dz_want = make(s.n, s.m, l), g_want = make(s.n, s.m, l);
      float ce_want = -1, mse_want = -1;
      st.softmax_cross_entropy_f32(s.n, s.m, z.data(), z.stride(), labels.data(), scale,
                                   dz_want.data(), dz_want.stride(), &ce_want);
      st.mse_f32(s.n, s.m, z.data(), z.stride(), t.data(), t.stride(), scale, g_want.data(),
                 g_want.stride(), &mse_want);
      REQUIRE(dz_want.guards_intact());
      REQUIRE(g_want.guards_intact());
      for (Isa isa : vector_isas()) {
        const KernelTable& k = *kernel_table(isa);
        GuardedMatrix dz = make(s.n, s.m, l), g = make(s.n, s.m, l);
        float ce = -1, ms = -1;
        k.softmax_cross_entropy_f32(s.n, s.m, z.data(), z.stride(), labels.data(), scale,
                                    dz.data(), dz.stride(), &ce);
        require_same(dz, dz_want, "softmax_cross_entropy dZ", isa, s.n, s.m);
        CHECK(same(ce, ce_want));
        k.mse_f32(s.n, s.m, z.data(), z.stride(), t.data(), t.stride(), scale, g.data(),
                  g.stride(), &ms);
        require_same(g, g_want, "mse grad", isa, s.n, s.m);
        CHECK(same(ms, mse_want));
        // In place: dZ over Z, grad over pred.
        GuardedMatrix inplace = make(s.n, s.m, l);
        inplace.copy_from(z);
        k.softmax_cross_entropy_f32(s.n, s.m, inplace.data(), inplace.stride(), labels.data(),
                                    scale, inplace.data(), inplace.stride(), &ce);
        require_same(inplace, dz_want, "softmax_cross_entropy in place", isa, s.n, s.m);
        CHECK(same(ce, ce_want));
        inplace.copy_from(z);
        k.mse_f32(s.n, s.m, inplace.data(), inplace.stride(), t.data(), t.stride(), scale,
                  inplace.data(), inplace.stride(), &ms);
        require_same(inplace, g_want, "mse in place", isa, s.n, s.m);
        CHECK(same(ms, mse_want));
      }
    }
}

// ---------------------------------------------------------------------------
// Against double precision and finite differences
// ---------------------------------------------------------------------------
TEST_CASE("softmax and softmax cross-entropy against double; dZ against central differences") {
  std::mt19937 rng(32);
  for (Isa isa : tern::test::runnable_isas()) {
    const std::string isa_text = isa_name(isa);
    CAPTURE(isa_text);
    const IsaScope scope(isa);
    for (std::size_t m : {1, 2, 7, 16, 33, 1000}) {
      const std::size_t n = 3;
      GuardedMatrix z(n, m, m + 2, 1), y(n, m), dz(n, m);
      z.fill_random(rng, -12, 12);
      std::vector<std::uint32_t> labels(n);
      for (std::size_t i = 0; i < n; ++i) labels[i] = static_cast<std::uint32_t>((i * 7) % m);
      REQUIRE(softmax_rows_f32(n, m, z.data(), z.stride(), y.data(), m).ok());
      float loss = 0;
      const float scale = 0.5f;
      REQUIRE(softmax_cross_entropy_f32(n, m, z.data(), z.stride(), labels.data(), scale,
                                        dz.data(), m, &loss).ok());
      std::vector<double> zd(n * m);
      for (std::size_t i = 0; i < n; ++i)
        for (std::size_t j = 0; j < m; ++j) zd[i * m + j] = z.at(i, j);
      // Softmax: exp within 1 ulp each, the 16-lane sum's rounding grows
      // with the m / 16 additions per lane, then one division.
      const double rel = (static_cast<double>(m) / 16 + 8) * 2 * kU;
      for (std::size_t i = 0; i < n; ++i) {
        double mx = -INFINITY, s = 0;
        for (std::size_t j = 0; j < m; ++j) mx = std::fmax(mx, zd[i * m + j]);
        for (std::size_t j = 0; j < m; ++j) s += std::exp(zd[i * m + j] - mx);
        for (std::size_t j = 0; j < m; ++j) {
          const double ref = std::exp(zd[i * m + j] - mx) / s;
          // z - mx is rounded to float before exp: exp's condition number
          // |z - mx| turns that half ulp into a relative error of |z - mx| u.
          const double cond = std::fabs(zd[i * m + j] - mx) * kU;
          if (std::fabs(y.at(i, j) - ref) > (rel + cond) * ref + 1e-44)
            FAIL("softmax (" << i << "," << j << ") " << y.at(i, j) << " vs " << ref);
        }
      }
      const double lref = reference_cross_entropy_sum(zd.data(), n, m, labels.data());
      CHECK(std::fabs(loss - lref) <= 1e-5 * (1 + std::fabs(lref)));
      // dZ = grad_scale * dL/dZ, by central differences of the double loss.
      for (std::size_t e = 0; e < n * m; e += (m > 40 ? 37 : 1)) {
        const double h = 1e-4, v = zd[e];
        zd[e] = v + h;
        const double up = reference_cross_entropy_sum(zd.data(), n, m, labels.data());
        zd[e] = v - h;
        const double down = reference_cross_entropy_sum(zd.data(), n, m, labels.data());
        zd[e] = v;
        const double want = scale * (up - down) / (2 * h);
        if (std::fabs(dz.at(e / m, e % m) - want) > 2e-6)
          FAIL("dZ[" << e / m << "][" << e % m << "] " << dz.at(e / m, e % m) << " vs " << want);
      }
    }
  }
}

TEST_CASE("mse against double; grad against central differences") {
  std::mt19937 rng(33);
  for (Isa isa : tern::test::runnable_isas()) {
    const std::string isa_text = isa_name(isa);
    CAPTURE(isa_text);
    const IsaScope scope(isa);
    for (std::size_t m : {1, 5, 16, 31, 1000}) {
      const std::size_t n = 4;
      GuardedMatrix p(n, m, m + 1, 1), t(n, m, m + 3, 2), g(n, m);
      p.fill_random(rng, -3, 3);
      t.fill_random(rng, -3, 3);
      float loss = 0;
      const float scale = 0.25f;
      REQUIRE(mse_f32(n, m, p.data(), p.stride(), t.data(), t.stride(), scale, g.data(), m,
                      &loss).ok());
      // The predictions and targets in double, contiguous; loss_d(at, bump)
      // is the double loss with prediction `at` moved by `bump`.
      std::vector<double> pd(n * m), td(n * m);
      for (std::size_t i = 0; i < n; ++i)
        for (std::size_t j = 0; j < m; ++j) {
          pd[i * m + j] = p.at(i, j);
          td[i * m + j] = t.at(i, j);
        }
      auto loss_d = [&](std::size_t at, double bump) {
        std::vector<double> moved = pd;
        moved[at] += bump;
        return reference_squared_error_sum(moved.data(), td.data(), n * m);
      };
      const double lref = loss_d(0, 0.0);
      CHECK(std::fabs(loss - lref) <= (static_cast<double>(m) / 16 + n + 8) * 2 * kU * lref);
      for (std::size_t e = 0; e < n * m; e += (m > 40 ? 29 : 1)) {
        const double h = 1e-3;
        const double want = scale * (loss_d(e, h) - loss_d(e, -h)) / (2 * h);
        CHECK(std::fabs(g.at(e / m, e % m) - want) <= 1e-6 * (1 + std::fabs(want)));
      }
    }
  }
}
