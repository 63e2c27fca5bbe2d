// SPDX-License-Identifier: Apache-2.0
// Private to the runtime: what the safetensors reader and writer agree on
// about a model tensor — its name (default or the caller's) and its shape
// in PyTorch's layout (safetensors.h has the rules).
#pragma once

#include <cstddef>
#include <cstdint>

#include "tern/platform/status.h"
#include "tern/runtime/model.h"
#include "tern/runtime/safetensors.h"

namespace tern::detail {

// A name buffer: kSafetensorsMaxNameBytes and the NUL.
struct TensorName {
  char text[kSafetensorsMaxNameBytes + 1] = {};
};

// The names the caller passed, checked: null with count 0 (the defaults),
// or one name per model tensor, each non-null, 1 to kSafetensorsMaxNameBytes
// bytes, no two equal. `op` starts the message ("load_safetensors").
Status check_tensor_names(const Model& model, const char* const* names, std::uint32_t count,
                          const char* op);
// Tensor t's name (names already checked).
void tensor_name(const Model& model, const char* const* names, std::uint32_t t, TensorName* out);

// Tensor t's shape as PyTorch holds it: [out, in] for a Dense weight,
// [width] for a bias and LayerNorm gamma and beta.
struct TorchShape {
  std::uint32_t rank = 0;
  std::uint64_t dims[2] = {0, 0};
};
TorchShape torch_shape(const Model& model, std::uint32_t t);

// Where element k of tensor t in PyTorch's row-major order lives in tern's
// value span: a Dense weight is transposed ([out][in] to [in][out]).
inline std::size_t tern_index(const TorchShape& shape, std::size_t k) {
  if (shape.rank != 2) return k;
  const std::size_t out = static_cast<std::size_t>(shape.dims[0]);
  const std::size_t in = static_cast<std::size_t>(shape.dims[1]);
  return (k % in) * out + k / in;
}

}  // namespace tern::detail
