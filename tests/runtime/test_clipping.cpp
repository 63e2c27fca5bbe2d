// SPDX-License-Identifier: Apache-2.0
// Clipping (model.h: ClipParams, set_clipping; the clipping half of
// example_gradients.cpp): per-example clipping of the materialised
// per-example gradients, global-norm clipping from the rank-1 factors and
// of stored gradients, both together, and set_clipping's refusals. The
// expected gradients come from tests/support/reference_backward.h.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <vector>

#include "rank1_test_util.h"

using namespace tern;
using namespace tern::test;

namespace {

// A model and a batch size to clip on.
struct ClipCase {
  const char* name;
  ModelSpec spec;
  std::size_t rows;
};

// Global clipping to `fraction` of the norm of `mean`, the gradient tern
// must clip after any per-example clipping at `example_clip` (0: none): the
// reported norm is mean's and the stored gradients are fraction * mean,
// which is returned.
Grads check_global_clip(Model& m, const Batch& b, const ReferenceModel& ref, const Grads& mean,
                        float example_clip, double fraction) {
  const double norm = norm_of(mean);
  set_clip(m, example_clip, 0, 0, float(fraction * norm));
  REQUIRE(m.compute_gradients(b, nullptr).ok());
  CHECK(std::fabs(m.gradient_norm() - norm) <= 1e-5 * norm);
  Grads want = zero_gradients(ref);
  axpy(fraction, mean, &want);
  CHECK(compare_grads(m, want, 1e-4, 1e-5) == 0);
  return want;
}

}  // namespace

TEST_CASE("clipping: per-example, global and both, against materialised gradients") {
  const ClipCase cases[] = {
      {"mlp 13-11-7-5 gelu, 7 rows", mlp({13, 11, 7, 5}, 7, Mode::kTraining, Pointwise::kGelu),
       7},
      {"mlp 13-11-7-5 tanh mse, 17 rows",
       mlp({13, 11, 7, 5}, 17, Mode::kTraining, Pointwise::kTanh, LossKind::kMse), 17},
      {"ffn n=20 d=8 d_ff=12, 4 examples of 5",
       ffn(20, 8, 12, Mode::kTraining).with_example_gradients(5), 20},
  };
  for (const ClipCase& c : cases) {
    CAPTURE(c.name);
    const ModelSpec spec = c.spec.example_rows != 0 ? c.spec : c.spec.with_example_gradients(1);
    const std::size_t R = spec.example_rows;
    const Data d = make_data(spec, c.rows, 41);
    PerturbedModel m(spec, 5, 6);
    const ReferenceModel ref(m.model);
    const std::vector<Grads> g = example_gradients(ref, d, 0, c.rows, R);
    std::vector<double> norms;
    for (const Grads& ge : g) norms.push_back(norm_of(ge));
    const double C = clip_between(norms);
    std::size_t clipped = 0;
    Grads clipped_mean = zero_gradients(ref), plain_mean = zero_gradients(ref);
    for (std::size_t e = 0; e < g.size(); ++e) {
      clipped += norms[e] > C;
      axpy(std::min(1.0, C / norms[e]) / double(c.rows), g[e], &clipped_mean);
      axpy(1.0 / double(c.rows), g[e], &plain_mean);
    }
    REQUIRE(clipped > 0);
    REQUIRE(clipped < g.size());
    const Batch b = batch_of(spec, d, 0, c.rows);

    {
      INFO("per-example clipping");
      set_clip(m.model, float(C), 0, 0, 0);
      REQUIRE(m.model.compute_gradients(b, nullptr).ok());
      CHECK(compare_grads(m.model, clipped_mean, 1e-4, 1e-5) == 0);
      CHECK(m.model.gradient_norm() == 0.0f);
    }
    {
      INFO("global clipping from the factors");
      check_global_clip(m.model, b, ref, plain_mean, 0, 0.5);
    }
    {
      INFO("per-example then global clipping");
      check_global_clip(m.model, b, ref, clipped_mean, float(C), 0.25);
    }
    {
      INFO("bounds above every norm change nothing");
      set_clip(m.model, 0, 0, 0, 0);
      REQUIRE(m.model.compute_gradients(b, nullptr).ok());
      const std::vector<float> unclipped = all_grads(m.model);
      CHECK(compare_grads(m.model, plain_mean, 1e-4, 1e-5) == 0);
      set_clip(m.model, float(2 * *std::max_element(norms.begin(), norms.end())), 0, 0,
               float(2 * norm_of(plain_mean)));
      REQUIRE(m.model.compute_gradients(b, nullptr).ok());
      CHECK(bits_equal(all_grads(m.model), unclipped));
    }
  }
}

TEST_CASE("clipping: example gradients without clipping are plain training, bit for bit") {
  // Power-of-two rows: dividing by the rows at the end instead of in the
  // loss's delta is exact.
  const ModelSpec specs[] = {
      mlp({13, 11, 7, 5}, 8, Mode::kTraining, Pointwise::kGelu),
      mlp({13, 11, 7, 5}, 32, Mode::kTraining, Pointwise::kRelu, LossKind::kMse),
      ffn(16, 8, 12, Mode::kTraining),
  };
  for (const ModelSpec& plain : specs) {
    const bool block = plain.layers[2].kind == LayerKind::kResidual;
    const ModelSpec ex = plain.with_example_gradients(block ? 4 : 1);
    const Data d = make_data(plain, plain.rows, 12);
    PerturbedModel a(plain, 3, 4), b(ex, 3, 4);
    float la = 0, lb = 0;
    REQUIRE(a.model.compute_gradients(batch_of(plain, d, 0, plain.rows), &la).ok());
    REQUIRE(b.model.compute_gradients(batch_of(ex, d, 0, plain.rows), &lb).ok());
    CHECK(bits_equal(all_grads(a.model), all_grads(b.model)));
    CHECK(la == lb);
  }
}

