// SPDX-License-Identifier: Apache-2.0
// kernels/generic/backprop-inl.h — backprop_rows (dX = D W^T) for every
// vector ISA, under the 16-virtual-lane contract of tern/kernels/dense.h.
// Included inside an ISA namespace after generic/gemm-inl.h (it uses V, kW,
// Simd and the ISA's kBpMI, kBpMP, kBpSmallMP).

// ---- backprop_rows: dX = D W^T with 16 virtual lanes along j ---------------
//
// Both D[i][:] and W[p][:] are contiguous along j, so lanes run along j: lane
// l of output (i, p) accumulates the columns j = l (mod 16). kVA vectors hold
// the 16 virtual lanes (1 on AVX-512, 2 on AVX2, 4 on NEON); the fixed tree of
// the contract first adds whole vectors (pairs l, l+8, then l, l+4 as long as
// there are vectors to pair), then Simd::reduce_batch finishes the remaining
// levels inside the registers for kW outputs at once (a transposing tree:
// about three shuffles and adds per output instead of eight). A tile keeps kBpMI x kBpMP outputs in
// registers, loading each D and W vector once per 16 columns.
constexpr std::size_t kVL = 16;
constexpr std::size_t kVA = kVL / kW;
static_assert(kVA * kW == kVL, "vector width must divide 16");

template <int MI, int MP>
TERN_INLINE void dot_tile(std::size_t m, const float* d, std::size_t ldd, const float* w,
                          std::size_t ldw, float* dx, std::size_t lddx) {
  V acc[MI][MP][kVA];
  TERN_UNROLL
  for (int i = 0; i < MI; ++i)
    TERN_UNROLL
    for (int p = 0; p < MP; ++p)
      TERN_UNROLL
      for (std::size_t a = 0; a < kVA; ++a) acc[i][p][a] = V(0.0f);
  std::size_t j = 0;
  for (; j + kVL <= m; j += kVL) {
    V dv[MI][kVA];
    TERN_UNROLL
    for (int i = 0; i < MI; ++i)
      TERN_UNROLL
      for (std::size_t a = 0; a < kVA; ++a) dv[i][a] = V::load_unaligned(d + i * ldd + j + a * kW);
    TERN_UNROLL
    for (int p = 0; p < MP; ++p) {
      TERN_UNROLL
      for (std::size_t a = 0; a < kVA; ++a) {
        const V wv = V::load_unaligned(w + p * ldw + j + a * kW);
        TERN_UNROLL
        for (int i = 0; i < MI; ++i) acc[i][p][a] = Simd::fma(dv[i][a], wv, acc[i][p][a]);
      }
    }
  }
  if (j < m) {  // tail: lanes past m keep their value exactly (masked FMA)
    for (std::size_t a = 0; a < kVA && j + a * kW < m; ++a) {
      const std::size_t lanes = m - (j + a * kW) < kW ? m - (j + a * kW) : kW;
      V dv[MI];
      TERN_UNROLL
      for (int i = 0; i < MI; ++i) dv[i] = Simd::load_partial(d + i * ldd + j + a * kW, lanes);
      TERN_UNROLL
      for (int p = 0; p < MP; ++p) {
        const V wv = Simd::load_partial(w + p * ldw + j + a * kW, lanes);
        TERN_UNROLL
        for (int i = 0; i < MI; ++i) acc[i][p][a] = Simd::fma_partial(dv[i], wv, acc[i][p][a], lanes);
      }
    }
  }
  // The tree: whole-vector levels per output, then the in-register levels for
  // kW outputs at a time (Simd::reduce_batch), padded with zero accumulators.
  constexpr int kOut = MI * MP;
  constexpr int kGroups = (kOut + static_cast<int>(kW) - 1) / static_cast<int>(kW);
  V red[kGroups * kW];
  TERN_UNROLL
  for (int i = 0; i < MI; ++i) {
    TERN_UNROLL
    for (int p = 0; p < MP; ++p) {
      for (std::size_t c = kVA; c > 1; c /= 2)
        for (std::size_t a = 0; a < c / 2; ++a) acc[i][p][a] = acc[i][p][a] + acc[i][p][a + c / 2];
      red[i * MP + p] = acc[i][p][0];
    }
  }
  TERN_UNROLL
  for (std::size_t q = kOut; q < kGroups * kW; ++q) red[q] = V(0.0f);
  alignas(64) float out[kGroups * kW];
  TERN_UNROLL
  for (int g = 0; g < kGroups; ++g) Simd::reduce_batch(red + g * kW).store_aligned(out + g * kW);
  TERN_UNROLL
  for (int i = 0; i < MI; ++i)
    TERN_UNROLL
    for (int p = 0; p < MP; ++p) dx[i * lddx + p] = out[i * MP + p];
}

