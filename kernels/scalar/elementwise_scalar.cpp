// SPDX-License-Identifier: Apache-2.0
// The scalar reference of the element-wise kernels. tern's exp, log, tanh
// and erfinv, which they call, are kernels/src/math_f32.cpp; the noise
// generator is kernels/src/noise_generator.h.
//
// Each function spells out the formula stated beside its declaration in
// tern/kernels/elementwise.h, one element at a time, with one std::fma where
// the formula says fma and a plain operator everywhere else (the build's
// -ffp-contract=off keeps the compiler from fusing anything on its own).
// The vector kernels (kernels/generic/elementwise-inl.h) run the same
// operations lane by lane and are tested against these bit for bit, so this
// file favours being obviously the contract over being fast.
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>

#include "src/math_constants.h"
#include "src/noise_generator.h"
#include "tern/kernels/kernel_table.h"

namespace tern::kernels::scalar {

using namespace math;
using noise::noise_bits;
using noise::noise_subkeys;
using noise::noise_uniform;
using noise::NoiseSubkeys;

namespace {

float sigmoid(float x) { return 1.0f / (1.0f + exp_f32(-x)); }

float gelu(float x) {
  const float u = x * std::fma(kGeluK2, x * x, kGeluK0);
  const float h = 0.5f * x;
  return std::fma(h, tanh_f32(u), h);
}

float gelu_derivative(float x) {
  const float z = x * x;
  const float t = tanh_f32(x * std::fma(kGeluK2, z, kGeluK0));
  const float du = std::fma(kGeluK3, z, kGeluK0);
  const float sech2 = std::fma(-t, t, 1.0f);
  return std::fma((0.5f * x) * sech2, du, std::fma(0.5f, t, 0.5f));
}

// The 16 virtual lanes of a row reduction (see elementwise.h).
struct Lanes16 {
  float l[16] = {};  // +0.0f
  void add(std::size_t j, float t) { l[j % 16] = l[j % 16] + t; }
  void add_square(std::size_t j, float d) { l[j % 16] = std::fma(d, d, l[j % 16]); }
  float total() {
    for (int k = 0; k < 8; ++k) l[k] = l[k] + l[k + 8];
    for (int k = 0; k < 4; ++k) l[k] = l[k] + l[k + 4];
    for (int k = 0; k < 2; ++k) l[k] = l[k] + l[k + 2];
    return l[0] + l[1];
  }
};

float row_max(const float* x, std::size_t m) {
  float mx = -std::numeric_limits<float>::infinity();
  for (std::size_t j = 0; j < m; ++j) mx = x[j] > mx ? x[j] : mx;
  return mx;
}

// e_j = exp(x_j - mx) into out (which may be x), and their sum in the fixed
// 16-virtual-lane order of tern/kernels/elementwise.h.
float exp_row_and_sum(const float* x, std::size_t m, float mx, float* out) {
  Lanes16 lanes;
  for (std::size_t j = 0; j < m; ++j) {
    const float e = exp_f32(x[j] - mx);
    out[j] = e;
    lanes.add(j, e);
  }
  return lanes.total();
}

}  // namespace

void add_bias(std::size_t n, std::size_t m, const float* bias, float* y, std::size_t ldy) {
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t j = 0; j < m; ++j) y[i * ldy + j] = y[i * ldy + j] + bias[j];
}

void pointwise_forward(Pointwise f, std::size_t n, std::size_t m, const float* x, std::size_t ldx,
                       float* y, std::size_t ldy) {
  auto map = [&](auto fn) {
    for (std::size_t i = 0; i < n; ++i)
      for (std::size_t j = 0; j < m; ++j) y[i * ldy + j] = fn(x[i * ldx + j]);
  };
  switch (f) {
    case Pointwise::kIdentity: map([](float v) { return v; }); break;
    case Pointwise::kRelu: map([](float v) { return v > 0.0f ? v : 0.0f; }); break;
    case Pointwise::kGelu: map(gelu); break;
    case Pointwise::kTanh: map(tanh_f32); break;
    case Pointwise::kSigmoid: map(sigmoid); break;
  }
}

// dx = fn(a, dy), where a is whichever of x and y the derivative uses.
void pointwise_backward(Pointwise f, std::size_t n, std::size_t m, const float* x,
                        std::size_t ldx, const float* y, std::size_t ldy, const float* dy,
                        std::size_t lddy, float* dx, std::size_t lddx) {
  auto map = [&](const float* a, std::size_t lda, auto fn) {
    for (std::size_t i = 0; i < n; ++i)
      for (std::size_t j = 0; j < m; ++j)
        dx[i * lddx + j] = fn(a[i * lda + j], dy[i * lddy + j]);
  };
  switch (f) {
    case Pointwise::kIdentity: map(dy, lddy, [](float, float d) { return d; }); break;
    case Pointwise::kRelu: map(x, ldx, [](float v, float d) { return v > 0.0f ? d : 0.0f; }); break;
    case Pointwise::kGelu:
      map(x, ldx, [](float v, float d) { return d * gelu_derivative(v); });
      break;
    case Pointwise::kTanh:
      map(y, ldy, [](float v, float d) { return d * std::fma(-v, v, 1.0f); });
      break;
    case Pointwise::kSigmoid:
      map(y, ldy, [](float v, float d) { return d * (v * (1.0f - v)); });
      break;
  }
}

