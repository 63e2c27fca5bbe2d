// The Eigen peer of the training-step benchmarks: the same training steps
// as tern's Model::train_step, written by hand on Eigen matrices, the way
// one would without tern. Row-major float matrices, all storage allocated
// in the create functions; the step functions assign into existing
// matrices with noalias() products so Eigen allocates nothing per step.
//
// Compiled with the kernel flags of TERN_BENCH_EIGEN_ISA like peer_eigen.cpp
// (the only other unit that includes Eigen), and entered only on a CPU that
// runs that ISA.
#include <Eigen/Core>

#include "train_units.h"

namespace tern_bench::eigen_train {

namespace {
using Mat = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using Col = Eigen::Matrix<float, Eigen::Dynamic, 1>;
using Index = Eigen::Index;

Index idx(std::size_t v) { return static_cast<Index>(v); }

// Deterministic weights in [-limit, limit) from a 32-bit LCG.
void fill(Mat& m, float limit, std::uint32_t seed) {
  std::uint32_t s = seed * 2654435761u + 1u;
  for (Index i = 0; i < m.size(); ++i) {
    s = s * 1664525u + 1013904223u;
    m.data()[i] = (static_cast<float>(s >> 8) * (1.0f / 16777216.0f) * 2.0f - 1.0f) * limit;
  }
}

// One Adam tensor: value, gradient, moments. Matrices and row vectors share
// this through Mat (a bias is a 1 x m matrix).
struct Param {
  Mat w, g, m, v;
  Param(Index rows, Index cols) : w(rows, cols), g(rows, cols), m(rows, cols), v(rows, cols) {
    w.setZero();
    g.setZero();
    m.setZero();
    v.setZero();
  }
};

struct AdamState {
  float lr = 1e-4f, beta1 = 0.9f, beta2 = 0.999f, eps = 1e-8f;
  float pow1 = 1.0f, pow2 = 1.0f;
  float step_size = 0, inv_sqrt_bc2 = 0;
  void next() {
    pow1 *= beta1;
    pow2 *= beta2;
    step_size = lr / (1.0f - pow1);
    inv_sqrt_bc2 = 1.0f / std::sqrt(1.0f - pow2);
  }
  void apply(Param& p) const {
    p.m.array() = beta1 * p.m.array() + (1.0f - beta1) * p.g.array();
    p.v.array() = beta2 * p.v.array() + (1.0f - beta2) * p.g.array().square();
    p.w.array() -= step_size * p.m.array() / (p.v.array().sqrt() * inv_sqrt_bc2 + eps);
  }
};

}  // namespace

// ---------------------------------------------------------------------------
// MLP 784-256-128-10
// ---------------------------------------------------------------------------
struct Mlp {
  std::size_t n;
  Param w1{784, 256}, b1{1, 256}, w2{256, 128}, b2{1, 128}, w3{128, 10}, b3{1, 10};
  Mat x, h1, h2, z, dz, dh2, dh1;
  Col mx, sum;
  AdamState adam;
  explicit Mlp(std::size_t rows)
      : n(rows), x(idx(rows), 784), h1(idx(rows), 256), h2(idx(rows), 128), z(idx(rows), 10),
        dz(idx(rows), 10), dh2(idx(rows), 128), dh1(idx(rows), 256), mx(idx(rows)),
        sum(idx(rows)) {
    fill(w1.w, std::sqrt(6.0f / 784), 1);
    fill(w2.w, std::sqrt(6.0f / 256), 2);
    fill(w3.w, std::sqrt(6.0f / 138), 3);
  }
};

Mlp* mlp_create(std::size_t batch) { return new Mlp(batch); }
void mlp_destroy(Mlp* s) { delete s; }

float mlp_step(Mlp* s, const float* x, const std::uint32_t* labels) {
  const Index n = idx(s->n);
  s->x = Eigen::Map<const Mat>(x, n, 784);
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
    const Index c = static_cast<Index>(labels[i]);
    loss += std::log(s->sum(i)) + s->mx(i) - s->z(i, c);
    s->dz.row(i) *= inv_n / s->sum(i);
    s->dz(i, c) -= inv_n;
  }
  // Backward.
  s->w3.g.noalias() = s->h2.transpose() * s->dz;
  s->b3.g = s->dz.colwise().sum();
  s->dh2.noalias() = s->dz * s->w3.w.transpose();
  s->dh2 = (s->h2.array() > 0.0f).select(s->dh2, 0.0f);
  s->w2.g.noalias() = s->h1.transpose() * s->dh2;
  s->b2.g = s->dh2.colwise().sum();
  s->dh1.noalias() = s->dh2 * s->w2.w.transpose();
  s->dh1 = (s->h1.array() > 0.0f).select(s->dh1, 0.0f);
  s->w1.g.noalias() = s->x.transpose() * s->dh1;
  s->b1.g = s->dh1.colwise().sum();
  // Adam.
  s->adam.next();
  for (Param* p : {&s->w1, &s->b1, &s->w2, &s->b2, &s->w3, &s->b3}) s->adam.apply(*p);
  return loss * inv_n;
}

