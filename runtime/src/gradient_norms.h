// SPDX-License-Identifier: Apache-2.0
// Private to the runtime: squared gradient norms computed from the rank-1
// factors of a Dense layer's gradient, and from LayerNorm's parameter
// gradients, without forming the gradient (example_gradients.cpp).
#pragma once

#include <cstddef>

#include "tern/kernels/kernel_table.h"

namespace tern {

// Squared Frobenius norms of sum_a u_a^T d_a (*w_sq) and of sum_a d_a
// (*b_sq) over rows a = 0 .. n-1. `scratch`: 2 kGramBlock^2 floats.
void gram_norms(const KernelTable& k, std::size_t n, std::size_t kin, const float* u,
                std::size_t ldu, std::size_t m, const float* d, std::size_t ldd, float* scratch,
                double* w_sq, double* b_sq);

// Squared norm of LayerNorm's (dgamma, dbeta) for rows 0 .. n-1; `sums`:
// 2 m floats.
double layer_norm_grad_sq(std::size_t n, std::size_t m, const float* x, const float* mean,
                          const float* rstd, const float* dy, float* sums);

// sum_i v_i^2 in double, in increasing i.
double sum_squares(const float* v, std::size_t count);

}  // namespace tern
