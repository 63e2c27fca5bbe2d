// SPDX-License-Identifier: Apache-2.0
// tern/kernels/dense.h — the hot operations of a dense layer, checked.
//
// A dense layer applied position-wise to an n x k activation matrix X (one
// row per sample of a batch, or per token of a sequence) computes
//     Z_i = X_i W + b                  for every row i   (gemm_rows)
// and its training needs
//     dL/dW += sum_i X_i^T dZ_i        a sum of n rank-1 outer products
//                                      (rank1_accumulate)
//     dL/db += sum_i dZ_i              (column_sums_accumulate)
//     dX     = dZ W^T                  delta propagation (backprop_rows)
//
// Every function here validates its arguments (null pointers, strides smaller
// than a row, overlapping input and output, scratch too small, pointers not
// 4-byte aligned: kMisaligned, sizes whose extent overflows or would run past
// the address space) and returns a Status, then runs the kernel of the active
// ISA (tern/kernels/isa_selection.h). Any 4-byte-aligned address works: the
// vector kernels load and store unaligned. Matrices are row-major float32
// with a row stride ("leading dimension") in elements, so a view into a
// larger matrix costs nothing.
//
// ---------------------------------------------------------------------------
// Arithmetic contract — the same bits on every ISA
// ---------------------------------------------------------------------------
// Each output element is computed by a fixed sequence of operations: chains of
// fused multiply-adds (one rounding per step) in increasing index order from a
// fixed start value, and for backprop_rows a fixed reduction tree:
//
//   gemm_rows:        acc = b[j] (or +0.0f without bias)
//                     for p = 0 .. k-1:  acc = fma(X[i][p], W[p][j], acc)
//                     Y[i][j] = act(acc)        relu: acc > 0 ? acc : +0.0f
//   rank1_accumulate: s = +0.0f
//                     for i = 0 .. n-1:  s = fma(U[i][p], D[i][j], s)
//                     G[p][j] = fma(alpha, s, G[p][j])
//   column_sums_accumulate:
//                     s = +0.0f; for i = 0 .. n-1: s = s + D[i][j]
//                     g[j] = fma(alpha, s, g[j])
//   rank1_gradient:   s as in rank1_accumulate; G[p][j] = fma(alpha, s, +0.0f)
//                     (rank1_accumulate into a zeroed G, without the zeroing)
//   rank1_sgd_update: s as in rank1_accumulate; g = fma(alpha, s, +0.0f),
//                     then the SGD step of sgd_momentum_f32 on W[p][j] (and
//                     the velocity V[p][j] when momentum is not 0)
//   backprop_rows:    16 virtual lanes, l = 0 .. 15, each an FMA chain over
//                     the columns j = l, l + 16, l + 32, ... < m:
//                       s_l = +0.0f; s_l = fma(D[i][j], W[p][j], s_l)
//                     then one fixed tree: for h = 8, 4, 2, 1:
//                       s_l = s_l + s_(l+h)  for l < h
//                     dX[i][p] = s_0
//
// A vector kernel computes many such chains side by side (one per lane) and
// never splits one chain across lanes, so its result does not depend on the
// vector width: scalar, AVX2, AVX-512 and NEON agree bit for bit.
// backprop_rows reduces along a contiguous row of both D and W, so its lanes
// run along j: the 16 virtual lanes are one AVX-512 register, two AVX2
// registers or four NEON registers, and the tree is the same on all of them.
// (The alternative, lanes along p over a transposed copy of W, costs a
// transposition of W per call: as much work as the product itself when n is
// 1, the on-device training case.) Tails are masked so that a lane past the
// end of the row is left exactly as it was, -0.0 included.
// Compilers must not contract or reassociate float expressions elsewhere
// either: tern builds with -ffp-contract=off and never with -ffast-math.
#pragma once

#include <cstddef>

#include "tern/platform/status.h"

