// SPDX-License-Identifier: Apache-2.0
// Double-precision references for the element-wise mathematics of training:
// the activations and their derivatives, and the two losses. Written from
// the textbook definitions, sharing no code with tern's kernels (whose
// float formulas are stated in tern/kernels/elementwise.h), so a test that
// compares the two compares two independent derivations.
#pragma once

#include <cstddef>
#include <cstdint>

#include "tern/kernels/elementwise.h"

namespace tern::test {

// f(x) for each Pointwise function; gelu is the tanh approximation tern
// implements (not the erf form), so the two agree to float rounding.
double reference_activation(Pointwise f, double x);

// f'(x), analytically (relu' is 0 at the kink, as in tern).
double reference_activation_derivative(Pointwise f, double x);

// The SUM over the n rows of z (n x m, row-major, contiguous) of
// log(sum_j exp(z_ij)) - z_i[labels[i]], with the row maximum subtracted
// before exp so that large logits do not overflow.
double reference_cross_entropy_sum(const double* z, std::size_t n, std::size_t m,
                                   const std::uint32_t* labels);

// The sum over all `count` elements of 0.5 * (pred - target)^2.
double reference_squared_error_sum(const double* pred, const double* target, std::size_t count);

}  // namespace tern::test
