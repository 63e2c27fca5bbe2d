// SPDX-License-Identifier: Apache-2.0
// Tensor names and PyTorch shapes shared by the safetensors reader and
// writer (safetensors_names.h).
#include "safetensors_names.h"

#include <cstring>

// The platform layer's formatter (private to it, hence the path), as in
// byte_io.cpp.
#include "../../platform/src/format.h"

namespace tern {

namespace {

// The nn.Sequential module number of every layer of `spec` (safetensors.h:
// a Dense layer with an activation takes two numbers, a Residual none).
std::uint32_t module_index(const ModelSpec& spec, std::uint32_t layer) {
  std::uint32_t index = 0;
  for (std::uint32_t l = 0; l < layer; ++l) {
    const LayerSpec& s = spec.layers[l];
    if (s.kind == LayerKind::kResidual) continue;
    index += (s.kind == LayerKind::kDense && s.act != Pointwise::kIdentity) ? 2 : 1;
  }
  return index;
}

// The layer and the weight/bias role of plan tensor t of a valid spec:
// layer by layer, two tensors for each Dense and LayerNorm layer.
bool spec_tensor(const ModelSpec& spec, std::uint32_t t, std::uint32_t* layer, bool* is_bias) {
  std::uint32_t seen = 0;
  for (std::uint32_t l = 0; l < spec.layer_count; ++l) {
    const LayerKind kind = spec.layers[l].kind;
    if (kind != LayerKind::kDense && kind != LayerKind::kLayerNorm) continue;
    if (t < seen + 2) {
      *layer = l;
      *is_bias = t == seen + 1;
      return true;
    }
    seen += 2;
  }
  return false;
}

}  // namespace

Status safetensors_default_name(const ModelSpec& spec, std::uint32_t tensor, char* out,
                                std::size_t capacity) {
  if (out == nullptr || !check_spec(spec).ok()) {
    return Status::error(StatusCode::kInvalidArgument,
                         "safetensors_default_name: null buffer or invalid spec");
  }
  std::uint32_t layer = 0;
  bool is_bias = false;
  if (!spec_tensor(spec, tensor, &layer, &is_bias)) {
    return Status::error(StatusCode::kInvalidArgument,
                         "safetensors_default_name: tensor %u is past the model's last",
                         static_cast<unsigned>(tensor));
  }
  const int n = detail::format(out, capacity, "%u.%s", static_cast<unsigned>(module_index(spec, layer)),
                              is_bias ? "bias" : "weight");
  if (n < 0 || static_cast<std::size_t>(n) >= capacity) {
    return Status::error(StatusCode::kInvalidArgument,
                         "safetensors_default_name: the name needs %d bytes, %zu given", n + 1,
                         capacity);
  }
  return Status();
}

namespace detail {

Status check_tensor_names(const Model& model, const char* const* names, std::uint32_t count,
                          const char* op) {
  if (!model.built()) {
    return Status::error(StatusCode::kFailedPrecondition, "%s: the model is not built", op);
  }
  if (names == nullptr) {
    if (count != 0) {
      return Status::error(StatusCode::kInvalidArgument, "%s: %u names counted but none given",
                           op, static_cast<unsigned>(count));
    }
    return Status();
  }
  if (count != model.tensor_count()) {
    return Status::error(StatusCode::kInvalidArgument, "%s: %u names given, the model has %u tensors",
                         op, static_cast<unsigned>(count),
                         static_cast<unsigned>(model.tensor_count()));
  }
  for (std::uint32_t t = 0; t < count; ++t) {
    if (names[t] == nullptr) {
      return Status::error(StatusCode::kInvalidArgument, "%s: name %u is null", op,
                           static_cast<unsigned>(t));
    }
    const std::size_t length = std::strlen(names[t]);
    if (length == 0 || length > kSafetensorsMaxNameBytes) {
      return Status::error(StatusCode::kInvalidArgument,
                           "%s: name %u has %zu bytes, 1 to %zu allowed", op,
                           static_cast<unsigned>(t), length,
                           kSafetensorsMaxNameBytes);
    }
    for (std::uint32_t u = 0; u < t; ++u) {
      if (std::strcmp(names[u], names[t]) == 0) {
        return Status::error(StatusCode::kInvalidArgument, "%s: names %u and %u are both '%s'", op,
                             static_cast<unsigned>(u), static_cast<unsigned>(t), names[t]);
      }
    }
  }
  return Status();
}

void tensor_name(const Model& model, const char* const* names, std::uint32_t t, TensorName* out) {
  if (names != nullptr) {
    std::strcpy(out->text, names[t]);  // checked: at most kSafetensorsMaxNameBytes bytes
    return;
  }
  // A default name is at most "4294967295.weight": always fits.
  (void)safetensors_default_name(model.spec(), t, out->text, sizeof out->text);
}

TorchShape torch_shape(const Model& model, std::uint32_t t) {
  const Tensor tensor = model.tensor(t);
  const LayerSpec& layer = model.spec().layers[tensor.layer];
  TorchShape shape;
  if (layer.kind == LayerKind::kDense && !tensor.is_bias) {
    shape.rank = 2;
    shape.dims[0] = layer.out;
    shape.dims[1] = layer.in;
  } else {
    shape.rank = 1;
    shape.dims[0] = layer.out;
  }
  return shape;
}

}  // namespace detail
}  // namespace tern
