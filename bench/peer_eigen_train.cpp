// SPDX-License-Identifier: Apache-2.0
// The Eigen peer of the training-step benchmarks: the same training steps
// as tern's Model::train_step, written by hand on Eigen matrices, the way
// one would without tern, with plain SGD, SGD with momentum or Adam, and
// each Dense layer's weights updated either from a gradient buffer or
// straight from the product (train_units.h, Update). Row-major float
// matrices, all storage allocated in the create functions; the step
// functions assign into existing matrices with noalias() products so Eigen
// allocates nothing per step (a batch of another size than the last one
// resizes the activations once: the short last batch of an epoch).
//
// Compiled with the kernel flags of TERN_BENCH_EIGEN_ISA like peer_eigen.cpp
// (the only other unit that includes Eigen), and entered only on a CPU that
// runs that ISA.
#include <Eigen/Core>

#include <algorithm>
#include <cmath>

#include "train_units.h"

namespace tern_bench::eigen_train {

namespace {
using Mat = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using Col = Eigen::Matrix<float, Eigen::Dynamic, 1>;
using RowVector = Eigen::Matrix<float, 1, Eigen::Dynamic>;
using Index = Eigen::Index;

Index idx(std::size_t v) { return static_cast<Index>(v); }

// Rows of W whose gradient Adam's into-weights form holds at a time: a
// 16 x m block (16 KiB at m = 256) stays in L1 between its product and its
// update. 16 is also the block tern's fused update works in.
constexpr Index kAdamBlockRows = 16;

// Deterministic weights in [-limit, limit) from a 32-bit LCG.
void fill(Mat& m, float limit, std::uint32_t seed) {
  std::uint32_t s = seed * 2654435761u + 1u;
  for (Index i = 0; i < m.size(); ++i) {
    s = s * 1664525u + 1013904223u;
    m.data()[i] = (static_cast<float>(s >> 8) * (1.0f / 16777216.0f) * 2.0f - 1.0f) * limit;
  }
}

// One trained tensor: value, gradient, first and second moments (Adam; the
// velocity is `m` for momentum). Matrices and vectors share this through
// Mat (a bias is a 1 x m matrix). Initial value: seeded uniform in
// [-limit, limit) when limit > 0, else `constant`.
struct Param {
  Mat w, g, m, v;
  float limit, constant;
  std::uint32_t seed;
  Param(Index rows, Index cols, float init_limit = 0.0f, std::uint32_t init_seed = 0,
        float init_constant = 0.0f)
      : w(rows, cols), g(rows, cols), m(rows, cols), v(rows, cols), limit(init_limit),
        constant(init_constant), seed(init_seed) {
    reset();
  }
  void reset() {
    if (limit > 0.0f) {
      fill(w, limit, seed);
    } else {
      w.setConstant(constant);
    }
    g.setZero();
    m.setZero();
    v.setZero();
  }
};

// The optimizer of a StepConfig: its state and the two update forms.
class Updater {
 public:
  explicit Updater(const StepConfig& config) : c_(config) {}
  void set_learning_rate(float lr) { c_.learning_rate = lr; }
  bool into_weights() const { return c_.update == Update::kIntoWeights; }
  void reset() { pow1_ = pow2_ = 1.0f; }

  // Once per step, before any update: Adam's bias corrections.
  void begin_step() {
    pow1_ *= kBeta1;
    pow2_ *= kBeta2;
    step_size_ = c_.learning_rate / (1.0f - pow1_);
    inv_sqrt_bc2_ = 1.0f / std::sqrt(1.0f - pow2_);
  }

  // The update of w (and its moments m, v) from its gradient g; any four
  // blocks of one shape.
  template <typename W, typename G, typename M, typename V>
  void update(W&& w, const G& g, M&& m, V&& v) const {
    switch (c_.optimizer) {
      case Optimizer::kSgd:
        w -= c_.learning_rate * g;
        break;
      case Optimizer::kMomentum:
        m = c_.momentum * m + g;
        w -= c_.learning_rate * m;
        break;
      case Optimizer::kAdam:
        m.array() = kBeta1 * m.array() + (1.0f - kBeta1) * g.array();
        v.array() = kBeta2 * v.array() + (1.0f - kBeta2) * g.array().square();
        w.array() -= step_size_ * m.array() / (v.array().sqrt() * inv_sqrt_bc2_ + kEpsilon);
        break;
    }
  }
  void apply(Param& p) const { update(p.w, p.g, p.m, p.v); }

