// SPDX-License-Identifier: Apache-2.0
// The PyTorch conventions tern offers beside its own (docs/pytorch.md):
// weight decay on every parameter (OptimizerParams::weight_decay_scope),
// MSELoss's mean and sum reductions (OptimizerParams::mse_reduction) and
// DP-SGD's division by examples (ClipParams::divisor). Each is checked over
// several steps on every ISA against the PyTorch formula written here in
// double precision: torch.optim.SGD / Adam / AdamW's update rules, MSELoss,
// and Abadi et al.'s clipped mean. The gradients of the reference come from
// tests/support/reference_backward.h (the gradient of the sum of tern's
// per-row losses, half the squared error for MSE), so each PyTorch loss's
// gradient is written here from it by the chain rule.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <vector>

#include "rank1_test_util.h"

using namespace tern;
using namespace tern::test;

namespace {

// Largest |a - b| over all elements, relative to the largest |b|.
double relative_distance(const ReferenceTensors& a, const ReferenceTensors& b) {
  double largest = 0, distance = 0;
  for (std::size_t t = 0; t < b.size(); ++t) {
    for (std::size_t i = 0; i < b[t].size(); ++i) {
      largest = std::max(largest, std::fabs(b[t][i]));
      distance = std::max(distance, std::fabs(a[t][i] - b[t][i]));
    }
  }
  REQUIRE(largest > 0);
  return distance / largest;
}

// tern's parameters as doubles, tensor by tensor.
ReferenceTensors parameters_as_double(const Model& m) {
  ReferenceTensors out;
  for (std::uint32_t t = 0; t < m.tensor_count(); ++t) {
    const Tensor x = m.tensor(t);
    out.emplace_back(x.value.begin(), x.value.end());
  }
  return out;
}

// Whether tensor t of the model is a Dense layer's weight matrix.
bool is_dense_weight(const Model& m, std::uint32_t t) {
  const Tensor x = m.tensor(t);
  return !x.is_bias && m.spec().layers[x.layer].kind == LayerKind::kDense;
}

// torch.optim's update rules in double, on the parameters of `ref`, given
// the step's gradient g. `decayed(t)` says which tensors weight decay
// applies to (every one for PyTorch's param groups of model.parameters()).
struct TorchOptimizer {
  OptimizerKind kind;
  double lr, momentum, beta1, beta2, eps, wd;
  std::vector<bool> decayed;
  ReferenceTensors buf, m, v;
  int step = 0;

  void apply(ReferenceTensors* p, const ReferenceTensors& g) {
    ++step;
    if (buf.empty()) {
      buf = zero_like(*p);
      m = zero_like(*p);
      v = zero_like(*p);
    }
    for (std::size_t t = 0; t < p->size(); ++t) {
      const double w = decayed[t] ? wd : 0.0;
      for (std::size_t i = 0; i < (*p)[t].size(); ++i) {
        double& x = (*p)[t][i];
        if (kind == OptimizerKind::kSgd) {
          // torch.optim.SGD: d_p = g + wd * p; buf = d_p at the first step,
          // then momentum * buf + d_p; p -= lr * buf.
          const double d = g[t][i] + w * x;
          buf[t][i] = step == 1 ? d : momentum * buf[t][i] + d;
          x -= lr * buf[t][i];
          continue;
        }
        // torch.optim.Adam (L2: g + wd * p) and AdamW (p *= 1 - lr * wd
        // before the step).
        double grad = g[t][i];
        if (kind == OptimizerKind::kAdam) grad += w * x;
        if (kind == OptimizerKind::kAdamW) x *= 1.0 - lr * w;
        m[t][i] = beta1 * m[t][i] + (1.0 - beta1) * grad;
        v[t][i] = beta2 * v[t][i] + (1.0 - beta2) * grad * grad;
        const double m_hat = m[t][i] / (1.0 - std::pow(beta1, step));
        const double v_hat = v[t][i] / (1.0 - std::pow(beta2, step));
        x -= lr * m_hat / (std::sqrt(v_hat) + eps);
      }
    }
  }

