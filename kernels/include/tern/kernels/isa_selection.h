// SPDX-License-Identifier: Apache-2.0
// tern/kernels/isa_selection.h — which kernel ISA runs, chosen once.
//
// tern compiles one table of kernels per ISA (the list is
// tern/platform/isa_list.h; which ones a build has is the CMake list
// TERN_ISAS) and picks one table at run time. The first kernel call picks it —
// the TERN_ISA environment variable if set, otherwise the widest ISA that is
// both built and supported by this CPU — and every later call goes straight
// through that table: no feature test inside any kernel. select_isa() picks
// one explicitly.
//
// A request that cannot be honoured (unknown name, ISA not built, CPU lacks
// it) is an error that names what is available. tern never silently falls
// back to another ISA: a benchmark or a bit-identity test that asked for
// avx512 must not quietly measure scalar.
#pragma once

#include "tern/platform/isa.h"
#include "tern/platform/status.h"

namespace tern {

// ISAs compiled into this build.
IsaMask built_isas();
// ISAs compiled in and runnable on this CPU: built_isas() & cpu_isas().
IsaMask available_isas();

// Why the active ISA is the active one.
enum class SelectionReason { kNone, kDefault, kEnvironment, kApi };
const char* selection_reason_text(SelectionReason reason);

// Makes `isa` the active ISA for all later kernel calls (process-wide).
// kUnsupportedIsa, naming the available ISAs, if it is not built or not
// supported; the active selection is then left unchanged.
Status select_isa(Isa isa);
// Same, by name ("avx2"); an unknown name is kUnsupportedIsa too.
Status select_isa(const char* name);
// Forgets any select_isa() call: the next kernel call selects again from
// TERN_ISA or the default.
void reset_isa_selection();

// The active ISA and why; selects first if needed. On a failed selection
// returns false and leaves the outputs untouched.
bool active_isa(Isa* isa, SelectionReason* reason);

}  // namespace tern
