// SPDX-License-Identifier: Apache-2.0
// kernels/generic/gemm-inl.h — register-tiled dense-layer kernels, one
// template for every vector ISA. Included inside an ISA namespace after the
// ISA has defined `Arch` (an xsimd architecture tag), `Simd` (its traits),
// and the tile constants kMR, kNV, kSmallMR, kSmallNV (see kernels/<isa>/).
//
// Why one tile serves three operations
// ------------------------------------
// All three products are "C[MR x NR] (+)= sum_t A(r, t) * B(t, 0..NR)" with
// the chain variable t running in increasing order:
//   gemm_rows        A = X        (row stride ldx, column stride 1), B = W
//   rank1_accumulate A = U^T      (row stride 1,   column stride ldu), B = D
//   backprop_rows    A = D        (row stride ldd, column stride 1), B = packed W^T
// The tile keeps MR x NV vector accumulators in registers; per step t it
// loads NV vectors of B once and broadcasts MR scalars of A, so each loaded B
// vector feeds MR FMAs and each broadcast feeds NV. Every lane of every
// accumulator is one output element's FMA chain, in the contract's order, so
// the result is bit-identical to the scalar reference whatever MR, NV or the
// vector width are. Column tails use the ISA's partial load/store (masked on
// AVX2/AVX-512): lanes past the edge compute chains on zeros and are never
// stored. Row tails use smaller MR instantiations.
//
// Blocking
// --------
// gemm_rows walks the k dimension in blocks of kKc steps: a kKc x 32 panel of
// W (256 x 32 floats = 32 KiB), packed into the caller's scratch, stays in L1
// while every row block of X streams past it. Between blocks the partial sums are stored to Y and
// reloaded — a float round-trip is exact, so blocking does not change a bit.
// The fused ReLU is applied only after the last block.

// How an accumulator tile starts and ends.
enum class Start { kZero, kBias, kLoad };
// kAxpy: C = fma(alpha, acc, C); kAssign: C = fma(alpha, acc, +0), C unread
// (the same bits as kAxpy into a zeroed C).
// kSgd: C = fma(-lr, fma(wd, C, fma(alpha, acc, +0)), C), the plain-SGD step
// of rank1_sgd_update on W = C with the gradient kAssign would store.
enum class Finish { kStore, kStoreRelu, kAxpy, kAssign, kSgd };

// The scalars a Finish uses: alpha (kAxpy, kAssign, kSgd), the learning
// rate and weight decay (kSgd).
struct Coef {
  float alpha = 0.0f;
  float learning_rate = 0.0f;
  float weight_decay = 0.0f;
};

constexpr std::size_t kKc = kPanelDepth;

using V = xsimd::batch<float, Arch>;
constexpr std::size_t kW = V::size;

// The plain-SGD step of sgd_momentum (elementwise.h) before the learning
// rate, on the gradient rank1_gradient would store for the chain s:
// fma(weight_decay, w, fma(alpha, s, +0)). Both forms of rank1_sgd_update
// (the tiles' Finish::kSgd and the streamed SgdStep) take it from here.
TERN_INLINE V decayed_gradient(V s, V w, V alpha, V weight_decay) {
  return Simd::fma(weight_decay, w, Simd::fma(alpha, s, V(0.0f)));
}

