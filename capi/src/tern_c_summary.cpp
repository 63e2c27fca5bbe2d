// SPDX-License-Identifier: Apache-2.0
// tern.h: the model summary as text in a caller's buffer
// (tern/runtime/summary.h).
#include "tern.h"

#include "tern/runtime/summary.h"

#include "c_handle.h"

using tern::c_api::bad_handle;
using tern::c_api::live;
using tern::c_api::report;

extern "C" {

tern_status tern_model_summary(const tern_model* model, char* buffer, size_t capacity,
                               size_t* needed, tern_error* err) {
  const tern::Model* m = live(model);
  if (m == nullptr) return report(bad_handle("tern_model_summary"), err);
  return report(tern::summary_text(*m, buffer, capacity, needed), err);
}

}  // extern "C"