  static ReferenceTensors zero_like(const ReferenceTensors& p) {
    ReferenceTensors z;
    for (const auto& t : p) z.emplace_back(t.size(), 0.0);
    return z;
  }
};

// Scales every element of g by s.
void scale(ReferenceTensors* g, double s) {
  for (auto& t : *g)
    for (double& v : t) v *= s;
}

OptimizerParams params_of(OptimizerKind kind, WeightDecayScope scope) {
  OptimizerParams p;
  p.weight_decay_scope = scope;
  if (kind == OptimizerKind::kSgd) {
    p.learning_rate = 0.05f;
    p.momentum = 0.9f;
    p.weight_decay = 0.05f;
  } else {
    p.learning_rate = 0.01f;
    p.weight_decay = kind == OptimizerKind::kAdamW ? 0.5f : 0.05f;
  }
  return p;
}

// `steps` train_steps of tern and of the PyTorch reference from the same
// parameters on the same batches; returns the distance of tern's parameters
// from the reference after them, relative to the largest parameter.
double weight_decay_run(const ModelSpec& spec, OptimizerKind kind, WeightDecayScope tern_scope,
                        bool reference_decays_all, int steps) {
  const Data d = make_data(spec, spec.rows * std::size_t(steps), 61);
  PerturbedModel pm(spec, 3, 4);
  Model& m = pm.model;
  const OptimizerParams p = params_of(kind, tern_scope);
  REQUIRE(m.set_optimizer(p).ok());
  ReferenceModel ref(m);
  TorchOptimizer torch{kind, p.learning_rate, p.momentum, p.beta1, p.beta2, p.epsilon,
                       p.weight_decay, {}, {}, {}, {}};
  for (std::uint32_t t = 0; t < m.tensor_count(); ++t) {
    torch.decayed.push_back(reference_decays_all || is_dense_weight(m, t));
  }
  for (int s = 0; s < steps; ++s) {
    const std::size_t first = std::size_t(s) * spec.rows;
    const Status st = m.train_step(batch_of(spec, d, first, spec.rows), nullptr);
    REQUIRE_MESSAGE(st.ok(), st.message());
    Grads g = gradient_of(ref, d, first, spec.rows);
    scale(&g, 1.0 / double(spec.rows));  // the mean loss over the rows
    torch.apply(&ref.params(), g);
  }
  return relative_distance(parameters_as_double(m), ref.params());
}

}  // namespace

TEST_CASE("conventions: weight decay on every parameter is torch.optim's SGD, Adam and AdamW") {
  // A Dense-LayerNorm block (biases, gamma and beta) and a plain MLP, also
  // with a fused update.
  const ModelSpec specs[] = {
      ffn(6, 4, 8, Mode::kTraining, Pointwise::kGelu, LossKind::kMse),
      mlp({5, 7, 3}, 6, Mode::kTraining, Pointwise::kTanh, LossKind::kSoftmaxCrossEntropy),
      // Dense weights updated during the backward pass, the rest after it.
      mlp({5, 7, 3}, 6, Mode::kTraining, Pointwise::kTanh, LossKind::kSoftmaxCrossEntropy)
          .with_fused_update(),
  };
  const OptimizerKind kinds[] = {OptimizerKind::kSgd, OptimizerKind::kAdam,
                                 OptimizerKind::kAdamW};
  // Float against double over 3 steps: well under 1e-4 of the largest
  // parameter. The scopes differ by lr * wd * |bias| per step, over 1e-3
  // with these settings, so the check below tells them apart.
  const double tolerance = 1e-4;
  for (const Isa isa : runnable_isas()) {
    CAPTURE(isa_name(isa));
    IsaScope scope(isa);
    for (ModelSpec spec : specs) {
      for (const OptimizerKind kind : kinds) {
        CAPTURE(int(kind));
        spec.optimizer = kind;
        const double all = weight_decay_run(spec, kind, WeightDecayScope::kAllParameters, true, 3);
        CHECK(all < tolerance);
        const double dense =
            weight_decay_run(spec, kind, WeightDecayScope::kDenseWeights, false, 3);
        CHECK(dense < tolerance);
        // tern's default against PyTorch's formula: the difference the
        // option exists for.
        const double mixed =
            weight_decay_run(spec, kind, WeightDecayScope::kDenseWeights, true, 3);
        CHECK(mixed > 10 * tolerance);
      }
    }
  }
}

TEST_CASE("conventions: without weight decay the scope changes no bit") {
  const ModelSpec spec =
      ffn(6, 4, 8, Mode::kTraining, Pointwise::kGelu, LossKind::kMse, OptimizerKind::kAdamW);
  OptimizerParams p;
  p.weight_decay_scope = WeightDecayScope::kAllParameters;
  std::vector<float> losses;
  const State a = plain_run(spec, OptimizerKind::kAdamW, 3, &losses, &p);
  p.weight_decay_scope = WeightDecayScope::kDenseWeights;
  const State b = plain_run(spec, OptimizerKind::kAdamW, 3, &losses, &p);
  CHECK(a == b);
}

