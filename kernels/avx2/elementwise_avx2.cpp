// SPDX-License-Identifier: Apache-2.0
// AVX2 + FMA3 instantiation of the element-wise kernels (ymm: 8 lanes, the 16
// virtual lanes of a row sum in two registers).
// The kernels themselves are generic/elementwise-inl.h; they enter this
// ISA's table in kernels_avx2.cpp.
#include <cstddef>
#include <cstdint>
#include <limits>
#include <type_traits>

#include "avx2/simd_avx2.h"
#include "src/math_constants.h"
#include "tern/kernels/kernel_table.h"
#include "tern/platform/compiler.h"

namespace tern::kernels::avx2 {

#include "tern/kernels/isa_kernels-inl.h"

#include "generic/math-inl.h"
#include "generic/elementwise-inl.h"

}  // namespace tern::kernels::avx2
