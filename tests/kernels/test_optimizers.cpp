// SPDX-License-Identifier: Apache-2.0
// The optimizer steps, SGD with momentum and Adam / AdamW
// (tern/kernels/elementwise.h, "Optimizer steps"): every ISA against the
// scalar table bit for bit over several steps; then against double-
// precision re-implementations, and Adam's bias-correction constants
// against pow in double.
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
// Every ISA against the scalar table, bit for bit
// ---------------------------------------------------------------------------
TEST_CASE("sgd_momentum and adam: every ISA matches scalar over several steps") {
  std::mt19937 rng(15);
  SgdParams sgd;
  sgd.learning_rate = 0.05f;
  sgd.momentum = 0.9f;
  sgd.weight_decay = 1e-3f;
  for (std::size_t count : kSizes)
    for (std::size_t offset : {0, 1}) {
      for (bool decoupled : {false, true}) {
        GuardedMatrix w0(1, count, count, offset), g(1, count, count, offset);
        GuardedMatrix v0(1, count, count, offset), m0(1, count, count, offset);
        w0.fill_random(rng, -1, 1);
        v0.fill_random(rng, 0, 0.01f);
        m0.fill_random(rng, -0.1f, 0.1f);
        std::vector<std::vector<GuardedMatrix>> state;  // per ISA: w, m, v (sgd reuses w, v)
        const std::vector<Isa> isas = tern::test::runnable_isas();
        for (std::size_t k = 0; k < isas.size(); ++k) {
          state.push_back({GuardedMatrix(1, count, count, offset),
                           GuardedMatrix(1, count, count, offset),
                           GuardedMatrix(1, count, count, offset),
                           GuardedMatrix(1, count, count, offset),
                           GuardedMatrix(1, count, count, offset)});
          state[k][0].copy_from(w0);
          state[k][1].copy_from(m0);
          state[k][2].copy_from(v0);
          state[k][3].copy_from(w0);  // SGD weights
          state[k][4].copy_from(m0);  // SGD velocity
        }
        AdamParams adam;
        adam.learning_rate = 0.01f;
        adam.weight_decay = 0.01f;
        adam.decoupled = decoupled;
        for (std::uint32_t step = 1; step <= 4; ++step) {
          g.fill_random(rng, -1, 1);
          adam.step = step;
          AdamStepConstants c;
          REQUIRE(adam_step_constants(adam, &c).ok());
          for (std::size_t k = 0; k < isas.size(); ++k) {
            const KernelTable& t = *kernel_table(isas[k]);
            t.adam_f32(count, state[k][0].data(), g.data(), state[k][1].data(),
                       state[k][2].data(), c);
            t.sgd_momentum_f32(count, state[k][3].data(), g.data(), state[k][4].data(), sgd);
          }
          for (std::size_t k = 1; k < isas.size(); ++k)
            for (int b = 0; b < 5; ++b)
              require_same(state[k][b], state[0][b], b < 3 ? "adam" : "sgd", isas[k], 1, count);
        }
      }
    }
}

