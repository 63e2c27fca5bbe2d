// SPDX-License-Identifier: Apache-2.0
// The SGD update fused into the rank-1 gradient (rank1_sgd_update_f32), the
// gradient written without zeroing (rank1_gradient_f32), and plain SGD in
// sgd_momentum_f32 (momentum 0: no velocity), every ISA:
//  (1) bits: the contract of tern/kernels/dense.h spelled out as std::fma
//      chains here, and the same bits as rank1_accumulate into a zeroed
//      buffer followed by sgd_momentum_f32;
//  (2) a double-precision reference with the rounding-error bound.
// Shapes: n from 0 (weight decay only) through the compile-time row counts
// (1..4) to run-time counts, columns around every vector width and tails,
// strided and misaligned views inside guard zones.
#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "tern/kernels/dense.h"
#include "tern/kernels/elementwise.h"
#include "tern/kernels/isa_selection.h"
#include "tern/kernels/kernel_table.h"
#include "test_util.h"

using namespace tern;
using tern::test::GuardedMatrix;

namespace {

bool same_bits(float a, float b) { return std::memcmp(&a, &b, sizeof a) == 0; }

struct Case {
  std::size_t n, k, m, pad, offset;
  float alpha;
  std::size_t velocity_extra = 1;  // the velocity's stride is m + 2 pad + this
};

void check_fused_sgd(Isa isa, const Case& c, const SgdParams& sgd, std::mt19937& rng) {
  const KernelTable* t = kernel_table(isa);
  const bool momentum = sgd.momentum != 0.0f;
  GuardedMatrix u(c.n, c.k, c.k + c.pad, c.offset), d(c.n, c.m, c.m + c.pad, c.offset);
  GuardedMatrix w(c.k, c.m, c.m + c.pad, c.offset), w0(c.k, c.m);
  GuardedMatrix v(c.k, c.m, c.m + 2 * c.pad + c.velocity_extra, c.offset), v0(c.k, c.m);
  u.fill_random(rng);
  d.fill_random(rng);
  w.fill_random(rng);
  v.fill_random(rng);
  w0.copy_from(w);
  v0.copy_from(v);
  t->rank1_sgd_update_f32(c.n, c.k, c.m, c.alpha, u.data(), u.stride(), d.data(), d.stride(),
                          w.data(), w.stride(), momentum ? v.data() : nullptr, v.stride(), sgd);
  REQUIRE(w.guards_intact());
  REQUIRE(v.guards_intact());

  // The two-kernel path the fused one must reproduce: gradient into a zeroed
  // buffer (rank1_gradient_f32 here, itself checked below against
  // rank1_accumulate), then sgd_momentum_f32 row by row.
  GuardedMatrix g(c.k, c.m, c.m + c.pad, c.offset), w2(c.k, c.m), v2(c.k, c.m);
  g.fill_random(rng);  // overwritten, never read
  w2.copy_from(w0);
  v2.copy_from(v0);
  GuardedMatrix scratch(1, rank1_accumulate_scratch_floats(c.n) + 1, 0, c.offset);
  t->rank1_gradient_f32(c.n, c.k, c.m, c.alpha, c.n ? u.data() : g.data(), u.stride(),
                        c.n ? d.data() : g.data(), d.stride(), g.data(), g.stride(),
                        scratch.data());
  REQUIRE(g.guards_intact());
  REQUIRE(scratch.guards_intact());
  for (std::size_t p = 0; p < c.k; ++p) {
    t->sgd_momentum_f32(c.m, &w2.at(p, 0), &g.at(p, 0), &v2.at(p, 0), sgd);
  }

  const double uround = std::ldexp(1.0, -24);
  for (std::size_t p = 0; p < c.k; ++p) {
    for (std::size_t j = 0; j < c.m; ++j) {
      float chain = 0.0f;
      double ref = 0.0, scale = 0.0;
      for (std::size_t i = 0; i < c.n; ++i) {
        chain = std::fma(u.at(i, p), d.at(i, j), chain);
        ref += double(u.at(i, p)) * d.at(i, j);
        scale += std::fabs(double(u.at(i, p)) * d.at(i, j));
      }
      const float grad = std::fma(c.alpha, chain, 0.0f);
      if (!same_bits(g.at(p, j), grad)) {
        FAIL("rank1_gradient[" << std::string(isa_name(isa)) << "] " << c.n << "x" << c.k << "x"
                               << c.m << " at (" << p << "," << j << "): " << g.at(p, j)
                               << " vs " << grad);
      }
      const float old = w0.at(p, j);
      float step = std::fma(sgd.weight_decay, old, grad);
      if (momentum) step = std::fma(sgd.momentum, v0.at(p, j), step);
      const float expect = std::fma(-sgd.learning_rate, step, old);
      const float got = w.at(p, j);
      if (!same_bits(got, expect) || !same_bits(got, w2.at(p, j))) {
        FAIL("rank1_sgd_update[" << std::string(isa_name(isa)) << "] " << c.n << "x" << c.k << "x"
                                 << c.m << " at (" << p << "," << j << "): " << got
                                 << " vs contract " << expect << " and two-kernel path "
                                 << w2.at(p, j));
      }
      // The velocity: the step with momentum, untouched without.
      const float v_expect = momentum ? step : v0.at(p, j);
      if (!same_bits(v.at(p, j), v_expect) || !same_bits(v.at(p, j), v2.at(p, j))) {
        FAIL("rank1_sgd_update[" << std::string(isa_name(isa)) << "] velocity at (" << p << ","
                                 << j << "): " << v.at(p, j) << " vs " << v_expect);
      }
      const double vd = double(c.alpha) * ref + double(sgd.weight_decay) * old +
                        double(sgd.momentum) * (momentum ? v0.at(p, j) : 0.0f);
      const double full = double(old) - double(sgd.learning_rate) * vd;
      const double step_scale = std::fabs(double(c.alpha)) * scale +
                                std::fabs(double(sgd.weight_decay) * old) +
                                std::fabs(double(sgd.momentum) * v0.at(p, j));
      const double tol = (c.n + 5) * uround *
                             (std::fabs(double(old)) + double(sgd.learning_rate) * step_scale) *
                             1.0001 + 1e-37;
      if (std::fabs(double(got) - full) > tol) {
        FAIL("rank1_sgd_update off the double reference by " << std::fabs(double(got) - full)
                                                             << " > " << tol);
      }
    }
  }
}

}  // namespace