// ---------------------------------------------------------------------------
// Feed-forward block
// ---------------------------------------------------------------------------
struct Ffn {
  std::size_t n, d, dff;
  Param w1, b1, w2, b2, gamma, beta;
  Mat x, t, z1, h, r, xhat, out, dout, g, dz1, dh;
  Col mean, rstd, a, b;
  AdamState adam;
  Ffn(std::size_t rows, std::size_t width, std::size_t inner)
      : n(rows), d(width), dff(inner), w1(idx(width), idx(inner)), b1(1, idx(inner)),
        w2(idx(inner), idx(width)), b2(1, idx(width)), gamma(1, idx(width)), beta(1, idx(width)),
        x(idx(rows), idx(width)), t(idx(rows), idx(width)), z1(idx(rows), idx(inner)),
        h(idx(rows), idx(inner)), r(idx(rows), idx(width)), xhat(idx(rows), idx(width)),
        out(idx(rows), idx(width)), dout(idx(rows), idx(width)), g(idx(rows), idx(width)),
        dz1(idx(rows), idx(inner)), dh(idx(rows), idx(inner)), mean(idx(rows)), rstd(idx(rows)),
        a(idx(rows)), b(idx(rows)) {
    fill(w1.w, std::sqrt(6.0f / static_cast<float>(width)), 4);
    fill(w2.w, std::sqrt(6.0f / static_cast<float>(width + inner)), 5);
    gamma.w.setOnes();
  }
};

Ffn* ffn_create(std::size_t n, std::size_t d, std::size_t d_ff) { return new Ffn(n, d, d_ff); }
void ffn_destroy(Ffn* s) { delete s; }

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
  // LayerNorm backward.
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
  // Second Dense, GELU, first Dense (no delta for x).
  s->w2.g.noalias() = s->h.transpose() * s->g;
  s->b2.g = s->g.colwise().sum();
  s->dh.noalias() = s->g * s->w2.w.transpose();
  {
    auto z = s->z1.array();
    auto th = (c0 * (z + c1 * z.cube())).tanh();
    s->dz1 = (s->dh.array() * (0.5f * (1.0f + th) +
                               0.5f * z * (1.0f - th.square()) * c0 * (1.0f + 3.0f * c1 * z.square())))
                 .matrix();
  }
  s->w1.g.noalias() = s->x.transpose() * s->dz1;
  s->b1.g = s->dz1.colwise().sum();
  s->adam.next();
  for (Param* p : {&s->w1, &s->b1, &s->w2, &s->b2, &s->gamma, &s->beta}) s->adam.apply(*p);
  return loss;
}

}  // namespace tern_bench::eigen_train
