// SPDX-License-Identifier: Apache-2.0
// Squared gradient norms from factors. For a batch of n rows the weight
// gradient of a Dense layer is G = sum_i u_i^T d_i, and
//     ||G||^2 = sum_{a,b} (u_a . u_b)(d_a . d_b),  ||sum_a d_a||^2 = sum_{a,b} (d_a . d_b):
// Gram matrices of the factor rows, O(n^2 (k + m)) instead of the O(n k m)
// of forming G. Sums run in double in a fixed order, and the Gram blocks come
// from the kernels' fixed-order backprop_rows, so the norms are the same bits
// on every ISA.
#include "gradient_norms.h"

#include "tern/runtime/plan.h"

namespace tern {

// The Gram blocks (kGramBlock x kGramBlock) come from backprop_rows, which
// computes A B^T with a fixed reduction order: backprop_rows(n, k, m, D, W)
// gives D W^T, and with D = rows of U and W = other rows of U that is a block
// of U U^T. Block pairs (a-block <= b-block) are summed in increasing order
// in double; an off-diagonal block counts twice.
void gram_norms(const KernelTable& k, std::size_t n, std::size_t kin, const float* u,
                std::size_t ldu, std::size_t m, const float* d, std::size_t ldd, float* scratch,
                double* w_sq, double* b_sq) {
  float* gu = scratch;
  float* gd = scratch + kGramBlock * kGramBlock;
  double w = 0.0, b = 0.0;
  for (std::size_t a0 = 0; a0 < n; a0 += kGramBlock) {
    const std::size_t na = n - a0 < kGramBlock ? n - a0 : kGramBlock;
    for (std::size_t b0 = a0; b0 < n; b0 += kGramBlock) {
      const std::size_t nb = n - b0 < kGramBlock ? n - b0 : kGramBlock;
      k.backprop_rows_f32(na, nb, kin, u + a0 * ldu, ldu, u + b0 * ldu, ldu, gu, nb);
      k.backprop_rows_f32(na, nb, m, d + a0 * ldd, ldd, d + b0 * ldd, ldd, gd, nb);
      double wb = 0.0, bb = 0.0;
      for (std::size_t i = 0; i < na * nb; ++i) {
        wb += static_cast<double>(gu[i]) * static_cast<double>(gd[i]);
        bb += static_cast<double>(gd[i]);
      }
      const double weight = b0 == a0 ? 1.0 : 2.0;
      w += weight * wb;
      b += weight * bb;
    }
  }
  *w_sq = w;
  *b_sq = b;
}

// dgamma = sum_r dy_r * xhat_r, dbeta = sum_r dy_r: the same float
// expressions as ops::layer_norm_backward, so the norm is that of the
// gradient the step applies.
double layer_norm_grad_sq(std::size_t n, std::size_t m, const float* x, const float* mean,
                          const float* rstd, const float* dy, float* sums) {
  float* sg = sums;
  float* sb = sums + m;
  for (std::size_t j = 0; j < m; ++j) sg[j] = sb[j] = 0.0f;
  for (std::size_t r = 0; r < n; ++r) {
    const float* xr = x + r * m;
    const float* dyr = dy + r * m;
    for (std::size_t j = 0; j < m; ++j) {
      const float xhat = (xr[j] - mean[r]) * rstd[r];
      sg[j] += dyr[j] * xhat;
      sb[j] += dyr[j];
    }
  }
  double sq = 0.0;
  for (std::size_t j = 0; j < m; ++j) {
    sq += static_cast<double>(sg[j]) * sg[j] + static_cast<double>(sb[j]) * sb[j];
  }
  return sq;
}

double sum_squares(const float* v, std::size_t count) {
  double sq = 0.0;
  for (std::size_t i = 0; i < count; ++i) sq += static_cast<double>(v[i]) * v[i];
  return sq;
}

}  // namespace tern
