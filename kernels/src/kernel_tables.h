// Private to the kernels library: the tables each ISA's translation units
// define, and the element-wise kernels that go into them. Adding an ISA
// means one more block here and in dispatch.cpp.
#pragma once

#include <cstddef>
#include <cstdint>

#include "tern/kernels/dispatch.h"

namespace tern::kernels {
namespace scalar {
extern const KernelTable kTable;
#include "elementwise_kernels-inl.h"
}  // namespace scalar
#if TERN_BUILD_AVX2
namespace avx2 {
extern const KernelTable kTable;
#include "elementwise_kernels-inl.h"
}  // namespace avx2
#endif
#if TERN_BUILD_AVX512
namespace avx512 {
extern const KernelTable kTable;
#include "elementwise_kernels-inl.h"
}  // namespace avx512
#endif
#if TERN_BUILD_NEON
namespace neon {
extern const KernelTable kTable;
#include "elementwise_kernels-inl.h"
}  // namespace neon
#endif
}  // namespace tern::kernels
