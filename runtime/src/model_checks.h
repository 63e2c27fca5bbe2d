// SPDX-License-Identifier: Apache-2.0
// Private to the runtime: what the model file, the C header export and
// checkpoints check and say about a built model before persisting it.
#pragma once

#include <cstddef>

#include "tern/platform/status.h"
#include "tern/runtime/model.h"
#include "tern/runtime/spec.h"

namespace tern::detail {

// kNonFinite, naming the first NaN or Inf among the parameters (and, with
// `with_moments`, both optimizer moments) in model order, e.g.
// "save: moment 1 3 of tensor 2 (layer 1) is not finite". `op` starts the
// message. With moments, a negative second moment (Adam's v, a mean of
// squares; the next step takes its square root) is kFailedPrecondition.
// Checked before anything is written, so a refused save leaves the
// destination as it was.
Status check_finite_state(const char* op, const Model& model, bool with_moments);

// One layer in words, e.g. "dense 3->4 relu", "residual 10 + point 2";
// truncated (never overflowed) at cap - 1 characters.
void describe_layer(const LayerSpec& layer, char* out, std::size_t cap);

}  // namespace tern::detail
