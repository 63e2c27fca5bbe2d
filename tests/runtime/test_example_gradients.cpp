// SPDX-License-Identifier: Apache-2.0
// Per-example gradients (spec.h: example_rows; model.h: example_norms and
// the noise of ClipParams), the first half of example_gradients.cpp's work
// (clipping is test_clipping.cpp's):
//  * the reference itself: the double backward pass of
//    tests/support/reference_backward.h against finite differences of
//    reference_forward.h, since every other check here trusts it;
//  * per-example norms against the norms of per-example gradients that the
//    reference MATERIALISES and tern never forms;
//  * the noise, statistically and element by element against
//    add_gaussian_noise_f32's generator with the key stated in model.h, and
//    its determinism, fused and unfused.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "rank1_test_util.h"
#include "reference_noise.h"
#include "test_util.h"

using namespace tern;
using namespace tern::test;

// ---------------------------------------------------------------------------
// The reference itself
// ---------------------------------------------------------------------------

TEST_CASE("rank-1 reference: the double backward pass matches finite differences") {
  const ModelSpec specs[] = {
      ModelSpec::input(5, 3)
          .dense(6, Pointwise::kGelu)
          .activation(Pointwise::kSigmoid)
          .dense(4, Pointwise::kTanh)
          .dense(3)
          .training(LossKind::kSoftmaxCrossEntropy, OptimizerKind::kAdam),
      ffn(3, 5, 7, Mode::kTraining, Pointwise::kGelu, LossKind::kMse),
  };
  for (const ModelSpec& spec : specs) {
    PerturbedModel m(spec, 4, 4);
    const Data d = make_data(spec, 3, 9);
    const ReferenceModel ref(m.model);
    const Grads g = gradient_of(ref, d, 0, 3);
    ReferenceModel fd(m.model);
    double largest = 0, worst = 0;
    for (std::size_t t = 0; t < g.size(); ++t) {
      for (std::size_t i = 0; i < g[t].size(); ++i) {
        // ReferenceModel::loss is the mean over the rows; the gradient the sum's.
        const double num =
            3.0 * fd.numeric_gradient(t, i, d.x.data(), 3, d.labels.data(), d.targets.data());
        largest = std::max(largest, std::fabs(num));
        worst = std::max(worst, std::fabs(num - g[t][i]));
      }
    }
    CHECK(largest > 1e-2);
    CHECK(worst <= 1e-6 * (1 + largest));
  }
}

// ---------------------------------------------------------------------------
// Per-example norms
// ---------------------------------------------------------------------------

namespace {

// Runs one compute_gradients() (or train_step()) on `rows` rows of a spec
// with example gradients and compares example_norms() with the norms of the
// materialised per-example gradients.
void check_example_norms(const ModelSpec& spec, std::size_t rows, std::uint64_t seed,
                         bool through_train_step = false) {
  CAPTURE(seed);
  CAPTURE(rows);
  const Data d = make_data(spec, rows, seed);
  PerturbedModel m(spec, seed, seed + 1);
  const ReferenceModel ref(m.model);
  const Batch b = batch_of(spec, d, 0, rows);
  const Status s = through_train_step ? m.model.train_step(b, nullptr)
                                      : m.model.compute_gradients(b, nullptr);
  REQUIRE_MESSAGE(s.ok(), s.message());
  const std::size_t R = spec.example_rows;
  const std::vector<Grads> g = example_gradients(ref, d, 0, rows, R);
  const MatrixView<const float> norms = m.model.example_norms();
  const std::uint32_t L = spec.layer_count;
  REQUIRE(norms.rows == rows / R);
  REQUIRE(norms.cols == L + 1);
  double worst = 0;
  for (std::size_t e = 0; e < norms.rows; ++e) {
    const std::vector<double> want = layer_norms(ref, g[e]);
    REQUIRE(want[L] > 1e-3);
    for (std::uint32_t l = 0; l <= L; ++l) {
      const double got = norms(e, l);
      if (!has_parameters(l < L ? spec.layers[l].kind : LayerKind::kDense)) {
        CHECK(got == 0.0);
        continue;
      }
      const double err = std::fabs(got - want[l]) / (want[l] + 1e-3 * want[L]);
      worst = std::max(worst, err);
      if (err > 1e-4) {
        MESSAGE("example " << e << " layer " << l << ": tern " << got << ", reference "
                           << want[l]);
      }
    }
  }
  CHECK(worst <= 1e-4);
}

}  // namespace

