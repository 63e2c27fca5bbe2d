// SPDX-License-Identifier: Apache-2.0
// Rank-1 edits of a Dense layer (model.h: rank1_edit, edit_factors):
// W + scale * sum a_j^T b_j within the rounding of an FMA chain and with
// the same bits on every ISA; every refused argument leaves W alone; the
// factors of edit_factors make rank1_edit(-lr) one SGD step of the layer,
// checked against tests/support/reference_backward.h.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "rank1_test_util.h"
#include "tern/runtime/rng.h"
#include "test_util.h"

using namespace tern;
using namespace tern::test;

TEST_CASE("rank1_edit: W + scale * sum a_j^T b_j, the same bits on every ISA") {
  const ModelSpec spec = mlp({13, 21, 7, 5}, 4, Mode::kTraining, Pointwise::kGelu);
  const std::uint32_t layer = 1;
  const std::size_t in = 21, out = 7, count = 5, lda = in + 3, ldb = out + 2;
  std::vector<float> a(count * lda), b(count * ldb);
  Rng rng(31, 1);
  for (float& v : a) v = rng.symmetric(1.0f);
  for (float& v : b) v = rng.symmetric(1.0f);
  const float scale = -0.37f;
  std::vector<float> reference_bits;
  for (Isa isa : tern::test::runnable_isas()) {
    CAPTURE(isa_name(isa));
    IsaScope scope(isa);
    for (Mode mode : {Mode::kTraining, Mode::kInference}) {
      const ModelSpec s = mode == Mode::kTraining ? spec : spec.inference();
      ReadyModel m(s, 3);
      const std::vector<float> before = tern::test::parameters_of(m.model);
      const Tensor w = m.model.tensor(2 * layer);
      const std::vector<float> w0(w.value.begin(), w.value.end());
      const State start(m.model);
      REQUIRE(m.model.rank1_edit(layer, count, a.data(), lda, b.data(), ldb, scale).ok());
      int bad = 0;
      for (std::size_t p = 0; p < in; ++p)
        for (std::size_t q = 0; q < out; ++q) {
          double sum = 0, mag = 0;
          for (std::size_t j = 0; j < count; ++j) {
            const double t = double(a[j * lda + p]) * double(b[j * ldb + q]);
            sum += t;
            mag += std::fabs(t);
          }
          const double want = double(w0[p * out + q]) + double(scale) * sum;
          const double tol = tern::test::fma_chain_tolerance(
              count + 1, std::fabs(double(w0[p * out + q])) + std::fabs(double(scale)) * mag);
          bad += std::fabs(double(w.value[p * out + q]) - want) > tol;
        }
      CHECK(bad == 0);
      // Nothing else changed: other tensors, moments, steps.
      const std::vector<float> after = tern::test::parameters_of(m.model);
      std::size_t at = 0;
      for (std::uint32_t t = 0; t < m.model.tensor_count(); ++t) {
        const std::size_t size = m.model.tensor(t).value.size;
        if (t != 2 * layer) {
          CHECK(std::memcmp(before.data() + at, after.data() + at, size * sizeof(float)) == 0);
        }
        at += size;
      }
      CHECK(m.model.steps() == start.steps);
      const std::vector<float> edited(w.value.begin(), w.value.end());
      if (reference_bits.empty()) {
        reference_bits = edited;
      } else {
        CHECK(bits_equal(edited, reference_bits));
      }
    }
  }
}