TEST_CASE("rank1_sgd_update and rank1_gradient: contract, two-kernel bits, double reference, every ISA") {
  const SgdParams plain{0.05f, 0.0f, 0.0f};
  const SgdParams decayed{0.3f, 0.0f, 0.01f};
  const SgdParams heavy{0.1f, 0.9f, 0.002f};
  for (Isa isa : tern::test::runnable_isas()) {
    CAPTURE(isa_name(isa));
    std::mt19937 rng(1234);
    for (std::size_t n : {0, 1, 2, 3, 4, 5, 9, 17}) {
      for (std::size_t m : {1, 7, 8, 15, 16, 17, 33, 64, 65, 100}) {
        check_fused_sgd(isa, {n, 13, m, 0, 0, 1.0f}, plain, rng);
        check_fused_sgd(isa, {n, 5, m, 3, 1, -0.37f}, decayed, rng);
        check_fused_sgd(isa, {n, 6, m, 1, 1, 0.5f}, heavy, rng);
      }
    }
    check_fused_sgd(isa, {1, 784, 256, 0, 0, 1.0f}, plain, rng);  // the batch-1 MLP layer
    check_fused_sgd(isa, {1, 784, 256, 0, 0, 1.0f}, heavy, rng);
    // Many rows: the register tiles (rank1_gradient's kAssign, plain SGD's
    // kSgd epilogue) past the packing limits, and momentum streamed.
    check_fused_sgd(isa, {40, 70, 45, 1, 1, 1.0f}, heavy, rng);
    check_fused_sgd(isa, {40, 70, 45, 1, 1, -0.5f}, decayed, rng);
    check_fused_sgd(isa, {33, 300, 70, 0, 0, 1.0f}, plain, rng);
    // Few columns, lanes along p (generic/rank1_cols-inl.h): every m up to
    // 16, with tight strides everywhere (rows finished as one run) and with
    // padded, misaligned ones (row by row).
    for (std::size_t m = 1; m <= 16; ++m)
      for (std::size_t n : {5, 12, 33})
        for (std::size_t k : {7, 37, 70}) {
          check_fused_sgd(isa, {n, k, m, 0, 0, 1.0f}, plain, rng);
          check_fused_sgd(isa, {n, k, m, 0, 0, 0.5f, 0}, heavy, rng);
          check_fused_sgd(isa, {n, k, m, 2, 1, -0.37f}, decayed, rng);
          check_fused_sgd(isa, {n, k, m, 1, 1, 0.5f}, heavy, rng);
        }
  }
}