namespace {

// PyTorch's nn.MSELoss over the model's outputs, in double: the sum of
// (p - t)^2 over rows and columns, divided by rows * cols for the mean.
double torch_mse(const ReferenceModel& ref, const Data& d, std::size_t first, std::size_t rows,
                 MseReduction reduction) {
  const ModelSpec& spec = ref.spec();
  const std::size_t cols = spec.output_width();
  const ReferenceTrace trace = ref.forward(d.x.data() + first * spec.input_width, rows);
  const std::vector<double>& y = trace.points[spec.layer_count];
  double sum = 0;
  for (std::size_t i = 0; i < rows * cols; ++i) {
    const double e = y[i] - double(d.targets[first * cols + i]);
    sum += e * e;
  }
  return reduction == MseReduction::kSum ? sum : sum / double(rows * cols);
}

}  // namespace

TEST_CASE("conventions: the MSE mean and sum reductions are nn.MSELoss's, loss and step") {
  const ModelSpec base =
      mlp({5, 7, 3}, 6, Mode::kTraining, Pointwise::kTanh, LossKind::kMse, OptimizerKind::kSgd);
  struct Case {
    const char* name;
    ModelSpec spec;
    MseReduction reduction;
  };
  const Case cases[] = {
      {"mean", base, MseReduction::kMean},
      {"sum", base, MseReduction::kSum},
      {"mean, fused update", base.with_fused_update(), MseReduction::kMean},
      {"mean, example gradients", base.with_example_gradients(2), MseReduction::kMean},
  };
  const int steps = 3;
  for (const Isa isa : runnable_isas()) {
    CAPTURE(isa_name(isa));
    IsaScope scope(isa);
    for (const Case& c : cases) {
      CAPTURE(c.name);
      const ModelSpec& spec = c.spec;
      const std::size_t rows = spec.rows, cols = spec.output_width();
      const Data d = make_data(spec, rows * steps, 71);
      PerturbedModel pm(spec, 5, 6);
      Model& m = pm.model;
      OptimizerParams p;
      p.learning_rate = c.reduction == MseReduction::kSum ? 0.01f : 0.1f;
      p.momentum = 0.0f;
      p.mse_reduction = c.reduction;
      REQUIRE(m.set_optimizer(p).ok());
      ReferenceModel ref(m);
      for (int s = 0; s < steps; ++s) {
        const std::size_t first = std::size_t(s) * rows;
        float loss = 0;
        const Status st = m.train_step(batch_of(spec, d, first, rows), &loss);
        REQUIRE_MESSAGE(st.ok(), st.message());
        // The reported loss is MSELoss's value on the step's rows.
        const double want = torch_mse(ref, d, first, rows, c.reduction);
        CHECK(std::fabs(loss - want) <= 1e-5 * want);
        // d/dp of sum (p - t)^2 is twice that of the reference's half sum.
        Grads g = gradient_of(ref, d, first, rows);
        scale(&g, c.reduction == MseReduction::kSum ? 2.0 : 2.0 / double(rows * cols));
        for (std::size_t t = 0; t < g.size(); ++t)
          for (std::size_t i = 0; i < g[t].size(); ++i) ref.params()[t][i] -= p.learning_rate * g[t][i];
      }
      CHECK(relative_distance(parameters_as_double(m), ref.params()) < 1e-5);
    }
  }
}

TEST_CASE("conventions: the default MSE reduction is the half sum over rows") {
  const ModelSpec spec =
      mlp({5, 7, 3}, 6, Mode::kTraining, Pointwise::kTanh, LossKind::kMse, OptimizerKind::kSgd);
  const Data d = make_data(spec, spec.rows, 72);
  PerturbedModel pm(spec, 5, 6);
  ReferenceModel ref(pm.model);
  float loss = 0;
  REQUIRE(pm.model.train_step(batch_of(spec, d, 0, spec.rows), &loss).ok());
  const double want = 0.5 * torch_mse(ref, d, 0, spec.rows, MseReduction::kSum) / spec.rows;
  CHECK(std::fabs(loss - want) <= 1e-5 * want);
}

