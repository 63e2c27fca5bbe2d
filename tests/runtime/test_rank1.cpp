// The training variants built on the rank-1 structure of dense gradients
// (spec.h: fused_update, example_rows, accumulation_rows; model.h: clipping,
// noise, accumulate/flush, rank1_edit, edit_factors), each against an
// independent reference:
//  * per-example gradients are MATERIALISED by a double-precision backward
//    pass written here from the definitions (itself checked against finite
//    differences of reference_model.h), and their norms, clipped sums and
//    global norms compared with tern's, which never forms them;
//  * the fused update, accumulation and example gradients without clipping
//    must give the bits of the plain step they replace;
//  * the noise is checked statistically, and element by element against
//    add_gaussian_noise_f32's generator with the key stated in model.h;
//  * every variant gives the same bits on every ISA and allocates nothing.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "alloc_counter.h"
#include "reference_model.h"
#include "runtime_test_util.h"
#include "tern/runtime/rng.h"
#include "test_util.h"

using namespace tern;
using tern::test::bits_equal;
using tern::test::contains;
using tern::test::ModelInArena;
using State = tern::test::TrainingState;

namespace {

using tern::test::IsaScope;
using Data = tern::test::SyntheticData;

// Inputs in [-1, 1), labels uniform over the classes, targets in [-1, 1).
Data make_data(const ModelSpec& spec, std::size_t count, std::uint64_t seed) {
  return tern::test::synthetic_data(spec, count, seed, 11);
}

// Rows first .. first + rows - 1 of the data.
Batch batch_of(const ModelSpec& spec, const Data& d, std::size_t first, std::size_t rows) {
  Batch b;
  b.x = d.x.data() + first * spec.input_width;
  b.ldx = spec.input_width;
  b.rows = rows;
  b.labels = d.labels.data() + first;
  b.targets = d.targets.data() + first * spec.output_width();
  b.ldt = spec.output_width();
  return b;
}

// Moves every parameter off its initial value (LayerNorm's gamma off 1, the
// biases off 0), reproducibly.
void perturb(Model& m, std::uint64_t seed) {
  Rng rng(seed, 3);
  for (std::uint32_t t = 0; t < m.tensor_count(); ++t) {
    for (float& v : m.tensor(t).value) v += rng.symmetric(0.3f);
  }
}

void set_optimizer(Model& m, OptimizerKind kind) {
  OptimizerParams p;
  if (kind == OptimizerKind::kSgd) {
    p.learning_rate = 0.05f;
    p.momentum = 0.9f;
    p.weight_decay = 1e-3f;
  } else {
    p.learning_rate = 3e-3f;
    p.weight_decay = kind == OptimizerKind::kAdamW ? 0.02f : 1e-3f;
  }
  REQUIRE(m.set_optimizer(p).ok());
}

void set_clip(Model& m, float example_clip, float noise, std::uint64_t seed, float global_clip) {
  ClipParams c;
  c.example_clip = example_clip;
  c.noise_multiplier = noise;
  c.noise_seed = seed;
  c.global_clip = global_clip;
  const Status s = m.set_clipping(c);
  REQUIRE_MESSAGE(s.ok(), s.message());
}

// ---------------------------------------------------------------------------
// The double-precision reference: forward and backward written from the
// definitions of the layers and losses, sharing no code with tern.
// ---------------------------------------------------------------------------

using Grads = std::vector<std::vector<double>>;  // one vector per parameter tensor

double act(Pointwise f, double x) { return tern::test::ReferenceModel::act(f, x); }

double act_derivative(Pointwise f, double x) {
  switch (f) {
    case Pointwise::kIdentity: return 1.0;
    case Pointwise::kRelu: return x > 0 ? 1.0 : 0.0;
    case Pointwise::kGelu: {
      const double c = std::sqrt(2.0 / 3.14159265358979323846);
      const double t = std::tanh(c * (x + 0.044715 * x * x * x));
      return 0.5 * (1.0 + t) + 0.5 * x * (1.0 - t * t) * c * (1.0 + 3.0 * 0.044715 * x * x);
    }
    case Pointwise::kTanh: {
      const double t = std::tanh(x);
      return 1.0 - t * t;
    }
    case Pointwise::kSigmoid: {
      const double s = 1.0 / (1.0 + std::exp(-x));
      return s * (1.0 - s);
    }
  }
  return 1.0;
}

class RefNet {
 public:
  explicit RefNet(const Model& m) : spec_(m.spec()) {
    for (std::uint32_t t = 0; t < m.tensor_count(); ++t) {
      const Tensor x = m.tensor(t);
      params_.emplace_back(x.value.begin(), x.value.end());
      layer_of_.push_back(x.layer);
    }
  }
  std::uint32_t layer_of(std::size_t tensor) const { return layer_of_[tensor]; }
  std::size_t tensors() const { return params_.size(); }
  Grads zero() const {
    Grads g;
    for (const auto& p : params_) g.emplace_back(p.size(), 0.0);
    return g;
  }