TEST_CASE("rank1_edit: bad arguments are refused and W is left alone") {
  const ModelSpec spec = ffn(4, 6, 10, Mode::kInference);  // Dense 6->10, Dense 10->6, residual, LN
  ReadyModel m(spec, 1);
  std::vector<float> a(3 * 10, 0.25f), b(3 * 10, -0.5f);
  const std::vector<float> before = tern::test::parameters_of(m.model);
  Status s = m.model.rank1_edit(3, 1, a.data(), 6, b.data(), 6, 1.0f);
  CHECK(s.code() == StatusCode::kInvalidArgument);
  CHECK(contains(s, "layer 3 is not a Dense layer"));
  CHECK(m.model.rank1_edit(2, 1, a.data(), 6, b.data(), 6, 1.0f).code() ==
        StatusCode::kInvalidArgument);
  CHECK(m.model.rank1_edit(9, 1, a.data(), 6, b.data(), 6, 1.0f).code() ==
        StatusCode::kInvalidArgument);
  s = m.model.rank1_edit(0, 2, nullptr, 6, b.data(), 10, 1.0f);
  CHECK(s.code() == StatusCode::kInvalidArgument);
  CHECK(contains(s, "factor a is null"));
  CHECK(m.model.rank1_edit(0, 2, a.data(), 6, nullptr, 10, 1.0f).code() ==
        StatusCode::kInvalidArgument);
  s = m.model.rank1_edit(0, 2, a.data(), 5, b.data(), 10, 1.0f);
  CHECK(s.code() == StatusCode::kShapeMismatch);
  CHECK(contains(s, "factor strides 5 and 10 are smaller than the layer's 6 inputs and 10 "
                    "outputs"));
  CHECK(m.model.rank1_edit(0, 2, a.data(), 6, b.data(), 9, 1.0f).code() ==
        StatusCode::kShapeMismatch);
  for (float bad_scale : {NAN, INFINITY, -INFINITY}) {
    s = m.model.rank1_edit(0, 2, a.data(), 6, b.data(), 10, bad_scale);
    CHECK(s.code() == StatusCode::kNonFinite);
    CHECK(contains(s, "is not finite"));
  }
  a[1 * 6 + 4] = NAN;
  s = m.model.rank1_edit(0, 2, a.data(), 6, b.data(), 10, 1.0f);
  CHECK(s.code() == StatusCode::kNonFinite);
  CHECK(contains(s, "a[1][4] is not finite"));
  a[1 * 6 + 4] = 0.25f;
  b[1 * 10 + 9] = INFINITY;
  s = m.model.rank1_edit(0, 2, a.data(), 6, b.data(), 10, 1.0f);
  CHECK(s.code() == StatusCode::kNonFinite);
  CHECK(contains(s, "b[1][9] is not finite"));
  b[1 * 10 + 9] = -0.5f;
  // Finite factors whose edit could overflow float: refused before W
  // changes (2 rank-1 terms of 1e30 * 1e10 > FLT_MAX).
  const std::vector<float> big_a(2 * 6, 1e30f), big_b(2 * 10, -1e10f);
  s = m.model.rank1_edit(0, 2, big_a.data(), 6, big_b.data(), 10, 1.0f);
  CHECK(s.code() == StatusCode::kNonFinite);
  CHECK(contains(s, "could overflow the weights"));
  // Factors that overlap the weights they edit (the first or last bytes).
  const Tensor w = m.model.tensor(0);  // 6 x 10
  s = m.model.rank1_edit(0, 1, w.value.data + 54, 6, b.data(), 10, 1.0f);
  CHECK(s.code() == StatusCode::kInvalidArgument);
  CHECK(contains(s, "overlaps the weights"));
  CHECK(m.model.rank1_edit(0, 2, a.data(), 6, w.value.data, 10, 1.0f).code() ==
        StatusCode::kInvalidArgument);
  CHECK(bits_equal(tern::test::parameters_of(m.model), before));
  // A factor right after W (the bias) does not overlap; count 0 is a no-op.
  CHECK(m.model.rank1_edit(0, 0, nullptr, 0, nullptr, 0, 1.0f).ok());
  CHECK(bits_equal(tern::test::parameters_of(m.model), before));
  const Tensor bias = m.model.tensor(1);
  CHECK(m.model.rank1_edit(0, 1, a.data(), 6, bias.value.data, 10, 1.0f).ok());
  // An unbuilt model.
  Model unbuilt;
  CHECK(unbuilt.rank1_edit(0, 1, a.data(), 6, b.data(), 10, 1.0f).code() ==
        StatusCode::kFailedPrecondition);
}