TEST_CASE("example norms: MLP 13-11-7-5, one example per row, against materialised gradients") {
  std::uint64_t seed = 100;
  for (Pointwise f : {Pointwise::kRelu, Pointwise::kGelu, Pointwise::kTanh}) {
    for (LossKind loss : {LossKind::kSoftmaxCrossEntropy, LossKind::kMse}) {
      CAPTURE(pointwise_name(f));
      CAPTURE(int(loss));
      // 1 row, 7 and 17 rows (17 >= kPackMinRows: packed kernel panels).
      for (std::uint32_t rows : {1u, 7u, 17u}) {
        const ModelSpec spec = mlp({13, 11, 7, 5}, rows, Mode::kTraining, f, loss,
                                   OptimizerKind::kAdam)
                                   .with_example_gradients(1);
        check_example_norms(spec, rows, ++seed);
      }
    }
  }
  // Mixed activations, a standalone activation layer (no parameters: norm 0).
  const ModelSpec mixed = ModelSpec::input(13, 13)
                              .dense(11, Pointwise::kRelu)
                              .dense(7, Pointwise::kGelu)
                              .activation(Pointwise::kSigmoid)
                              .dense(5, Pointwise::kTanh)
                              .dense(3)
                              .training(LossKind::kSoftmaxCrossEntropy, OptimizerKind::kSgd)
                              .with_example_gradients();
  check_example_norms(mixed, 13, 200);
  // A partial batch: fewer rows than the spec's.
  check_example_norms(mixed, 5, 201);
  // train_step computes the same norms (before its update), fused too.
  check_example_norms(mixed, 11, 202, true);
  check_example_norms(mixed.with_fused_update(), 11, 202, true);
}

TEST_CASE("example norms: feed-forward blocks, several rows per example, LayerNorm parameters") {
  // ffn(n, d, d_ff): Dense, Dense, residual, LayerNorm; examples of
  // example_rows positions each.
  check_example_norms(ffn(15, 8, 12, Mode::kTraining).with_example_gradients(5), 15, 300);
  check_example_norms(ffn(21, 7, 13, Mode::kTraining, Pointwise::kTanh).with_example_gradients(3),
                      21, 301);
  check_example_norms(ffn(21, 7, 13, Mode::kTraining, Pointwise::kRelu).with_example_gradients(7),
                      14, 302);
  check_example_norms(ffn(5, 6, 10, Mode::kTraining).with_example_gradients(1), 5, 303);
  // Examples longer than a Gram block (kGramBlock = 16 rows): 19 and 37 rows.
  static_assert(kGramBlock < 19, "");
  check_example_norms(ffn(38, 6, 10, Mode::kTraining).with_example_gradients(19), 38, 304);
  check_example_norms(ffn(37, 5, 9, Mode::kTraining, Pointwise::kGelu, LossKind::kMse,
                          OptimizerKind::kSgd)
                          .with_example_gradients(37),
                      37, 305);
  // Two stacked blocks and a classifier head.
  const ModelSpec stacked = ffn_block(ffn_block(ModelSpec::input(6, 12), 10), 12)
                                .dense(3)
                                .training(LossKind::kSoftmaxCrossEntropy, OptimizerKind::kAdamW)
                                .with_example_gradients(4);
  check_example_norms(stacked, 12, 306);
  check_example_norms(stacked.with_fused_update(), 8, 307, true);
}

// ---------------------------------------------------------------------------
// Noise
// ---------------------------------------------------------------------------