  // The gradient of the SUM of the per-row losses of rows first ..
  // first + n - 1. Optionally the input rows (points) and dL/dz of every
  // Dense layer's pre-activation.
  Grads gradient(const Data& d, std::size_t first, std::size_t n,
                 std::vector<std::vector<double>>* points_out = nullptr,
                 std::vector<std::vector<double>>* dz_out = nullptr) const {
    const std::uint32_t L = spec_.layer_count;
    std::vector<std::vector<double>> pt(L + 1), pre(L), dpt(L + 1), dzs(L);
    std::vector<std::vector<double>> mean(L), rstd(L);
    std::vector<std::size_t> tensor(L, 0);
    const std::size_t in0 = spec_.input_width;
    pt[0].assign(d.x.begin() + long(first * in0), d.x.begin() + long((first + n) * in0));
    std::size_t t = 0;
    for (std::uint32_t l = 0; l < L; ++l) {
      const LayerSpec& ls = spec_.layers[l];
      const std::vector<double>& x = pt[l];
      std::vector<double>& y = pt[l + 1];
      const std::size_t k = ls.in, m = ls.out;
      y.assign(n * m, 0.0);
      tensor[l] = t;
      switch (ls.kind) {
        case LayerKind::kDense: {
          const auto& W = params_[t];
          const auto& b = params_[t + 1];
          t += 2;
          pre[l].assign(n * m, 0.0);
          for (std::size_t i = 0; i < n; ++i)
            for (std::size_t j = 0; j < m; ++j) {
              double z = b[j];
              for (std::size_t p = 0; p < k; ++p) z += x[i * k + p] * W[p * m + j];
              pre[l][i * m + j] = z;
              y[i * m + j] = act(ls.act, z);
            }
          break;
        }
        case LayerKind::kActivation:
          for (std::size_t e = 0; e < n * m; ++e) y[e] = act(ls.act, x[e]);
          break;
        case LayerKind::kLayerNorm: {
          const auto& g = params_[t];
          const auto& b = params_[t + 1];
          t += 2;
          mean[l].assign(n, 0.0);
          rstd[l].assign(n, 0.0);
          for (std::size_t i = 0; i < n; ++i) {
            double mu = 0, var = 0;
            for (std::size_t j = 0; j < m; ++j) mu += x[i * m + j];
            mu /= double(m);
            for (std::size_t j = 0; j < m; ++j) var += (x[i * m + j] - mu) * (x[i * m + j] - mu);
            var /= double(m);
            const double r = 1.0 / std::sqrt(var + double(kLayerNormEpsilon));
            mean[l][i] = mu;
            rstd[l][i] = r;
            for (std::size_t j = 0; j < m; ++j) {
              y[i * m + j] = (x[i * m + j] - mu) * r * g[j] + b[j];
            }
          }
          break;
        }
        case LayerKind::kResidual:
          for (std::size_t e = 0; e < n * m; ++e) y[e] = x[e] + pt[ls.from][e];
          break;
      }
    }
    // Loss gradients of the per-row losses (not averaged).
    const std::size_t mo = spec_.output_width();
    for (std::uint32_t p = 0; p <= L; ++p) dpt[p].assign(n * spec_.width(p), 0.0);
    for (std::size_t i = 0; i < n; ++i) {
      const double* y = pt[L].data() + i * mo;
      double* dy = dpt[L].data() + i * mo;
      if (spec_.loss == LossKind::kSoftmaxCrossEntropy) {
        double mx = y[0];
        for (std::size_t j = 1; j < mo; ++j) mx = std::max(mx, y[j]);
        double s = 0;
        for (std::size_t j = 0; j < mo; ++j) s += std::exp(y[j] - mx);
        for (std::size_t j = 0; j < mo; ++j) dy[j] = std::exp(y[j] - mx) / s;
        dy[d.labels[first + i]] -= 1.0;
      } else {
        for (std::size_t j = 0; j < mo; ++j) dy[j] = y[j] - double(d.targets[(first + i) * mo + j]);
      }
    }
    Grads g = zero();
    for (std::uint32_t l = L; l-- > 0;) {
      const LayerSpec& ls = spec_.layers[l];
      const std::size_t k = ls.in, m = ls.out;
      const std::vector<double>& x = pt[l];
      const std::vector<double>& dy = dpt[l + 1];
      std::vector<double>& dx = dpt[l];
      switch (ls.kind) {
        case LayerKind::kDense: {
          const auto& W = params_[tensor[l]];
          auto& gW = g[tensor[l]];
          auto& gb = g[tensor[l] + 1];
          std::vector<double>& dz = dzs[l];
          dz.assign(n * m, 0.0);
          for (std::size_t e = 0; e < n * m; ++e) dz[e] = dy[e] * act_derivative(ls.act, pre[l][e]);
          for (std::size_t i = 0; i < n; ++i)
            for (std::size_t j = 0; j < m; ++j) {
              gb[j] += dz[i * m + j];
              for (std::size_t p = 0; p < k; ++p) {
                gW[p * m + j] += x[i * k + p] * dz[i * m + j];
                dx[i * k + p] += dz[i * m + j] * W[p * m + j];
              }
            }
          break;
        }
        case LayerKind::kActivation:
          for (std::size_t e = 0; e < n * m; ++e) dx[e] += dy[e] * act_derivative(ls.act, x[e]);
          break;
        case LayerKind::kLayerNorm: {
          const auto& gamma = params_[tensor[l]];
          auto& gg = g[tensor[l]];
          auto& gb = g[tensor[l] + 1];
          for (std::size_t i = 0; i < n; ++i) {
            const double mu = mean[l][i], r = rstd[l][i];
            double sg = 0, sgx = 0;
            for (std::size_t j = 0; j < m; ++j) {
              const double xhat = (x[i * m + j] - mu) * r;
              const double gj = dy[i * m + j] * gamma[j];
              gg[j] += dy[i * m + j] * xhat;
              gb[j] += dy[i * m + j];
              sg += gj;
              sgx += gj * xhat;
            }
            for (std::size_t j = 0; j < m; ++j) {
              const double xhat = (x[i * m + j] - mu) * r;
              const double gj = dy[i * m + j] * gamma[j];
              dx[i * m + j] += r * (gj - sg / double(m) - xhat * sgx / double(m));
            }
          }
          break;
        }
        case LayerKind::kResidual:
          for (std::size_t e = 0; e < n * m; ++e) {
            dx[e] += dy[e];
            dpt[ls.from][e] += dy[e];
          }
          break;
      }
    }
    if (points_out != nullptr) *points_out = pt;
    if (dz_out != nullptr) *dz_out = dzs;
    return g;
  }

  // Squared norm of each layer's share of g, then the total, as norms.
  std::vector<double> norms(const Grads& g) const {
    std::vector<double> sq(spec_.layer_count + 1, 0.0);
    for (std::size_t t = 0; t < g.size(); ++t) {
      for (double v : g[t]) sq[layer_of_[t]] += v * v;
    }
    double total = 0;
    for (std::uint32_t l = 0; l < spec_.layer_count; ++l) total += sq[l];
    sq[spec_.layer_count] = total;
    for (double& v : sq) v = std::sqrt(v);
    return sq;
  }

 private:
  ModelSpec spec_;
  Grads params_;
  std::vector<std::uint32_t> layer_of_;
};

double norm_of(const Grads& g) {
  double sq = 0;
  for (const auto& t : g)
    for (double v : t) sq += v * v;
  return std::sqrt(sq);
}
void axpy(double a, const Grads& x, Grads* y) {
  for (std::size_t t = 0; t < x.size(); ++t)
    for (std::size_t i = 0; i < x[t].size(); ++i) (*y)[t][i] += a * x[t][i];
}

// The materialised per-example gradients of a batch (each of its own loss).
std::vector<Grads> example_gradients(const RefNet& ref, const Data& d, std::size_t first,
                                     std::size_t rows, std::size_t example_rows) {
  std::vector<Grads> out;
  for (std::size_t r = 0; r < rows; r += example_rows) {
    out.push_back(ref.gradient(d, first + r, example_rows));
  }
  return out;
}

// tern's stored gradients against `expected`: each element within
// rel * |expected| + abs_frac * (largest |expected| of the whole model).
int compare_grads(const Model& m, const Grads& expected, double rel, double abs_frac) {
  double largest = 0;
  for (const auto& t : expected)
    for (double v : t) largest = std::max(largest, std::fabs(v));
  REQUIRE(largest > 1e-4);
  int bad = 0;
  for (std::uint32_t t = 0; t < m.tensor_count(); ++t) {
    const Tensor x = m.tensor(t);
    REQUIRE(x.grad.size == expected[t].size());
    for (std::size_t i = 0; i < x.grad.size; ++i) {
      const double want = expected[t][i], got = x.grad[i];
      if (!(std::fabs(got - want) <= rel * std::fabs(want) + abs_frac * largest)) {
        if (bad++ < 5) {
          MESSAGE("tensor " << t << " element " << i << ": tern " << got << ", reference " << want);
        }
      }
    }
  }
  return bad;
}

std::vector<float> all_grads(const Model& m) {
  std::vector<float> out;
  for (std::uint32_t t = 0; t < m.tensor_count(); ++t) {
    const Tensor x = m.tensor(t);
    out.insert(out.end(), x.grad.begin(), x.grad.end());
  }
  return out;
}

}  // namespace

