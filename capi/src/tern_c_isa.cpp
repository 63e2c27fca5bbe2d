// SPDX-License-Identifier: Apache-2.0
// tern.h: which kernel ISAs are built and supported, selecting one for the
// models created afterwards, and the active one (tern/kernels/isa_selection.h).
#include "tern.h"

#include <cstdint>

#include "tern/kernels/isa_selection.h"
#include "tern/platform/isa.h"

#include "c_handle.h"

using tern::c_api::null_argument;
using tern::c_api::report;

static_assert(static_cast<int>(TERN_ISA_SCALAR) == static_cast<int>(tern::Isa::kScalar) &&
                  static_cast<int>(TERN_ISA_AVX2) == static_cast<int>(tern::Isa::kAvx2) &&
                  static_cast<int>(TERN_ISA_AVX512) == static_cast<int>(tern::Isa::kAvx512) &&
                  static_cast<int>(TERN_ISA_NEON) == static_cast<int>(tern::Isa::kNeon),
              "tern_isa mirrors tern::Isa");
static_assert(static_cast<int>(TERN_ISA_NEON) + 1 == tern::kIsaCount,
              "tern_isa has one value per line of isa_list.h");
static_assert(static_cast<int>(TERN_ISA_REASON_NONE) ==
                      static_cast<int>(tern::SelectionReason::kNone) &&
                  static_cast<int>(TERN_ISA_REASON_DEFAULT) ==
                      static_cast<int>(tern::SelectionReason::kDefault) &&
                  static_cast<int>(TERN_ISA_REASON_ENVIRONMENT) ==
                      static_cast<int>(tern::SelectionReason::kEnvironment) &&
                  static_cast<int>(TERN_ISA_REASON_API) ==
                      static_cast<int>(tern::SelectionReason::kApi),
              "tern_isa_reason mirrors tern::SelectionReason");

// Whether `isa` is a value of tern_isa; checked before it is narrowed.
static bool known_isa(int32_t isa) { return isa >= 0 && isa < tern::kIsaCount; }

extern "C" {

uint32_t tern_isa_built(void) { return tern::built_isas(); }
uint32_t tern_isa_supported(void) { return tern::cpu_isas(); }
uint32_t tern_isa_available(void) { return tern::available_isas(); }

const char* tern_isa_name(int32_t isa) {
  return known_isa(isa) ? tern::isa_name(static_cast<tern::Isa>(isa)) : "unknown";
}

tern_status tern_isa_select(int32_t isa, tern_error* err) {
  if (!known_isa(isa)) {
    return report(tern::Status::error(tern::StatusCode::kUnsupportedIsa,
                                      "tern_isa_select: %d is not an ISA (0..%d)",
                                      static_cast<int>(isa), tern::kIsaCount - 1),
                  err);
  }
  return report(tern::select_isa(static_cast<tern::Isa>(isa)), err);
}

tern_status tern_isa_select_name(const char* name, tern_error* err) {
  if (name == nullptr) return report(null_argument("tern_isa_select_name", "name"), err);
  return report(tern::select_isa(name), err);
}

void tern_isa_select_auto(void) { tern::reset_isa_selection(); }

tern_status tern_isa_active(int32_t* isa, int32_t* reason, tern_error* err) {
  if (isa == nullptr) return report(null_argument("tern_isa_active", "isa"), err);
  tern::Isa active = tern::Isa::kScalar;
  tern::SelectionReason why = tern::SelectionReason::kNone;
  if (!tern::active_isa(&active, &why)) {
    // Only a request from the environment can fail (a selection through the
    // API is checked when it is made); the request is named.
    const char* request = tern::isa_request_from_environment();
    return report(tern::Status::error(tern::StatusCode::kUnsupportedIsa,
                                      "tern_isa_active: the ISA selection failed: TERN_ISA=\"%s\" "
                                      "is unknown, not built or not supported",
                                      request != nullptr ? request : ""),
                  err);
  }
  *isa = static_cast<int32_t>(active);
  if (reason != nullptr) *reason = static_cast<int32_t>(why);
  return report(tern::Status(), err);
}

}  // extern "C"
