// SPDX-License-Identifier: Apache-2.0
#include "reference_elementwise.h"

#include <cmath>

namespace tern::test {

namespace {

// sqrt(2 / pi), the scale inside gelu's tanh approximation.
double gelu_scale() { return std::sqrt(2.0 / 3.14159265358979323846); }

}  // namespace

double reference_activation(Pointwise f, double x) {
  switch (f) {
    case Pointwise::kIdentity: return x;
    case Pointwise::kRelu: return x > 0 ? x : 0.0;
    case Pointwise::kGelu: return 0.5 * x * (1.0 + std::tanh(gelu_scale() * (x + 0.044715 * x * x * x)));
    case Pointwise::kTanh: return std::tanh(x);
    case Pointwise::kSigmoid: return 1.0 / (1.0 + std::exp(-x));
  }
  return x;
}

double reference_activation_derivative(Pointwise f, double x) {
  switch (f) {
    case Pointwise::kIdentity: return 1.0;
    case Pointwise::kRelu: return x > 0 ? 1.0 : 0.0;
    case Pointwise::kGelu: {
      const double c = gelu_scale();
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

double reference_cross_entropy_sum(const double* z, std::size_t n, std::size_t m,
                                   const std::uint32_t* labels) {
  double total = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const double* row = z + i * m;
    double mx = row[0];
    for (std::size_t j = 1; j < m; ++j) mx = std::fmax(mx, row[j]);
    double s = 0;
    for (std::size_t j = 0; j < m; ++j) s += std::exp(row[j] - mx);
    total += std::log(s) + mx - row[labels[i]];
  }
  return total;
}

double reference_squared_error_sum(const double* pred, const double* target, std::size_t count) {
  double total = 0;
  for (std::size_t e = 0; e < count; ++e) {
    const double d = pred[e] - target[e];
    total += 0.5 * d * d;
  }
  return total;
}

}  // namespace tern::test