  // The weights of a Dense layer whose input was `in` (rows x k) and whose
  // delta is `d` (rows x m): the gradient in^T d into p.g
  // (kGradientBuffers; apply() comes after the backward pass), or the
  // update straight from the product (kIntoWeights; see train_units.h).
  // `block` is scratch of at least kAdamBlockRows x m.
  void dense_weights(Param& p, const Mat& in, const Mat& d, Mat& block) const {
    if (!into_weights()) {
      p.g.noalias() = in.transpose() * d;
      return;
    }
    switch (c_.optimizer) {
      case Optimizer::kSgd:
        p.w.noalias() -= c_.learning_rate * (in.transpose() * d);
        break;
      case Optimizer::kMomentum:
        p.m.noalias() = c_.momentum * p.m + in.transpose() * d;
        p.w -= c_.learning_rate * p.m;
        break;
      case Optimizer::kAdam: {
        const Index k = p.w.rows(), m = p.w.cols();
        for (Index r0 = 0; r0 < k; r0 += kAdamBlockRows) {
          const Index rows = std::min(kAdamBlockRows, k - r0);
          auto g = block.topLeftCorner(rows, m);
          g.noalias() = in.middleCols(r0, rows).transpose() * d;
          update(p.w.middleRows(r0, rows), g, p.m.middleRows(r0, rows),
                 p.v.middleRows(r0, rows));
        }
        break;
      }
    }
  }

  // A Dense layer's weights and bias (the bias gradient is the column sums
  // of the delta; a vector, so it always has its buffer).
  void dense_layer(Param& w, Param& b, const Mat& in, const Mat& d, Mat& block) const {
    dense_weights(w, in, d, block);
    b.g = d.colwise().sum();
    if (into_weights()) apply(b);
  }

 private:
  // tern's optimizer defaults (OptimizerParams).
  static constexpr float kBeta1 = 0.9f, kBeta2 = 0.999f, kEpsilon = 1e-8f;

