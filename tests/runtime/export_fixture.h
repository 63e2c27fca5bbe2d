// SPDX-License-Identifier: Apache-2.0
// Shared by the export tool (which trains a model and writes it as a C
// header, with the outputs it computes) and the program that compiles that
// header in: the architecture and the inputs, nothing else.
#pragma once

#include <cstddef>

#include "tern/runtime/rng.h"
#include "tern/runtime/spec.h"

namespace export_fixture {

// Every layer kind and several activations, so every kind of tensor is exported.
constexpr tern::ModelSpec kTrainSpec = tern::ModelSpec::input(6, 8)
                                           .dense(10, tern::Pointwise::kGelu)
                                           .layer_norm()
                                           .dense(10, tern::Pointwise::kTanh)
                                           .residual(2)
                                           .dense(3)
                                           .training(tern::LossKind::kSoftmaxCrossEntropy,
                                                     tern::OptimizerKind::kAdam);
constexpr std::size_t kRows = 5;  // rows of the checked forward pass
constexpr tern::ModelSpec kInferSpec = kTrainSpec.inference().with_rows(kRows);

// The inputs of the checked forward pass: kRows x 6.
inline void inputs(float* x) {
  tern::Rng rng(99, 4);
  for (std::size_t i = 0; i < kRows * 6; ++i) x[i] = rng.symmetric(2.0f);
}

}  // namespace export_fixture