// One tile. NV full vectors per row, the last of which holds only `last`
// valid lanes when kPartial.
template <int MR, int NV, bool kPartial>
TERN_INLINE void tile(std::size_t kc, const float* a, std::size_t a_rs, std::size_t a_cs,
                      const float* b, std::size_t ldb, std::size_t last, float* c,
                      std::size_t ldc, Start start, const float* bias, Finish finish,
                      Coef coef) {
  V acc[MR][NV];
  TERN_UNROLL
  for (int v = 0; v < NV; ++v) {
    V init(0.0f);
    const bool part = kPartial && v == NV - 1;
    if (start == Start::kBias && bias != nullptr) {
      init = part ? Simd::load_partial(bias + v * kW, last) : V::load_unaligned(bias + v * kW);
    }
    TERN_UNROLL
    for (int r = 0; r < MR; ++r) {
      if (start == Start::kLoad) {
        const float* src = c + r * ldc + v * kW;
        acc[r][v] = part ? Simd::load_partial(src, last) : V::load_unaligned(src);
      } else {
        acc[r][v] = init;
      }
    }
  }
  for (std::size_t t = 0; t < kc; ++t) {
    V bv[NV];
    TERN_UNROLL
    for (int v = 0; v < NV; ++v) {
      const float* src = b + t * ldb + v * kW;
      bv[v] = (kPartial && v == NV - 1) ? Simd::load_partial(src, last) : V::load_unaligned(src);
    }
    const float* at = a + t * a_cs;
    TERN_UNROLL
    for (int r = 0; r < MR; ++r) {
      const V ar(at[r * a_rs]);
      TERN_UNROLL
      for (int v = 0; v < NV; ++v) acc[r][v] = Simd::fma(ar, bv[v], acc[r][v]);
    }
  }
  TERN_UNROLL
  for (int r = 0; r < MR; ++r) {
    TERN_UNROLL
    for (int v = 0; v < NV; ++v) {
      float* dst = c + r * ldc + v * kW;
      const bool part = kPartial && v == NV - 1;
      V out = acc[r][v];
      if (finish == Finish::kStoreRelu) {
        out = xsimd::select(out > V(0.0f), out, V(0.0f));
      } else if (finish == Finish::kAxpy) {
        const V old = part ? Simd::load_partial(dst, last) : V::load_unaligned(dst);
        out = Simd::fma(V(coef.alpha), out, old);
      } else if (finish == Finish::kAssign) {
        out = Simd::fma(V(coef.alpha), out, V(0.0f));
      } else if (finish == Finish::kSgd) {
        const V old = part ? Simd::load_partial(dst, last) : V::load_unaligned(dst);
        out = Simd::fnma(V(coef.learning_rate),
                         decayed_gradient(out, old, V(coef.alpha), V(coef.weight_decay)), old);
      }
      if (part) Simd::store_partial(dst, out, last);
      else out.store_unaligned(dst);
    }
  }
}

// Which tile covers the columns [j, j + cols) with up to NV vectors: full
// tiles while cols >= NV * kW, then one tile with the fewest vectors, the last
// partial. Dispatches MR at run time (row tails) through a switch.
template <int MR, int NV>
TERN_INLINE void tile_cols(std::size_t cols, std::size_t kc, const float* a, std::size_t a_rs,
                           std::size_t a_cs, const float* b, std::size_t ldb, float* c,
                           std::size_t ldc, Start start, const float* bias, Finish finish,
                           Coef coef) {
  if (cols == NV * kW) {
    tile<MR, NV, false>(kc, a, a_rs, a_cs, b, ldb, kW, c, ldc, start, bias, finish, coef);
    return;
  }
  // cols < NV * kW: nv vectors, the last holding `last` lanes (1..kW).
  const std::size_t nv = (cols + kW - 1) / kW;
  const std::size_t last = cols - (nv - 1) * kW;
  if constexpr (NV > 1) {
    if (nv < NV) {
      tile_cols<MR, NV - 1>(cols, kc, a, a_rs, a_cs, b, ldb, c, ldc, start, bias, finish, coef);
      return;
    }
  }
  if (last == kW) {
    tile<MR, NV, false>(kc, a, a_rs, a_cs, b, ldb, kW, c, ldc, start, bias, finish, coef);
  } else {
    tile<MR, NV, true>(kc, a, a_rs, a_cs, b, ldb, last, c, ldc, start, bias, finish, coef);
  }
}

template <int MR, int NV>
TERN_INLINE void tile_rows(std::size_t rows, std::size_t cols, std::size_t kc, const float* a,
                           std::size_t a_rs, std::size_t a_cs, const float* b, std::size_t ldb,
                           float* c, std::size_t ldc, Start start, const float* bias,
                           Finish finish, Coef coef) {
  if constexpr (MR > 1) {
    if (rows < MR) {
      tile_rows<MR - 1, NV>(rows, cols, kc, a, a_rs, a_cs, b, ldb, c, ldc, start, bias, finish,
                            coef);
      return;
    }
  }
  tile_cols<MR, NV>(cols, kc, a, a_rs, a_cs, b, ldb, c, ldc, start, bias, finish, coef);
}

