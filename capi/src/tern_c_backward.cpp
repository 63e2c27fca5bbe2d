// SPDX-License-Identifier: Apache-2.0
// tern.h: the open backward pass — forward, backward from the caller's
// dL/dY, compute and apply gradients, and copies of the input and output
// gradients (tern/runtime/model.h has the contracts).
#include <cstdint>
#include <cstring>

#include "tern.h"

#include "tern/platform/checked_size.h"
#include "tern/runtime/model.h"

#include "c_handle.h"

using tern::c_api::bad_handle;
using tern::c_api::live;
using tern::c_api::null_argument;
using tern::c_api::report;

namespace {

// The caller's destination of `rows` rows of `width` floats, `ld` apart:
// not null, ld >= width, 4-byte aligned, addressable.
tern::Status check_destination(const char* fn, const char* name, const float* p,
                               std::size_t ld, std::size_t width, std::size_t rows) {
  if (p == nullptr) return null_argument(fn, name);
  if (ld < width) {
    return tern::Status::error(tern::StatusCode::kInvalidArgument,
                               "%s: %s row stride %zu is smaller than its width %zu", fn, name, ld,
                               width);
  }
  if (reinterpret_cast<std::uintptr_t>(p) % alignof(float) != 0) {
    return tern::Status::error(tern::StatusCode::kMisaligned,
                               "%s: %s at %p is not %zu-byte aligned", fn, name,
                               static_cast<const void*>(p), alignof(float));
  }
  std::size_t bytes = 0;
  if (!tern::view_bytes(rows, width, ld, sizeof(float), &bytes) || tern::extent_wraps(p, bytes)) {
    return tern::Status::error(tern::StatusCode::kInvalidArgument,
                               "%s: %s of %zu rows with row stride %zu does not fit in the "
                               "address space",
                               fn, name, rows, ld);
  }
  return tern::Status();
}

// Copies a gradient view into the caller's rows (memmove: a caller's
// mistake of pointing into the arena stays defined).
void copy_rows(tern::MatrixView<const float> v, float* out, std::size_t ld) {
  for (std::size_t i = 0; i < v.rows; ++i) {
    std::memmove(out + i * ld, v.row(i), v.cols * sizeof(float));
  }
}

// tern_model_input_gradient and tern_model_output_gradient.
tern_status copy_gradient(const tern_model* model, bool input, float* out, std::size_t ld,
                          size_t* rows, tern_error* err) {
  const char* fn = input ? "tern_model_input_gradient" : "tern_model_output_gradient";
  const tern::Model* m = live(model);
  if (m == nullptr) return report(bad_handle(fn), err);
  if (!m->spec().input_gradient) {
    return report(tern::Status::error(tern::StatusCode::kFailedPrecondition,
                                      "%s: the spec has input_gradient 0 (the gradients at the "
                                      "model's boundary are not planned)",
                                      fn),
                  err);
  }
  const tern::MatrixView<const float> v = input ? m->input_gradient() : m->output_gradient();
  if (v.data == nullptr) {
    return report(tern::Status::error(tern::StatusCode::kFailedPrecondition,
                                      "%s: no backward pass since the last loss or "
                                      "initialisation",
                                      fn),
                  err);
  }
  const tern::Status s = check_destination(fn, input ? "dx" : "dy", out, ld, v.cols, v.rows);
  if (!s.ok()) return report(s, err);
  copy_rows(v, out, ld);
  if (rows != nullptr) *rows = v.rows;
  return report(tern::Status(), err);
}

}  // namespace

extern "C" {

tern_status tern_model_forward(tern_model* model, const float* x, size_t ldx, size_t rows,
                               float* y, size_t ldy, tern_error* err) {
  const char* fn = "tern_model_forward";
  tern::Model* m = live(model);
  if (m == nullptr) return report(bad_handle(fn), err);
  // A rows count forward() refuses is reported by it, naming the capacity.
  if (y != nullptr && rows >= 1 && rows <= m->spec().rows) {
    const tern::Status s = check_destination(fn, "y", y, ldy, m->spec().output_width(), rows);
    if (!s.ok()) return report(s, err);
  }
  const tern::Status s = m->forward(x, ldx, rows);
  if (!s.ok()) return report(s, err);
  if (y != nullptr) copy_rows(m->output(), y, ldy);
  return report(s, err);
}

tern_status tern_model_backward(tern_model* model, const float* dl_dy, size_t ldg, size_t rows,
                                tern_error* err) {
  tern::Model* m = live(model);
  if (m == nullptr) return report(bad_handle("tern_model_backward"), err);
  return report(m->backward(dl_dy, ldg, rows), err);
}

tern_status tern_model_compute_gradients(tern_model* model, const tern_batch* batch,
                                         float* mean_loss, tern_error* err) {
  const char* fn = "tern_model_compute_gradients";
  tern::Model* m = live(model);
  if (m == nullptr) return report(bad_handle(fn), err);
  if (batch == nullptr) return report(null_argument(fn, "batch"), err);
  return report(m->compute_gradients(tern::c_api::to_batch(*batch), mean_loss), err);
}

tern_status tern_model_apply_gradients(tern_model* model, tern_error* err) {
  tern::Model* m = live(model);
  if (m == nullptr) return report(bad_handle("tern_model_apply_gradients"), err);
  return report(m->apply_gradients(), err);
}

tern_status tern_model_input_gradient(const tern_model* model, float* dx, size_t lddx,
                                      size_t* rows, tern_error* err) {
  return copy_gradient(model, true, dx, lddx, rows, err);
}

tern_status tern_model_output_gradient(const tern_model* model, float* dy, size_t lddy,
                                       size_t* rows, tern_error* err) {
  return copy_gradient(model, false, dy, lddy, rows, err);
}

}  // extern "C"
