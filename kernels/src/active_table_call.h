// SPDX-License-Identifier: Apache-2.0
// Private to the kernels library: the last step of every checked operation
// (dense.cpp, elementwise.cpp), once its arguments have passed the checks:
// call the entry of the active kernel table.
#pragma once

#include "tern/kernels/kernel_table.h"
#include "tern/platform/status.h"

namespace tern::kernels {

// Selects the active table if needed (its error is returned, nothing runs),
// then calls its `entry` with `args`.
template <class Entry, class... Args>
Status call_active(Entry KernelTable::*entry, Args... args) {
  const KernelTable* table = nullptr;
  TERN_RETURN_IF_ERROR(active_kernels(&table));
  (table->*entry)(args...);
  return Status();
}

}  // namespace tern::kernels