// C[rows x cols] over A (rows x kc, strides a_rs/a_cs) and B (kc x cols,
// stride ldb). Default order: column panels of NR outer, row blocks of MR
// inner, so a B panel is reused from L1 by every row block. kRowMajor swaps
// the loops, for updates bound by streaming C itself (short chains): C is
// then read and written in address order.
template <int MR, int NV, bool kRowMajor = false>
TERN_NOINLINE void block(std::size_t rows, std::size_t cols, std::size_t kc, const float* a,
                         std::size_t a_rs, std::size_t a_cs, const float* b, std::size_t ldb,
                         float* c, std::size_t ldc, Start start, const float* bias, Finish finish,
                         Coef coef) {
  constexpr std::size_t NR = NV * kW;
  auto one = [&](std::size_t i, std::size_t j) {
    const std::size_t nc = cols - j < NR ? cols - j : NR;
    const float* bias_j = bias ? bias + j : nullptr;
    if (i + MR <= rows) {
      tile_cols<MR, NV>(nc, kc, a + i * a_rs, a_rs, a_cs, b + j, ldb, c + i * ldc + j, ldc, start,
                        bias_j, finish, coef);
    } else {
      tile_rows<MR - 1, NV>(rows - i, nc, kc, a + i * a_rs, a_rs, a_cs, b + j, ldb,
                            c + i * ldc + j, ldc, start, bias_j, finish, coef);
    }
  };
  if (kRowMajor) {
    for (std::size_t i = 0; i < rows; i += MR)
      for (std::size_t j = 0; j < cols; j += NR) one(i, j);
  } else {
    for (std::size_t j = 0; j < cols; j += NR)
      for (std::size_t i = 0; i < rows; i += MR) one(i, j);
  }
}

// Few rows (one sample, a short sequence): a wider, shorter tile keeps enough
// independent FMA chains in flight to hide FMA latency while W streams in.
// One row (batch-1 inference and training, the on-device case): a single
// row of kOneRowNV vectors, as many accumulators as the register file holds
// beside the loads, so each step t reads one contiguous run of a W row and
// issues kOneRowNV independent FMA chains, enough to keep both FMA pipes busy
// through their latency while W streams from L2.
TERN_INLINE void block_any(std::size_t rows, std::size_t cols, std::size_t kc, const float* a,
                           std::size_t a_rs, std::size_t a_cs, const float* b, std::size_t ldb,
                           float* c, std::size_t ldc, Start start, const float* bias,
                           Finish finish, Coef coef) {
  if (rows == 1) {
    block<1, kOneRowNV>(rows, cols, kc, a, a_rs, a_cs, b, ldb, c, ldc, start, bias, finish,
                        coef);
  } else if (rows <= kSmallMR) {
    block<kSmallMR, kSmallNV>(rows, cols, kc, a, a_rs, a_cs, b, ldb, c, ldc, start, bias, finish,
                              coef);
  } else {
    block<kMR, kNV>(rows, cols, kc, a, a_rs, a_cs, b, ldb, c, ldc, start, bias, finish, coef);
  }
}

// Copies a rows x cols (cols <= kPanelCols) block of a row-major matrix into
// a contiguous panel with rows kPanelCols floats apart. Packing turns the
// tile's B stream into one sequential run: with the original stride (often a
// power of two such as 1024 floats = 4 KiB) every row of a 256-row panel maps
// to the same L1 set and the panel thrashes; packed, it stays resident.
TERN_INLINE void pack_panel(const float* src, std::size_t lds, std::size_t rows,
                            std::size_t cols, float* dst) {
  for (std::size_t t = 0; t < rows; ++t) {
    const float* s = src + t * lds;
    float* d = dst + t * kPanelCols;
    std::size_t c = 0;
    for (; c + kW <= cols; c += kW) V::load_unaligned(s + c).store_unaligned(d + c);
    if (c < cols) Simd::store_partial(d + c, Simd::load_partial(s + c, cols - c), cols - c);
  }
}

// With this many rows or fewer, W is streamed in place even when scratch is
// given: each W element feeds at most kSmallMR FMAs, so a copy would cost as
// much as the product.
constexpr std::size_t kPackMinRows = kSmallMR;

