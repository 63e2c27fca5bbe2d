// SPDX-License-Identifier: Apache-2.0
// Private to the runtime: the portable loops the passes run, after the model has
// validated every shape at build time. The dense-layer kernels come straight
// from the kernel table; LayerNorm and the residual add are portable loops
// here (the same code on every ISA, fixed reduction order, so bit-identical
// everywhere).
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "tern/kernels/kernel_table.h"
#include "tern/kernels/elementwise.h"
#include "tern/runtime/spec.h"

namespace tern::ops {

inline bool is_finite(float v) {
  std::uint32_t bits;
  std::memcpy(&bits, &v, sizeof bits);
  return (bits & 0x7f800000u) != 0x7f800000u;  // exponent all ones: Inf or NaN
}

// Y (n x m) = LayerNorm(X) per row; mean/rstd (n floats each) are stored
// when non-null, for the backward pass. Sums run over j in increasing order.
inline void layer_norm_forward(std::size_t n, std::size_t m, const float* x, std::size_t ldx,
                               const float* gamma, const float* beta, float* y, std::size_t ldy,
                               float* mean_out, float* rstd_out) {
  const float inv_m = 1.0f / static_cast<float>(m);
  for (std::size_t i = 0; i < n; ++i) {
    const float* xi = x + i * ldx;
    float* yi = y + i * ldy;
    float sum = 0.0f;
    for (std::size_t j = 0; j < m; ++j) sum += xi[j];
    const float mean = sum * inv_m;
    float var = 0.0f;
    for (std::size_t j = 0; j < m; ++j) {
      const float d = xi[j] - mean;
      var += d * d;
    }
    const float rstd = 1.0f / std::sqrt(var * inv_m + kLayerNormEpsilon);
    for (std::size_t j = 0; j < m; ++j) yi[j] = (xi[j] - mean) * rstd * gamma[j] + beta[j];
    if (mean_out != nullptr) {
      mean_out[i] = mean;
      rstd_out[i] = rstd;
    }
  }
}

// Given dY, accumulates dgamma += sum_i dY_i * xhat_i and dbeta += sum_i dY_i
// (rows in increasing order; skipped when dgamma is null) and, when dx is
// non-null, writes
//   dX_i = rstd_i * (g - mean_j(g) - xhat_i * mean_j(g * xhat_i)),  g = dY_i * gamma.
inline void layer_norm_backward(std::size_t n, std::size_t m, const float* x, std::size_t ldx,
                                const float* mean, const float* rstd, const float* gamma,
                                const float* dy, std::size_t lddy, float* dx, std::size_t lddx,
                                float* dgamma, float* dbeta) {
  const float inv_m = 1.0f / static_cast<float>(m);
  for (std::size_t i = 0; i < n; ++i) {
    const float* xi = x + i * ldx;
    const float* dyi = dy + i * lddy;
    const float mu = mean[i], r = rstd[i];
    float sum_g = 0.0f, sum_gx = 0.0f;
    for (std::size_t j = 0; j < m; ++j) {
      const float xhat = (xi[j] - mu) * r;
      const float g = dyi[j] * gamma[j];
      sum_g += g;
      sum_gx += g * xhat;
      if (dgamma != nullptr) {
        dgamma[j] += dyi[j] * xhat;
        dbeta[j] += dyi[j];
      }
    }
    if (dx == nullptr) continue;
    const float mean_g = sum_g * inv_m, mean_gx = sum_gx * inv_m;
    float* dxi = dx + i * lddx;
    for (std::size_t j = 0; j < m; ++j) {
      const float xhat = (xi[j] - mu) * r;
      const float g = dyi[j] * gamma[j];
      dxi[j] = (g - mean_g - xhat * mean_gx) * r;
    }
  }
}

// Y = A + B, n x m.
inline void add_rows(std::size_t n, std::size_t m, const float* a, std::size_t lda, const float* b,
                     std::size_t ldb, float* y, std::size_t ldy) {
  for (std::size_t i = 0; i < n; ++i) {
    const float* ai = a + i * lda;
    const float* bi = b + i * ldb;
    float* yi = y + i * ldy;
    for (std::size_t j = 0; j < m; ++j) yi[j] = ai[j] + bi[j];
  }
}

// Y += A, n x m.
inline void accumulate_rows(std::size_t n, std::size_t m, const float* a, std::size_t lda,
                            float* y, std::size_t ldy) {
  for (std::size_t i = 0; i < n; ++i) {
    const float* ai = a + i * lda;
    float* yi = y + i * ldy;
    for (std::size_t j = 0; j < m; ++j) yi[j] += ai[j];
  }
}

}  // namespace tern::ops
