// An independent double-precision model for gradient checks: the same
// mathematics as tern's layers (written from the definitions, sharing no
// code), evaluated in double, differentiated by central finite differences.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "tern/runtime/model.h"

namespace tern::test {

class ReferenceModel {
 public:
  // Takes the architecture and the current parameters of `m`.
  explicit ReferenceModel(const Model& m) : spec_(m.spec()) {
    for (std::uint32_t t = 0; t < m.tensor_count(); ++t) {
      const Tensor x = m.tensor(t);
      params_.emplace_back(x.value.begin(), x.value.end());
    }
  }

  std::vector<std::vector<double>>& params() { return params_; }

  // Mean loss over the n rows of x (row-major, input_width wide).
  double loss(const std::vector<float>& x, std::size_t n, const std::uint32_t* labels,
              const std::vector<float>* targets) const {
    std::vector<std::vector<double>> points(spec_.layer_count + 1);
    points[0].assign(x.begin(), x.begin() + long(n * spec_.input_width));
    std::size_t tensor = 0;
    for (std::uint32_t l = 0; l < spec_.layer_count; ++l) {
      const LayerSpec& ls = spec_.layers[l];
      const std::vector<double>& in = points[l];
      std::vector<double>& out = points[l + 1];
      out.assign(n * ls.out, 0.0);
      switch (ls.kind) {
        case LayerKind::kDense: {
          const std::vector<double>& W = params_[tensor];
          const std::vector<double>& b = params_[tensor + 1];
          tensor += 2;
          for (std::size_t i = 0; i < n; ++i)
            for (std::size_t j = 0; j < ls.out; ++j) {
              double z = b[j];
              for (std::size_t p = 0; p < ls.in; ++p) z += in[i * ls.in + p] * W[p * ls.out + j];
              out[i * ls.out + j] = act(ls.act, z);
            }
          break;
        }
        case LayerKind::kActivation:
          for (std::size_t e = 0; e < out.size(); ++e) out[e] = act(ls.act, in[e]);
          break;
        case LayerKind::kLayerNorm: {
          const std::vector<double>& g = params_[tensor];
          const std::vector<double>& b = params_[tensor + 1];
          tensor += 2;
          const std::size_t d = ls.out;
          for (std::size_t i = 0; i < n; ++i) {
            double mean = 0, var = 0;
            for (std::size_t j = 0; j < d; ++j) mean += in[i * d + j];
            mean /= double(d);
            for (std::size_t j = 0; j < d; ++j) var += (in[i * d + j] - mean) * (in[i * d + j] - mean);
            var /= double(d);
            const double r = 1.0 / std::sqrt(var + double(kLayerNormEpsilon));
            for (std::size_t j = 0; j < d; ++j) out[i * d + j] = (in[i * d + j] - mean) * r * g[j] + b[j];
          }
          break;
        }
        case LayerKind::kResidual:
          for (std::size_t e = 0; e < out.size(); ++e) out[e] = in[e] + points[ls.from][e];
          break;
      }
    }
    const std::vector<double>& y = points[spec_.layer_count];
    const std::size_t m = spec_.output_width();
    double total = 0;
    for (std::size_t i = 0; i < n; ++i) {
      if (spec_.loss == LossKind::kSoftmaxCrossEntropy) {
        double mx = y[i * m];
        for (std::size_t j = 1; j < m; ++j) mx = std::fmax(mx, y[i * m + j]);
        double s = 0;
        for (std::size_t j = 0; j < m; ++j) s += std::exp(y[i * m + j] - mx);
        total += std::log(s) + mx - y[i * m + labels[i]];
      } else {
        for (std::size_t j = 0; j < m; ++j) {
          const double d = y[i * m + j] - double((*targets)[i * m + j]);
          total += 0.5 * d * d;
        }
      }
    }
    return total / double(n);
  }

  // dLoss/dparams_[tensor][i] by central differences.
  double numeric_gradient(std::size_t tensor, std::size_t i, const std::vector<float>& x,
                          std::size_t n, const std::uint32_t* labels,
                          const std::vector<float>* targets, double h = 1e-5) {
    double& p = params_[tensor][i];
    const double saved = p;
    p = saved + h;
    const double up = loss(x, n, labels, targets);
    p = saved - h;
    const double down = loss(x, n, labels, targets);
    p = saved;
    return (up - down) / (2 * h);
  }

  static double act(Pointwise f, double x) {
    switch (f) {
      case Pointwise::kIdentity: return x;
      case Pointwise::kRelu: return x > 0 ? x : 0.0;
      case Pointwise::kGelu: {
        const double c = std::sqrt(2.0 / 3.14159265358979323846);
        return 0.5 * x * (1.0 + std::tanh(c * (x + 0.044715 * x * x * x)));
      }
      case Pointwise::kTanh: return std::tanh(x);
      case Pointwise::kSigmoid: return 1.0 / (1.0 + std::exp(-x));
    }
    return x;
  }

 private:
  ModelSpec spec_;
  std::vector<std::vector<double>> params_;
};

}  // namespace tern::test