void gemm_rows(std::size_t n, std::size_t k, std::size_t m, const float* x, std::size_t ldx,
               const float* w, std::size_t ldw, const float* bias, float* y, std::size_t ldy,
               Activation act, float* scratch) {
  const Finish last_finish = act == Activation::kRelu ? Finish::kStoreRelu : Finish::kStore;
  if (k == 0) {  // empty chain: Y = act(bias or 0). X and W may be null and are
                 // never read; y stands in so no offset is applied to a null pointer.
    block_any(n, m, 0, y, ldy, 1, y, ldy, y, ldy, bias ? Start::kBias : Start::kZero, bias,
              last_finish, Coef{});
    return;
  }
  const bool pack = scratch != nullptr && n > kPackMinRows;
  for (std::size_t p = 0; p < k; p += kKc) {
    const std::size_t kc = k - p < kKc ? k - p : kKc;
    const Start start = p == 0 ? (bias ? Start::kBias : Start::kZero) : Start::kLoad;
    const Finish finish = p + kc == k ? last_finish : Finish::kStore;
    if (!pack) {
      block_any(n, m, kc, x + p, ldx, 1, w + p * ldw, ldw, y, ldy, start, bias, finish, Coef{});
      continue;
    }
    for (std::size_t j = 0; j < m; j += kPanelCols) {
      const std::size_t nc = m - j < kPanelCols ? m - j : kPanelCols;
      pack_panel(w + p * ldw + j, ldw, kc, nc, scratch);
      block<kMR, kNV>(n, nc, kc, x + p, ldx, 1, scratch, kPanelCols, y + j, ldy, start,
                      bias ? bias + j : nullptr, finish, Coef{});
    }
  }
}

// ---- rank1_accumulate for a handful of rows: G streamed row by row --------
//
// With n <= kStreamRows (kRank1StreamRows of dense.h) each element of G gets n FMAs and one read-modify-
// write, so the update is bound by streaming G through the cache. It walks G
// row by row in address order, kStreamNV vectors (independent chains) at a
// time, with the n broadcasts of U[i][p] hoisted per row and D's n rows read
// from L1. A register tile of several G rows would instead keep rows ldg
// apart in flight, and with a power-of-two ldg (256 floats = 1 KiB) the loads
// of one row alias the pending stores of another in the 4 KiB store-forwarding
// check: measured at half the speed on the 784 x 256 layer.
constexpr std::size_t kStreamRows = kRank1StreamRows;
constexpr std::size_t kStreamNV = 4;

// What the streamed kernel (and rank1_cols) does with the finished chains s
// of row p: each output form has start_row(p), rows_contiguous(m) (whether
// its rows of m floats follow each other), read(j, lanes), which loads
// what the update needs of the `lanes` (<= kW) elements from column j (an
// Old), and write(s, old, j, lanes), which stores the result; store(s, j,
// lanes) is the two in a row. kFull says lanes == kW (unmasked loads and
// stores, generic/lanes-inl.h). The split lets rank1_cols read a run of rows
// before it writes any: with m < kW the masked store of one row and the
// masked load of the next cover the same vector-sized range (ldg = 10 puts
// them 40 bytes apart), which store forwarding cannot serve, so each load
// would wait for the previous row's store to reach the cache.
#include "generic/lanes-inl.h"  // load_n, store_n

// The gradient itself: G = fma(alpha, s, G) for rank1_accumulate
// (kAccumulate), or G = fma(alpha, s, +0) for rank1_gradient, the
// accumulation into a zeroed buffer without reading (or zeroing) it.
template <bool kAccumulate>
struct GradientOut {
  V alpha;
  float* g;
  std::size_t ldg;
  float* row = nullptr;
  struct Old {
    V g;
  };
  TERN_INLINE void start_row(std::size_t p) { row = g + p * ldg; }
  // Whether rows of m floats follow each other: a run of rows is one row.
  TERN_INLINE bool rows_contiguous(std::size_t m) const { return ldg == m; }
  template <bool kFull>
  TERN_INLINE Old read(std::size_t j, std::size_t lanes) const {
    return {kAccumulate ? load_n<kFull>(row + j, lanes) : V(0.0f)};
  }
  template <bool kFull>
  TERN_INLINE void write(V s, Old old, std::size_t j, std::size_t lanes) {
    store_n<kFull>(row + j, Simd::fma(alpha, s, old.g), lanes);
  }
  template <bool kFull>
  TERN_INLINE void store(V s, std::size_t j, std::size_t lanes) {
    write<kFull>(s, read<kFull>(j, lanes), j, lanes);
  }
};

