// The model the loader fuzz target loads into, shared with the seed
// generator so that the seeds are valid files for it: every layer kind, a
// residual, Adam state (two moments), small enough for fast iterations.
#pragma once

#include "tern/runtime/spec.h"

namespace tern::fuzz {

constexpr ModelSpec kFuzzSpec = ModelSpec::input(3, 2)
                                    .dense(4, Pointwise::kGelu)
                                    .layer_norm()
                                    .activation(Pointwise::kTanh)
                                    .dense(3)
                                    .residual(0)
                                    .training(LossKind::kMse, OptimizerKind::kAdam);

}  // namespace tern::fuzz