void softmax_rows(std::size_t n, std::size_t m, const float* x, std::size_t ldx, float* y,
                  std::size_t ldy) {
  for (std::size_t i = 0; i < n; ++i) {
    const float* xr = x + i * ldx;
    float* yr = y + i * ldy;
    const float mx = row_max(xr, m);
    const float s = exp_row_and_sum(xr, m, mx, yr);
    for (std::size_t j = 0; j < m; ++j) yr[j] = yr[j] / s;
  }
}

void softmax_cross_entropy(std::size_t n, std::size_t m, const float* z, std::size_t ldz,
                           const std::uint32_t* labels, float grad_scale, float* dz,
                           std::size_t lddz, float* loss_sum) {
  float total = 0.0f;
  for (std::size_t i = 0; i < n; ++i) {
    const float* zr = z + i * ldz;
    float* dzr = dz + i * lddz;
    const std::size_t c = labels[i];
    const float mx = row_max(zr, m);
    const float zc = zr[c];  // read before dz (which may be z) is written
    const float s = exp_row_and_sum(zr, m, mx, dzr);
    const float loss = log_f32(s) - (zc - mx);
    for (std::size_t j = 0; j < m; ++j) {
      const float p = dzr[j] / s;
      dzr[j] = (j == c ? p - 1.0f : p) * grad_scale;
    }
    total = total + loss;
  }
  *loss_sum = total;
}

void mse(std::size_t n, std::size_t m, const float* pred, std::size_t ldp, const float* target,
         std::size_t ldt, float grad_scale, float* grad, std::size_t ldg, float* loss_sum) {
  float total = 0.0f;
  for (std::size_t i = 0; i < n; ++i) {
    Lanes16 lanes;
    for (std::size_t j = 0; j < m; ++j) {
      const float d = pred[i * ldp + j] - target[i * ldt + j];
      grad[i * ldg + j] = d * grad_scale;
      lanes.add_square(j, d);
    }
    total = total + lanes.total();
  }
  *loss_sum = 0.5f * total;
}

void sgd_momentum(std::size_t count, float* w, const float* g, float* velocity,
                  const SgdParams& params) {
  if (params.momentum == 0.0f) {  // plain SGD: no velocity (elementwise.h)
    for (std::size_t e = 0; e < count; ++e) {
      const float gd = std::fma(params.weight_decay, w[e], g[e]);
      w[e] = std::fma(-params.learning_rate, gd, w[e]);
    }
    return;
  }
  for (std::size_t e = 0; e < count; ++e) {
    const float gd = std::fma(params.weight_decay, w[e], g[e]);
    const float v = std::fma(params.momentum, velocity[e], gd);
    velocity[e] = v;
    w[e] = std::fma(-params.learning_rate, v, w[e]);
  }
}

void adam(std::size_t count, float* w, const float* g, float* m, float* v,
          const AdamStepConstants& c) {
  for (std::size_t e = 0; e < count; ++e) {
    const float gd = std::fma(c.l2, w[e], g[e]);
    const float me = std::fma(c.beta1, m[e], c.one_minus_beta1 * gd);
    const float ve = std::fma(c.beta2, v[e], c.one_minus_beta2 * (gd * gd));
    const float d = std::fma(std::sqrt(ve), c.inv_sqrt_bc2, c.epsilon);
    m[e] = me;
    v[e] = ve;
    w[e] = std::fma(c.neg_step, me / d, w[e] * c.decay);
  }
}

void add_gaussian_noise(std::size_t count, float* g, float stddev, std::uint64_t key,
                        std::uint64_t first_index) {
  const float scale = stddev * kSqrt2;
  // noise_uniform_f32(key, first_index + e), with the subkeys computed once
  // per high word of the index instead of per element.
  std::uint32_t hi = static_cast<std::uint32_t>(first_index >> 32);
  NoiseSubkeys k = noise_subkeys(key, hi);
  for (std::size_t e = 0; e < count; ++e) {
    const std::uint64_t index = first_index + e;
    if (static_cast<std::uint32_t>(index >> 32) != hi) {
      hi = static_cast<std::uint32_t>(index >> 32);
      k = noise_subkeys(key, hi);
    }
    const float x = noise_uniform(noise_bits(k, static_cast<std::uint32_t>(index)));
    g[e] = std::fma(scale, erfinv_f32(x), g[e]);
  }
}

}  // namespace tern::kernels::scalar
