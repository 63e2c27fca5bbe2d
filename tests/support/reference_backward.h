// SPDX-License-Identifier: Apache-2.0
// The analytic backward pass of reference_forward.h's double-precision
// model, written from the definitions of the layers and losses (sharing no
// code with tern), plus the arithmetic on whole gradients that the tests of
// per-example gradients, clipping and accumulation need. It can MATERIALISE
// what tern never forms: one gradient per example. Its agreement with
// ReferenceModel::numeric_gradient is itself a test case.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "reference_forward.h"

namespace tern::test {

// One vector per parameter tensor, shaped like ReferenceModel::params().
using ReferenceGradients = ReferenceTensors;

// Zeros shaped like the model's parameters.
ReferenceGradients zero_gradients(const ReferenceModel& ref);

// The gradient of the SUM of the per-row losses of the n rows of x (labels
// and targets as for ReferenceModel::loss). Optionally the forward trace
// (each layer's input rows in trace->points) and dL/dz of every Dense
// layer's pre-activation (empty for other layers).
ReferenceGradients reference_gradient(const ReferenceModel& ref, const float* x, std::size_t n,
                                      const std::uint32_t* labels, const float* targets,
                                      ReferenceTrace* trace = nullptr,
                                      std::vector<std::vector<double>>* dz = nullptr);

// The Euclidean norm of each layer's share of g (0 for layers without
// parameters), then the norm of the whole of g: layer_count + 1 values, the
// layout of Model::example_norms().
std::vector<double> layer_norms(const ReferenceModel& ref, const ReferenceGradients& g);

// The Euclidean norm of the whole of g.
double norm_of(const ReferenceGradients& g);

// y += a * x, tensor by tensor.
void axpy(double a, const ReferenceGradients& x, ReferenceGradients* y);

}  // namespace tern::test
