// SPDX-License-Identifier: Apache-2.0
// Private to the runtime: the constants of one optimizer step, computed once
// per step by Model::start_update() (optimizer_step.cpp) and handed to every
// tensor's update.
#pragma once

#include "tern/kernels/elementwise.h"

namespace tern::runtime_detail {

// Index 0 for tensors without weight decay (biases, LayerNorm), 1 for Dense
// weights, which weight decay applies to (OptimizerParams::weight_decay), and
// for every tensor with WeightDecayScope::kAllParameters.
struct UpdateConstants {
  SgdParams sgd[2];
  AdamStepConstants adam[2];
};

}  // namespace tern::runtime_detail
