// SPDX-License-Identifier: Apache-2.0
// tern.h: saving a model to a file and loading it from one, through the
// runtime's atomic save_model_file and load_model_file (model_file.h).
// Nothing here without an operating system (TERN_HAS_OS).
#include "tern.h"

#include "tern/platform/compiler.h"
#include "tern/runtime/model.h"
#include "tern/runtime/model_file.h"

#include "c_handle.h"

// tern.h decides from TERN_BARE_METAL whether to declare these, the
// platform from the same macro whether there are files: they must agree.
static_assert(TERN_HAS_FILES == TERN_HAS_OS, "tern.h and compiler.h disagree on files");

#if TERN_HAS_OS

using tern::c_api::bad_handle;
using tern::c_api::live;
using tern::c_api::null_argument;
using tern::c_api::report;

extern "C" {

tern_status tern_model_save_file(const tern_model* model, const char* path, int optimizer_state,
                                 tern_error* err) {
  const tern::Model* m = live(model);
  if (m == nullptr) return report(bad_handle("tern_model_save_file"), err);
  if (path == nullptr) return report(null_argument("tern_model_save_file", "path"), err);
  return report(tern::save_model_file(*m, path, optimizer_state != 0), err);
}

tern_status tern_model_load_file(tern_model* model, const char* path, int optimizer_state,
                                 tern_error* err) {
  tern::Model* m = live(model);
  if (m == nullptr) return report(bad_handle("tern_model_load_file"), err);
  if (path == nullptr) return report(null_argument("tern_model_load_file", "path"), err);
  return report(tern::load_model_file(*m, path, optimizer_state != 0), err);
}

}  // extern "C"

#endif  // TERN_HAS_OS
