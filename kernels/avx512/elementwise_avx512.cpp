// SPDX-License-Identifier: Apache-2.0
// AVX-512 instantiation of the element-wise kernels (zmm: 16 lanes, the 16
// virtual lanes of a row sum in one register; masked tails by opmask).
// The kernels themselves are generic/elementwise-inl.h; they enter this
// ISA's table in kernels_avx512.cpp.
#include <cstddef>
#include <cstdint>
#include <limits>
#include <type_traits>

#include "avx512/simd_avx512.h"
#include "src/math_constants.h"
#include "tern/kernels/kernel_table.h"
#include "tern/platform/compiler.h"

namespace tern::kernels::avx512 {

#include "tern/kernels/isa_kernels-inl.h"

#include "generic/math-inl.h"
#include "generic/elementwise-inl.h"

}  // namespace tern::kernels::avx512
