// SPDX-License-Identifier: Apache-2.0
// NEON instantiation of the element-wise kernels (4 lanes per q register, so
// the 16 virtual lanes of a row sum are four registers). The kernels are
// generic/elementwise-inl.h; they enter this ISA's table in kernels_neon.cpp.
// On ARMv7, NEON arithmetic flushes denormals to zero (docs/arm.md, "Denormals on
// ARMv7"); exp and the sums below meet them only for inputs far in the tails
// (e.g. exp of x < -87.3 is denormal), where the ARMv7 NEON result is ±0.
#include <cstddef>
#include <cstdint>
#include <limits>
#include <type_traits>

#include "neon/simd_neon.h"
#include "src/math_constants.h"
#include "tern/kernels/kernel_table.h"
#include "tern/platform/compiler.h"

namespace tern::kernels::neon {

#include "tern/kernels/isa_kernels-inl.h"

#include "generic/math-inl.h"
#include "generic/elementwise-inl.h"

}  // namespace tern::kernels::neon
