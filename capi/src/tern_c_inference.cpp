// SPDX-License-Identifier: Apache-2.0
// tern.h: inference (outputs and classes).
#include "tern.h"

#include "tern/runtime/model.h"

#include "c_handle.h"

using tern::c_api::bad_handle;
using tern::c_api::live;
using tern::c_api::report;

extern "C" {

tern_status tern_model_infer(tern_model* model, const float* x, size_t ldx, size_t rows, float* y,
                             size_t ldy, tern_error* err) {
  tern::Model* m = live(model);
  if (m == nullptr) return report(bad_handle("tern_model_infer"), err);
  return report(m->infer(x, ldx, rows, y, ldy), err);
}

tern_status tern_model_predict(tern_model* model, const float* x, size_t ldx, size_t rows,
                               uint32_t* classes, tern_error* err) {
  tern::Model* m = live(model);
  if (m == nullptr) return report(bad_handle("tern_model_predict"), err);
  return report(m->predict(x, ldx, rows, classes), err);
}

}  // extern "C"
