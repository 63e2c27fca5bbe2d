// Private to the kernels library: the tables each ISA's translation units
// define. Adding an ISA means one more block here and in dispatch.cpp.
#pragma once

#include "tern/kernels/dispatch.h"

namespace tern::kernels {
namespace scalar { extern const KernelTable kTable; }
#if TERN_BUILD_AVX2
namespace avx2 { extern const KernelTable kTable; }
#endif
#if TERN_BUILD_AVX512
namespace avx512 { extern const KernelTable kTable; }
#endif
#if TERN_BUILD_NEON
namespace neon { extern const KernelTable kTable; }
#endif
}  // namespace tern::kernels
