// SPDX-License-Identifier: Apache-2.0
// An independent double-precision copy of a tern model for gradient checks:
// the forward pass of every layer kind and the mean loss, written from the
// definitions (sharing no code with tern's layers), and the loss's gradient
// by central finite differences. reference_backward.h differentiates the
// same forward pass analytically.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "tern/runtime/model.h"

namespace tern::test {

// One vector of doubles per parameter tensor, in the model's tensor order.
using ReferenceTensors = std::vector<std::vector<double>>;

// What a forward pass leaves behind for the backward pass, per layer l:
// its input points[l] (points[layer_count] is the model's output), a Dense
// layer's pre-activation, a LayerNorm's row mean and 1/sqrt(var + eps), and
// the index of the layer's first parameter tensor.
struct ReferenceTrace {
  std::vector<std::vector<double>> points, pre, mean, rstd;
  std::vector<std::size_t> first_tensor;
};

class ReferenceModel {
 public:
  // Takes the architecture and the current parameters of `m`.
  explicit ReferenceModel(const Model& m);

  const ModelSpec& spec() const { return spec_; }
  ReferenceTensors& params() { return params_; }
  const ReferenceTensors& params() const { return params_; }
  // The layer that parameter tensor t belongs to.
  std::uint32_t layer_of(std::size_t tensor) const { return layer_of_[tensor]; }

  // The forward pass of the n rows of x (row-major, input_width wide).
  ReferenceTrace forward(const float* x, std::size_t n) const;

  // The MEAN over the n rows of the per-row loss: softmax cross-entropy
  // against `labels`, or half the squared error against `targets`
  // (output_width wide); the one the spec's loss does not use may be null.
  double loss(const float* x, std::size_t n, const std::uint32_t* labels,
              const float* targets) const;

  // dLoss/dparams()[tensor][i] by central differences of loss() with step h.
  double numeric_gradient(std::size_t tensor, std::size_t i, const float* x, std::size_t n,
                          const std::uint32_t* labels, const float* targets, double h = 1e-5);

 private:
  ModelSpec spec_;
  ReferenceTensors params_;
  std::vector<std::uint32_t> layer_of_;
};

}  // namespace tern::test
