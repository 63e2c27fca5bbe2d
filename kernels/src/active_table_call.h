// SPDX-License-Identifier: Apache-2.0
// Private to the kernels library: the last step of every checked operation
// (dense.cpp, elementwise.cpp), once its arguments have passed the checks:
// call the entry of the active kernel table.
#pragma once

#include "tern/kernels/kernel_table.h"
#include "tern/platform/status.h"

namespace tern::kernels {

// Selects the active ISA if needed (its error is returned, nothing runs),
// then calls the entry kEntry of its table with `args`. The entry is a
// template argument so that, with one table (kernels_of() a constant), the
// call is a direct call to that one kernel.
template <auto kEntry, class... Args>
Status call_active(Args... args) {
  Isa isa = Isa::kScalar;
  TERN_RETURN_IF_ERROR(active_kernel_isa(&isa));
  (kernels_of(isa).*kEntry)(args...);
  return Status();
}

}  // namespace tern::kernels
