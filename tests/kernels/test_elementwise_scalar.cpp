// SPDX-License-Identifier: Apache-2.0
// The scalar table (kernels/scalar/elementwise_scalar.cpp), the reference
// every vector ISA must reproduce bit for bit: it computes the formulas
// stated in tern/kernels/elementwise.h exactly, written out here again in
// float, including the 16-lane order of the row sums.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "elementwise_test_util.h"

using namespace tern;
using namespace tern::test;

// ---------------------------------------------------------------------------
// The scalar table computes the formulas stated in elementwise.h
// ---------------------------------------------------------------------------
TEST_CASE("scalar kernels follow the stated formulas exactly, including the reduction order") {
  std::mt19937 rng(21);
  const KernelTable& st = scalar_table();
  const float k0 = 0x1.988454p-1f, k2 = 0x1.2444f2p-5f, k3 = 0x1.b6676cp-4f;
  const std::size_t n = 4, m = 37;
  GuardedMatrix x(n, m), dy(n, m), y(n, m), dx(n, m);
  x.fill_random(rng, -5, 5);
  sprinkle_specials(x, rng);
  dy.fill_random(rng, -2, 2);
  for (Pointwise f : kPointwise) {
    const std::string f_text = pointwise_name(f);
    CAPTURE(f_text);
    st.pointwise_forward_f32(f, n, m, x.data(), m, y.data(), m);
    st.pointwise_backward_f32(f, n, m, x.data(), m, y.data(), m, dy.data(), m, dx.data(), m);
    for (std::size_t i = 0; i < n; ++i)
      for (std::size_t j = 0; j < m; ++j) {
        const float v = x.at(i, j), out = y.at(i, j), d = dy.at(i, j);
        float fy = 0, fdx = 0;
        switch (f) {
          case Pointwise::kIdentity: fy = v; fdx = d; break;
          case Pointwise::kRelu: fy = v > 0 ? v : 0.0f; fdx = v > 0 ? d : 0.0f; break;
          case Pointwise::kGelu: {
            const float h = 0.5f * v, z = v * v;
            fy = std::fma(h, tanh_f32(v * std::fma(k2, z, k0)), h);
            const float t = tanh_f32(v * std::fma(k2, z, k0));
            fdx = d * std::fma(h * std::fma(-t, t, 1.0f), std::fma(k3, z, k0),
                               std::fma(0.5f, t, 0.5f));
            break;
          }
          case Pointwise::kTanh: fy = tanh_f32(v); fdx = d * std::fma(-out, out, 1.0f); break;
          case Pointwise::kSigmoid:
            fy = 1.0f / (1.0f + exp_f32(-v));
            fdx = d * (out * (1.0f - out));
            break;
        }
        if (!same(out, fy)) FAIL("forward (" << i << "," << j << ") " << out << " vs " << fy);
        if (!same(dx.at(i, j), fdx)) FAIL("backward (" << i << "," << j << ")");
      }
  }

  // Softmax, cross-entropy and squared error with the 16-lane sums.
  GuardedMatrix z(n, m), t(n, m), sm(n, m), dz(n, m), g(n, m);
  z.fill_random(rng, -30, 30);
  t.fill_random(rng, -30, 30);
  const std::uint32_t labels[n] = {0, 36, 16, 5};
  const float scale = 0.3f;
  float ce = 0, ms = 0;
  st.softmax_rows_f32(n, m, z.data(), m, sm.data(), m);
  st.softmax_cross_entropy_f32(n, m, z.data(), m, labels, scale, dz.data(), m, &ce);
  st.mse_f32(n, m, z.data(), m, t.data(), m, scale, g.data(), m, &ms);
  float ce_total = 0, mse_total = 0;
  for (std::size_t i = 0; i < n; ++i) {
    float mx = -kInf;
    for (std::size_t j = 0; j < m; ++j) mx = std::fmax(mx, z.at(i, j));
    std::vector<float> e(m);
    for (std::size_t j = 0; j < m; ++j) e[j] = exp_f32(z.at(i, j) - mx);
    const float s = sum16(e);
    for (std::size_t j = 0; j < m; ++j) {
      CHECK(same(sm.at(i, j), e[j] / s));
      const float p = e[j] / s;
      CHECK(same(dz.at(i, j), (j == labels[i] ? p - 1.0f : p) * scale));
    }
    ce_total = ce_total + (log_f32(s) - (z.at(i, labels[i]) - mx));
    float l[16] = {};
    for (std::size_t j = 0; j < m; ++j) {
      const float d = z.at(i, j) - t.at(i, j);
      l[j % 16] = std::fma(d, d, l[j % 16]);
      CHECK(same(g.at(i, j), d * scale));
    }
    for (int k = 0; k < 8; ++k) l[k] = l[k] + l[k + 8];
    for (int k = 0; k < 4; ++k) l[k] = l[k] + l[k + 4];
    for (int k = 0; k < 2; ++k) l[k] = l[k] + l[k + 2];
    mse_total = mse_total + (l[0] + l[1]);
  }
  CHECK(same(ce, ce_total));
  CHECK(same(ms, 0.5f * mse_total));
  // The order is observable: a plain left-to-right sum differs on this row.
  std::vector<float> row = {1e8f, 1.0f, -1e8f, 1.0f};
  for (int k = 0; k < 16; ++k) row.push_back(0.5f);
  float naive = 0;
  for (float v : row) naive += v;
  CHECK(!same(sum16(row), naive));

  // Optimizer steps.
  std::uniform_real_distribution<float> dist(-1, 1);
  std::vector<float> w0(m), gr(m), vel0(m), mom0(m), var0(m);
  for (std::size_t e = 0; e < m; ++e) {
    w0[e] = dist(rng);
    gr[e] = dist(rng);
    vel0[e] = 0.1f * dist(rng);
    mom0[e] = 0.1f * dist(rng);
    var0[e] = 0.01f * std::fabs(dist(rng));
  }
  std::vector<float> w = w0, vel = vel0, w2 = w0, mom = mom0, var = var0;
  const SgdParams sp{0.1f, 0.9f, 0.01f};
  st.sgd_momentum_f32(m, w.data(), gr.data(), vel.data(), sp);
  AdamParams ap;
  ap.step = 3;
  ap.weight_decay = 0.02f;
  AdamStepConstants c;
  REQUIRE(adam_step_constants(ap, &c).ok());
  st.adam_f32(m, w2.data(), gr.data(), mom.data(), var.data(), c);
  for (std::size_t e = 0; e < m; ++e) {
    const float gd = std::fma(0.01f, w0[e], gr[e]);
    const float v = std::fma(0.9f, vel0[e], gd);
    CHECK(same(vel[e], v));
    CHECK(same(w[e], std::fma(-0.1f, v, w0[e])));
    const float ga = std::fma(c.l2, w0[e], gr[e]);
    const float me = std::fma(c.beta1, mom0[e], c.one_minus_beta1 * ga);
    const float ve = std::fma(c.beta2, var0[e], c.one_minus_beta2 * (ga * ga));
    CHECK(same(mom[e], me));
    CHECK(same(var[e], ve));
    const float den = std::fma(std::sqrt(ve), c.inv_sqrt_bc2, c.epsilon);
    CHECK(same(w2[e], std::fma(c.neg_step, me / den, w0[e] * c.decay)));
  }
}