// The SGD step of sgd_momentum on the gradient fma(alpha, s, +0), in place
// on W (and the velocity with kMomentum): rank1_sgd_update.
template <bool kMomentum>
struct SgdStep {
  V alpha, learning_rate, weight_decay, momentum;
  float* w;
  std::size_t ldw;
  float* v;
  std::size_t ldv;
  float* w_row = nullptr;
  float* v_row = nullptr;
  struct Old {
    V w, v;
  };
  TERN_INLINE void start_row(std::size_t p) {
    w_row = w + p * ldw;
    if (kMomentum) v_row = v + p * ldv;
  }
  TERN_INLINE bool rows_contiguous(std::size_t m) const {
    return ldw == m && (!kMomentum || ldv == m);
  }
  template <bool kFull>
  TERN_INLINE Old read(std::size_t j, std::size_t lanes) const {
    return {load_n<kFull>(w_row + j, lanes), kMomentum ? load_n<kFull>(v_row + j, lanes) : V(0.0f)};
  }
  template <bool kFull>
  TERN_INLINE void write(V s, Old old, std::size_t j, std::size_t lanes) {
    V step = decayed_gradient(s, old.w, alpha, weight_decay);
    if (kMomentum) {
      step = Simd::fma(momentum, old.v, step);
      store_n<kFull>(v_row + j, step, lanes);
    }
    store_n<kFull>(w_row + j, Simd::fnma(learning_rate, step, old.w), lanes);
  }
  template <bool kFull>
  TERN_INLINE void store(V s, std::size_t j, std::size_t lanes) {
    write<kFull>(s, read<kFull>(j, lanes), j, lanes);
  }
};

// N > 0: exactly N rows, known at compile time; N == 0: `n` rows.
template <std::size_t N, typename Out>
TERN_NOINLINE void rank1_stream(std::size_t n, std::size_t k, std::size_t m, const float* u,
                                std::size_t ldu, const float* d, std::size_t ldd, Out out) {
  const std::size_t rows = N > 0 ? N : n;
  const V zero(0.0f);
  for (std::size_t p = 0; p < k; ++p) {
    out.start_row(p);
    // The chain starts from +0 (fma(U, D, +0), not a product: -0 becomes +0).
    auto u_at = [&](std::size_t i) { return V(u[i * ldu + p]); };
    std::size_t j = 0;
    for (; j + kStreamNV * kW <= m; j += kStreamNV * kW) {
      V s[kStreamNV];
      for (std::size_t q = 0; q < kStreamNV; ++q) s[q] = zero;
      for (std::size_t i = 0; i < rows; ++i) {
        const V ui = u_at(i);
        for (std::size_t q = 0; q < kStreamNV; ++q) {
          s[q] = Simd::fma(ui, V::load_unaligned(d + i * ldd + j + q * kW), s[q]);
        }
      }
      for (std::size_t q = 0; q < kStreamNV; ++q) out.template store<true>(s[q], j + q * kW, kW);
    }
    for (; j < m; j += kW) {
      const std::size_t lanes = m - j < kW ? m - j : kW;
      V s = zero;
      for (std::size_t i = 0; i < rows; ++i) {
        s = Simd::fma(u_at(i), Simd::load_partial(d + i * ldd + j, lanes), s);
      }
      out.template store<false>(s, j, lanes);
    }
  }
}

// Compile-time row counts for n = 1 .. kStreamRows, where the broadcasts stay
// in registers, the run-time count above that.
template <typename Out>
TERN_INLINE void rank1_stream_any(std::size_t n, std::size_t k, std::size_t m, const float* u,
                                  std::size_t ldu, const float* d, std::size_t ldd, Out out) {
  static_assert(kStreamRows == 4, "the switch below covers n = 1 .. kStreamRows");
  switch (n) {
    case 1: rank1_stream<1>(n, k, m, u, ldu, d, ldd, out); return;
    case 2: rank1_stream<2>(n, k, m, u, ldu, d, ldd, out); return;
    case 3: rank1_stream<3>(n, k, m, u, ldu, d, ldd, out); return;
    case 4: rank1_stream<4>(n, k, m, u, ldu, d, ldd, out); return;
    default: rank1_stream<0>(n, k, m, u, ldu, d, ldd, out); return;
  }
}

#include "generic/fixed_cols-inl.h"  // with_fixed_cols
#include "generic/rank1_cols-inl.h"   // rank1_cols: few columns, lanes along p

// Whether rank1_cols takes the shape: few columns, more rows than the
// streamed kernel takes (below that G's traffic is the whole cost).
TERN_INLINE bool rank1_takes_cols(std::size_t n, std::size_t m) {
  return n > kStreamRows && m >= 1 && m <= static_cast<std::size_t>(kR1ColsMax);
}