template <int MI, int MP>
TERN_INLINE void dot_rows(std::size_t rows, std::size_t m, const float* d, std::size_t ldd,
                          const float* w, std::size_t ldw, float* dx, std::size_t lddx) {
  if constexpr (MI > 1) {
    if (rows < MI) {
      dot_rows<MI - 1, MP>(rows, m, d, ldd, w, ldw, dx, lddx);
      return;
    }
  }
  dot_tile<MI, MP>(m, d, ldd, w, ldw, dx, lddx);
}

template <int MI, int MP>
TERN_INLINE void dot_cols(std::size_t rows, std::size_t cols, std::size_t m, const float* d,
                          std::size_t ldd, const float* w, std::size_t ldw, float* dx,
                          std::size_t lddx) {
  if constexpr (MP > 1) {
    if (cols < MP) {
      dot_cols<MI, MP - 1>(rows, cols, m, d, ldd, w, ldw, dx, lddx);
      return;
    }
  }
  dot_rows<MI, MP>(rows, m, d, ldd, w, ldw, dx, lddx);
}

// W rows p .. p+MP outer (they stay in L1 while every row block of D streams
// past), D row blocks inner.
template <int MI, int MP>
TERN_NOINLINE void dot_block(std::size_t n, std::size_t k, std::size_t m, const float* d,
                             std::size_t ldd, const float* w, std::size_t ldw, float* dx,
                             std::size_t lddx) {
  for (std::size_t p = 0; p < k; p += MP) {
    const std::size_t pc = k - p < MP ? k - p : MP;
    for (std::size_t i = 0; i < n; i += MI) {
      const std::size_t rc = n - i < MI ? n - i : MI;
      dot_cols<MI, MP>(rc, pc, m, d + i * ldd, ldd, w + p * ldw, ldw, dx + i * lddx + p, lddx);
    }
  }
}

// ---- backprop_rows with few columns (m <= 16): lanes along p -------------
//
// With m <= 16 each virtual lane of the contract holds at most one product,
// s_l = fma(D[i][l], W[p][l], +0) for l < m and +0 for l >= m, and the tree
// is all that is left. Lanes along j would spend a vector and a transposing
// reduction per output on m products; here the lanes run along p instead:
// kW outputs per vector, the 16 virtual lanes become 16 vectors S_l (column l
// of a kW-row block of W, transposed in registers once per block and reused
// by every row of D), and the tree is 15 vector additions. Every output sees
// the same operations in the same order, so the bits are the contract's.
// m is a template parameter (with_fixed_cols), so the lanes l >= m are
// known to be +0 and the tree skips what they contribute, without changing a
// bit. Adding +0 is not free: x + (+0) is x, except that -0 becomes +0
// (fma(D, W, +0) is -0 when a negative product underflows). Call that
// canon(x). Since canon(a) + b == canon(a + b) for all a and b (a sum is -0
// only when both terms are), every such addition can move to the root: the
// tree over the m real lanes, with the same pairing, followed by one
// canon() when any lane was +0 (m < 16). At m = 10 that is 10 additions
// instead of 15, as many as there are FMAs.
constexpr std::size_t kBpFewColsMinRows = 4;  // fewer rows: the transposition costs more than it saves
constexpr std::size_t kBpFewColsMaxCols = kVL;

