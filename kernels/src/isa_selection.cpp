// SPDX-License-Identifier: Apache-2.0
// The kernel tables this build compiles, and the choice of the active one
// (tern/kernels/isa_selection.h, tern/kernels/kernel_table.h).
#include "tern/kernels/isa_selection.h"

#include <atomic>

#include "tern/kernels/kernel_table.h"

// Each built ISA's table, defined in kernels/<isa>/. tern_built_isas.h is
// written by kernels/CMakeLists.txt: one TERN_BUILT_ISA(name) line per entry
// of TERN_ISAS.
namespace tern::kernels {
#define TERN_BUILT_ISA(name) \
  namespace name {           \
  extern const KernelTable kTable; \
  }
#include "tern_built_isas.h"
#undef TERN_BUILT_ISA
}  // namespace tern::kernels

namespace tern {

namespace {
const KernelTable* const kBuiltTables[] = {
#define TERN_BUILT_ISA(name) &kernels::name::kTable,
#include "tern_built_isas.h"
#undef TERN_BUILT_ISA
};
}  // namespace

const KernelTable* kernel_table(Isa isa) {
  for (const KernelTable* table : kBuiltTables) {
    if (table->isa == isa) return table;
  }
  return nullptr;
}

IsaMask built_isas() {
  IsaMask mask = 0;
  for (int i = 0; i < kIsaCount; ++i) {
    if (kernel_table(static_cast<Isa>(i)) != nullptr) mask |= isa_bit(static_cast<Isa>(i));
  }
  return mask;
}

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

// The selection is one pointer plus a reason, published together: readers
// load g_active with acquire and then read g_reason, which was stored before.
std::atomic<const KernelTable*> g_active{nullptr};
std::atomic<SelectionReason> g_reason{SelectionReason::kNone};

Status check_usable(Isa isa, const char* origin) {
  char available[64];
  format_isa_mask(available_isas(), available, sizeof available);
  if (kernel_table(isa) == nullptr) {
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
Status resolve(const KernelTable** table, SelectionReason* reason) {
  if (const char* request = isa_request_from_environment()) {
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
    *table = kernel_table(isa);
    *reason = SelectionReason::kEnvironment;
    return Status();
  }
  const IsaMask usable = available_isas();
  for (Isa isa : kIsaPreference) {
    if (usable & isa_bit(isa)) {
      *table = kernel_table(isa);
      *reason = SelectionReason::kDefault;
      return Status();
    }
  }
  return Status::error(StatusCode::kUnsupportedIsa, "no kernel table usable on this CPU");
}

void publish(const KernelTable* table, SelectionReason reason) {
  g_reason.store(reason, std::memory_order_relaxed);
  g_active.store(table, std::memory_order_release);
}

}  // namespace

Status select_isa(Isa isa) {
  TERN_RETURN_IF_ERROR(check_usable(isa, "select_isa"));
  publish(kernel_table(isa), SelectionReason::kApi);
  return Status();
}

Status select_isa(const char* name) {
  Isa isa;
  TERN_RETURN_IF_ERROR(parse_isa(name, &isa));
  return select_isa(isa);
}

void reset_isa_selection() { publish(nullptr, SelectionReason::kNone); }

Status active_kernels(const KernelTable** out) {
  const KernelTable* table = g_active.load(std::memory_order_acquire);
  if (table == nullptr) {
    SelectionReason reason = SelectionReason::kNone;
    TERN_RETURN_IF_ERROR(resolve(&table, &reason));
    // Racing first calls resolve to the same table; storing twice is harmless.
    publish(table, reason);
  }
  *out = table;
  return Status();
}

bool active_isa(Isa* isa, SelectionReason* reason) {
  const KernelTable* table = nullptr;
  if (!active_kernels(&table).ok()) return false;
  *isa = table->isa;
  *reason = g_reason.load(std::memory_order_relaxed);
  return true;
}

}  // namespace tern