TEST_CASE("clipping: plain global-norm clipping of stored gradients") {
  const ModelSpec spec = ffn(9, 8, 12, Mode::kTraining, Pointwise::kTanh, LossKind::kMse);
  const Data d = make_data(spec, 9, 13);
  PerturbedModel m(spec, 8, 8);
  const ReferenceModel ref(m.model);
  Grads mean = gradient_of(ref, d, 0, 9);
  for (auto& t : mean)
    for (double& v : t) v /= 9.0;
  const double norm = norm_of(mean);
  const Batch b = batch_of(spec, d, 0, 9);

  REQUIRE(m.model.compute_gradients(b, nullptr).ok());
  CHECK(m.model.gradient_norm() == 0.0f);  // not computed without a bound
  const std::vector<float> unclipped = all_grads(m.model);
  CHECK(compare_grads(m.model, mean, 1e-4, 1e-5) == 0);

  const Grads want = check_global_clip(m.model, b, ref, mean, 0, 0.3);

  // A bound above the norm: the norm is reported, nothing is scaled.
  set_clip(m.model, 0, 0, 0, float(3 * norm));
  REQUIRE(m.model.compute_gradients(b, nullptr).ok());
  CHECK(std::fabs(m.model.gradient_norm() - norm) <= 1e-5 * norm);
  CHECK(bits_equal(all_grads(m.model), unclipped));

  // train_step clips the same way: one SGD step without momentum moves each
  // parameter by exactly -lr * (clipped gradient).
  OptimizerParams p;
  p.learning_rate = 1.0f;
  p.momentum = 0.0f;
  set_clip(m.model, 0, 0, 0, float(0.3 * norm));
  PerturbedModel sgd(spec.training(LossKind::kMse, OptimizerKind::kSgd), 8, 8);
  REQUIRE(sgd.model.set_optimizer(p).ok());
  set_clip(sgd.model, 0, 0, 0, float(0.3 * norm));
  const std::vector<float> before = tern::test::parameters_of(sgd.model);
  REQUIRE(sgd.model.train_step(b, nullptr).ok());
  const std::vector<float> after = tern::test::parameters_of(sgd.model);
  std::size_t at = 0;
  int bad = 0;
  for (std::size_t t = 0; t < want.size(); ++t)
    for (std::size_t i = 0; i < want[t].size(); ++i, ++at) {
      const double step = double(before[at]) - double(after[at]);
      const double ulps =
          std::ldexp(std::fabs(double(before[at])) + std::fabs(double(after[at])), -22);
      if (std::fabs(step - want[t][i]) > 1e-4 * std::fabs(want[t][i]) + 1e-5 * norm + ulps) {
        ++bad;
      }
    }
  CHECK(bad == 0);
}

TEST_CASE("set_clipping: bad parameters and missing spec options are refused") {
  const ModelSpec plain = mlp({6, 8, 3}, 4, Mode::kTraining);
  ModelInArena p(plain), ex(plain.with_example_gradients()), fused(plain.with_fused_update()),
      inf(plain.inference());
  REQUIRE(p.status.ok());
  REQUIRE(ex.status.ok());
  REQUIRE(fused.status.ok());
  REQUIRE(inf.status.ok());
  ClipParams c;
  c.example_clip = 1.0f;
  Status s = p.model.set_clipping(c);
  CHECK(s.code() == StatusCode::kFailedPrecondition);
  CHECK(contains(s, "with_example_gradients"));
  CHECK(ex.model.set_clipping(c).ok());

  ClipParams noise_only;
  noise_only.noise_multiplier = 1.0f;
  s = ex.model.set_clipping(noise_only);
  CHECK(s.code() == StatusCode::kInvalidArgument);
  CHECK(contains(s, "noise is scaled by the per-example clip bound"));

  for (float v : {-1.0f, NAN, INFINITY}) {
    for (int field = 0; field < 3; ++field) {
      ClipParams b;
      b.example_clip = 1.0f;
      (field == 0 ? b.example_clip : field == 1 ? b.noise_multiplier : b.global_clip) = v;
      s = ex.model.set_clipping(b);
      CHECK(s.code() == StatusCode::kInvalidArgument);
      CHECK(contains(s, "must be finite and >= 0"));
    }
  }
  // Finite factors whose product (the noise deviation) overflows.
  ClipParams huge;
  huge.example_clip = 3e19f;
  huge.noise_multiplier = 3e19f;
  s = ex.model.set_clipping(huge);
  CHECK(s.code() == StatusCode::kInvalidArgument);
  CHECK(contains(s, "overflows float"));
  // The refused calls kept the last accepted parameters.
  CHECK(ex.model.clipping().example_clip == 1.0f);
  CHECK(ex.model.clipping().noise_multiplier == 0.0f);

  ClipParams global;
  global.global_clip = 1.0f;
  s = fused.model.set_clipping(global);
  CHECK(s.code() == StatusCode::kFailedPrecondition);
  CHECK(contains(s, "global norm is unknown"));
  CHECK(p.model.set_clipping(global).ok());
  CHECK(inf.model.set_clipping(global).code() == StatusCode::kFailedPrecondition);
  // Fused with example gradients (norms from the factors) or accumulation:
  // global clipping is available.
  ModelInArena fe(plain.with_fused_update().with_example_gradients()),
      fa(plain.with_fused_update().with_accumulation(8));
  REQUIRE(fe.status.ok());
  REQUIRE(fa.status.ok());
  CHECK(fe.model.set_clipping(global).ok());
  CHECK(fa.model.set_clipping(global).ok());
}