// ---------------------------------------------------------------------------
// 0. The reference itself
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
    ModelInArena m(spec);
    REQUIRE(m.status.ok());
    m.model.initialize(4);
    perturb(m.model, 4);
    const Data d = make_data(spec, 3, 9);
    const RefNet ref(m.model);
    const Grads g = ref.gradient(d, 0, 3);
    tern::test::ReferenceModel fd(m.model);
    double largest = 0, worst = 0;
    for (std::size_t t = 0; t < g.size(); ++t) {
      for (std::size_t i = 0; i < g[t].size(); ++i) {
        // reference_model's loss is the mean over the rows; ours the sum.
        const double num = 3.0 * fd.numeric_gradient(t, i, d.x, 3, d.labels.data(), &d.targets);
        largest = std::max(largest, std::fabs(num));
        worst = std::max(worst, std::fabs(num - g[t][i]));
      }
    }
    CHECK(largest > 1e-2);
    CHECK(worst <= 1e-6 * (1 + largest));
  }
}

// ---------------------------------------------------------------------------
// 1. Per-example norms
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
  ModelInArena m(spec);
  REQUIRE_MESSAGE(m.status.ok(), m.status.message());
  m.model.initialize(seed);
  perturb(m.model, seed + 1);
  const RefNet ref(m.model);
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
    const std::vector<double> want = ref.norms(g[e]);
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
// 2. Clipping
// ---------------------------------------------------------------------------