TEST_CASE("conventions: set_optimizer refuses what the options cannot mean, changing nothing") {
  const ModelSpec spec =
      mlp({5, 7, 3}, 6, Mode::kTraining, Pointwise::kTanh, LossKind::kMse, OptimizerKind::kSgd);
  ReadyModel plain(spec, 1);
  OptimizerParams p;
  p.learning_rate = 0.25f;
  REQUIRE(plain.model.set_optimizer(p).ok());

  OptimizerParams bad = p;
  bad.learning_rate = 0.5f;
  bad.weight_decay_scope = static_cast<WeightDecayScope>(2);
  Status s = plain.model.set_optimizer(bad);
  CHECK(s.code() == StatusCode::kInvalidArgument);
  CHECK(contains(s, "weight decay scope 2"));
  bad.weight_decay_scope = WeightDecayScope::kDenseWeights;
  bad.mse_reduction = static_cast<MseReduction>(3);
  s = plain.model.set_optimizer(bad);
  CHECK(s.code() == StatusCode::kInvalidArgument);
  CHECK(contains(s, "MSE reduction 3"));
  CHECK(plain.model.learning_rate() == 0.25f);

  // The sum over rows with per-example gradients or accumulation.
  const ModelSpec factored[] = {spec.with_example_gradients(3), spec.with_accumulation(12)};
  for (const ModelSpec& f : factored) {
    ReadyModel m(f, 1);
    REQUIRE(m.model.set_optimizer(p).ok());
    bad = p;
    bad.learning_rate = 0.5f;
    bad.mse_reduction = MseReduction::kSum;
    s = m.model.set_optimizer(bad);
    CHECK(s.code() == StatusCode::kFailedPrecondition);
    CHECK(contains(s, "sum reduction"));
    CHECK(m.model.learning_rate() == 0.25f);
  }
  // Given before build(), which keeps it: the step refuses it instead.
  {
    const ModelSpec f = spec.with_example_gradients(3);
    AlignedBuffer buffer(arena_bytes(f));
    Arena arena;
    REQUIRE(arena.attach(buffer.data(), buffer.size()).ok());
    Model early;
    bad = p;
    bad.mse_reduction = MseReduction::kSum;
    REQUIRE(early.set_optimizer(bad).ok());
    REQUIRE(early.build(f, arena).ok());
    const std::vector<float> before = parameters_of(early);
    const Data d = make_data(f, f.rows, 73);
    s = early.train_step(batch_of(f, d, 0, f.rows), nullptr);
    CHECK(s.code() == StatusCode::kFailedPrecondition);
    CHECK(contains(s, "train_step: the MSE sum reduction"));
    CHECK(bits_equal(parameters_of(early), before));
    CHECK(early.steps() == 0);
  }
  // Softmax cross-entropy ignores the MSE reduction, whatever the path.
  ModelSpec sce = spec.with_example_gradients(3);
  sce.loss = LossKind::kSoftmaxCrossEntropy;
  ReadyModel m(sce, 1);
  bad = p;
  bad.mse_reduction = MseReduction::kSum;
  CHECK(m.model.set_optimizer(bad).ok());
}

namespace {

// DP-SGD's step in double: each example's gradient (of its own loss, the
// sum over its rows) clipped to norm `clip`, summed, divided by `divisor`.
Grads clipped_mean(const ReferenceModel& ref, const Data& d, std::size_t first, std::size_t rows,
                   std::size_t example_rows, double clip, double divisor) {
  Grads sum = zero_gradients(ref);
  for (const Grads& g : example_gradients(ref, d, first, rows, example_rows)) {
    const double n = norm_of(g);
    axpy(n > clip ? clip / n : 1.0, g, &sum);
  }
  scale(&sum, 1.0 / divisor);
  return sum;
}

}  // namespace

TEST_CASE("conventions: DP-SGD divided by examples, as Abadi et al. and Opacus") {
  // 3 examples of 4 rows.
  const std::size_t R = 4;
  const ModelSpec spec = mlp({5, 7, 3}, 12, Mode::kTraining, Pointwise::kTanh,
                             LossKind::kSoftmaxCrossEntropy, OptimizerKind::kSgd)
                             .with_example_gradients(R);
  const std::size_t rows = spec.rows, examples = rows / R;
  const int steps = 3;
  const Data d = make_data(spec, rows * steps, 81);
  for (const Isa isa : runnable_isas()) {
    CAPTURE(isa_name(isa));
    IsaScope scope(isa);
    for (const ExampleGradientDivisor divisor :
         {ExampleGradientDivisor::kExamples, ExampleGradientDivisor::kRows}) {
      CAPTURE(int(divisor));
      PerturbedModel pm(spec, 5, 6);
      Model& m = pm.model;
      OptimizerParams p;
      p.learning_rate = 0.2f;
      p.momentum = 0.0f;
      REQUIRE(m.set_optimizer(p).ok());
      ReferenceModel ref(m);
      // A bound between the example norms, so that some are clipped.
      std::vector<double> norms;
      for (const Grads& g : example_gradients(ref, d, 0, rows, R)) norms.push_back(norm_of(g));
      const double clip = clip_between(norms);
      ClipParams c;
      c.example_clip = float(clip);
      c.global_clip = 1e30f;  // no clipping, but the norm is reported
      c.divisor = divisor;
      REQUIRE(m.set_clipping(c).ok());
      const double by = divisor == ExampleGradientDivisor::kExamples ? double(examples)
                                                                     : double(rows);
      for (int s = 0; s < steps; ++s) {
        const std::size_t first = std::size_t(s) * rows;
        const Status st = m.train_step(batch_of(spec, d, first, rows), nullptr);
        REQUIRE_MESSAGE(st.ok(), st.message());
        const Grads g = clipped_mean(ref, d, first, rows, R, clip, by);
        CHECK(std::fabs(m.gradient_norm() - norm_of(g)) <= 1e-5 * norm_of(g));
        axpy(-double(p.learning_rate), g, &ref.params());
      }
      CHECK(relative_distance(parameters_as_double(m), ref.params()) < 1e-5);
    }
  }
}