TEST_CASE("noise: each parameter gets the kernel's deviate of its tensor's key and offset") {
  // Noisy minus noiseless gradient, element by element: exactly the fma of
  // add_gaussian_noise_f32 with key (seed, step, tensor) and the element's
  // offset in its tensor as the index, on every ISA. (The fused update,
  // which adds the noise in blocks of rows at offsets p0 * m, is checked
  // against the unfused one bit for bit below.)
  const ModelSpec spec = mlp({13, 37, 7, 5}, 7, Mode::kTraining, Pointwise::kGelu)
                             .with_example_gradients();
  for (Isa isa : tern::test::runnable_isas()) {
    CAPTURE(std::string(isa_name(isa)));
    const IsaScope scope(isa);
    const Data d = make_data(spec, spec.rows, 31);
    PerturbedModel m(spec, 3, 3);
    const float C = 0.5f, sigma = 1.5f;
    const Batch b = batch_of(spec, d, 0, spec.rows);
    set_clip(m.model, C, 0, 0, 0);
    REQUIRE(m.model.compute_gradients(b, nullptr).ok());
    const std::vector<float> clean = all_grads(m.model);
    const std::uint64_t seed = 0xfeedface12345678ull;
    set_clip(m.model, C, sigma, seed, 0);
    m.model.set_steps(41);  // compute_gradients forms the gradient of step 42
    REQUIRE(m.model.compute_gradients(b, nullptr).ok());
    const std::vector<float> noisy = all_grads(m.model);
    const float stddev = sigma * C * (1.0f / static_cast<float>(spec.rows));
    const float scale = stddev * static_cast<float>(std::sqrt(2.0));
    std::size_t at = 0, bad = 0;
    for (std::uint32_t t = 0; t < m.model.tensor_count(); ++t) {
      const std::size_t size = m.model.tensor(t).value.size;
      const std::uint64_t key = reference_noise_key(seed, 42, t);
      for (std::size_t i = 0; i < size; ++i) {
        const float want = std::fma(scale, erfinv_f32(noise_uniform_f32(key, i)), clean[at + i]);
        bad += std::memcmp(&want, &noisy[at + i], sizeof want) != 0;
      }
      at += size;
    }
    CHECK(at == noisy.size());
    CHECK(bad == 0);
  }
}

