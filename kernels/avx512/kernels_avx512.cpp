// SPDX-License-Identifier: Apache-2.0
// AVX-512 instantiation of the dense-layer kernels and its kernel table.
//
// Tile 8 x 32 (kMR x kNV vectors of 16 lanes): 16 zmm accumulators, 2 zmm for
// the B row, and the A scalars come as embedded-broadcast memory operands of
// vfmadd231ps, so 18 of the 32 zmm registers are live. Per step: 2 vector
// loads + 8 broadcasts feed 16 FMAs (8 cycles at 2 FMA/cycle), within the 2-3
// loads/cycle the cores sustain. 16 independent chains cover the 4-cycle FMA
// latency twice over.
// Few rows (n <= 4): 4 x 64 (kSmallMR x kSmallNV): 16 chains again, so a
// single sample still issues 4 independent FMAs per W row.
#include "avx512/simd_avx512.h"
#include "tern/kernels/kernel_table.h"
#include "tern/platform/compiler.h"

namespace tern::kernels::avx512 {

#include "tern/kernels/isa_kernels-inl.h"

constexpr int kMR = 8, kNV = 2;
constexpr int kSmallMR = 4, kSmallNV = 4;
// One row (n = 1): 1 x 256 (kOneRowNV = 16 vectors): 16 chains, each W row
// read as one contiguous kilobyte per step, 16 + 1 broadcast + loads fit the
// 32 zmm registers. (4 x 64 would leave a single row 4 chains: one FMA per
// 4-cycle latency, half the load rate the L2 can feed.)
constexpr int kOneRowNV = 16;
// backprop_rows: 4 x 4 outputs of 16 lanes = 16 zmm accumulators + 4 D + 1 W
// vectors; per 16 columns 8 loads feed 16 FMAs. One row of D (n < 4): 1 x 16,
// 16 independent chains to cover the FMA latency while W streams in, and 16
// outputs fill one transposing reduction (Simd::reduce_batch) with no
// padding lanes (1 x 8 wasted half of it on zeros).
// rank1_accumulate: 16 x 16, 16 accumulators fed by 1 B load + 16 broadcasts
// per step. The chain runs over all n rows, so the packed D panel holds n
// rows; 16 columns keep it at 16 KiB for n = 256, leaving L1 room for the
// streamed U blocks (a 32-column panel filled L1 at n = 256).
constexpr int kR1MR = 16, kR1NV = 1;
// rank1 with few columns (generic/rank1_cols-inl.h): up to 24 accumulators
// (m x KB vectors: 10 x 2 at m = 10) + KB U vectors + broadcast memory
// operands, within the 32 zmm registers; m <= 16 takes that path.
constexpr int kR1ColsAcc = 24;
constexpr int kBpMI = 4, kBpMP = 4, kBpSmallMP = 16;

#include "generic/gemm-inl.h"
#include "generic/backprop-inl.h"

extern const KernelTable kTable = make_table<Isa::kAvx512>();

}  // namespace tern::kernels::avx512