// ---------------------------------------------------------------------------
// Against double precision and finite differences
// ---------------------------------------------------------------------------
TEST_CASE("optimizer steps against double-precision re-implementations") {
  std::mt19937 rng(34);
  const std::size_t count = 77;
  for (Isa isa : tern::test::runnable_isas()) {
    const std::string isa_text = isa_name(isa);
    CAPTURE(isa_text);
    const IsaScope scope(isa);
    std::uniform_real_distribution<float> dist(-1, 1);
    // SGD with momentum and L2.
    std::vector<float> w(count), g(count), v(count);
    for (std::size_t e = 0; e < count; ++e) w[e] = dist(rng), v[e] = 0.1f * dist(rng);
    const SgdParams sp{0.05f, 0.9f, 1e-2f};
    for (int step = 0; step < 5; ++step) {
      for (auto& x : g) x = dist(rng);
      const std::vector<float> w0 = w, v0 = v;
      REQUIRE(sgd_momentum_f32(count, w.data(), g.data(), v.data(), sp).ok());
      for (std::size_t e = 0; e < count; ++e) {
        const double vd = double(sp.momentum) * v0[e] + (g[e] + double(sp.weight_decay) * w0[e]);
        const double wd = w0[e] - double(sp.learning_rate) * vd;
        CHECK(std::fabs(v[e] - vd) <= 4 * kU * (std::fabs(vd) + std::fabs(g[e]) + 1e-30));
        CHECK(std::fabs(w[e] - wd) <= 4 * kU * (std::fabs(w0[e]) + 0.05 * std::fabs(vd)));
      }
    }
    // Adam and AdamW, including late steps where bias correction is ~1.
    for (bool decoupled : {false, true}) {
      std::vector<float> aw(count), ag(count), am(count, 0.0f), av(count, 0.0f);
      for (auto& x : aw) x = dist(rng);
      AdamParams ap;
      ap.learning_rate = 0.01f;
      ap.weight_decay = 0.05f;
      ap.decoupled = decoupled;
      for (std::uint32_t step : {1u, 2u, 3u, 10u, 1000u, 100000u}) {
        ap.step = step;
        for (auto& x : ag) x = dist(rng);
        const std::vector<float> w0 = aw, m0 = am, v0 = av;
        REQUIRE(adam_f32(count, aw.data(), ag.data(), am.data(), av.data(), ap).ok());
        const double b1 = ap.beta1, b2 = ap.beta2, lr = ap.learning_rate, wdc = ap.weight_decay;
        const double bc1 = 1 - std::pow(b1, step), bc2 = 1 - std::pow(b2, step);
        for (std::size_t e = 0; e < count; ++e) {
          const double gd = ag[e] + (decoupled ? 0.0 : wdc * w0[e]);
          const double md = b1 * m0[e] + (1 - b1) * gd;
          const double vd = b2 * v0[e] + (1 - b2) * gd * gd;
          const double upd = lr * (md / bc1) / (std::sqrt(vd / bc2) + ap.epsilon);
          const double wd = (decoupled ? w0[e] * (1 - lr * wdc) : w0[e]) - upd;
          CHECK(std::fabs(am[e] - md) <= 4 * kU * (std::fabs(md) + std::fabs(gd)));
          CHECK(std::fabs(av[e] - vd) <= 4 * kU * (std::fabs(vd) + gd * gd));
          CHECK(std::fabs(aw[e] - wd) <= 4 * kU * std::fabs(w0[e]) + 16 * kU * std::fabs(upd));
        }
      }
    }
  }
}

TEST_CASE("adam_step_constants: bias correction against pow in double") {
  AdamParams p;
  p.learning_rate = 3e-4f;
  p.beta1 = 0.9f;
  p.beta2 = 0.98f;
  for (std::uint32_t step : {1u, 2u, 7u, 100u, 5000u, 4000000000u}) {
    p.step = step;
    AdamStepConstants c;
    REQUIRE(adam_step_constants(p, &c).ok());
    const double bc1 = 1 - std::pow(double(p.beta1), step);
    const double bc2 = 1 - std::pow(double(p.beta2), step);
    CHECK(ulp_error(c.neg_step, -double(p.learning_rate) / bc1) <= 0.5 + 1e-6);
    CHECK(ulp_error(c.inv_sqrt_bc2, 1 / std::sqrt(bc2)) <= 0.5 + 1e-6);
    CHECK(c.one_minus_beta1 == 1.0f - p.beta1);
    CHECK(c.decay == 1.0f);
    CHECK(c.l2 == 0.0f);
  }
  p.decoupled = true;
  p.weight_decay = 0.1f;
  AdamStepConstants c;
  REQUIRE(adam_step_constants(p, &c).ok());
  CHECK(c.decay == static_cast<float>(1.0 - double(p.learning_rate) * double(p.weight_decay)));
  CHECK(c.l2 == 0.0f);
}
