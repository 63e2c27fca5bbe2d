// SPDX-License-Identifier: Apache-2.0
// kernels/generic/rank1_cols-inl.h — rank1_accumulate, rank1_gradient and
// rank1_sgd_update for few columns (m <= kR1ColsMax) and more rows than the
// streamed kernel takes: lanes along p.
//
// The register tiles put j in the lanes, so at m = 10 (the MLP's output
// layer) an AVX-512 tile computes 6 of its 16 lanes for nothing, and its
// short rows of G leave few chains in flight. Here the lanes run along p
// instead. For every row i of U and D, KB vectors of U[i][p0 ..] (contiguous
// in U's row, read in place: no packing) and the m broadcasts D[i][j] feed
// m x KB accumulators; lane q of acc[j][kb] is the chain of
// G[p0 + kb * kW + q][j]: fma(U[i][p], D[i][j], s) over i in order from +0,
// the contract's chain. After the last row each kW x kW block of
// accumulators is transposed in registers (Simd::transpose, bits unchanged)
// into rows of G, staged in a small stack tile, and finished by the streamed
// kernel's Out (GradientOut, SgdStep in gemm-inl.h), so the epilogue's bits
// are that kernel's too.
//
// The epilogue is where short rows cost: G's rows of m < kW floats need
// masked loads and stores, and a masked store followed by a masked load of
// the next row (40 bytes on at m = 10) covers one vector-sized range, which
// store forwarding cannot serve, so the load waits for the store to reach
// the cache. When every output's stride is m (the block of rows is one
// contiguous run: the runtime's gradients and weights) the tile takes the
// same layout and the block is finished as one run of full vectors. With
// other strides, runs of rows are read before any of them is written.
//
// No include guard: included inside an ISA namespace by generic/gemm-inl.h,
// after the Out forms, with the ISA's accumulator budget kR1ColsAcc.

// Columns this path takes: as many as the budget's accumulators, at most
// kFewCols (a staged row holds at most kFewCols floats).
constexpr int kR1ColsMax = kR1ColsAcc < kFewCols ? kR1ColsAcc : kFewCols;
// Vectors of p per block: as many as fit the budget beside m columns, at
// least 1 and at most 4 (more chains than the FMA latency needs only add
// tail work on short k, and instantiations).
constexpr int kR1ColsMaxKB = 4;
constexpr int r1_cols_kb(int m) {
  return kR1ColsAcc / m < 1 ? 1 : (kR1ColsAcc / m > kR1ColsMaxKB ? kR1ColsMaxKB : kR1ColsAcc / m);
}
// The stack tile: up to kR1ColsMaxKB * kW rows of at most kFewCols floats.
// A row stored with stride ld <= kFewCols writes whole vectors, up to
// ceil(m / kW) * kW <= kFewCols floats from its start, so the last row
// still ends inside.
constexpr std::size_t kR1ColsTileFloats = kR1ColsMaxKB * kW * kFewCols;
static_assert(kFewCols % kW == 0, "a staged row is whole vectors");

// U[i][p .. p + lanes), lanes clamped to 0 .. kW; lanes past the row are +0
// and never read.
TERN_INLINE V load_upto(const float* p, std::size_t lanes) {
  if (lanes >= kW) return V::load_unaligned(p);
  return lanes == 0 ? V(0.0f) : Simd::load_partial(p, lanes);
}

// The chains of G's rows p0 .. p0 + rows (rows <= KB * kW; kTail when
// fewer) into tile[r * ld + j], j < M, in increasing r: each row's stores
// past M are overwritten by the next row's when ld == M. u points at
// U[0][p0].
template <int M, bool kTail>
TERN_INLINE void r1_cols_run(std::size_t n, std::size_t rows, const float* u, std::size_t ldu,
                             const float* d, std::size_t ldd, float* tile, std::size_t ld) {
  constexpr int KB = r1_cols_kb(M);
  V acc[M][KB];
  TERN_UNROLL
  for (int j = 0; j < M; ++j)
    TERN_UNROLL
    for (int kb = 0; kb < KB; ++kb) acc[j][kb] = V(0.0f);
  for (std::size_t i = 0; i < n; ++i) {
    const float* ui = u + i * ldu;
    V uv[KB];
    TERN_UNROLL
    for (int kb = 0; kb < KB; ++kb) {
      const std::size_t p = static_cast<std::size_t>(kb) * kW;
      uv[kb] = kTail ? load_upto(ui + p, rows > p ? rows - p : 0) : V::load_unaligned(ui + p);
    }
    const float* di = d + i * ldd;
    TERN_UNROLL
    for (int j = 0; j < M; ++j) {
      const V dj(di[j]);
      TERN_UNROLL
      for (int kb = 0; kb < KB; ++kb) acc[j][kb] = Simd::fma(uv[kb], dj, acc[j][kb]);
    }
  }
  constexpr int kBlocks = (M + static_cast<int>(kW) - 1) / static_cast<int>(kW);
  TERN_UNROLL
  for (int kb = 0; kb < KB; ++kb) {
    V t[kBlocks][kW];
    TERN_UNROLL
    for (int jb = 0; jb < kBlocks; ++jb) {
      TERN_UNROLL
      for (std::size_t c = 0; c < kW; ++c) {
        const int j = jb * static_cast<int>(kW) + static_cast<int>(c);
        t[jb][c] = j < M ? acc[j < M ? j : 0][kb] : V(0.0f);  // (the index stays in bounds)
      }
      Simd::transpose(t[jb]);
    }
    TERN_UNROLL
    for (std::size_t r = 0; r < kW; ++r)
      TERN_UNROLL
      for (int jb = 0; jb < kBlocks; ++jb) {
        t[jb][r].store_unaligned(tile + (kb * kW + r) * ld + static_cast<std::size_t>(jb) * kW);
      }
  }
}