namespace tern {

struct SgdParams;  // tern/kernels/elementwise.h (which includes this header)

enum class Activation : unsigned char {
  kNone = 0,
  kRelu = 1,  // x > 0 ? x : +0.0f  (so NaN becomes +0.0f; tern checks data for NaN elsewhere)
};

// Scratch: packed panels, always from the caller (the arena), never the heap
// or a large stack frame. Only the two broadcast-form kernels use it.
//
// Vector kernels copy B operands into contiguous panels of kPanelCols columns
// by at most kPanelDepth rows. Packing turns a strided stream (often with a
// power-of-two stride that maps every row to one L1 set) into one sequential
// run that stays in L1. The figures depend only on the shape, never on the
// ISA, so an arena sized at compile time fits every ISA; the scalar kernels
// accept the same scratch and ignore it.
//   gemm_rows:        optional. Without it, W is read in place (same bits,
//                     slower for more than a handful of rows).
//   rank1_accumulate: optional, used for n <= kPanelDepth (same bits either way).
constexpr std::size_t kPanelCols = 32;    // two AVX-512, four AVX2, eight NEON vectors
constexpr std::size_t kPanelDepth = 256;  // 32 x 256 floats = 32 KiB: fits L1 with room
constexpr std::size_t min_size(std::size_t a, std::size_t b) { return a < b ? a : b; }
constexpr std::size_t gemm_rows_scratch_floats(std::size_t k) {
  return kPanelCols * min_size(k, kPanelDepth);
}
// rank1_accumulate packs a panel of D (n x kPanelCols) and a chunk of U^T
// (kRank1Rows x n: 128 KiB at n = 256, an L2-sized block); nothing when
// n > kPanelDepth.
constexpr std::size_t kRank1Rows = 128;

// Rows (n) up to which rank1_accumulate, rank1_gradient and rank1_sgd_update
// stream G (or W) row by row with the n broadcasts of U held in registers
// instead of running register tiles: with this few rows each element of G
// gets at most 4 FMAs, so streaming G is the whole cost. rank1_sgd_update
// with momentum streams at any n, which pays only up to these row counts.
constexpr std::size_t kRank1StreamRows = 4;
constexpr std::size_t rank1_accumulate_scratch_floats(std::size_t n) {
  return n <= kPanelDepth ? (kPanelCols + kRank1Rows) * n : 0;
}

// Y (n x m) = act(X (n x k) W (k x m) + b). bias may be null (no bias).
// k == 0 gives Y = act(b) (or act(0)). n == 0 or m == 0 does nothing.
// scratch: null, or gemm_rows_scratch_floats(k) floats (see above).
Status gemm_rows_f32(std::size_t n, std::size_t k, std::size_t m,
                     const float* x, std::size_t ldx,
                     const float* w, std::size_t ldw,
                     const float* bias,
                     float* y, std::size_t ldy,
                     Activation act = Activation::kNone,
                     float* scratch = nullptr, std::size_t scratch_floats = 0);

// G (k x m) += alpha * sum_i U_i^T D_i, U n x k, D n x m: n rank-1 updates
// accumulated in registers, never materialised one by one. n == 0 leaves G
// unchanged (alpha * 0 is added: G + 0 == G, except -0.0 becomes +0.0).
// scratch: null, or rank1_accumulate_scratch_floats(n) floats (see above).
Status rank1_accumulate_f32(std::size_t n, std::size_t k, std::size_t m, float alpha,
                            const float* u, std::size_t ldu,
                            const float* d, std::size_t ldd,
                            float* g, std::size_t ldg,
                            float* scratch = nullptr, std::size_t scratch_floats = 0);

// G (k x m) = alpha * sum_i U_i^T D_i: rank1_accumulate into G as if G had
// been zeroed first, without the zeroing pass or reading G (at batch 1 that
// is two of the three passes over the gradient). scratch as rank1_accumulate.
Status rank1_gradient_f32(std::size_t n, std::size_t k, std::size_t m, float alpha,
                          const float* u, std::size_t ldu, const float* d, std::size_t ldd,
                          float* g, std::size_t ldg, float* scratch = nullptr,
                          std::size_t scratch_floats = 0);

// One SGD step (sgd_momentum_f32, elementwise.h) on W (k x m) with the
// gradient alpha * sum_i U_i^T D_i, applied in the same pass that forms it,
// so the gradient never exists in memory: each element of W (and of the
// velocity V, k x m with stride ldv) is read and written once. The bits are
// those of rank1_accumulate into a zeroed buffer followed by sgd_momentum_f32.
// With params.momentum == 0 (plain SGD) the velocity is not used and may be
// null. n == 0 is a step on a zero gradient (weight decay and momentum only).
// Fastest for a few rows (it re-reads D's n rows for every vector of W);
// with many, rank1_accumulate into a block then sgd_momentum_f32 is faster.
Status rank1_sgd_update_f32(std::size_t n, std::size_t k, std::size_t m, float alpha,
                            const float* u, std::size_t ldu, const float* d, std::size_t ldd,
                            float* w, std::size_t ldw, float* velocity, std::size_t ldv,
                            const SgdParams& params);

// g (m) += alpha * column sums of D (n x m): the bias gradient.
Status column_sums_accumulate_f32(std::size_t n, std::size_t m, float alpha,
                                  const float* d, std::size_t ldd, float* g);

// dX (n x k) = D (n x m) W^T, W k x m: the delta handed to the previous layer.
// m == 0 gives dX = 0.
Status backprop_rows_f32(std::size_t n, std::size_t k, std::size_t m,
                         const float* d, std::size_t ldd,
                         const float* w, std::size_t ldw,
                         float* dx, std::size_t lddx);

}  // namespace tern
