// SPDX-License-Identifier: Apache-2.0
// NEON instantiation of the dense-layer kernels and its kernel table, for
// AArch64 (AdvSIMD) and ARMv7 (NEON + VFPv4). 4 float lanes per q register.
//
// Every tile below is sized from the register file, counted next to its
// constants: accumulators (MR x NV q registers), the B vectors loaded per
// step, and one broadcast A scalar. The two architectures differ in register
// count (32 vs 16), hence the #if. These figures are arithmetic, not
// measurements: tune them on hardware (bench/README.md), never under qemu.
#include "neon/simd_neon.h"
#include "tern/kernels/kernel_table.h"
#include "tern/platform/compiler.h"

namespace tern::kernels::neon {

#include "tern/kernels/isa_kernels-inl.h"

#if defined(__aarch64__)
// AArch64 has 32 q registers (v0-v31).
// Tile 8 x 12 (kMR = 8 rows, kNV = 3 vectors = 12 columns): 24 accumulators
// + 3 B vectors + 1 broadcast = 28 of 32, leaving room for the compiler.
// Per step: 3 vector loads + 8 broadcast loads (ld1r) feed 24 FMAs; the
// 24 independent chains cover a 4-cycle FMLA latency on two pipes
// (Cortex-A72/A76: 8 chains needed) three times over.
constexpr int kMR = 8, kNV = 3;
// Few rows (n <= 2): 2 x 32 (kSmallNV = 8): 16 accumulators + 8 B vectors
// + 1 broadcast = 25 registers, still 16 chains for a single sample.
constexpr int kSmallMR = 2, kSmallNV = 8;
// One row (n = 1): 1 x 64 (kOneRowNV = 16): 16 chains + 1 broadcast + loads.
constexpr int kOneRowNV = 16;
// rank1_accumulate: the gemm tile (its packed 32-column D panel of n rows is
// read 4 floats at a time, 3 vectors per step like gemm's W).
constexpr int kR1MR = kMR, kR1NV = kNV;
// rank1 with few columns (generic/rank1_cols-inl.h): up to 24 accumulators
// + KB U vectors + 1 broadcast within the 32 q registers; m <= 16.
constexpr int kR1ColsAcc = 24;
// backprop_rows: the 16 virtual lanes are 4 q registers, so 2 x 2 outputs =
// 16 accumulators + 8 D vectors + 1 W vector = 25 registers; per 16 columns
// 16 loads feed 16 FMAs. Fewer than 2 rows of D: 1 x 4, 16 accumulators +
// 4 D + 1 W = 21.
constexpr int kBpMI = 2, kBpMP = 2, kBpSmallMP = 4;
#else
// ARMv7 has 16 q registers (q0-q15, aliasing d0-d31) and no FMA by scalar.
// Tile 4 x 8 (kMR = 4, kNV = 2): 8 accumulators + 2 B vectors + 1 broadcast
// = 11 of 16: 8 chains, enough for the in-order Cortex-A7 and most of what an
// out-of-order Cortex-A15 can overlap, without spilling.
constexpr int kMR = 4, kNV = 2;
// Few rows (n <= 2): 2 x 16 (kSmallNV = 4): 8 accumulators + 4 B + 1 = 13.
constexpr int kSmallMR = 2, kSmallNV = 4;
// One row (n = 1): 1 x 32 (kOneRowNV = 8): 8 chains + 1 + loads of 16.
constexpr int kOneRowNV = 8;
// rank1_accumulate: the gemm tile (16 registers leave no room for a taller one).
constexpr int kR1MR = kMR, kR1NV = kNV;
// rank1 with few columns (generic/rank1_cols-inl.h): up to 8 accumulators
// + KB U vectors + 1 broadcast within the 16 q registers; m <= 8.
constexpr int kR1ColsAcc = 8;
// backprop_rows: 16 virtual lanes = 4 q registers per output, so 1 x 2
// outputs = 8 accumulators + 4 D vectors + 1 W = 13 of 16 (2 x 1 would need
// 8 D vectors: 17).
constexpr int kBpMI = 1, kBpMP = 2, kBpSmallMP = 2;
#endif

#include "generic/gemm-inl.h"
#include "generic/backprop-inl.h"

extern const KernelTable kTable = make_table<Isa::kNeon>();

}  // namespace tern::kernels::neon
