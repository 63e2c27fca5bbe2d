// SPDX-License-Identifier: Apache-2.0
// The open backward pass (model.h): backward() from a caller's dL/dY, the
// input gradient dL/dX and the output gradient dL/dY of spec.input_gradient,
// and what delta(p) holds after a pass. References: the double model of
// tests/support (analytic parameter gradients, finite differences of its
// loss with respect to the input), the loss gradients written from their
// formulas, and compute_gradients() bit for bit.
#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>

#include "tern.h"

#include "alloc_counter.h"
#include "reference_backward.h"
#include "reference_forward.h"
#include "runtime_test_util.h"
#include "tern/runtime/summary.h"

namespace tern::test {
namespace {

constexpr std::uint32_t kRows = 6;

// An MLP (tanh keeps a pre-activation, ReLU is differentiated from its
// output) with softmax cross-entropy.
constexpr ModelSpec kMlp = ModelSpec::input(5, kRows)
                               .dense(7, Pointwise::kTanh)
                               .dense(6, Pointwise::kRelu)
                               .dense(3)
                               .training(LossKind::kSoftmaxCrossEntropy, OptimizerKind::kAdam)
                               .with_input_gradient();
// A pre-LayerNorm feed-forward block whose residual reads the input (point
// 0), so the input gradient gets the skip connection's delta too, with MSE.
constexpr ModelSpec kBlock = ModelSpec::input(4, kRows)
                                 .layer_norm()
                                 .dense(8, Pointwise::kGelu)
                                 .dense(4)
                                 .residual(0)
                                 .training(LossKind::kMse, OptimizerKind::kAdam)
                                 .with_input_gradient();

std::vector<float> copy_of(MatrixView<const float> v) {
  std::vector<float> out;
  for (std::size_t i = 0; i < v.rows; ++i) out.insert(out.end(), v.row(i), v.row(i) + v.cols);
  return out;
}

// dLoss/dx[k] of the reference model's mean loss by central differences. x
// is float, so the step actually taken is the difference of the two float
// inputs, computed exactly.
double numeric_input_gradient(const ReferenceModel& ref, std::vector<float> x, std::size_t k,
                              std::size_t n, const std::uint32_t* labels, const float* targets) {
  const float x0 = x[k];
  const float hi = x0 + 1e-3f, lo = x0 - 1e-3f;
  x[k] = hi;
  const double up = ref.loss(x.data(), n, labels, targets);
  x[k] = lo;
  const double down = ref.loss(x.data(), n, labels, targets);
  return (up - down) / (static_cast<double>(hi) - static_cast<double>(lo));
}

void check_input_gradient_against_reference(const ModelSpec& spec) {
  for (const Isa isa : runnable_isas()) {
    CAPTURE(isa_name(isa));
    IsaScope scope(isa);
    ReadyModel rm(spec, 11);
    perturb(rm.model, 12);
    const SyntheticData d = synthetic_data(spec, kRows, 13, 1);
    float mean = 0.0f;
    REQUIRE(rm.model.compute_gradients(batch_of(spec, d, 0, kRows), &mean).ok());
    const MatrixView<const float> dx = rm.model.input_gradient();
    REQUIRE(dx.rows == kRows);
    REQUIRE(dx.cols == spec.input_width);
    ReferenceModel ref(rm.model);
    CHECK(mean == doctest::Approx(ref.loss(d.x.data(), kRows, d.labels.data(),
                                           d.targets.data())).epsilon(1e-5));
    for (std::size_t i = 0; i < kRows; ++i) {
      for (std::size_t j = 0; j < spec.input_width; ++j) {
        const double want = numeric_input_gradient(ref, d.x, i * spec.input_width + j, kRows,
                                                   d.labels.data(), d.targets.data());
        CHECK(dx(i, j) == doctest::Approx(want).epsilon(2e-3).scale(1e-3));
      }
    }
  }
}

TEST_CASE("input_gradient: an MLP's dL/dX matches finite differences of the double model") {
  check_input_gradient_against_reference(kMlp);
}

TEST_CASE("input_gradient: a LayerNorm block with a residual from the input, MSE") {
  check_input_gradient_against_reference(kBlock);
}

TEST_CASE("output_gradient holds the loss gradient of the mean loss, from its formula") {
  for (const ModelSpec& spec : {kMlp, kBlock}) {
    ReadyModel rm(spec, 21);
    perturb(rm.model, 22);
    const SyntheticData d = synthetic_data(spec, kRows, 23, 1);
    REQUIRE(rm.model.compute_gradients(batch_of(spec, d, 0, kRows), nullptr).ok());
    const MatrixView<const float> y = rm.model.output();
    const MatrixView<const float> g = rm.model.output_gradient();
    REQUIRE(g.rows == kRows);
    const std::size_t m = spec.output_width();
    REQUIRE(g.cols == m);
    for (std::size_t i = 0; i < kRows; ++i) {
      double mx = y(i, 0), s = 0.0;
      for (std::size_t j = 0; j < m; ++j) mx = std::fmax(mx, double{y(i, j)});
      for (std::size_t j = 0; j < m; ++j) s += std::exp(double{y(i, j)} - mx);
      for (std::size_t j = 0; j < m; ++j) {
        double want = 0.0;
        if (spec.loss == LossKind::kSoftmaxCrossEntropy) {
          want = (std::exp(double{y(i, j)} - mx) / s - (d.labels[i] == j ? 1.0 : 0.0)) / kRows;
        } else {
          want = (double{y(i, j)} - double{d.targets[i * m + j]}) / kRows;
        }
        CHECK(g(i, j) == doctest::Approx(want).epsilon(1e-5).scale(1e-6));
      }
    }
  }
}

// backward() given the gradient compute_gradients() produced, after a
// forward() of the same rows, is the same computation: the same bits.
TEST_CASE("backward(output_gradient) after forward() gives compute_gradients()' bits") {
  for (const ModelSpec& spec : {kMlp, kBlock, kMlp.with_input_gradient(false)}) {
    for (const Isa isa : runnable_isas()) {
      CAPTURE(isa_name(isa));
      IsaScope scope(isa);
      ReadyModel a(spec, 31), b(spec, 31);
      perturb(a.model, 32);
      perturb(b.model, 32);
      const SyntheticData d = synthetic_data(spec, kRows, 33, 1);
      REQUIRE(a.model.compute_gradients(batch_of(spec, d, 0, kRows), nullptr).ok());
      // The gradient of the mean loss, written from its formula for the MSE
      // spec; the kept copy for the others (bits of the loss kernel).
      std::vector<float> dl_dy;
      if (spec.input_gradient) {
        dl_dy = copy_of(a.model.output_gradient());
      } else {
        ReadyModel c(kMlp, 31);
        perturb(c.model, 32);
        REQUIRE(c.model.compute_gradients(batch_of(spec, d, 0, kRows), nullptr).ok());
        dl_dy = copy_of(c.model.output_gradient());
      }
      // Strided dL/dY: ldg > width.
      const std::size_t m = spec.output_width(), ldg = m + 3;
      std::vector<float> strided(kRows * ldg, 99.0f);
      for (std::size_t i = 0; i < kRows; ++i) {
        std::memcpy(&strided[i * ldg], &dl_dy[i * m], m * sizeof(float));
      }
      REQUIRE(b.model.forward(d.x.data(), spec.input_width, kRows).ok());
      const Status s = b.model.backward(strided.data(), ldg, kRows);
      REQUIRE_MESSAGE(s.ok(), s.message());
      CHECK(bits_equal(concatenated(a.model, &Tensor::grad), concatenated(b.model, &Tensor::grad)));
      CHECK(bits_equal(copy_of(a.model.input_gradient()), copy_of(b.model.input_gradient())));
      CHECK(bits_equal(copy_of(a.model.output_gradient()), copy_of(b.model.output_gradient())));
      // And the step that follows is the same.
      REQUIRE(a.model.apply_gradients().ok());
      REQUIRE(b.model.apply_gradients().ok());
      CHECK(bits_equal(parameters_of(a.model), parameters_of(b.model)));
    }
  }
}

// A custom loss: the parameter gradients of sum_i g_i . y_i for an arbitrary
// g. With targets t = y - rows * g, half the squared error's mean has
// exactly that gradient, so the double model's analytic gradient of its
// summed loss, divided by rows, is the reference (and its finite
// differences for dL/dX).
TEST_CASE("backward(dl_dy) of a custom loss matches the double model") {
  const ModelSpec specs[] = {kBlock, kMlp.training(LossKind::kMse, OptimizerKind::kAdam)};
  for (const ModelSpec& spec : specs) {
    for (const Isa isa : runnable_isas()) {
      CAPTURE(isa_name(isa));
      IsaScope scope(isa);
      ReadyModel rm(spec, 41);
      perturb(rm.model, 42);
      const SyntheticData d = synthetic_data(spec, kRows, 43, 1);
      REQUIRE(rm.model.forward(d.x.data(), spec.input_width, kRows).ok());
      const std::size_t m = spec.output_width();
      Rng rng(44, 1);
      std::vector<float> g(kRows * m), targets(kRows * m);
      for (float& v : g) v = rng.symmetric(0.5f);
      const MatrixView<const float> y = rm.model.output();
      for (std::size_t i = 0; i < kRows; ++i) {
        for (std::size_t j = 0; j < m; ++j) {
          targets[i * m + j] = static_cast<float>(double{y(i, j)} - kRows * double{g[i * m + j]});
        }
      }
      REQUIRE(rm.model.backward(g.data(), m, kRows).ok());
      ReferenceModel ref(rm.model);
      const ReferenceGradients want =
          reference_gradient(ref, d.x.data(), kRows, nullptr, targets.data());
      for (std::uint32_t t = 0; t < rm.model.tensor_count(); ++t) {
        const Span<float> got = rm.model.tensor(t).grad;
        REQUIRE(got.size == want[t].size());
        for (std::size_t k = 0; k < got.size; ++k) {
          CHECK(got[k] == doctest::Approx(want[t][k] / kRows).epsilon(1e-3).scale(1e-4));
        }
      }
      const MatrixView<const float> dx = rm.model.input_gradient();
      REQUIRE(dx.rows == kRows);
      for (std::size_t i = 0; i < kRows; ++i) {
        for (std::size_t j = 0; j < spec.input_width; ++j) {
          const double fd = numeric_input_gradient(ref, d.x, i * spec.input_width + j, kRows,
                                                   nullptr, targets.data());
          CHECK(dx(i, j) == doctest::Approx(fd).epsilon(2e-3).scale(1e-3));
        }
      }
      CHECK(bits_equal(copy_of(rm.model.output_gradient()), g));
    }
  }
}

TEST_CASE("the input gradient is planned only when asked for") {
  const ModelSpec plain = kMlp.with_input_gradient(false);
  const auto align = [](std::size_t b) { return (b + 63) / 64 * 64; };
  // An MLP's delta slots do not change; dL/dX and dL/dY are added.
  CHECK(arena_bytes(kMlp) - arena_bytes(plain) ==
        align(kRows * kMlp.input_width * 4) + align(kRows * kMlp.output_width() * 4));
  const ModelPlan with = plan_model(kMlp), without = plan_model(plain);
  CHECK(with.deltas[0].present());
  CHECK_FALSE(without.deltas[0].present());
  CHECK(with[ModelBuffer::kOutputGradient].bytes == align(kRows * 3 * 4));
  CHECK_FALSE(without[ModelBuffer::kOutputGradient].present());
  // A residual reading point 0 keeps its delta apart from the one layer 0's
  // backward step writes before adding it.
  const ModelPlan block = plan_model(kBlock);
  CHECK(block.deltas[4].offset != block.deltas[1].offset);

  ReadyModel rm(plain, 51);
  const SyntheticData d = synthetic_data(plain, kRows, 52, 1);
  REQUIRE(rm.model.compute_gradients(batch_of(plain, d, 0, kRows), nullptr).ok());
  CHECK(rm.model.input_gradient().data == nullptr);
  CHECK(rm.model.output_gradient().data == nullptr);
  CHECK(rm.model.delta(0).data == nullptr);

  // Not with the per-example passes; an inference spec ignores it.
  CHECK(check_spec(kMlp.inference()).ok());
  CHECK(arena_bytes(kMlp.inference()) == arena_bytes(plain.inference()));
  const ModelSpec bad[] = {kMlp.with_example_gradients(1), kMlp.with_accumulation(2 * kRows)};
  for (const ModelSpec& s : bad) {
    CHECK(check_spec(s).error == SpecError::kBadInputGradient);
    Arena arena;
    AlignedBuffer buf(1 << 16);
    REQUIRE(arena.attach(buf.data(), buf.size()).ok());
    Model model;
    const Status st = model.build(s, arena);
    CHECK(st.code() == StatusCode::kInvalidArgument);
    CAPTURE(st.message());
    CHECK(contains(st, "model spec: the input gradient excludes example gradients and accumulation"));
  }
  // The summary names the option and its two buffers.
  char text[4096];
  std::size_t needed = 0;
  REQUIRE(summary_text(kMlp, text, sizeof text, &needed).ok());
  CHECK(std::string(text).find(", input gradient") != std::string::npos);
  CHECK(std::string(text).find("output gradient dL/dY") != std::string::npos);
  CHECK(std::string(text).find("delta 0") != std::string::npos);
  // Fused update and the divergence guard compose with it.
  CHECK(check_spec(kMlp.with_fused_update()).ok());
  CHECK(check_spec(kMlp.with_divergence_guard()).ok());
}

// train_step() leaves dL/dX at the parameters before its update: the same
// bits as compute_gradients() on the same state, fused update or not.
TEST_CASE("train_step keeps the input gradient of its backward pass") {
  for (const ModelSpec& spec : {kMlp, kMlp.with_fused_update(), kBlock.with_divergence_guard()}) {
    ReadyModel a(spec, 61), b(spec.with_fused_update(false), 61);
    const SyntheticData d = synthetic_data(spec, kRows, 62, 1);
    REQUIRE(a.model.train_step(batch_of(spec, d, 0, kRows), nullptr).ok());
    REQUIRE(b.model.compute_gradients(batch_of(spec, d, 0, kRows), nullptr).ok());
    CHECK(bits_equal(copy_of(a.model.input_gradient()), copy_of(b.model.input_gradient())));
    CHECK(bits_equal(copy_of(a.model.output_gradient()), copy_of(b.model.output_gradient())));
    CHECK(a.model.input_gradient().rows == kRows);
  }
}

// delta(p) is what it says or empty. Dense (identity), Activation, Dense:
// the deltas of points 3 and 1 share a buffer; point 1 is a Dense output
// without an activation.
TEST_CASE("delta(p) holds dL/d(point p) after the pass, or is empty") {
  constexpr ModelSpec spec = ModelSpec::input(4, kRows)
                                 .dense(5)
                                 .activation(Pointwise::kTanh)
                                 .dense(3, Pointwise::kSigmoid)
                                 .training(LossKind::kMse, OptimizerKind::kAdam)
                                 .with_input_gradient();
  ReadyModel rm(spec, 71);
  perturb(rm.model, 72);
  const SyntheticData d = synthetic_data(spec, kRows, 73, 1);
  CHECK(rm.model.delta(1).data == nullptr);  // no backward pass yet
  CHECK(rm.model.delta(kMaxLayers + 1).data == nullptr);
  REQUIRE(rm.model.compute_gradients(batch_of(spec, d, 0, kRows), nullptr).ok());
  const ModelPlan plan = plan_model(spec);
  REQUIRE(plan.deltas[3].offset == plan.deltas[1].offset);
  CHECK(rm.model.delta(3).data == nullptr);  // sigmoid output, and shared
  CHECK(rm.model.delta(2).data != nullptr);
  CHECK(rm.model.delta(0).data == rm.model.input_gradient().data);
  // Point 1 is layer 0's (identity) pre-activation: the double model's dz.
  ReferenceModel ref(rm.model);
  std::vector<std::vector<double>> dz;
  reference_gradient(ref, d.x.data(), kRows, nullptr, d.targets.data(), nullptr, &dz);
  const MatrixView<const float> d1 = rm.model.delta(1);
  REQUIRE(d1.rows == kRows);
  REQUIRE(d1.cols == 5);
  for (std::size_t i = 0; i < kRows; ++i) {
    for (std::size_t j = 0; j < 5; ++j) {
      CHECK(d1(i, j) == doctest::Approx(dz[0][i * 5 + j] / kRows).epsilon(1e-4).scale(1e-5));
    }
  }
  // The output delta of a Dense layer without activation is dL/dY itself
  // when nothing shares its buffer (a two-layer MLP: deltas 2 and 1).
  constexpr ModelSpec two = ModelSpec::input(4, kRows)
                                .dense(5, Pointwise::kRelu)
                                .dense(3)
                                .training(LossKind::kMse, OptimizerKind::kAdam)
                                .with_input_gradient();
  ReadyModel t(two, 74);
  REQUIRE(t.model.compute_gradients(batch_of(two, d, 0, kRows), nullptr).ok());
  CHECK(bits_equal(copy_of(t.model.delta(2)), copy_of(t.model.output_gradient())));
  CHECK(t.model.delta(1).data == nullptr);  // ReLU: pre-activation gradient in place
  // A loss that is not followed by a pass empties the views.
  for (float& w : t.model.tensor(0).value) w = 3e38f;
  CHECK(t.model.compute_gradients(batch_of(two, d, 0, kRows), nullptr).code() ==
        StatusCode::kNonFinite);
  CHECK(t.model.delta(2).data == nullptr);
  CHECK(t.model.input_gradient().data == nullptr);
  CHECK(t.model.output_gradient().data == nullptr);
}

TEST_CASE("backward: every error names its cause and changes nothing") {
  const SyntheticData d = synthetic_data(kMlp, kRows, 81, 1);
  std::vector<float> g(kRows * 3, 0.25f);
  ReadyModel rm(kMlp, 82);
  // A first pass, so "nothing changes" is checked against real gradients.
  REQUIRE(rm.model.compute_gradients(batch_of(kMlp, d, 0, kRows), nullptr).ok());
  const std::vector<float> grads = concatenated(rm.model, &Tensor::grad);
  const std::vector<float> dx = copy_of(rm.model.input_gradient());
  const auto unchanged = [&] {
    CHECK(bits_equal(concatenated(rm.model, &Tensor::grad), grads));
    CHECK(bits_equal(copy_of(rm.model.input_gradient()), dx));
  };

  // After compute_gradients(): its forward pass is not a forward().
  Status s = rm.model.backward(g.data(), 3, kRows);
  CHECK(s.code() == StatusCode::kFailedPrecondition);
  CHECK(contains(s, "backward: no forward() to differentiate"));
  unchanged();

  REQUIRE(rm.model.forward(d.x.data(), kMlp.input_width, kRows).ok());
  s = rm.model.backward(g.data(), 3, kRows - 1);
  CHECK(s.code() == StatusCode::kInvalidArgument);
  CHECK(contains(s, "5 rows of dL/dY, but the last forward() ran 6 rows"));
  s = rm.model.backward(nullptr, 3, kRows);
  CHECK(s.code() == StatusCode::kInvalidArgument);
  CHECK(contains(s, "dl_dy is null"));
  s = rm.model.backward(g.data(), 2, kRows);
  CHECK(s.code() == StatusCode::kInvalidArgument);
  CHECK(contains(s, "dl_dy row stride 2 is smaller than the output width 3"));
  s = rm.model.backward(reinterpret_cast<const float*>(reinterpret_cast<const char*>(g.data()) + 1),
                        3, kRows);
  CHECK(s.code() == StatusCode::kMisaligned);
  s = rm.model.backward(g.data(), SIZE_MAX / 2, kRows);
  CHECK(s.code() == StatusCode::kInvalidArgument);
  CHECK(contains(s, "does not fit in the address space"));
  std::vector<float> bad = g;
  bad[4 * 3 + 2] = std::nanf("");
  s = rm.model.backward(bad.data(), 3, kRows);
  CHECK(s.code() == StatusCode::kNonFinite);
  CHECK(contains(s, "dl_dy row 4 column 2 is not finite"));
  bad[4 * 3 + 2] = INFINITY;
  CHECK(rm.model.backward(bad.data(), 3, kRows).code() == StatusCode::kNonFinite);
  unchanged();

  // The forward() is still there after the refusals: one backward works,
  // the second needs a new forward().
  REQUIRE(rm.model.backward(g.data(), 3, kRows).ok());
  s = rm.model.backward(g.data(), 3, kRows);
  CHECK(s.code() == StatusCode::kFailedPrecondition);
  // Anything that runs the layers or changes the parameters in between.
  const auto after = [&](auto&& between) {
    REQUIRE(rm.model.forward(d.x.data(), kMlp.input_width, kRows).ok());
    between();
    CHECK(rm.model.backward(g.data(), 3, kRows).code() == StatusCode::kFailedPrecondition);
  };
  after([&] { CHECK(rm.model.apply_gradients().ok()); });
  after([&] { CHECK(rm.model.train_step(batch_of(kMlp, d, 0, kRows), nullptr).ok()); });
  after([&] { rm.model.initialize(3); });
  after([&] {
    std::vector<float> y(3);
    CHECK(rm.model.infer(d.x.data(), kMlp.input_width, 1, y.data(), 3).ok());
  });
  after([&] {
    const float a[7] = {}, b[6] = {};
    CHECK(rm.model.rank1_edit(1, 1, a, 7, b, 6, 0.0f).ok());
  });

  // Models that cannot run it.
  const ModelSpec refused[] = {kMlp.with_fused_update(), kMlp.with_input_gradient(false).with_example_gradients(1),
                               kMlp.with_input_gradient(false).with_accumulation(kRows)};
  const char* names[] = {"fused_update", "example_rows", "accumulation_rows"};
  for (int i = 0; i < 3; ++i) {
    ReadyModel r(refused[i], 83);
    REQUIRE(r.model.forward(d.x.data(), kMlp.input_width, kRows).ok());
    s = r.model.backward(g.data(), 3, kRows);
    CHECK(s.code() == StatusCode::kFailedPrecondition);
    CHECK(contains(s, names[i]));
  }
  ReadyModel inference(kMlp.with_input_gradient(false).inference(), 84);
  REQUIRE(inference.model.forward(d.x.data(), kMlp.input_width, kRows).ok());
  s = inference.model.backward(g.data(), 3, kRows);
  CHECK(s.code() == StatusCode::kFailedPrecondition);
  CHECK(contains(s, "built for inference"));
  CHECK(inference.model.input_gradient().data == nullptr);
  Model unbuilt;
  CHECK(unbuilt.backward(g.data(), 3, kRows).code() == StatusCode::kFailedPrecondition);
  CHECK(unbuilt.input_gradient().data == nullptr);
  CHECK(unbuilt.output_gradient().data == nullptr);
}

// The same model through tern.h and through tern::Model: the same bits for
// forward, backward(dl_dy), the input and output gradients and the step,
// under every ISA; neither path touches the heap.
TEST_CASE("tern.h's backward pass is the C++ one, bit for bit, without heap") {
  const tern_layer layers[] = {
      {TERN_LAYER_LAYER_NORM, TERN_ACT_IDENTITY, 0, 0, TERN_INIT_AUTO},
      {TERN_LAYER_DENSE, TERN_ACT_GELU, 8, 0, TERN_INIT_AUTO},
      {TERN_LAYER_DENSE, TERN_ACT_IDENTITY, 4, 0, TERN_INIT_AUTO},
      {TERN_LAYER_RESIDUAL, TERN_ACT_IDENTITY, 0, 0, TERN_INIT_AUTO},
  };
  tern_spec c_spec = {4, kRows, TERN_MODE_TRAINING, TERN_LOSS_MSE, TERN_OPTIMIZER_ADAM,
                      layers, 4, 0, 0, 0, 0, 1};
  const SyntheticData d = synthetic_data(kBlock, kRows, 91, 1);
  Rng rng(92, 1);
  std::vector<float> g(kRows * 4);
  for (float& v : g) v = rng.symmetric(1.0f);
  for (const Isa isa : runnable_isas()) {
    CAPTURE(isa_name(isa));
    IsaScope scope(isa);
    ReadyModel cpp(kBlock, kDefaultInitSeed);
    AlignedBuffer arena(tern_arena_bytes(&c_spec));
    tern_model* c = nullptr;
    tern_error err;
    REQUIRE(tern_model_create(&c_spec, arena.data(), arena.size(), &c, &err) == TERN_OK);
    std::vector<float> yc(kRows * 4), dxc(kRows * 4), dyc(kRows * 4);
    {
      HeapAllocationScope heap;
      REQUIRE(tern_model_forward(c, d.x.data(), 4, kRows, yc.data(), 4, &err) == TERN_OK);
      REQUIRE(tern_model_backward(c, g.data(), 4, kRows, &err) == TERN_OK);
      REQUIRE(tern_model_input_gradient(c, dxc.data(), 4, nullptr, &err) == TERN_OK);
      REQUIRE(tern_model_output_gradient(c, dyc.data(), 4, nullptr, &err) == TERN_OK);
      REQUIRE(tern_model_apply_gradients(c, &err) == TERN_OK);
      CHECK(heap.count() == 0);
    }
    std::vector<float> ycpp;
    {
      HeapAllocationScope heap;
      REQUIRE(cpp.model.forward(d.x.data(), 4, kRows).ok());
      CHECK(heap.count() == 0);
      ycpp = copy_of(cpp.model.output());
    }
    {
      HeapAllocationScope heap;
      REQUIRE(cpp.model.backward(g.data(), 4, kRows).ok());
      CHECK(heap.count() == 0);
    }
    CHECK(bits_equal(copy_of(cpp.model.input_gradient()), dxc));
    CHECK(bits_equal(copy_of(cpp.model.output_gradient()), dyc));
    REQUIRE(cpp.model.apply_gradients().ok());
    CHECK(bits_equal(ycpp, yc));
    REQUIRE(tern_model_forward(c, d.x.data(), 4, kRows, yc.data(), 4, &err) == TERN_OK);
    REQUIRE(cpp.model.forward(d.x.data(), 4, kRows).ok());
    CHECK(bits_equal(copy_of(cpp.model.output()), yc));
  }
}

}  // namespace
}  // namespace tern::test