TEST_CASE("edit_factors: rank1_edit(-lr) with them is one SGD step of that layer") {
  const ModelSpec specs[] = {
      mlp({13, 21, 7, 5}, 6, Mode::kTraining, Pointwise::kGelu),
      ffn(7, 8, 12, Mode::kTraining, Pointwise::kTanh),
  };
  for (const ModelSpec& spec : specs) {
    const Data d = make_data(spec, 6, 14);
    for (std::uint32_t layer = 0; layer < 2; ++layer) {
      CAPTURE(spec.layer_count);
      CAPTURE(layer);
      PerturbedModel m(spec, 15, 15);
      const State start(m.model);
      const ReferenceModel ref(m.model);
      ReferenceTrace trace;
      std::vector<std::vector<double>> dz;
      const Grads g = gradient_of(ref, d, 0, 6, &trace, &dz);
      const std::vector<std::vector<double>>& points = trace.points;
      const std::size_t in = spec.layers[layer].in, out = spec.layers[layer].out;
      std::vector<float> u(6 * in), delta(6 * out);
      const Status s = m.model.edit_factors(batch_of(spec, d, 0, 6), layer, u.data(), delta.data());
      REQUIRE_MESSAGE(s.ok(), s.message());
      CHECK(State(m.model) == start);  // nothing changed
      // u is the layer's input, delta dL/dz of the batch's MEAN loss.
      double dmax = 0;
      for (double v : dz[layer]) dmax = std::max(dmax, std::fabs(v) / 6.0);
      int bad = 0;
      for (std::size_t i = 0; i < u.size(); ++i) {
        bad += std::fabs(u[i] - points[layer][i]) > 1e-5 * (1 + std::fabs(points[layer][i]));
      }
      for (std::size_t i = 0; i < delta.size(); ++i) {
        const double want = dz[layer][i] / 6.0;
        bad += std::fabs(delta[i] - want) > 1e-4 * std::fabs(want) + 1e-5 * dmax;
      }
      CHECK(bad == 0);
      // The same factors from a spec with example gradients and accumulation.
      PerturbedModel other(
          spec.with_example_gradients(1).with_accumulation(spec.rows).with_fused_update(), 15, 15);
      std::vector<float> u2(u.size()), delta2(delta.size());
      const Batch b = batch_of(spec, d, 0, 6);
      REQUIRE(other.model.edit_factors(b, layer, u2.data(), delta2.data()).ok());
      CHECK(bits_equal(u, u2));
      CHECK(bits_equal(delta, delta2));

      const float lr = 0.5f;
      const Tensor w = m.model.tensor(2 * layer);
      const std::vector<float> w0(w.value.begin(), w.value.end());
      REQUIRE(m.model.rank1_edit(layer, 6, u.data(), in, delta.data(), out, -lr).ok());
      const std::vector<double>& gw = g[2 * layer];  // sum over rows: divide by 6
      double gmax = 0;
      for (double v : gw) gmax = std::max(gmax, std::fabs(v) / 6.0);
      REQUIRE(gmax > 1e-4);
      bad = 0;
      for (std::size_t i = 0; i < w0.size(); ++i) {
        const double want = double(w0[i]) - double(lr) * gw[i] / 6.0;
        const double tol = lr * (1e-4 * std::fabs(gw[i] / 6.0) + 1e-5 * gmax) +
                           std::ldexp(std::fabs(double(w0[i])), -22);
        bad += std::fabs(double(w.value[i]) - want) > tol;
      }
      CHECK(bad == 0);
    }
  }
  // Errors: not Dense, null outputs, inference models.
  const ModelSpec spec = specs[1];
  ModelInArena m(spec);
  REQUIRE(m.status.ok());
  const Data d = make_data(spec, 6, 14);
  std::vector<float> u(6 * 12), delta(6 * 12);
  CHECK(m.model.edit_factors(batch_of(spec, d, 0, 6), 2, u.data(), delta.data()).code() ==
        StatusCode::kInvalidArgument);
  CHECK(m.model.edit_factors(batch_of(spec, d, 0, 6), 0, nullptr, delta.data()).code() ==
        StatusCode::kInvalidArgument);
  CHECK(m.model.edit_factors(batch_of(spec, d, 0, 6), 0, u.data(), nullptr).code() ==
        StatusCode::kInvalidArgument);
  ModelInArena inf(spec.inference());
  REQUIRE(inf.status.ok());
  CHECK(inf.model.edit_factors(batch_of(spec, d, 0, 6), 0, u.data(), delta.data()).code() ==
        StatusCode::kFailedPrecondition);
}
