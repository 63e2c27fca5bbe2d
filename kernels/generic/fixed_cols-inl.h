// SPDX-License-Identifier: Apache-2.0
// kernels/generic/fixed_cols-inl.h — a run-time column count turned into a
// compile-time one, for the kernels with lanes along p (rank1_cols-inl.h,
// backprop-inl.h's few-column path): they keep one register per column j
// (an accumulator, or a column of W), so with m known at compile time the
// columns past m cost nothing and the unrolled loops carry no branches.
//
// No include guard: included inside an ISA namespace, once per translation
// unit, from generic/gemm-inl.h.

// The widest such kernel: 16 columns, one per virtual lane of backprop_rows'
// contract (dense.h), and one AVX-512 vector per row of a transposed block.
constexpr int kFewCols = 16;

// Calls f(std::integral_constant<int, M>{}) with M == m, for 1 <= m <= kMax.
template <int kMax, int M = 1, typename F>
TERN_INLINE void with_fixed_cols(std::size_t m, F&& f) {
  static_assert(kMax <= kFewCols, "one instantiation per column count: keep them few");
  if constexpr (M < kMax) {
    if (m > static_cast<std::size_t>(M)) {
      with_fixed_cols<kMax, M + 1>(m, f);
      return;
    }
  }
  f(std::integral_constant<int, M>{});
}
