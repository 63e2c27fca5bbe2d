// SPDX-License-Identifier: Apache-2.0
#include "reference_backward.h"

#include <algorithm>
#include <cmath>

#include "reference_elementwise.h"

namespace tern::test {

ReferenceGradients zero_gradients(const ReferenceModel& ref) {
  ReferenceGradients g;
  for (const auto& p : ref.params()) g.emplace_back(p.size(), 0.0);
  return g;
}

ReferenceGradients reference_gradient(const ReferenceModel& ref, const float* x, std::size_t n,
                                      const std::uint32_t* labels, const float* targets,
                                      ReferenceTrace* trace,
                                      std::vector<std::vector<double>>* dz_out) {
  const ModelSpec& spec = ref.spec();
  const ReferenceTensors& params = ref.params();
  const std::uint32_t L = spec.layer_count;
  const ReferenceTrace tr = ref.forward(x, n);
  const std::vector<std::vector<double>>& pt = tr.points;
  std::vector<std::vector<double>> dpt(L + 1), dzs(L);

  // dL/dy of the per-row losses (summed over the rows, not averaged).
  const std::size_t mo = spec.output_width();
  for (std::uint32_t p = 0; p <= L; ++p) dpt[p].assign(n * spec.width(p), 0.0);
  for (std::size_t i = 0; i < n; ++i) {
    const double* y = pt[L].data() + i * mo;
    double* dy = dpt[L].data() + i * mo;
    if (spec.loss == LossKind::kSoftmaxCrossEntropy) {
      double mx = y[0];
      for (std::size_t j = 1; j < mo; ++j) mx = std::max(mx, y[j]);
      double s = 0;
      for (std::size_t j = 0; j < mo; ++j) s += std::exp(y[j] - mx);
      for (std::size_t j = 0; j < mo; ++j) dy[j] = std::exp(y[j] - mx) / s;
      dy[labels[i]] -= 1.0;
    } else {
      for (std::size_t j = 0; j < mo; ++j) dy[j] = y[j] - double(targets[i * mo + j]);
    }
  }

  ReferenceGradients g = zero_gradients(ref);
  for (std::uint32_t l = L; l-- > 0;) {
    const LayerSpec& ls = spec.layers[l];
    const std::size_t k = ls.in, m = ls.out, t = tr.first_tensor[l];
    const std::vector<double>& xin = pt[l];
    const std::vector<double>& dy = dpt[l + 1];
    std::vector<double>& dx = dpt[l];
    switch (ls.kind) {
      case LayerKind::kDense: {
        const auto& W = params[t];
        auto& gW = g[t];
        auto& gb = g[t + 1];
        std::vector<double>& dz = dzs[l];
        dz.assign(n * m, 0.0);
        for (std::size_t e = 0; e < n * m; ++e) {
          dz[e] = dy[e] * reference_activation_derivative(ls.act, tr.pre[l][e]);
        }
        for (std::size_t i = 0; i < n; ++i)
          for (std::size_t j = 0; j < m; ++j) {
            gb[j] += dz[i * m + j];
            for (std::size_t p = 0; p < k; ++p) {
              gW[p * m + j] += xin[i * k + p] * dz[i * m + j];
              dx[i * k + p] += dz[i * m + j] * W[p * m + j];
            }
          }
        break;
      }
      case LayerKind::kActivation:
        for (std::size_t e = 0; e < n * m; ++e) {
          dx[e] += dy[e] * reference_activation_derivative(ls.act, xin[e]);
        }
        break;
      case LayerKind::kLayerNorm: {
        const auto& gamma = params[t];
        auto& gg = g[t];
        auto& gb = g[t + 1];
        for (std::size_t i = 0; i < n; ++i) {
          const double mu = tr.mean[l][i], r = tr.rstd[l][i];
          double sg = 0, sgx = 0;
          for (std::size_t j = 0; j < m; ++j) {
            const double xhat = (xin[i * m + j] - mu) * r;
            const double gj = dy[i * m + j] * gamma[j];
            gg[j] += dy[i * m + j] * xhat;
            gb[j] += dy[i * m + j];
            sg += gj;
            sgx += gj * xhat;
          }
          for (std::size_t j = 0; j < m; ++j) {
            const double xhat = (xin[i * m + j] - mu) * r;
            const double gj = dy[i * m + j] * gamma[j];
            dx[i * m + j] += r * (gj - sg / double(m) - xhat * sgx / double(m));
          }
        }
        break;
      }
      case LayerKind::kResidual:
        for (std::size_t e = 0; e < n * m; ++e) {
          dx[e] += dy[e];
          dpt[ls.from][e] += dy[e];
        }
        break;
    }
  }
  if (trace != nullptr) *trace = tr;
  if (dz_out != nullptr) *dz_out = dzs;
  return g;
}

std::vector<double> layer_norms(const ReferenceModel& ref, const ReferenceGradients& g) {
  const std::uint32_t L = ref.spec().layer_count;
  std::vector<double> sq(L + 1, 0.0);
  for (std::size_t t = 0; t < g.size(); ++t) {
    for (double v : g[t]) sq[ref.layer_of(t)] += v * v;
  }
  double total = 0;
  for (std::uint32_t l = 0; l < L; ++l) total += sq[l];
  sq[L] = total;
  for (double& v : sq) v = std::sqrt(v);
  return sq;
}

double norm_of(const ReferenceGradients& g) {
  double sq = 0;
  for (const auto& t : g)
    for (double v : t) sq += v * v;
  return std::sqrt(sq);
}

void axpy(double a, const ReferenceGradients& x, ReferenceGradients* y) {
  for (std::size_t t = 0; t < x.size(); ++t)
    for (std::size_t i = 0; i < x[t].size(); ++i) (*y)[t][i] += a * x[t][i];
}

}  // namespace tern::test
