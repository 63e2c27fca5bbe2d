// SPDX-License-Identifier: Apache-2.0
// tern.h: loading parameters exported as a C header (tern::load_parameters).
#include "tern.h"

#include <cstdint>

#include "tern/runtime/c_header_export.h"
#include "tern/runtime/model.h"

#include "c_handle.h"

using tern::c_api::bad_handle;
using tern::c_api::live;
using tern::c_api::null_argument;
using tern::c_api::report;

extern "C" {

tern_status tern_model_load_parameters(tern_model* model, const uint32_t* architecture,
                                       size_t words, const float* values, size_t count,
                                       tern_error* err) {
  constexpr const char* kCall = "tern_model_load_parameters";
  tern::Model* m = live(model);
  if (m == nullptr) return report(bad_handle(kCall), err);
  // Named here: the runtime's own check says only "null argument".
  if (architecture == nullptr) return report(null_argument(kCall, "architecture"), err);
  if (values == nullptr) return report(null_argument(kCall, "values"), err);
  // Both arrays are read as 4-byte words: a misaligned pointer would be
  // undefined behaviour (and a fault on a Cortex-M0), so it is refused.
  const struct {
    const char* name;
    const void* at;
  } arrays[] = {{"architecture", architecture}, {"values", values}};
  for (const auto& a : arrays) {
    if (reinterpret_cast<std::uintptr_t>(a.at) % 4 != 0) {
      return report(tern::Status::error(tern::StatusCode::kMisaligned,
                                        "%s: %s at %p is not 4-byte aligned", kCall, a.name, a.at),
                    err);
    }
  }
  return report(tern::load_parameters(*m, architecture, words, values, count), err);
}

}  // extern "C"