// rank1_accumulate (finish kAxpy), rank1_gradient (kAssign) and plain-SGD
// rank1_sgd_update (kSgd) for more rows than the streamed kernel takes (and
// rank1_accumulate's and rank1_gradient's n = 0).
void rank1_tiled(std::size_t n, std::size_t k, std::size_t m, const float* u, std::size_t ldu,
                 const float* d, std::size_t ldd, float* g, std::size_t ldg, float* scratch,
                 Finish finish, Coef coef) {
  // G rows are indexed by p (columns of U): A(r, t) = U[t][p + r]. With n = 0
  // U and D may be null and are never read; g stands in for them.
  if (n == 0) u = d = g, ldu = ldd = ldg;
  // The chain runs over all n rows before G is touched, so n is not blocked,
  // and panels are packed only while n rows fit (rank1_accumulate_scratch_floats).
  if (n <= kPackMinRows) {
    // A handful of rows: G is read and written once for little arithmetic,
    // so the update streams G in address order; U and D are tiny.
    block<kMR, kNV, true>(k, m, n, u, 1, ldu, d, ldd, g, ldg, Start::kZero, nullptr,
                          finish, coef);
    return;
  }
  // In place also when one tile covers all m columns: then every element of
  // U is read once however it is laid out, and packing U^T would copy it
  // for nothing (at 32 x 128 x 10, the copy cost more than the product).
  if (scratch == nullptr || n > kPanelDepth || k <= kPackMinRows ||
      m <= static_cast<std::size_t>(kNV) * kW) {
    block_any(k, m, n, u, 1, ldu, d, ldd, g, ldg, Start::kZero, nullptr, finish, coef);
    return;
  }
  // The BLIS arrangement: G's rows come in chunks of up to kRank1Rows. A chunk
  // of U^T is packed once, as row blocks of kR1MR (block b holds
  // U[t][p0 + b*kMR + r] at [b][t][r], so each tile reads its A operand as
  // one sequential run; in place, a power-of-two ldu would send all n lines
  // of a row block to a few L1 sets). Then for every 32-column panel of D,
  // packed into L1, all row blocks of the chunk sweep past it. Each element
  // of U is copied once per call, each element of D once per chunk.
  constexpr std::size_t kChunk = kRank1Rows / kR1MR * kR1MR;
  float* dpanel = scratch;
  float* ablock = scratch + kPanelCols * n;
  for (std::size_t p0 = 0; p0 < k; p0 += kChunk) {
    const std::size_t pc = k - p0 < kChunk ? k - p0 : kChunk;
    for (std::size_t t = 0; t < n; ++t) {
      const float* src = u + t * ldu + p0;
      for (std::size_t r0 = 0, b = 0; r0 < pc; r0 += kR1MR, ++b) {
        const std::size_t rows = pc - r0 < kR1MR ? pc - r0 : kR1MR;
        float* dst = ablock + (b * n + t) * kR1MR;
        for (std::size_t r = 0; r < rows; ++r) dst[r] = src[r0 + r];
      }
    }
    for (std::size_t j = 0; j < m; j += kPanelCols) {
      const std::size_t nc = m - j < kPanelCols ? m - j : kPanelCols;
      pack_panel(d + j, ldd, n, nc, dpanel);
      for (std::size_t r0 = 0, b = 0; r0 < pc; r0 += kR1MR, ++b) {
        const std::size_t rows = pc - r0 < kR1MR ? pc - r0 : kR1MR;
        const float* a = ablock + b * n * kR1MR;  // A(r, t) = a[t * kR1MR + r]
        for (std::size_t jj = 0; jj < nc; jj += kR1NV * kW) {
          const std::size_t cols = nc - jj < kR1NV * kW ? nc - jj : kR1NV * kW;
          float* c = g + (p0 + r0) * ldg + j + jj;
          if (rows == kR1MR) {
            tile_cols<kR1MR, kR1NV>(cols, n, a, 1, kR1MR, dpanel + jj, kPanelCols, c, ldg,
                                Start::kZero, nullptr, finish, coef);
          } else {
            tile_rows<kR1MR - 1, kR1NV>(rows, cols, n, a, 1, kR1MR, dpanel + jj, kPanelCols, c, ldg,
                                    Start::kZero, nullptr, finish, coef);
          }
        }
      }
    }
  }
}

