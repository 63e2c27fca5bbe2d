// SPDX-License-Identifier: Apache-2.0
// The kernel tables this build compiles, and the choice of the active one
// (tern/kernels/isa_selection.h, tern/kernels/kernel_table.h).
#include "tern/kernels/isa_selection.h"

#include <array>
#include <atomic>

#include "tern/kernels/kernel_table.h"
#include "tern/platform/compiler.h"

// Each built vector ISA's table, defined in kernels/<isa>/ (the scalar one is
// a constant in kernel_table.h). tern_built_isas.h is written by
// kernels/CMakeLists.txt: one TERN_BUILT_VECTOR_ISA(name) line per vector ISA
// of TERN_ISAS.
namespace tern::kernels {
#define TERN_BUILT_VECTOR_ISA(name) \
  namespace name {                  \
  extern const KernelTable kTable;  \
  }
#include "tern_built_isas.h"
#undef TERN_BUILT_VECTOR_ISA
}  // namespace tern::kernels

namespace tern {

namespace {

// The Isa enumerator of each ISA name, for the generated list (which has names).
namespace isa_named {
#define TERN_ISA_X(enumerator, name, vector_bits) constexpr Isa name = Isa::enumerator;
#include "tern/platform/isa_list.h"
#undef TERN_ISA_X
}  // namespace isa_named

// The ISAs built, without naming their tables: selection and the queries
// below keep no kernel linked (kernel_table.h, "Code size").
constexpr IsaMask kBuiltIsas = isa_bit(Isa::kScalar)
#define TERN_BUILT_VECTOR_ISA(name) | isa_bit(isa_named::name)
#include "tern_built_isas.h"
#undef TERN_BUILT_VECTOR_ISA
    ;

constexpr std::array<const KernelTable*, kIsaCount> built_tables() {
  std::array<const KernelTable*, kIsaCount> tables{};
  tables[static_cast<int>(Isa::kScalar)] = &kernels::scalar::kTable;
#define TERN_BUILT_VECTOR_ISA(name) \
  tables[static_cast<int>(isa_named::name)] = &kernels::name::kTable;
#include "tern_built_isas.h"
#undef TERN_BUILT_VECTOR_ISA
  return tables;
}

}  // namespace

namespace kernels {
extern const std::array<const KernelTable*, kIsaCount> kTableByIsa = built_tables();
}  // namespace kernels

const KernelTable* kernel_table(Isa isa) {
  const int index = static_cast<int>(isa);
  return index >= 0 && index < kIsaCount ? kernels::kTableByIsa[index] : nullptr;
}

IsaMask built_isas() { return kBuiltIsas; }

IsaMask available_isas() { return built_isas() & cpu_isas(); }

const char* selection_reason_text(SelectionReason reason) {
  switch (reason) {
    case SelectionReason::kNone: return "not selected yet";
    case SelectionReason::kDefault: return "default: widest ISA that is built and supported by this CPU";
    case SelectionReason::kEnvironment: return "requested by the TERN_ISA environment variable";
    case SelectionReason::kApi: return "requested through tern::select_isa()";
  }
  return "unknown";
}

namespace {

// The selection is one ISA plus a reason, published together: readers load
// g_active with acquire and then read g_reason, which was stored before.
// An ISA, not its table, so that selecting links no kernel.
constexpr int kNotSelected = -1;
std::atomic<int> g_active{kNotSelected};
std::atomic<SelectionReason> g_reason{SelectionReason::kNone};

Status check_usable(Isa isa, const char* origin) {
  char available[64];
  format_isa_mask(available_isas(), available, sizeof available);
  if ((built_isas() & isa_bit(isa)) == 0) {
    return Status::error(StatusCode::kUnsupportedIsa,
                         "%s: ISA '%s' is not compiled into this build; available: %s", origin,
                         isa_name(isa), available);
  }
  if ((cpu_isas() & isa_bit(isa)) == 0) {
    return Status::error(StatusCode::kUnsupportedIsa,
                         "%s: this CPU does not support ISA '%s'; available: %s", origin,
                         isa_name(isa), available);
  }
  return Status();
}

// Resolution without side effects: TERN_ISA if set, else the preference order.
Status resolve(Isa* chosen, SelectionReason* reason) {
  // Without an OS there is no environment: the request's parsing and
  // messages are not linked into firmware.
  if (const char* request = TERN_HAS_OS ? isa_request_from_environment() : nullptr) {
    Isa isa;
    Status s = parse_isa(request, &isa);
    if (!s.ok()) {
      char available[64];
      format_isa_mask(available_isas(), available, sizeof available);
      return Status::error(StatusCode::kUnsupportedIsa,
                           "TERN_ISA='%.32s' is not an ISA name; available: %s", request,
                           available);
    }
    TERN_RETURN_IF_ERROR(check_usable(isa, "TERN_ISA"));
    *chosen = isa;
    *reason = SelectionReason::kEnvironment;
    return Status();
  }
  const IsaMask usable = available_isas();
  for (Isa isa : kIsaPreference) {
    if (usable & isa_bit(isa)) {
      *chosen = isa;
      *reason = SelectionReason::kDefault;
      return Status();
    }
  }
  return Status::error(StatusCode::kUnsupportedIsa, "no kernel table usable on this CPU");
}

void publish(int isa, SelectionReason reason) {
  g_reason.store(reason, std::memory_order_relaxed);
  g_active.store(isa, std::memory_order_release);
}

}  // namespace

Status select_isa(Isa isa) {
  TERN_RETURN_IF_ERROR(check_usable(isa, "select_isa"));
  publish(static_cast<int>(isa), SelectionReason::kApi);
  return Status();
}

Status select_isa(const char* name) {
  Isa isa;
  TERN_RETURN_IF_ERROR(parse_isa(name, &isa));
  return select_isa(isa);
}

void reset_isa_selection() { publish(kNotSelected, SelectionReason::kNone); }

Status active_kernel_isa(Isa* out) {
  const int active = g_active.load(std::memory_order_acquire);
  if (active != kNotSelected) {
    *out = static_cast<Isa>(active);
    return Status();
  }
  Isa isa = Isa::kScalar;
  SelectionReason reason = SelectionReason::kNone;
  TERN_RETURN_IF_ERROR(resolve(&isa, &reason));
  // Racing first calls resolve to the same ISA; storing twice is harmless.
  publish(static_cast<int>(isa), reason);
  *out = isa;
  return Status();
}

Status active_kernels(const KernelTable** out) {
  Isa isa = Isa::kScalar;
  TERN_RETURN_IF_ERROR(active_kernel_isa(&isa));
  *out = kernel_table(isa);
  return Status();
}

bool active_isa(Isa* isa, SelectionReason* reason) {
  Isa active = Isa::kScalar;
  if (!active_kernel_isa(&active).ok()) return false;
  *isa = active;
  *reason = g_reason.load(std::memory_order_relaxed);
  return true;
}

}  // namespace tern
