// SPDX-License-Identifier: Apache-2.0
// The scalar reference kernels.
//
// Plain loops that spell out the arithmetic contract of
// tern/kernels/dense.h one output element at a time. They are the fallback
// on cores without a vector unit (Cortex-M) and the oracle every vector kernel
// is tested against bit for bit, so they favour obviousness over speed: no
// blocking, no unrolling, one std::fma per step.
#include <cmath>

#include "tern/kernels/kernel_table.h"

namespace tern::kernels::scalar {

namespace {

float apply(Activation act, float v) {
  if (act == Activation::kRelu) return v > 0.0f ? v : 0.0f;
  return v;
}

}  // namespace

void gemm_rows(std::size_t n, std::size_t k, std::size_t m, const float* x, std::size_t ldx,
               const float* w, std::size_t ldw, const float* bias, float* y, std::size_t ldy,
               Activation act, float* /*scratch: the reference needs no packing*/) {
  for (std::size_t i = 0; i < n; ++i) {
    for (std::size_t j = 0; j < m; ++j) {
      float acc = bias ? bias[j] : 0.0f;
      for (std::size_t p = 0; p < k; ++p) acc = std::fma(x[i * ldx + p], w[p * ldw + j], acc);
      y[i * ldy + j] = apply(act, acc);
    }
  }
}

void rank1_accumulate(std::size_t n, std::size_t k, std::size_t m, float alpha, const float* u,
                      std::size_t ldu, const float* d, std::size_t ldd, float* g,
                      std::size_t ldg, float* /*scratch*/) {
  for (std::size_t p = 0; p < k; ++p) {
    for (std::size_t j = 0; j < m; ++j) {
      float s = 0.0f;
      for (std::size_t i = 0; i < n; ++i) s = std::fma(u[i * ldu + p], d[i * ldd + j], s);
      g[p * ldg + j] = std::fma(alpha, s, g[p * ldg + j]);
    }
  }
}

void rank1_gradient(std::size_t n, std::size_t k, std::size_t m, float alpha, const float* u,
                    std::size_t ldu, const float* d, std::size_t ldd, float* g, std::size_t ldg,
                    float* /*scratch*/) {
  for (std::size_t p = 0; p < k; ++p) {
    for (std::size_t j = 0; j < m; ++j) {
      float s = 0.0f;
      for (std::size_t i = 0; i < n; ++i) s = std::fma(u[i * ldu + p], d[i * ldd + j], s);
      g[p * ldg + j] = std::fma(alpha, s, 0.0f);
    }
  }
}

void rank1_sgd_update(std::size_t n, std::size_t k, std::size_t m, float alpha, const float* u,
                      std::size_t ldu, const float* d, std::size_t ldd, float* w,
                      std::size_t ldw, float* velocity, std::size_t ldv,
                      const SgdParams& params) {
  const bool momentum = params.momentum != 0.0f;
  for (std::size_t p = 0; p < k; ++p) {
    for (std::size_t j = 0; j < m; ++j) {
      float s = 0.0f;
      for (std::size_t i = 0; i < n; ++i) s = std::fma(u[i * ldu + p], d[i * ldd + j], s);
      const float g = std::fma(alpha, s, 0.0f);
      float& wj = w[p * ldw + j];
      float step = std::fma(params.weight_decay, wj, g);
      if (momentum) {
        float& vj = velocity[p * ldv + j];
        step = std::fma(params.momentum, vj, step);
        vj = step;
      }
      wj = std::fma(-params.learning_rate, step, wj);
    }
  }
}

void column_sums_accumulate(std::size_t n, std::size_t m, float alpha, const float* d,
                            std::size_t ldd, float* g) {
  for (std::size_t j = 0; j < m; ++j) {
    float s = 0.0f;
    for (std::size_t i = 0; i < n; ++i) s = s + d[i * ldd + j];
    g[j] = std::fma(alpha, s, g[j]);
  }
}

void backprop_rows(std::size_t n, std::size_t k, std::size_t m, const float* d, std::size_t ldd,
                   const float* w, std::size_t ldw, float* dx, std::size_t lddx) {
  for (std::size_t i = 0; i < n; ++i) {
    for (std::size_t p = 0; p < k; ++p) {
      float lane[16];
      for (std::size_t l = 0; l < 16; ++l) {
        lane[l] = 0.0f;
        for (std::size_t j = l; j < m; j += 16) {
          lane[l] = std::fma(d[i * ldd + j], w[p * ldw + j], lane[l]);
        }
      }
      for (std::size_t h = 8; h >= 1; h /= 2) {
        for (std::size_t l = 0; l < h; ++l) lane[l] = lane[l] + lane[l + h];
      }
      dx[i * lddx + p] = lane[0];
    }
  }
}

}  // namespace tern::kernels::scalar