TEST_CASE("conventions: dividing by examples scales the noise with the gradient") {
  // One SGD step from the same parameters, with and without noise, under
  // each divisor: the noise's share of the step is R times larger when
  // divided by examples (the same draws, divided by rows / R instead of rows).
  const std::size_t R = 3;
  const ModelSpec spec = mlp({5, 7, 3}, 6, Mode::kTraining, Pointwise::kTanh,
                             LossKind::kSoftmaxCrossEntropy, OptimizerKind::kSgd)
                             .with_example_gradients(R);
  const Data d = make_data(spec, spec.rows, 82);
  auto step = [&](ExampleGradientDivisor divisor, float noise) {
    PerturbedModel pm(spec, 5, 6);
    OptimizerParams p;
    p.learning_rate = 0.1f;
    p.momentum = 0.0f;
    REQUIRE(pm.model.set_optimizer(p).ok());
    ClipParams c;
    c.example_clip = 0.5f;
    c.noise_multiplier = noise;
    c.noise_seed = 1234;
    c.divisor = divisor;
    REQUIRE(pm.model.set_clipping(c).ok());
    REQUIRE(pm.model.train_step(batch_of(spec, d, 0, spec.rows), nullptr).ok());
    return parameters_of(pm.model);
  };
  const std::vector<float> rows_clean = step(ExampleGradientDivisor::kRows, 0.0f);
  const std::vector<float> rows_noisy = step(ExampleGradientDivisor::kRows, 1.0f);
  const std::vector<float> ex_clean = step(ExampleGradientDivisor::kExamples, 0.0f);
  const std::vector<float> ex_noisy = step(ExampleGradientDivisor::kExamples, 1.0f);
  double largest = 0, off = 0;
  for (std::size_t i = 0; i < rows_clean.size(); ++i) {
    const double by_rows = double(rows_noisy[i]) - rows_clean[i];
    const double by_examples = double(ex_noisy[i]) - ex_clean[i];
    largest = std::max(largest, std::fabs(by_examples));
    off = std::max(off, std::fabs(by_examples - double(R) * by_rows));
  }
  REQUIRE(largest > 1e-3);
  CHECK(off <= 1e-4 * largest);
}

TEST_CASE("conventions: set_clipping refuses a divisor it cannot apply, changing nothing") {
  const ModelSpec spec = mlp({5, 7, 3}, 6, Mode::kTraining, Pointwise::kTanh,
                             LossKind::kSoftmaxCrossEntropy, OptimizerKind::kSgd);
  ClipParams c;
  c.divisor = ExampleGradientDivisor::kExamples;
  ReadyModel plain(spec, 1);
  Status s = plain.model.set_clipping(c);
  CHECK(s.code() == StatusCode::kFailedPrecondition);
  CHECK(contains(s, "example_rows is 0"));

  ReadyModel ex(spec.with_example_gradients(3), 1);
  ClipParams good;
  good.global_clip = 1e30f;
  REQUIRE(ex.model.set_clipping(good).ok());
  c.divisor = static_cast<ExampleGradientDivisor>(2);
  s = ex.model.set_clipping(c);
  CHECK(s.code() == StatusCode::kInvalidArgument);
  CHECK(contains(s, "divisor 2"));
  // The earlier settings stand: the global norm is still computed.
  const Data d = make_data(ex.model.spec(), 6, 83);
  REQUIRE(ex.model.train_step(batch_of(ex.model.spec(), d, 0, 6), nullptr).ok());
  CHECK(ex.model.gradient_norm() > 0.0f);
}