TEST_CASE("noise: added per parameter with standard deviation sigma * C / rows") {
  // Noisy minus noiseless gradient of the same batch and state: the noise.
  // The clipped sum is divided by the rows of the step (as the plain mean
  // loss is), so with several rows per example the noise is sigma * C over
  // the rows, not over the examples.
  const ModelSpec specs[] = {
      ModelSpec::input(20, 8)
          .dense(64, Pointwise::kGelu)
          .dense(32, Pointwise::kTanh)
          .layer_norm()
          .dense(4)
          .training(LossKind::kSoftmaxCrossEntropy, OptimizerKind::kAdam)
          .with_example_gradients(),
      ffn(16, 24, 48, Mode::kTraining).with_example_gradients(4),
  };
  for (const ModelSpec& spec : specs) {
    CAPTURE(spec.example_rows);
    const Data d = make_data(spec, spec.rows, 17);
    PerturbedModel m(spec, 2, 2);
    const float C = 0.5f, sigma = 1.5f;
    const double stddev = double(sigma) * C / double(spec.rows);
    const Batch b = batch_of(spec, d, 0, spec.rows);
    set_clip(m.model, C, 0, 0, 0);
    REQUIRE(m.model.compute_gradients(b, nullptr).ok());
    const std::vector<float> clean = all_grads(m.model);
    set_clip(m.model, C, sigma, 99, 0);
    REQUIRE(m.model.compute_gradients(b, nullptr).ok());
    const std::vector<float> noisy = all_grads(m.model);
    REQUIRE(noisy.size() == clean.size());
    REQUIRE(noisy.size() == m.model.parameter_count());

    double sum = 0, sq = 0;
    std::size_t within = 0;
    std::vector<double> noise(noisy.size());
    for (std::size_t i = 0; i < noisy.size(); ++i) {
      noise[i] = double(noisy[i]) - double(clean[i]);
      sum += noise[i];
      sq += noise[i] * noise[i];
      within += std::fabs(noise[i]) < stddev;
    }
    const double n = double(noise.size());
    const double mean = sum / n, sd = std::sqrt(sq / n - mean * mean);
    CHECK(std::fabs(mean) < 6.0 * stddev / std::sqrt(n));
    CHECK(std::fabs(sd / stddev - 1.0) < 6.0 * std::sqrt(0.5 / n) + 1e-3);
    CHECK(std::fabs(within / n - 0.682689) < 6.0 * std::sqrt(0.2167 / n));
    // Every tensor gets noise (weights, biases, LayerNorm's gamma and beta),
    // each from its own stream.
    std::size_t at = 0;
    std::vector<std::vector<double>> per_tensor;
    for (std::uint32_t t = 0; t < m.model.tensor_count(); ++t) {
      const std::size_t size = m.model.tensor(t).value.size;
      std::size_t nonzero = 0;
      for (std::size_t i = 0; i < size; ++i) nonzero += noise[at + i] != 0.0;
      CHECK(nonzero == size);
      per_tensor.emplace_back(noise.begin() + long(at), noise.begin() + long(at + 4));
      at += size;
    }
    for (std::size_t t = 1; t < per_tensor.size(); ++t) CHECK(per_tensor[t] != per_tensor[0]);

    // Another step number gives other noise; the same step the same.
    m.model.set_steps(5);
    REQUIRE(m.model.compute_gradients(b, nullptr).ok());
    const std::vector<float> later = all_grads(m.model);
    CHECK_FALSE(bits_equal(later, noisy));
    m.model.set_steps(0);
    REQUIRE(m.model.compute_gradients(b, nullptr).ok());
    CHECK(bits_equal(all_grads(m.model), noisy));
  }
}

TEST_CASE("noise: deterministic, and the same bits fused and unfused") {
  const ModelSpec specs[] = {
      mlp({13, 37, 7, 5}, 7, Mode::kTraining, Pointwise::kGelu).with_example_gradients(),
      ffn(12, 20, 36, Mode::kTraining).with_example_gradients(4),
  };
  for (const ModelSpec& spec : specs) {
    for (OptimizerKind opt : {OptimizerKind::kSgd, OptimizerKind::kAdam, OptimizerKind::kAdamW}) {
      CAPTURE(int(opt));
      const State a = noisy_run(spec, opt, 1, 3);
      CHECK(noisy_run(spec, opt, 1, 3) == a);
      CHECK_FALSE(noisy_run(spec, opt, 2, 3) == a);
      CHECK(noisy_run(spec.with_fused_update(), opt, 1, 3) == a);
      // A divergence guard that never triggers changes nothing.
      CHECK(noisy_run(spec.with_fused_update().with_divergence_guard(), opt, 1, 3) == a);
      // With global clipping too.
      const State g = noisy_run(spec, opt, 1, 3, 0.05f);
      CHECK_FALSE(g == a);
      CHECK(noisy_run(spec.with_fused_update(), opt, 1, 3, 0.05f) == g);
    }
  }
  // compute_gradients() + apply_gradients() draws the noise of the step
  // train_step() would take.
  const ModelSpec spec = specs[1];
  const Data d = make_data(spec, spec.rows, 23);
  ModelInArena a(spec), b(spec);
  for (Model* m : {&a.model, &b.model}) {
    m->initialize(7);
    perturb(*m, 7);
    set_optimizer(*m, OptimizerKind::kAdam);
    set_clip(*m, 0.3f, 1.1f, 1, 0);
  }
  for (int s = 0; s < 2; ++s) {
    REQUIRE(a.model.train_step(batch_of(spec, d, 0, spec.rows), nullptr).ok());
    REQUIRE(b.model.compute_gradients(batch_of(spec, d, 0, spec.rows), nullptr).ok());
    REQUIRE(b.model.apply_gradients().ok());
  }
  CHECK(State(a.model) == State(b.model));
}
