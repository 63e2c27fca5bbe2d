// SPDX-License-Identifier: Apache-2.0
#include "reference_forward.h"

#include <cmath>

#include "reference_elementwise.h"

namespace tern::test {

ReferenceModel::ReferenceModel(const Model& m) : spec_(m.spec()) {
  for (std::uint32_t t = 0; t < m.tensor_count(); ++t) {
    const Tensor x = m.tensor(t);
    params_.emplace_back(x.value.begin(), x.value.end());
    layer_of_.push_back(x.layer);
  }
}

ReferenceTrace ReferenceModel::forward(const float* x, std::size_t n) const {
  const std::uint32_t L = spec_.layer_count;
  ReferenceTrace tr;
  tr.points.resize(L + 1);
  tr.pre.resize(L);
  tr.mean.resize(L);
  tr.rstd.resize(L);
  tr.first_tensor.assign(L, 0);
  tr.points[0].assign(x, x + n * spec_.input_width);
  std::size_t t = 0;
  for (std::uint32_t l = 0; l < L; ++l) {
    const LayerSpec& ls = spec_.layers[l];
    const std::vector<double>& in = tr.points[l];
    std::vector<double>& out = tr.points[l + 1];
    const std::size_t k = ls.in, m = ls.out;
    out.assign(n * m, 0.0);
    tr.first_tensor[l] = t;
    switch (ls.kind) {
      case LayerKind::kDense: {
        const std::vector<double>& W = params_[t];
        const std::vector<double>& b = params_[t + 1];
        t += 2;
        tr.pre[l].assign(n * m, 0.0);
        for (std::size_t i = 0; i < n; ++i)
          for (std::size_t j = 0; j < m; ++j) {
            double z = b[j];
            for (std::size_t p = 0; p < k; ++p) z += in[i * k + p] * W[p * m + j];
            tr.pre[l][i * m + j] = z;
            out[i * m + j] = reference_activation(ls.act, z);
          }
        break;
      }
      case LayerKind::kActivation:
        for (std::size_t e = 0; e < n * m; ++e) out[e] = reference_activation(ls.act, in[e]);
        break;
      case LayerKind::kLayerNorm: {
        const std::vector<double>& g = params_[t];
        const std::vector<double>& b = params_[t + 1];
        t += 2;
        tr.mean[l].assign(n, 0.0);
        tr.rstd[l].assign(n, 0.0);
        for (std::size_t i = 0; i < n; ++i) {
          double mu = 0, var = 0;
          for (std::size_t j = 0; j < m; ++j) mu += in[i * m + j];
          mu /= double(m);
          for (std::size_t j = 0; j < m; ++j) var += (in[i * m + j] - mu) * (in[i * m + j] - mu);
          var /= double(m);
          const double r = 1.0 / std::sqrt(var + double(kLayerNormEpsilon));
          tr.mean[l][i] = mu;
          tr.rstd[l][i] = r;
          for (std::size_t j = 0; j < m; ++j) out[i * m + j] = (in[i * m + j] - mu) * r * g[j] + b[j];
        }
        break;
      }
      case LayerKind::kResidual:
        for (std::size_t e = 0; e < n * m; ++e) out[e] = in[e] + tr.points[ls.from][e];
        break;
    }
  }
  return tr;
}

double ReferenceModel::loss(const float* x, std::size_t n, const std::uint32_t* labels,
                            const float* targets) const {
  const ReferenceTrace trace = forward(x, n);
  const std::vector<double>& y = trace.points[spec_.layer_count];
  double total = 0;
  if (spec_.loss == LossKind::kSoftmaxCrossEntropy) {
    total = reference_cross_entropy_sum(y.data(), n, spec_.output_width(), labels);
  } else {
    const std::vector<double> t(targets, targets + y.size());
    total = reference_squared_error_sum(y.data(), t.data(), y.size());
  }
  return total / double(n);
}

double ReferenceModel::numeric_gradient(std::size_t tensor, std::size_t i, const float* x,
                                        std::size_t n, const std::uint32_t* labels,
                                        const float* targets, double h) {
  double& p = params_[tensor][i];
  const double saved = p;
  p = saved + h;
  const double up = loss(x, n, labels, targets);
  p = saved - h;
  const double down = loss(x, n, labels, targets);
  p = saved;
  return (up - down) / (2 * h);
}

}  // namespace tern::test
