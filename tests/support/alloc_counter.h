// SPDX-License-Identifier: Apache-2.0
// Counts heap allocations made by the test binary, to prove tern makes none.
//
// The test binaries are linked with -Wl,--wrap=malloc,calloc,realloc,
// aligned_alloc,posix_memalign and replace the global operator new, so every
// heap request from tern's libraries and the tests lands in a counter.
#pragma once

#include <cstddef>

namespace tern::test {

std::size_t heap_allocations();

// Counts the allocations made while it is alive.
class HeapAllocationScope {
 public:
  HeapAllocationScope() : start_(heap_allocations()) {}
  std::size_t count() const { return heap_allocations() - start_; }

 private:
  std::size_t start_;
};

}  // namespace tern::test
