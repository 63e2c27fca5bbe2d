// SPDX-License-Identifier: Apache-2.0
// tern.h: inference (outputs and classes).
#include "tern.h"

#include <cstdint>
#include <cstring>

#include "tern/platform/checked_size.h"
#include "tern/runtime/model.h"

#include "c_handle.h"

using tern::c_api::bad_handle;
using tern::c_api::live;
using tern::c_api::null_argument;
using tern::c_api::report;

extern "C" {

tern_status tern_model_infer(tern_model* model, const float* x, size_t ldx, size_t rows, float* y,
                             size_t ldy, tern_error* err) {
  tern::Model* m = live(model);
  if (m == nullptr) return report(bad_handle("tern_model_infer"), err);
  if (y == nullptr) return report(null_argument("tern_model_infer", "y"), err);
  const std::size_t width = m->spec().output_width();
  if (ldy < width) {
    return report(tern::Status::error(tern::StatusCode::kInvalidArgument,
                                      "tern_model_infer: ldy %zu is smaller than the %zu outputs",
                                      ldy, width),
                  err);
  }
  // y is written as floats: 4-byte aligned (the reason: kernels/src/checks.h),
  // and its rows x ldy extent overflow-checked, before anything runs. A row
  // count out of range is left to forward(), which names the model's limit.
  if (reinterpret_cast<std::uintptr_t>(y) % alignof(float) != 0) {
    return report(tern::Status::error(tern::StatusCode::kMisaligned,
                                      "tern_model_infer: y at %p is not %zu-byte aligned",
                                      static_cast<void*>(y), alignof(float)),
                  err);
  }
  std::size_t y_bytes = 0;
  if (rows >= 1 && rows <= m->spec().rows &&
      (!tern::view_bytes(rows, width, ldy, sizeof(float), &y_bytes) ||
       tern::extent_wraps(y, y_bytes))) {
    return report(tern::Status::error(tern::StatusCode::kInvalidArgument,
                                      "tern_model_infer: y of %zu rows with row stride %zu does "
                                      "not fit in the address space",
                                      rows, ldy),
                  err);
  }
  tern::Status st = m->forward(x, ldx, rows);
  if (!st.ok()) return report(st, err);
  const tern::MatrixView<const float> out = m->output();
  for (std::size_t r = 0; r < rows; ++r) {
    std::memcpy(y + r * ldy, out.data + r * out.stride, width * sizeof(float));
  }
  return report(tern::Status(), err);
}

tern_status tern_model_predict(tern_model* model, const float* x, size_t ldx, size_t rows,
                               uint32_t* classes, tern_error* err) {
  tern::Model* m = live(model);
  if (m == nullptr) return report(bad_handle("tern_model_predict"), err);
  return report(m->predict(x, ldx, rows, classes), err);
}

}  // extern "C"
