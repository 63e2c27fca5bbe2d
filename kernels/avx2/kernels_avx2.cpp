// SPDX-License-Identifier: Apache-2.0
// AVX2 + FMA3 instantiation of the dense-layer kernels and its kernel table.
//
// Tile 6 x 16 (kMR x kNV vectors of 8 lanes): 12 ymm accumulators + 2 ymm for
// the B row + 1 for the broadcast A scalar = 15 of the 16 ymm registers.
// Per step: 2 vector loads + 6 broadcasts feed 12 FMAs (6 cycles at 2
// FMA/cycle); 12 independent chains cover the 4-5 cycle FMA latency.
// Few rows (n <= 2): 2 x 32 (kSmallMR x kSmallNV): 8 accumulators + 4 B
// vectors + 1 broadcast = 13 registers, 8 chains for a single sample.
#include "avx2/simd_avx2.h"
#include "tern/kernels/kernel_table.h"
#include "tern/platform/compiler.h"

namespace tern::kernels::avx2 {

#include "tern/kernels/isa_kernels-inl.h"

constexpr int kMR = 6, kNV = 2;
constexpr int kSmallMR = 2, kSmallNV = 4;
// One row (n = 1): 1 x 64 (kOneRowNV = 8): 8 chains + 1 broadcast + loads
// within the 16 ymm registers, each W row read 256 bytes at a time.
constexpr int kOneRowNV = 8;
// rank1_accumulate: the gemm tile (16 registers leave no room for a taller one).
constexpr int kR1MR = kMR, kR1NV = kNV;
// rank1 with few columns (generic/rank1_cols-inl.h): up to 12 accumulators
// + KB U vectors + 1 broadcast within the 16 ymm registers; m <= 12 takes
// that path.
constexpr int kR1ColsAcc = 12;
// backprop_rows: 16 lanes are 2 ymm, so 2 x 2 outputs = 8 accumulators + 4 D
// + 2 W = 14 registers; per 16 columns 8 loads feed 8 FMAs. Fewer than 2
// rows of D: 1 x 4, 8 accumulators again.
constexpr int kBpMI = 2, kBpMP = 2, kBpSmallMP = 4;

#include "generic/gemm-inl.h"
#include "generic/backprop-inl.h"

extern const KernelTable kTable = make_table<Isa::kAvx2>();

}  // namespace tern::kernels::avx2
