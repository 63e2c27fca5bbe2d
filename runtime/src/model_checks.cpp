// SPDX-License-Identifier: Apache-2.0
// Finiteness and layer descriptions for persistence (model_checks.h).
#include "model_checks.h"

#include "portable_ops.h"
// The platform layer's formatter (private to it, hence the path): the one
// printf-style formatter of tern, safe on firmware (no heap, no locale).
#include "../../platform/src/format.h"

namespace tern::detail {

Status check_finite_state(const char* op, const Model& model, bool with_moments) {
  const char* const names[3] = {"parameter", "moment 1", "moment 2"};
  // Without moments only the first of the three spans of each tensor.
  const int kinds = with_moments ? 3 : 1;
  for (std::uint32_t t = 0; t < model.tensor_count(); ++t) {
    const Tensor x = model.tensor(t);
    const Span<float> spans[3] = {x.value, x.moment1, x.moment2};
    for (int k = 0; k < kinds; ++k) {
      for (std::size_t i = 0; i < spans[k].size; ++i) {
        const float v = spans[k][i];
        if (!ops::is_finite(v)) {
          return Status::error(StatusCode::kNonFinite,
                               "%s: %s %zu of tensor %u (layer %u) is not finite", op, names[k], i,
                               static_cast<unsigned>(t), static_cast<unsigned>(x.layer));
        }
        // Only Adam(W) has a second moment (SGD's span is empty).
        if (k == 2 && v < 0.0f) {
          return Status::error(StatusCode::kFailedPrecondition,
                               "%s: moment 2 %zu of tensor %u (layer %u) is %g; Adam's second "
                               "moments cannot be negative",
                               op, i, static_cast<unsigned>(t), static_cast<unsigned>(x.layer),
                               static_cast<double>(v));
        }
      }
    }
  }
  return Status();
}

void describe_layer(const LayerSpec& layer, char* out, std::size_t cap) {
  const unsigned in = layer.in, width = layer.out;
  switch (layer.kind) {
    case LayerKind::kDense:
      format(out, cap, "dense %u->%u %s", in, width, pointwise_name(layer.act));
      return;
    case LayerKind::kActivation:
      format(out, cap, "activation %s %u", pointwise_name(layer.act), width);
      return;
    case LayerKind::kLayerNorm:
      format(out, cap, "layer_norm %u", width);
      return;
    case LayerKind::kResidual:
      format(out, cap, "residual %u + point %u", width, static_cast<unsigned>(layer.from));
      return;
  }
  // A kind byte read from a file that no enumerator names.
  format(out, cap, "unknown layer kind %u", static_cast<unsigned>(layer.kind));
}

}  // namespace tern::detail