void rank1_accumulate(std::size_t n, std::size_t k, std::size_t m, float alpha, const float* u,
                      std::size_t ldu, const float* d, std::size_t ldd, float* g,
                      std::size_t ldg, float* scratch) {
  if (n >= 1 && n <= kStreamRows) {
    rank1_stream_any(n, k, m, u, ldu, d, ldd, GradientOut<true>{V(alpha), g, ldg});
    return;
  }
  if (rank1_takes_cols(n, m)) {
    rank1_cols(n, k, m, u, ldu, d, ldd, GradientOut<true>{V(alpha), g, ldg});
    return;
  }
  rank1_tiled(n, k, m, u, ldu, d, ldd, g, ldg, scratch, Finish::kAxpy, Coef{alpha});
}

// G = alpha * sum_i U_i^T D_i, overwriting G (dense.h): the tiles store
// fma(alpha, s, +0) without reading G, the bits of rank1_accumulate into a
// zeroed G.
void rank1_gradient(std::size_t n, std::size_t k, std::size_t m, float alpha, const float* u,
                    std::size_t ldu, const float* d, std::size_t ldd, float* g, std::size_t ldg,
                    float* scratch) {
  if (n >= 1 && n <= kStreamRows) {
    rank1_stream_any(n, k, m, u, ldu, d, ldd, GradientOut<false>{V(alpha), g, ldg});
    return;
  }
  if (rank1_takes_cols(n, m)) {
    rank1_cols(n, k, m, u, ldu, d, ldd, GradientOut<false>{V(alpha), g, ldg});
    return;
  }
  rank1_tiled(n, k, m, u, ldu, d, ldd, g, ldg, scratch, Finish::kAssign, Coef{alpha});
}

// SGD on the rank-1 gradient in one pass over W and the velocity (dense.h).
// Up to kStreamRows rows, and with momentum (a velocity per element), G's
// rows are streamed; plain SGD on more rows takes the register tiles with
// the step as their epilogue (Finish::kSgd), so W is still read and written
// once while the FMAs run at the tiles' rate.
void rank1_sgd_update(std::size_t n, std::size_t k, std::size_t m, float alpha, const float* u,
                      std::size_t ldu, const float* d, std::size_t ldd, float* w,
                      std::size_t ldw, float* velocity, std::size_t ldv,
                      const SgdParams& params) {
  if (n == 0) u = d = w, ldu = ldd = ldw;  // never read: the chains are empty
  const V a(alpha), lr(params.learning_rate), wd(params.weight_decay), mom(params.momentum);
  if (rank1_takes_cols(n, m)) {
    if (params.momentum == 0.0f) {
      rank1_cols(n, k, m, u, ldu, d, ldd, SgdStep<false>{a, lr, wd, mom, w, ldw, nullptr, 0});
    } else {
      rank1_cols(n, k, m, u, ldu, d, ldd, SgdStep<true>{a, lr, wd, mom, w, ldw, velocity, ldv});
    }
    return;
  }
  if (params.momentum == 0.0f && n > kStreamRows) {
    rank1_tiled(n, k, m, u, ldu, d, ldd, w, ldw, nullptr, Finish::kSgd,
                Coef{alpha, params.learning_rate, params.weight_decay});
    return;
  }
  if (params.momentum == 0.0f) {
    rank1_stream_any(n, k, m, u, ldu, d, ldd,
                     SgdStep<false>{a, lr, wd, mom, w, ldw, nullptr, 0});
  } else {
    rank1_stream_any(n, k, m, u, ldu, d, ldd,
                     SgdStep<true>{a, lr, wd, mom, w, ldw, velocity, ldv});
  }
}

void column_sums_accumulate(std::size_t n, std::size_t m, float alpha, const float* d,
                            std::size_t ldd, float* g) {
  // Vectorised along j: each lane adds its column top to bottom, as the
  // scalar reference does (an addition, not an FMA with 1: identical result).
  std::size_t j = 0;
  for (; j < m; j += kW) {
    const std::size_t lanes = m - j < kW ? m - j : kW;
    V s(0.0f);
    if (lanes == kW) {
      for (std::size_t i = 0; i < n; ++i) s = s + V::load_unaligned(d + i * ldd + j);
      Simd::fma(V(alpha), s, V::load_unaligned(g + j)).store_unaligned(g + j);
    } else {
      for (std::size_t i = 0; i < n; ++i) s = s + Simd::load_partial(d + i * ldd + j, lanes);
      Simd::store_partial(g + j, Simd::fma(V(alpha), s, Simd::load_partial(g + j, lanes)), lanes);
    }
  }
}
