// SPDX-License-Identifier: Apache-2.0
// Names and messages for specs: what check_spec() found, as text a user can
// act on (tern/runtime/spec.h).
#include "spec_messages.h"

#include "tern/runtime/model.h"

namespace tern {

const char* spec_error_text(SpecError e) {
  switch (e) {
    case SpecError::kOk: return "ok";
    case SpecError::kNoLayers: return "the model has no layers";
    case SpecError::kTooManyLayers: return "more layers than kMaxLayers";
    case SpecError::kZeroRows: return "rows per step is 0";
    case SpecError::kZeroWidth: return "a width is 0";
    case SpecError::kWidthMismatch: return "input width does not match the previous point";
    case SpecError::kBadResidual: return "residual source is not an earlier point of the same width";
    case SpecError::kBadActivation: return "unknown activation";
    case SpecError::kBadKind: return "unknown layer kind, mode, loss or optimizer";
    case SpecError::kBadLoss: return "softmax cross-entropy needs at least 2 outputs";
    case SpecError::kTooLarge: return "a dimension or the arena size is too large";
    case SpecError::kBadTrainingOption:
      return "fused update, example gradients and accumulation need training mode; example_rows "
             "must divide rows (and accumulation_rows), accumulation_rows must be >= rows and "
             "excludes the divergence guard";
    case SpecError::kBadInputGradient:
      return "the input gradient excludes example gradients and accumulation";
  }
  return "unknown error";
}

const char* layer_kind_name(LayerKind kind) {
  switch (kind) {
    case LayerKind::kDense: return "dense";
    case LayerKind::kActivation: return "activation";
    case LayerKind::kLayerNorm: return "layer_norm";
    case LayerKind::kResidual: return "residual";
  }
  return "unknown";
}

Status spec_status(const ModelSpec& spec, const SpecCheck& check) {
  const std::uint32_t l = check.layer;
  const bool has_layer = l < spec.layer_count && l < kMaxLayers;
  switch (check.error) {
    case SpecError::kWidthMismatch:
      if (has_layer) {
        const LayerSpec& ls = spec.layers[l];
        return Status::error(StatusCode::kShapeMismatch,
                             "model spec: layer %u (%s) has in=%u out=%u but its input point "
                             "has width %u",
                             static_cast<unsigned>(l), layer_kind_name(ls.kind),
                             static_cast<unsigned>(ls.in), static_cast<unsigned>(ls.out),
                             static_cast<unsigned>(spec.width(l)));
      }
      break;
    case SpecError::kBadResidual:
      if (has_layer) {
        const LayerSpec& ls = spec.layers[l];
        return Status::error(StatusCode::kShapeMismatch,
                             "model spec: residual layer %u adds point %u, which must be an "
                             "earlier point (< %u) of width %u",
                             static_cast<unsigned>(l), static_cast<unsigned>(ls.from),
                             static_cast<unsigned>(l), static_cast<unsigned>(ls.in));
      }
      break;
    default: break;
  }
  return Status::error(StatusCode::kInvalidArgument, "model spec: %s (layer %u)",
                       spec_error_text(check.error), static_cast<unsigned>(l));
}

}  // namespace tern