namespace {

// An example clip bound between two of the example norms, well away from
// both (a gap of more than 5 %, the one nearest the median), so that some
// examples are clipped and some are not.
double clip_between(std::vector<double> norms) {
  std::sort(norms.begin(), norms.end());
  std::size_t best = 0;
  const double middle = double(norms.size()) / 2.0;
  for (std::size_t i = 1; i < norms.size(); ++i) {
    if (norms[i] <= 1.05 * norms[i - 1]) continue;
    if (best == 0 || std::fabs(double(i) - middle) < std::fabs(double(best) - middle)) best = i;
  }
  REQUIRE(best > 0);
  return std::sqrt(norms[best] * norms[best - 1]);
}

struct ClipCase {
  const char* name;
  ModelSpec spec;
  std::size_t rows;
};

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
    ModelInArena m(spec);
    REQUIRE(m.status.ok());
    m.model.initialize(5);
    perturb(m.model, 6);
    const RefNet ref(m.model);
    const std::vector<Grads> g = example_gradients(ref, d, 0, c.rows, R);
    std::vector<double> norms;
    for (const Grads& ge : g) norms.push_back(norm_of(ge));
    const double C = clip_between(norms);
    std::size_t clipped = 0;
    Grads clipped_mean = ref.zero(), plain_mean = ref.zero();
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
      const double norm = norm_of(plain_mean);
      set_clip(m.model, 0, 0, 0, float(0.5 * norm));
      REQUIRE(m.model.compute_gradients(b, nullptr).ok());
      CHECK(std::fabs(m.model.gradient_norm() - norm) <= 1e-5 * norm);
      Grads want = ref.zero();
      axpy(0.5, plain_mean, &want);
      CHECK(compare_grads(m.model, want, 1e-4, 1e-5) == 0);
    }
    {
      INFO("per-example then global clipping");
      const double norm = norm_of(clipped_mean);
      set_clip(m.model, float(C), 0, 0, float(0.25 * norm));
      REQUIRE(m.model.compute_gradients(b, nullptr).ok());
      CHECK(std::fabs(m.model.gradient_norm() - norm) <= 1e-5 * norm);
      Grads want = ref.zero();
      axpy(0.25, clipped_mean, &want);
      CHECK(compare_grads(m.model, want, 1e-4, 1e-5) == 0);
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
    ModelInArena a(plain), b(ex);
    REQUIRE(a.status.ok());
    REQUIRE(b.status.ok());
    for (Model* m : {&a.model, &b.model}) {
      m->initialize(3);
      perturb(*m, 4);
    }
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
  ModelInArena m(spec);
  REQUIRE(m.status.ok());
  m.model.initialize(8);
  perturb(m.model, 8);
  const RefNet ref(m.model);
  Grads mean = ref.gradient(d, 0, 9);
  for (auto& t : mean)
    for (double& v : t) v /= 9.0;
  const double norm = norm_of(mean);
  const Batch b = batch_of(spec, d, 0, 9);

  REQUIRE(m.model.compute_gradients(b, nullptr).ok());
  CHECK(m.model.gradient_norm() == 0.0f);  // not computed without a bound
  const std::vector<float> unclipped = all_grads(m.model);
  CHECK(compare_grads(m.model, mean, 1e-4, 1e-5) == 0);

  set_clip(m.model, 0, 0, 0, float(0.3 * norm));
  REQUIRE(m.model.compute_gradients(b, nullptr).ok());
  CHECK(std::fabs(m.model.gradient_norm() - norm) <= 1e-5 * norm);
  Grads want = ref.zero();
  axpy(0.3, mean, &want);
  CHECK(compare_grads(m.model, want, 1e-4, 1e-5) == 0);

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
  ModelInArena sgd(spec.training(LossKind::kMse, OptimizerKind::kSgd));
  REQUIRE(sgd.status.ok());
  sgd.model.initialize(8);
  perturb(sgd.model, 8);
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

// ---------------------------------------------------------------------------
// 3. Noise
// ---------------------------------------------------------------------------

namespace {

// The key of tensor t's noise at step `step` (model.h, ClipParams): the
// seed xor the SplitMix64 finalizer of (step << 32 | t), written out here.
std::uint64_t noise_key_ref(std::uint64_t seed, std::uint64_t step, std::uint64_t t) {
  std::uint64_t x = (step << 32) | t;
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ull;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebull;
  x ^= x >> 31;
  return seed ^ x;
}

}  // namespace

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
    ModelInArena m(spec);
    REQUIRE(m.status.ok());
    m.model.initialize(3);
    perturb(m.model, 3);
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
      const std::uint64_t key = noise_key_ref(seed, 42, t);
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
    ModelInArena m(spec);
    REQUIRE(m.status.ok());
    m.model.initialize(2);
    perturb(m.model, 2);
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

namespace {

// `steps` train_step()s of a spec with clipping and noise on successive
// batches; returns the state afterwards.
State noisy_run(const ModelSpec& spec, OptimizerKind opt, std::uint64_t noise_seed, int steps,
                float global_clip = 0.0f) {
  const Data d = make_data(spec, spec.rows * std::size_t(steps), 23);
  ModelInArena m(spec);
  REQUIRE_MESSAGE(m.status.ok(), m.status.message());
  m.model.initialize(7);
  perturb(m.model, 7);
  set_optimizer(m.model, opt);
  set_clip(m.model, 0.3f, 1.1f, noise_seed, global_clip);
  for (int s = 0; s < steps; ++s) {
    const Batch b = batch_of(spec, d, std::size_t(s) * spec.rows, spec.rows);
    const Status st = m.model.train_step(b, nullptr);
    REQUIRE_MESSAGE(st.ok(), st.message());
  }
  return State(m.model);
}

}  // namespace

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

// ---------------------------------------------------------------------------
// 4. Fused update
// ---------------------------------------------------------------------------

namespace {

// Trains `steps` steps (the last one on a partial batch when rows > 1).
State plain_run(const ModelSpec& spec, OptimizerKind opt, int steps, std::vector<float>* losses) {
  const Data d = make_data(spec, spec.rows * std::size_t(steps), 31);
  ModelInArena m(spec);
  REQUIRE_MESSAGE(m.status.ok(), m.status.message());
  m.model.initialize(9);
  perturb(m.model, 9);
  set_optimizer(m.model, opt);
  for (int s = 0; s < steps; ++s) {
    std::size_t rows = spec.rows;
    if (s == steps - 1 && rows > 1) rows /= 2;
    if (spec.example_rows > 1) rows -= rows % spec.example_rows;
    float loss = 0;
    const Batch b = batch_of(spec, d, std::size_t(s) * spec.rows, rows);
    const Status st = m.model.train_step(b, &loss);
    REQUIRE_MESSAGE(st.ok(), st.message());
    losses->push_back(loss);
  }
  return State(m.model);
}

}  // namespace

TEST_CASE("fused update: the same bits as the unfused step, every optimizer") {
  std::vector<ModelSpec> specs;
  for (std::uint32_t rows : {1u, 7u, 32u}) {
    // 37 inputs: W in three 16-row blocks below kPackMinRows rows, the last
    // partial; one partial 64-row block from there on.
    specs.push_back(ModelSpec::input(37, rows)
                        .dense(50, Pointwise::kRelu)
                        .dense(19, Pointwise::kGelu)
                        .dense(5)
                        .training(LossKind::kSoftmaxCrossEntropy, OptimizerKind::kAdam));
  }
  specs.push_back(ffn(9, 20, 36, Mode::kTraining));
  specs.push_back(ffn(16, 20, 36, Mode::kTraining, Pointwise::kTanh));
  // 150 inputs at 17 rows: three 64-row blocks, the last partial.
  specs.push_back(ModelSpec::input(150, 17)
                      .dense(70, Pointwise::kRelu)
                      .dense(3)
                      .training(LossKind::kSoftmaxCrossEntropy, OptimizerKind::kAdam));
  for (const ModelSpec& base : specs) {
    for (OptimizerKind opt : {OptimizerKind::kSgd, OptimizerKind::kAdam, OptimizerKind::kAdamW}) {
      for (bool guard : {false, true}) {
        CAPTURE(base.rows);
        CAPTURE(base.layer_count);
        CAPTURE(int(opt));
        CAPTURE(guard);
        const ModelSpec spec = base.training(base.loss, opt).with_divergence_guard(guard);
        std::vector<float> la, lb;
        const State a = plain_run(spec, opt, 4, &la);
        const State b = plain_run(spec.with_fused_update(), opt, 4, &lb);
        CHECK(a == b);
        CHECK(bits_equal(la, lb));
        CHECK(a.steps == 4);
      }
    }
  }
  // With example gradients (no clipping) and power-of-two rows, the fused
  // step is the plain step too.
  for (const ModelSpec& base : {specs[2], specs[4]}) {
    std::vector<float> la, lb;
    const ModelSpec ex = base.with_example_gradients(base.layer_count == 4 ? 4 : 1);
    const State a = plain_run(base, OptimizerKind::kAdam, 3, &la);
    const State b = plain_run(ex.with_fused_update(), OptimizerKind::kAdam, 3, &lb);
    CHECK(a == b);
  }
}

TEST_CASE("fused update: a diverging step is undone to the unfused run's bits") {
  // A learning rate of 1e30 blows the weights up during the fused backward
  // pass; the guard restores the last good state and stops. Training then
  // continues, fused and unfused in step.
  const ModelSpec specs[] = {
      ModelSpec::input(37, 7)
          .dense(50, Pointwise::kRelu)
          .dense(19, Pointwise::kGelu)
          .dense(5)
          .training(LossKind::kSoftmaxCrossEntropy, OptimizerKind::kSgd),
      ffn(9, 20, 36, Mode::kTraining).with_example_gradients(3),
  };
  for (const ModelSpec& base : specs) {
    const ModelSpec spec = base.with_divergence_guard();
    const Data d = make_data(spec, 6 * spec.rows, 19);
    std::vector<State> states;
    std::vector<std::uint32_t> recoveries;
    for (bool fused : {false, true}) {
      CAPTURE(fused);
      ModelInArena m(spec.with_fused_update(fused));
      REQUIRE(m.status.ok());
      m.model.initialize(4);
      perturb(m.model, 4);
      DivergencePolicy policy;
      policy.action = DivergenceAction::kStop;
      REQUIRE(m.model.set_divergence_policy(policy).ok());
      for (int s = 0; s < 6; ++s) {
        const Batch b = batch_of(spec, d, std::size_t(s) * spec.rows, spec.rows);
        set_optimizer(m.model, base.optimizer);
        if (s == 2) {
          OptimizerParams huge = m.model.optimizer();
          huge.learning_rate = 1e30f;
          REQUIRE(m.model.set_optimizer(huge).ok());
          const State before(m.model);
          // The step itself or the next one notices.
          Status st = m.model.train_step(b, nullptr);
          if (st.ok()) st = m.model.train_step(b, nullptr);
          CHECK(st.code() == StatusCode::kNonFinite);
          CHECK(State(m.model) == before);
          continue;
        }
        REQUIRE(m.model.train_step(b, nullptr).ok());
      }
      CHECK(m.model.divergence().stopped);
      states.emplace_back(m.model);
      recoveries.push_back(m.model.divergence().last_step);
    }
    CHECK(states[0] == states[1]);
    CHECK(recoveries[0] == recoveries[1]);
  }
}

TEST_CASE("fused update: no weight-gradient buffers in the plan, one update block instead") {
  const ModelSpec specs[] = {
      mlp({37, 50, 19, 5}, 7, Mode::kTraining),
      mlp({37, 50, 19, 5}, 32, Mode::kTraining, Pointwise::kRelu, LossKind::kMse,
          OptimizerKind::kSgd),
      ffn(9, 20, 36, Mode::kTraining),
      ffn(16, 128, 160, Mode::kTraining).with_example_gradients(4),
  };
  for (const ModelSpec& spec : specs) {
    const ModelSpec fused = spec.with_fused_update();
    const ModelPlan plain_plan = plan_model(spec), fused_plan = plan_model(fused);
    std::uint64_t weight_grads = 0, widest = 0;
    for (std::uint32_t l = 0; l < spec.layer_count; ++l) {
      if (spec.layers[l].kind != LayerKind::kDense) continue;
      weight_grads += plain_plan.layers[l][LayerBuffer::kWeightGrad].bytes;
      CHECK(plain_plan.layers[l][LayerBuffer::kWeightGrad].bytes ==
            (std::uint64_t{spec.layers[l].in} * spec.layers[l].out * 4 + 63) / 64 * 64);
      CHECK_FALSE(fused_plan.layers[l][LayerBuffer::kWeightGrad].present());
      widest = std::max<std::uint64_t>(widest, spec.layers[l].out);
    }
    // 16 rows of W per block, 64 when the step packs panels (>= kPackMinRows rows).
    const std::uint64_t block_rows = spec.rows >= kPackMinRows ? 64 : 16;
    CHECK(fused_block_rows(fused) == block_rows);
    CHECK(fused_plan[ModelBuffer::kUpdateBlock].bytes == (widest * block_rows * 4 + 63) / 64 * 64);
    CHECK_FALSE(plain_plan[ModelBuffer::kUpdateBlock].present());
    CHECK(arena_bytes(fused) ==
          arena_bytes(spec) - weight_grads + fused_plan[ModelBuffer::kUpdateBlock].bytes);

    ModelInArena m(fused);
    REQUIRE(m.status.ok());
    CHECK(m.arena.high_water() == arena_bytes(fused));
    for (std::uint32_t t = 0; t < m.model.tensor_count(); ++t) {
      const Tensor x = m.model.tensor(t);
      const bool dense_weight = !x.is_bias && spec.layers[x.layer].kind == LayerKind::kDense;
      CHECK(x.grad.empty() == dense_weight);
      CHECK_FALSE(x.moment1.empty());
    }
    const Data d = make_data(fused, fused.rows, 1);
    const Status cg = m.model.compute_gradients(batch_of(fused, d, 0, fused.rows), nullptr);
    CHECK(cg.code() == StatusCode::kFailedPrecondition);
    CHECK(contains(cg, "fused update"));
    CHECK(m.model.apply_gradients().code() == StatusCode::kFailedPrecondition);
    CHECK(m.model.steps() == 0);
  }
}

// ---------------------------------------------------------------------------
// 5. Accumulation
// ---------------------------------------------------------------------------

namespace {

struct Pair {
  ModelInArena one, acc;  // one step on the whole batch; accumulated micro-batches
  Pair(const ModelSpec& a, const ModelSpec& b) : one(a), acc(b) {
    REQUIRE_MESSAGE(one.status.ok(), one.status.message());
    REQUIRE_MESSAGE(acc.status.ok(), acc.status.message());
    for (Model* m : {&one.model, &acc.model}) {
      m->initialize(12);
      perturb(*m, 12);
    }
  }
};

}  // namespace

TEST_CASE("accumulation: micro-batches then flush() are one step on the whole batch") {
  struct Case {
    const char* name;
    ModelSpec whole;  // rows = the total
    std::vector<std::size_t> parts;
  };
  const std::vector<Case> cases = {
      {"mlp 8+8+16", mlp({13, 21, 7, 5}, 32, Mode::kTraining, Pointwise::kGelu), {8, 8, 16}},
      {"mlp 1+15", mlp({13, 21, 7, 5}, 16, Mode::kTraining, Pointwise::kRelu, LossKind::kMse),
       {1, 15}},
      {"ffn 4+12", ffn(16, 8, 12, Mode::kTraining), {4, 12}},
  };
  for (const Case& c : cases) {
    for (OptimizerKind opt : {OptimizerKind::kSgd, OptimizerKind::kAdam, OptimizerKind::kAdamW}) {
      for (bool fused : {false, true}) {
        CAPTURE(c.name);
        CAPTURE(int(opt));
        CAPTURE(fused);
        const ModelSpec whole = c.whole.training(c.whole.loss, opt);
        const std::size_t biggest = *std::max_element(c.parts.begin(), c.parts.end());
        const ModelSpec acc_spec = whole.with_rows(std::uint32_t(biggest))
                                       .with_accumulation(whole.rows)
                                       .with_fused_update(fused);
        Pair p(whole, acc_spec);
        set_optimizer(p.one.model, opt);
        set_optimizer(p.acc.model, opt);
        const Data d = make_data(whole, 3 * whole.rows, 5);
        for (std::size_t round = 0; round < 3; ++round) {
          const std::size_t base = round * whole.rows;
          float whole_loss = 0;
          REQUIRE(p.one.model.train_step(batch_of(whole, d, base, whole.rows), &whole_loss).ok());
          std::size_t at = 0;
          double loss_sum = 0;
          for (std::size_t part : c.parts) {
            float loss = 0;
            const Status s = p.acc.model.accumulate(batch_of(whole, d, base + at, part), &loss);
            REQUIRE_MESSAGE(s.ok(), s.message());
            loss_sum += double(loss) * double(part);
            at += part;
            CHECK(p.acc.model.accumulated_rows() == at);
            CHECK(p.acc.model.steps() == round);
          }
          REQUIRE(p.acc.model.flush().ok());
          CHECK(p.acc.model.accumulated_rows() == 0);
          CHECK(std::fabs(loss_sum / double(whole.rows) - whole_loss) <= 1e-5 * (1 + whole_loss));
          CHECK(State(p.one.model) == State(p.acc.model));
        }
      }
    }
  }
}

TEST_CASE("accumulation: a non-power-of-two total is the whole step within rounding") {
  // 5 + 6 rows: the mean is no longer an exact scaling, so compare one SGD
  // step (learning rate 1, no momentum: the step is the gradient).
  for (bool fused : {false, true}) {
    CAPTURE(fused);
    const ModelSpec whole = mlp({13, 21, 7, 5}, 11, Mode::kTraining, Pointwise::kTanh,
                                LossKind::kSoftmaxCrossEntropy, OptimizerKind::kSgd);
    Pair p(whole, whole.with_rows(6).with_accumulation(11).with_fused_update(fused));
    OptimizerParams o;
    o.learning_rate = 1.0f;
    o.momentum = 0.0f;
    REQUIRE(p.one.model.set_optimizer(o).ok());
    REQUIRE(p.acc.model.set_optimizer(o).ok());
    const Data d = make_data(whole, 11, 6);
    const std::vector<float> before = tern::test::parameters_of(p.one.model);
    const RefNet ref(p.one.model);
    const Grads g = ref.gradient(d, 0, 11);
    REQUIRE(p.one.model.train_step(batch_of(whole, d, 0, 11), nullptr).ok());
    REQUIRE(p.acc.model.accumulate(batch_of(whole, d, 0, 5), nullptr).ok());
    REQUIRE(p.acc.model.accumulate(batch_of(whole, d, 5, 6), nullptr).ok());
    REQUIRE(p.acc.model.flush().ok());
    const std::vector<float> a = tern::test::parameters_of(p.one.model);
    const std::vector<float> b = tern::test::parameters_of(p.acc.model);
    double largest = 0;
    for (const auto& t : g)
      for (double v : t) largest = std::max(largest, std::fabs(v) / 11.0);
    std::size_t at = 0;
    int bad = 0;
    for (const auto& t : g)
      for (std::size_t i = 0; i < t.size(); ++i, ++at) {
        const double want = double(before[at]) - t[i] / 11.0;
        const double tol = 1e-4 * std::fabs(t[i] / 11.0) + 1e-5 * largest +
                           std::ldexp(std::fabs(double(before[at])) + std::fabs(want), -22);
        bad += std::fabs(double(b[at]) - want) > tol;
        bad += std::fabs(double(a[at]) - want) > tol;
      }
    CHECK(bad == 0);
    CHECK_FALSE(bits_equal(a, before));
  }
}

TEST_CASE("accumulation: overflow, empty flush and a pending train_step are refused") {
  const ModelSpec whole = mlp({13, 21, 7, 5}, 32, Mode::kTraining);
  for (bool fused : {false, true}) {
    CAPTURE(fused);
    Pair p(whole, whole.with_rows(16).with_accumulation(32).with_fused_update(fused));
    const Data d = make_data(whole, 40, 7);
    Model& m = p.acc.model;

    // Nothing accumulated: flush() does nothing.
    const State start(m);
    REQUIRE(m.flush().ok());
    CHECK(State(m) == start);
    CHECK(m.steps() == 0);

    REQUIRE(m.accumulate(batch_of(whole, d, 0, 16), nullptr).ok());
    REQUIRE(m.accumulate(batch_of(whole, d, 16, 8), nullptr).ok());
    const Status over = m.accumulate(batch_of(whole, d, 24, 9), nullptr);
    CHECK(over.code() == StatusCode::kFailedPrecondition);
    CHECK(contains(over, "9 rows do not fit: 24 of 32 factor rows are in use; flush() first"));
    CHECK(m.accumulated_rows() == 24);
    CHECK(State(m) == start);
    const Status pending = m.train_step(batch_of(whole, d, 0, 16), nullptr);
    CHECK(pending.code() == StatusCode::kFailedPrecondition);
    CHECK(contains(pending, "24 accumulated rows are waiting; flush() them first"));
    CHECK(m.accumulated_rows() == 24);
    CHECK(m.compute_gradients(batch_of(whole, d, 0, 16), nullptr).code() ==
          StatusCode::kFailedPrecondition);
    CHECK(m.apply_gradients().code() == StatusCode::kFailedPrecondition);
    REQUIRE(m.accumulate(batch_of(whole, d, 24, 8), nullptr).ok());
    REQUIRE(m.flush().ok());
    // The refused calls left no trace: the step is the whole batch's.
    REQUIRE(p.one.model.train_step(batch_of(whole, d, 0, 32), nullptr).ok());
    CHECK(State(p.one.model) == State(m));
    // train_step() on an accumulating spec with nothing pending is one
    // accumulate + flush.
    REQUIRE(p.one.model.train_step(batch_of(whole, d, 8, 16), nullptr).ok());
    REQUIRE(m.train_step(batch_of(whole, d, 8, 16), nullptr).ok());
    CHECK(State(p.one.model) == State(m));
  }
  // Accumulation calls on a spec without it.
  ModelInArena plain(whole);
  REQUIRE(plain.status.ok());
  const Data d = make_data(whole, 4, 1);
  CHECK(plain.model.accumulate(batch_of(whole, d, 0, 4), nullptr).code() ==
        StatusCode::kFailedPrecondition);
  CHECK(plain.model.flush().code() == StatusCode::kFailedPrecondition);
}

TEST_CASE("accumulation with example gradients: clipped micro-batches are the clipped whole step") {
  const ModelSpec whole_specs[] = {
      mlp({13, 21, 7, 5}, 16, Mode::kTraining, Pointwise::kGelu).with_example_gradients(),
      ffn(16, 8, 12, Mode::kTraining).with_example_gradients(4),
  };
  for (const ModelSpec& whole : whole_specs) {
    for (bool fused : {false, true}) {
      for (int mode = 0; mode < 3; ++mode) {  // example clip; + noise; + global clip
        CAPTURE(whole.layer_count);
        CAPTURE(fused);
        CAPTURE(mode);
        Pair p(whole, whole.with_rows(8).with_accumulation(16).with_fused_update(fused));
        const Data d = make_data(whole, 32, 8);
        // A bound that clips about half of the examples.
        const RefNet ref(p.one.model);
        std::vector<double> norms;
        for (const Grads& g : example_gradients(ref, d, 0, 16, whole.example_rows)) {
          norms.push_back(norm_of(g));
        }
        const float C = float(clip_between(norms));
        for (Model* m : {&p.one.model, &p.acc.model}) {
          set_optimizer(*m, OptimizerKind::kAdam);
          set_clip(*m, C, mode >= 1 ? 0.8f : 0.0f, 5, mode == 2 ? 0.1f * C : 0.0f);
        }
        for (std::size_t round = 0; round < 2; ++round) {
          REQUIRE(p.one.model.train_step(batch_of(whole, d, round * 16, 16), nullptr).ok());
          REQUIRE(p.acc.model.accumulate(batch_of(whole, d, round * 16, 8), nullptr).ok());
          // The norms of the micro-batch's examples (the whole step's second half).
          std::vector<float> first_half;
          {
            const MatrixView<const float> n = p.acc.model.example_norms();
            REQUIRE(n.rows == 8 / whole.example_rows);
            first_half.assign(n.data, n.data + n.rows * n.stride);
          }
          REQUIRE(p.acc.model.accumulate(batch_of(whole, d, round * 16 + 8, 8), nullptr).ok());
          const MatrixView<const float> whole_norms = p.one.model.example_norms();
          const MatrixView<const float> second_half = p.acc.model.example_norms();
          REQUIRE(whole_norms.rows == 16 / whole.example_rows);
          CHECK(std::memcmp(whole_norms.data, first_half.data(),
                            first_half.size() * sizeof(float)) == 0);
          CHECK(std::memcmp(whole_norms.row(second_half.rows), second_half.data,
                            second_half.rows * second_half.stride * sizeof(float)) == 0);
          REQUIRE(p.acc.model.flush().ok());
          CHECK(State(p.one.model) == State(p.acc.model));
          if (mode == 2) CHECK(p.one.model.gradient_norm() == p.acc.model.gradient_norm());
        }
      }
    }
  }
}

TEST_CASE("accumulation with global clipping and no example gradients") {
  // The global norm comes from the accumulated factors; it must match the
  // plain step's clipped gradient (within rounding: the norm is computed
  // another way).
  const ModelSpec whole = ffn(16, 8, 12, Mode::kTraining, Pointwise::kGelu, LossKind::kMse,
                              OptimizerKind::kSgd);
  for (bool fused : {false, true}) {
    CAPTURE(fused);
    Pair p(whole, whole.with_rows(8).with_accumulation(16).with_fused_update(fused));
    // The Gram blocks of the norm are planned without example gradients too.
    CHECK(plan_model(p.acc.model.spec())[ModelBuffer::kNormScratch].bytes >= 2 * kGramBlock * kGramBlock * 4);
    OptimizerParams o;
    o.learning_rate = 1.0f;
    o.momentum = 0.0f;
    const Data d = make_data(whole, 16, 9);
    const RefNet ref(p.one.model);
    Grads mean = ref.gradient(d, 0, 16);
    for (auto& t : mean)
      for (double& v : t) v /= 16.0;
    const double norm = norm_of(mean);
    for (Model* m : {&p.one.model, &p.acc.model}) {
      REQUIRE(m->set_optimizer(o).ok());
      set_clip(*m, 0, 0, 0, float(0.5 * norm));
    }
    const std::vector<float> before = tern::test::parameters_of(p.acc.model);
    REQUIRE(p.one.model.train_step(batch_of(whole, d, 0, 16), nullptr).ok());
    REQUIRE(p.acc.model.accumulate(batch_of(whole, d, 0, 8), nullptr).ok());
    REQUIRE(p.acc.model.accumulate(batch_of(whole, d, 8, 8), nullptr).ok());
    const Status s = p.acc.model.flush();
    REQUIRE_MESSAGE(s.ok(), s.message());
    CHECK(std::fabs(p.acc.model.gradient_norm() - norm) <= 1e-5 * norm);
    CHECK(std::fabs(p.one.model.gradient_norm() - norm) <= 1e-5 * norm);
    const std::vector<float> a = tern::test::parameters_of(p.one.model);
    const std::vector<float> b = tern::test::parameters_of(p.acc.model);
    std::size_t at = 0;
    int bad = 0;
    for (const auto& t : mean)
      for (std::size_t i = 0; i < t.size(); ++i, ++at) {
        const double want = double(before[at]) - 0.5 * t[i];
        const double tol = 1e-4 * std::fabs(0.5 * t[i]) + 1e-5 * norm +
                           std::ldexp(std::fabs(double(before[at])) + std::fabs(want), -22);
        bad += std::fabs(double(a[at]) - want) > tol;
        bad += std::fabs(double(b[at]) - want) > tol;
      }
    CHECK(bad == 0);
  }
}

// ---------------------------------------------------------------------------
// 6. Rank-1 edits
// ---------------------------------------------------------------------------

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
      ModelInArena m(s);
      REQUIRE(m.status.ok());
      m.model.initialize(3);
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
  ModelInArena m(spec);
  REQUIRE(m.status.ok());
  m.model.initialize(1);
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
      ModelInArena m(spec);
      REQUIRE(m.status.ok());
      m.model.initialize(15);
      perturb(m.model, 15);
      const State start(m.model);
      const RefNet ref(m.model);
      std::vector<std::vector<double>> points, dz;
      const Grads g = ref.gradient(d, 0, 6, &points, &dz);
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
      ModelInArena other(
          spec.with_example_gradients(1).with_accumulation(spec.rows).with_fused_update());
      REQUIRE(other.status.ok());
      other.model.initialize(15);
      perturb(other.model, 15);
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

// ---------------------------------------------------------------------------
// 7. Bit identity across ISAs
// ---------------------------------------------------------------------------

namespace {

// Everything the rank-1 variants compute on one ISA, as a flat vector.
std::vector<float> rank1_fingerprint() {
  std::vector<float> out;
  auto append = [&out](const std::vector<float>& v) { out.insert(out.end(), v.begin(), v.end()); };
  // Example norms (an MLP with packed panels; an FFN with examples longer
  // than a Gram block).
  const ModelSpec norm_specs[] = {
      mlp({37, 50, 19, 5}, 17, Mode::kTraining, Pointwise::kGelu).with_example_gradients(),
      ffn(38, 20, 36, Mode::kTraining).with_example_gradients(19),
  };
  for (const ModelSpec& spec : norm_specs) {
    const Data d = make_data(spec, spec.rows, 3);
    ModelInArena m(spec);
    REQUIRE(m.status.ok());
    m.model.initialize(1);
    perturb(m.model, 1);
    REQUIRE(m.model.compute_gradients(batch_of(spec, d, 0, spec.rows), nullptr).ok());
    const MatrixView<const float> n = m.model.example_norms();
    append(std::vector<float>(n.data, n.data + n.rows * n.stride));
    append(all_grads(m.model));
  }
  // Clipped, noisy, globally clipped fused and unfused steps.
  for (const ModelSpec& spec : norm_specs) {
    for (bool fused : {false, true}) {
      append(noisy_run(fused ? spec.with_fused_update() : spec, OptimizerKind::kAdamW, 4, 3, 0.05f)
                 .values);
    }
  }
  // Fused steps without example gradients.
  std::vector<float> losses;
  append(plain_run(mlp({37, 50, 19, 5}, 32, Mode::kTraining).with_fused_update(),
                   OptimizerKind::kSgd, 3, &losses)
             .values);
  append(plain_run(ffn(16, 20, 36, Mode::kTraining).with_fused_update(), OptimizerKind::kAdam, 3,
                   &losses)
             .values);
  append(losses);
  // Accumulation (fused and not) with global clipping.
  const ModelSpec acc = ffn(16, 20, 36, Mode::kTraining).with_rows(8).with_accumulation(24);
  for (bool fused : {false, true}) {
    ModelInArena m(acc.with_fused_update(fused));
    REQUIRE(m.status.ok());
    m.model.initialize(2);
    set_optimizer(m.model, OptimizerKind::kAdam);
    set_clip(m.model, 0, 0, 0, 0.01f);
    const Data d = make_data(acc, 48, 4);
    for (std::size_t at = 0; at < 48; at += 8) {
      REQUIRE(m.model.accumulate(batch_of(acc, d, at, 8), nullptr).ok());
      if (m.model.accumulated_rows() == 24) REQUIRE(m.model.flush().ok());
    }
    append(State(m.model).values);
    out.push_back(m.model.gradient_norm());
  }
  return out;
}

}  // namespace

TEST_CASE("bit identity: norms, clipped noisy steps, fused steps, accumulation on every ISA") {
  std::vector<float> reference;
  {
    IsaScope scope(Isa::kScalar);
    reference = rank1_fingerprint();
  }
  REQUIRE(reference.size() > 10000);
  for (Isa isa : tern::test::runnable_isas()) {
    if (isa == Isa::kScalar) continue;
    CAPTURE(isa_name(isa));
    IsaScope scope(isa);
    const std::vector<float> got = rank1_fingerprint();
    REQUIRE(got.size() == reference.size());
    CHECK(std::memcmp(got.data(), reference.data(), got.size() * sizeof(float)) == 0);
  }
}

// ---------------------------------------------------------------------------
// 8. No heap
// ---------------------------------------------------------------------------

TEST_CASE("no heap: fused, example-gradient, accumulating and editing calls allocate nothing") {
  const ModelSpec fused = mlp({30, 24, 16, 4}, 16, Mode::kTraining).with_fused_update();
  const ModelSpec example =
      ffn(16, 12, 20, Mode::kTraining).with_example_gradients(4).with_fused_update();
  const ModelSpec accumulating =
      mlp({30, 24, 16, 4}, 8, Mode::kTraining).with_example_gradients().with_accumulation(16);
  const Data d = make_data(fused, 64, 3);
  const Data fd = make_data(example, 64, 4);
  tern::test::AlignedBuffer buffer(arena_bytes(fused) + arena_bytes(example) +
                                   arena_bytes(accumulating));
  std::vector<float> u(16 * 30), delta(16 * 24);

  tern::test::HeapAllocationScope heap;
  Arena arena;
  REQUIRE(arena.attach(buffer.data(), buffer.size()).ok());
  Model a, b, c;
  REQUIRE(a.build(fused, arena).ok());
  REQUIRE(b.build(example, arena).ok());
  REQUIRE(c.build(accumulating, arena).ok());
  a.initialize(1);
  b.initialize(2);
  c.initialize(3);
  ClipParams clip;
  clip.example_clip = 0.5f;
  clip.noise_multiplier = 1.0f;
  clip.noise_seed = 4;
  clip.global_clip = 0.2f;
  REQUIRE(b.set_clipping(clip).ok());
  REQUIRE(c.set_clipping(clip).ok());
  float norms = 0;
  for (int round = 0; round < 3; ++round) {
    for (std::size_t at = 0; at < 64; at += 16) {
      REQUIRE(a.train_step(batch_of(fused, d, at, 16), nullptr).ok());
      REQUIRE(b.train_step(batch_of(example, fd, at, 16), nullptr).ok());
      norms += b.example_norms()(0, 4);
      REQUIRE(c.accumulate(batch_of(accumulating, d, at, 8), nullptr).ok());
      REQUIRE(c.accumulate(batch_of(accumulating, d, at + 8, 8), nullptr).ok());
      REQUIRE(c.flush().ok());
      REQUIRE(c.edit_factors(batch_of(accumulating, d, at, 8), 0, u.data(), delta.data()).ok());
      REQUIRE(c.rank1_edit(0, 8, u.data(), 30, delta.data(), 24, -0.01f).ok());
    }
  }
  // Errors allocate nothing either.
  CHECK(c.flush().ok());
  CHECK_FALSE(a.compute_gradients(batch_of(fused, d, 0, 16), nullptr).ok());
  CHECK_FALSE(a.rank1_edit(0, 1, u.data(), 1, delta.data(), 24, 1.0f).ok());
  CHECK(heap.count() == 0);
  CHECK(norms > 0);
}

// ---------------------------------------------------------------------------
// 9. Spec and option checks
// ---------------------------------------------------------------------------

TEST_CASE("spec checks: misconfigured rank-1 variants are kBadTrainingOption") {
  const ModelSpec ok = mlp({6, 8, 3}, 12, Mode::kTraining);
  const ModelSpec bad[] = {
      ok.with_example_gradients(5),                      // 5 does not divide 12 rows
      ok.with_accumulation(8),                           // fewer factor rows than rows
      ok.inference().with_accumulation(12),              // inference
      ok.inference().with_fused_update(),                // inference
      ok.inference().with_example_gradients(),           // inference
      ok.with_accumulation(24).with_divergence_guard(),  // the guard wraps train_step
      ok.with_example_gradients(4).with_accumulation(18),  // 4 does not divide 18
  };
  for (const ModelSpec& spec : bad) {
    const SpecCheck c = check_spec(spec);
    CHECK(c.error == SpecError::kBadTrainingOption);
    CHECK(arena_bytes(spec) == 0);
    tern::test::AlignedBuffer buffer(1 << 16);
    Arena arena;
    REQUIRE(arena.attach(buffer.data(), buffer.size()).ok());
    Model m;
    const Status s = m.build(spec, arena);
    CHECK(s.code() == StatusCode::kInvalidArgument);
    CHECK(contains(s, "fused update, example gradients and accumulation need training mode"));
  }
  const ModelSpec good[] = {
      ok.with_example_gradients(4),
      ok.with_accumulation(12),
      ok.with_accumulation(36).with_example_gradients(6).with_fused_update(),
      ok.with_fused_update().with_divergence_guard(),
      ok.with_example_gradients(3).with_divergence_guard(),
  };
  for (const ModelSpec& spec : good) CHECK(check_spec(spec).ok());
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