using R1ColsBlock = void (*)(std::size_t n, std::size_t rows, const float* u, std::size_t ldu,
                             const float* d, std::size_t ldd, float* tile, std::size_t ld);

template <int M>
TERN_NOINLINE void r1_cols_block(std::size_t n, std::size_t rows, const float* u,
                                 std::size_t ldu, const float* d, std::size_t ldd, float* tile,
                                 std::size_t ld) {
  if (rows == static_cast<std::size_t>(r1_cols_kb(M)) * kW) {
    r1_cols_run<M, false>(n, rows, u, ldu, d, ldd, tile, ld);
  } else {
    r1_cols_run<M, true>(n, rows, u, ldu, d, ldd, tile, ld);
  }
}

// Finishes `count` contiguous floats of the output from `row` on (the
// current row of `out`) with the same run of the tile.
template <typename Out>
TERN_INLINE void r1_cols_finish_run(std::size_t count, const float* tile, Out& out) {
  std::size_t j = 0;
  for (; j + kW <= count; j += kW) out.template store<true>(V::load_unaligned(tile + j), j, kW);
  if (j < count) out.template store<false>(V::load_unaligned(tile + j), j, count - j);
}

// Finishes rows p0 .. p0 + rows, each of m floats, from the tile (stride
// kFewCols): the old values of up to kW rows are read before any of them is
// written.
template <typename Out>
TERN_INLINE void r1_cols_finish_rows(std::size_t p0, std::size_t rows, std::size_t m,
                                     const float* tile, Out& out) {
  constexpr std::size_t kVectors = kFewCols / kW;
  for (std::size_t r0 = 0; r0 < rows; r0 += kW) {
    const std::size_t rc = rows - r0 < kW ? rows - r0 : kW;
    typename Out::Old old[kW][kVectors];
    for (std::size_t r = 0; r < rc; ++r) {
      out.start_row(p0 + r0 + r);
      for (std::size_t j = 0, v = 0; j < m; j += kW, ++v) {
        old[r][v] = m - j >= kW ? out.template read<true>(j, kW)
                                : out.template read<false>(j, m - j);
      }
    }
    for (std::size_t r = 0; r < rc; ++r) {
      out.start_row(p0 + r0 + r);
      for (std::size_t j = 0, v = 0; j < m; j += kW, ++v) {
        const V s = V::load_unaligned(tile + (r0 + r) * kFewCols + j);
        if (m - j >= kW) {
          out.template write<true>(s, old[r][v], j, kW);
        } else {
          out.template write<false>(s, old[r][v], j, m - j);
        }
      }
    }
  }
}

// G's rows in blocks of KB * kW, each finished by `out` from the tile. Only
// the blocks depend on m at compile time; the epilogue is instantiated once
// per Out.
template <typename Out>
TERN_NOINLINE void rank1_cols(std::size_t n, std::size_t k, std::size_t m, const float* u,
                              std::size_t ldu, const float* d, std::size_t ldd, Out out) {
  R1ColsBlock block = nullptr;
  std::size_t step = 0;
  with_fixed_cols<kR1ColsMax>(m, [&](auto cols) {
    constexpr int M = decltype(cols)::value;
    block = &r1_cols_block<M>;
    step = static_cast<std::size_t>(r1_cols_kb(M)) * kW;
  });
  const bool run = out.rows_contiguous(m);
  alignas(64) float tile[kR1ColsTileFloats];
  for (std::size_t p0 = 0; p0 < k; p0 += step) {
    const std::size_t rows = k - p0 < step ? k - p0 : step;
    block(n, rows, u + p0, ldu, d, ldd, tile, run ? m : kFewCols);
    if (run) {
      out.start_row(p0);
      r1_cols_finish_run(rows * m, tile, out);
    } else {
      r1_cols_finish_rows(p0, rows, m, tile, out);
    }
  }
}