// One level of the tree over the M real lanes: s[l] += s[l + H] for l < H
// where both are real.
template <int M, int H>
TERN_INLINE void tree_level(V* s) {
  TERN_UNROLL
  for (int l = 0; l < H; ++l) {
    if (l + H < M) s[l] = s[l] + s[l + H < M ? l + H : 0];  // (the index stays in bounds)
  }
}

template <int M>
TERN_NOINLINE void backprop_cols(std::size_t n, std::size_t k, const float* d, std::size_t ldd,
                                 const float* w, std::size_t ldw, float* dx, std::size_t lddx) {
  static_assert(M >= 1 && M <= static_cast<int>(kVL), "one virtual lane per column");
  constexpr int kBlocks = (M + static_cast<int>(kW) - 1) / static_cast<int>(kW);
  const V zero(0.0f);
  for (std::size_t p0 = 0; p0 < k; p0 += kW) {
    const std::size_t pc = k - p0 < kW ? k - p0 : kW;
    // wt[l], lane q = W[p0 + q][l] (+0 past the block): kW x kW blocks of
    // W's rows, transposed.
    V wt[kBlocks * kW];
    TERN_UNROLL
    for (int jb = 0; jb < kBlocks; ++jb) {
      const std::size_t j0 = static_cast<std::size_t>(jb) * kW;
      const std::size_t lanes = M - j0 < kW ? M - j0 : kW;
      V* t = wt + j0;
      TERN_UNROLL
      for (std::size_t q = 0; q < kW; ++q) {
        if (q >= pc) {  // past k: no pointer into W is formed
          t[q] = zero;
          continue;
        }
        const float* row = w + (p0 + q) * ldw + j0;
        t[q] = lanes == kW ? V::load_unaligned(row) : Simd::load_partial(row, lanes);
      }
      Simd::transpose(t);
    }
    for (std::size_t i = 0; i < n; ++i) {
      const float* di = d + i * ldd;
      V s[M];
      TERN_UNROLL
      for (int l = 0; l < M; ++l) s[l] = Simd::fma(V(di[l]), wt[l], zero);
      // The contract's tree, level by level (h = 8, 4, 2, 1), over the real
      // lanes: after level h, s[l] (l < h) holds lanes l, l + h, ..., and it
      // is real when l < M. A real lane meeting a +0 one is left as it is.
      static_assert(kVL == 16, "the tree has four levels");
      tree_level<M, 8>(s);
      tree_level<M, 4>(s);
      tree_level<M, 2>(s);
      tree_level<M, 1>(s);
      if (M < static_cast<int>(kVL)) s[0] = s[0] + zero;  // canon(): the skipped +0 terms
      float* out = dx + i * lddx + p0;
      if (pc == kW) s[0].store_unaligned(out);
      else Simd::store_partial(out, s[0], pc);
    }
  }
}

void backprop_rows(std::size_t n, std::size_t k, std::size_t m, const float* d, std::size_t ldd,
                   const float* w, std::size_t ldw, float* dx, std::size_t lddx) {
  if (m == 0) {  // empty chains: dX = 0; D and W may be null
    for (std::size_t i = 0; i < n; ++i)
      for (std::size_t p = 0; p < k; ++p) dx[i * lddx + p] = 0.0f;
    return;
  }
  if (m <= kBpFewColsMaxCols && n >= kBpFewColsMinRows) {
    with_fixed_cols<static_cast<int>(kBpFewColsMaxCols)>(m, [&](auto cols) {
      backprop_cols<decltype(cols)::value>(n, k, d, ldd, w, ldw, dx, lddx);
    });
  } else if (n < kBpMI) {
    dot_block<1, kBpSmallMP>(n, k, m, d, ldd, w, ldw, dx, lddx);
  } else {
    dot_block<kBpMI, kBpMP>(n, k, m, d, ldd, w, ldw, dx, lddx);
  }
}