  StepConfig c_;
  float pow1_ = 1.0f, pow2_ = 1.0f, step_size_ = 0.0f, inv_sqrt_bc2_ = 0.0f;
};

}  // namespace

// ---------------------------------------------------------------------------
// MLP 784-256-128-10
// ---------------------------------------------------------------------------
struct Mlp {
  Index rows;
  Param w1{784, 256, std::sqrt(6.0f / 784), 1}, b1{1, 256};
  Param w2{256, 128, std::sqrt(6.0f / 256), 2}, b2{1, 128};
  Param w3{128, 10, std::sqrt(6.0f / 138), 3}, b3{1, 10};
  Mat x, h1, h2, z, dz, dh2, dh1, block;
  Col mx, sum;
  Updater opt;
  Mlp(std::size_t batch, const StepConfig& config)
      : rows(-1), block(kAdamBlockRows, 256), opt(config) {
    set_rows(idx(batch));
  }
  void set_rows(Index n) {
    if (n == rows) return;
    rows = n;
    x.resize(n, 784);
    h1.resize(n, 256);
    h2.resize(n, 128);
    z.resize(n, 10);
    dz.resize(n, 10);
    dh2.resize(n, 128);
    dh1.resize(n, 256);
    mx.resize(n);
    sum.resize(n);
  }
};

Mlp* mlp_create(std::size_t batch, const StepConfig& config) { return new Mlp(batch, config); }
void mlp_destroy(Mlp* s) { delete s; }
void mlp_set_learning_rate(Mlp* s, float learning_rate) {
  s->opt.set_learning_rate(learning_rate);
}
void mlp_reset(Mlp* s) {
  for (Param* p : {&s->w1, &s->b1, &s->w2, &s->b2, &s->w3, &s->b3}) p->reset();
  s->opt.reset();
}

float mlp_step(Mlp* s, const float* x, std::size_t ldx, const std::uint32_t* labels,
               const std::uint32_t* indices, std::size_t rows) {
  s->set_rows(idx(rows));
  const Index n = idx(rows);
  for (Index i = 0; i < n; ++i) {
    const std::size_t src = indices != nullptr ? indices[i] : static_cast<std::size_t>(i);
    s->x.row(i) = Eigen::Map<const RowVector>(x + src * ldx, 784);
  }
  // Forward.
  s->h1.noalias() = s->x * s->w1.w;
  s->h1.rowwise() += s->b1.w.row(0);
  s->h1 = s->h1.cwiseMax(0.0f);
  s->h2.noalias() = s->h1 * s->w2.w;
  s->h2.rowwise() += s->b2.w.row(0);
  s->h2 = s->h2.cwiseMax(0.0f);
  s->z.noalias() = s->h2 * s->w3.w;
  s->z.rowwise() += s->b3.w.row(0);
  // Softmax cross-entropy, mean over rows; dz = (softmax - onehot) / n.
  s->mx = s->z.rowwise().maxCoeff();
  s->dz = (s->z.colwise() - s->mx).array().exp().matrix();
  s->sum = s->dz.rowwise().sum();
  float loss = 0;
  const float inv_n = 1.0f / static_cast<float>(n);
  for (Index i = 0; i < n; ++i) {
    const std::size_t src = indices != nullptr ? indices[i] : static_cast<std::size_t>(i);
    const Index c = static_cast<Index>(labels[src]);
    loss += std::log(s->sum(i)) + s->mx(i) - s->z(i, c);
    s->dz.row(i) *= inv_n / s->sum(i);
    s->dz(i, c) -= inv_n;
  }
  // Backward: each layer's delta for the layer below from its old weights,
  // then its weights (a gradient buffer, or updated at once).
  Updater& opt = s->opt;
  opt.begin_step();
  s->dh2.noalias() = s->dz * s->w3.w.transpose();
  s->dh2 = (s->h2.array() > 0.0f).select(s->dh2, 0.0f);
  opt.dense_layer(s->w3, s->b3, s->h2, s->dz, s->block);
  s->dh1.noalias() = s->dh2 * s->w2.w.transpose();
  s->dh1 = (s->h1.array() > 0.0f).select(s->dh1, 0.0f);
  opt.dense_layer(s->w2, s->b2, s->h1, s->dh2, s->block);
  opt.dense_layer(s->w1, s->b1, s->x, s->dh1, s->block);
  if (!opt.into_weights()) {
    for (Param* p : {&s->w1, &s->b1, &s->w2, &s->b2, &s->w3, &s->b3}) opt.apply(*p);
  }
  return loss * inv_n;
}

// ---------------------------------------------------------------------------
// Feed-forward block
// ---------------------------------------------------------------------------
struct Ffn {
  std::size_t n, d, dff;
  Param w1, b1, w2, b2, gamma, beta;
  Mat x, t, z1, h, r, xhat, out, dout, g, dz1, dh, block;
  Col mean, rstd, a, b;
  Updater opt;
  Ffn(std::size_t rows, std::size_t width, std::size_t inner, const StepConfig& config)
      : n(rows), d(width), dff(inner),
        w1(idx(width), idx(inner), std::sqrt(6.0f / static_cast<float>(width)), 4),
        b1(1, idx(inner)),
        w2(idx(inner), idx(width), std::sqrt(6.0f / static_cast<float>(width + inner)), 5),
        b2(1, idx(width)), gamma(1, idx(width), 0.0f, 0, 1.0f), beta(1, idx(width)),
        x(idx(rows), idx(width)), t(idx(rows), idx(width)), z1(idx(rows), idx(inner)),
        h(idx(rows), idx(inner)), r(idx(rows), idx(width)), xhat(idx(rows), idx(width)),
        out(idx(rows), idx(width)), dout(idx(rows), idx(width)), g(idx(rows), idx(width)),
        dz1(idx(rows), idx(inner)), dh(idx(rows), idx(inner)),
        block(kAdamBlockRows, idx(std::max(width, inner))), mean(idx(rows)), rstd(idx(rows)),
        a(idx(rows)), b(idx(rows)), opt(config) {}
};

Ffn* ffn_create(std::size_t n, std::size_t d, std::size_t d_ff, const StepConfig& config) {
  return new Ffn(n, d, d_ff, config);
}
void ffn_destroy(Ffn* s) { delete s; }
void ffn_reset(Ffn* s) {
  for (Param* p : {&s->w1, &s->b1, &s->w2, &s->b2, &s->gamma, &s->beta}) p->reset();
  s->opt.reset();
}

float ffn_step(Ffn* s, const float* x, const float* target) {
  const Index n = idx(s->n), d = idx(s->d);
  const float c0 = 0.7978845608f;  // sqrt(2/pi)
  const float c1 = 0.044715f;
  const float eps = 1e-5f;
  s->x = Eigen::Map<const Mat>(x, n, d);
  s->t = Eigen::Map<const Mat>(target, n, d);
  // Forward: z1 = x W1 + b1, h = gelu(z1), r = h W2 + b2 + x, out = LN(r).
  s->z1.noalias() = s->x * s->w1.w;
  s->z1.rowwise() += s->b1.w.row(0);
  s->h = (0.5f * s->z1.array() *
          (1.0f + (c0 * (s->z1.array() + c1 * s->z1.array().cube())).tanh()))
             .matrix();
  s->r.noalias() = s->h * s->w2.w;
  s->r.rowwise() += s->b2.w.row(0);
  s->r += s->x;
  s->mean = s->r.rowwise().mean();
  s->xhat = s->r.colwise() - s->mean;
  s->rstd = (s->xhat.array().square().rowwise().mean() + eps).rsqrt().matrix();
  s->xhat = (s->xhat.array().colwise() * s->rstd.array()).matrix();
  s->out = (s->xhat.array().rowwise() * s->gamma.w.row(0).array()).matrix();
  s->out.rowwise() += s->beta.w.row(0);
  // MSE: 0.5 sum (out - t)^2 / n.
  const float inv_n = 1.0f / static_cast<float>(n);
  s->dout = s->out - s->t;
  const float loss = 0.5f * s->dout.squaredNorm() * inv_n;
  s->dout *= inv_n;
  Updater& opt = s->opt;
  opt.begin_step();
  // LayerNorm backward (dL/dr from the old gamma, then gamma and beta).
  s->gamma.g = (s->dout.array() * s->xhat.array()).matrix().colwise().sum();
  s->beta.g = s->dout.colwise().sum();
  s->g = (s->dout.array().rowwise() * s->gamma.w.row(0).array()).matrix();
  s->a = s->g.rowwise().mean();
  s->b = (s->g.array() * s->xhat.array()).matrix().rowwise().mean();
  s->g = ((s->g.array().colwise() - s->a.array() -
           s->xhat.array().colwise() * s->b.array())
              .colwise() *
          s->rstd.array())
             .matrix();  // dL/dr
  if (opt.into_weights()) {
    opt.apply(s->gamma);
    opt.apply(s->beta);
  }
  // Second Dense (the delta for h from the old W2 first), GELU, first Dense
  // (no delta for x).
  s->dh.noalias() = s->g * s->w2.w.transpose();
  opt.dense_layer(s->w2, s->b2, s->h, s->g, s->block);
  {
    auto z = s->z1.array();
    auto th = (c0 * (z + c1 * z.cube())).tanh();
    s->dz1 = (s->dh.array() * (0.5f * (1.0f + th) +
                               0.5f * z * (1.0f - th.square()) * c0 * (1.0f + 3.0f * c1 * z.square())))
                 .matrix();
  }
  opt.dense_layer(s->w1, s->b1, s->x, s->dz1, s->block);
  if (!opt.into_weights()) {
    for (Param* p : {&s->w1, &s->b1, &s->w2, &s->b2, &s->gamma, &s->beta}) opt.apply(*p);
  }
  return loss;
}

}  // namespace tern_bench::eigen_train