TEST_CASE("rank1_sgd_update and rank1_gradient: checked entry points") {
  std::vector<float> u(8, 0.5f), d(8, 0.25f), w(16, 1.0f), v(16, 2.0f);
  const SgdParams with_momentum{0.01f, 0.9f, 0.0f};
  Status s = rank1_sgd_update_f32(1, 4, 4, 1.0f, u.data(), 4, d.data(), 4, w.data(), 4, nullptr,
                                  4, with_momentum);
  CHECK(s.code() == StatusCode::kInvalidArgument);
  CHECK(std::string(s.message()) == "rank1_sgd_update_f32: velocity is null for a 4x4 operand");
  s = rank1_sgd_update_f32(1, 4, 4, 1.0f, u.data(), 4, d.data(), 4, w.data(), 4, w.data() + 3, 4,
                           with_momentum);
  CHECK(s.code() == StatusCode::kInvalidArgument);
  CHECK(std::string(s.message()) == "rank1_sgd_update_f32: outputs W and velocity overlap");
  s = rank1_sgd_update_f32(1, 4, 4, 1.0f, u.data(), 4, d.data(), 4, u.data(), 4, nullptr, 4,
                           SgdParams{});
  CHECK(s.code() == StatusCode::kInvalidArgument);
  CHECK(std::string(s.message()) == "rank1_sgd_update_f32: output W overlaps input U");
  s = rank1_sgd_update_f32(1, 4, 4, NAN, u.data(), 4, d.data(), 4, w.data(), 4, nullptr, 4,
                           SgdParams{});
  CHECK(s.code() == StatusCode::kInvalidArgument);
  CHECK(std::string(s.message()) == "rank1_sgd_update_f32: alpha is nan, must be finite");
  s = rank1_gradient_f32(1, 4, 4, 1.0f, u.data(), 4, d.data(), 4, d.data(), 4);
  CHECK(s.code() == StatusCode::kInvalidArgument);
  CHECK(std::string(s.message()) == "rank1_gradient_f32: output G overlaps input D");
  // Valid calls: one step of lr 0.01 on the gradient 0.5 * 0.25 everywhere
  // (plain SGD, velocity untouched), then the gradient itself.
  REQUIRE(rank1_sgd_update_f32(1, 4, 4, 1.0f, u.data(), 4, d.data(), 4, w.data(), 4, nullptr, 4,
                               SgdParams{}).ok());
  for (float x : w) CHECK(double(x) == doctest::Approx(1.0 - 0.01 * 0.125).epsilon(1e-7));
  REQUIRE(rank1_sgd_update_f32(1, 4, 4, 1.0f, u.data(), 4, d.data(), 4, w.data(), 4, v.data(), 4,
                               with_momentum).ok());
  for (float x : v) CHECK(double(x) == doctest::Approx(0.9 * 2.0 + 0.125).epsilon(1e-7));
  REQUIRE(rank1_gradient_f32(1, 4, 4, 2.0f, u.data(), 4, d.data(), 4, w.data(), 4).ok());
  for (float x : w) CHECK(x == 0.25f);
}

TEST_CASE("sgd_momentum_f32 with momentum 0 is plain SGD and leaves the velocity alone") {
  std::mt19937 rng(5);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  const std::size_t count = 77;
  const SgdParams sp{0.05f, 0.0f, 1e-2f};
  for (Isa isa : tern::test::runnable_isas()) {
    CAPTURE(isa_name(isa));
    const tern::test::IsaScope scope(isa);
    std::vector<float> w(count), g(count), v(count);
    for (std::size_t e = 0; e < count; ++e) w[e] = dist(rng), g[e] = dist(rng), v[e] = dist(rng);
    const std::vector<float> w0 = w, v0 = v;
    REQUIRE(sgd_momentum_f32(count, w.data(), g.data(), v.data(), sp).ok());
    for (std::size_t e = 0; e < count; ++e) {
      CHECK(same_bits(v[e], v0[e]));
      const double expect = double(w0[e]) - double(sp.learning_rate) *
                                                (double(g[e]) + double(sp.weight_decay) * w0[e]);
      CHECK(std::fabs(double(w[e]) - expect) <= 4 * std::ldexp(1.0, -24) *
                                                    (std::fabs(double(w0[e])) + 0.1));
    }
  }
}
