// SPDX-License-Identifier: Apache-2.0
// The Eigen peer: the three dense-layer operations (units.h, "Peers") on
// Eigen::Map views of the same operands the tern benchmarks use, in every
// form an Eigen user would write — the general matrix product for any n, the
// matrix-vector and outer-product expressions on vector types for one row,
// each in tern's weight layout (W, G: k x m) and in the transposed one
// (m x k).
//
// Built with the kernel flags of one ISA (TERN_BENCH_EIGEN_ISA, normally the
// widest this machine runs, e.g. the AVX-512 flags tern's own AVX-512 kernels
// get), so Eigen vectorises with the same registers tern does; a baseline
// x86-64 build would leave Eigen at SSE2 and the comparison would be unfair.
// This unit is the only one besides peer_eigen_train.cpp that sees those
// flags and includes Eigen; the driver calls it only when the CPU runs that
// ISA. Eigen runs single-threaded: tern-bench is not built with OpenMP, and
// Eigen only parallelises its products through OpenMP.
#include <Eigen/Core>

#include "units.h"

namespace tern_bench::eigen {

namespace {
using Matrix = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using RowVector = Eigen::Matrix<float, 1, Eigen::Dynamic>;
using ColVector = Eigen::Matrix<float, Eigen::Dynamic, 1>;
using In = Eigen::Map<const Matrix>;
using Out = Eigen::Map<Matrix>;
using InRow = Eigen::Map<const RowVector>;
using OutRow = Eigen::Map<RowVector>;
using InCol = Eigen::Map<const ColVector>;
using OutCol = Eigen::Map<ColVector>;
using Index = Eigen::Index;

Index idx(std::size_t v) { return static_cast<Index>(v); }

// --- general products, W and G k x m ---------------------------------------

void gemm_rows_product(std::size_t n, std::size_t k, std::size_t m, const float* x,
                       const float* w, const float* b, float* y) {
  Out Y(y, idx(n), idx(m));
  Y.rowwise() = InRow(b, idx(m));
  Y.noalias() += In(x, idx(n), idx(k)) * In(w, idx(k), idx(m));
}

void rank1_product(std::size_t n, std::size_t k, std::size_t m, float alpha, const float* u,
                   const float* d, float* g) {
  Out G(g, idx(k), idx(m));
  G.noalias() += alpha * (In(u, idx(n), idx(k)).transpose() * In(d, idx(n), idx(m)));
}

void backprop_product(std::size_t n, std::size_t k, std::size_t m, const float* d,
                      const float* w, float* dx) {
  Out DX(dx, idx(n), idx(k));
  DX.noalias() = In(d, idx(n), idx(m)) * In(w, idx(k), idx(m)).transpose();
}

// --- general products, W and G stored transposed (m x k) --------------------

void gemm_rows_product_t(std::size_t n, std::size_t k, std::size_t m, const float* x,
                         const float* wt, const float* b, float* y) {
  Out Y(y, idx(n), idx(m));
  Y.rowwise() = InRow(b, idx(m));
  Y.noalias() += In(x, idx(n), idx(k)) * In(wt, idx(m), idx(k)).transpose();
}

void rank1_product_t(std::size_t n, std::size_t k, std::size_t m, float alpha, const float* u,
                     const float* d, float* gt) {
  Out Gt(gt, idx(m), idx(k));
  Gt.noalias() += alpha * (In(d, idx(n), idx(m)).transpose() * In(u, idx(n), idx(k)));
}

void backprop_product_t(std::size_t n, std::size_t k, std::size_t m, const float* d,
                        const float* wt, float* dx) {
  Out DX(dx, idx(n), idx(k));
  DX.noalias() = In(d, idx(n), idx(m)) * In(wt, idx(m), idx(k));
}

// --- n = 1: matrix-vector and outer product, W and G k x m ------------------

// y = b + x W (row vectors).
void gemm_rows_gemv(std::size_t, std::size_t k, std::size_t m, const float* x, const float* w,
                    const float* b, float* y) {
  OutRow Y(y, idx(m));
  Y = InRow(b, idx(m));
  Y.noalias() += InRow(x, idx(k)) * In(w, idx(k), idx(m));
}

// G += alpha u d (u a column, d a row).
void rank1_outer(std::size_t, std::size_t k, std::size_t m, float alpha, const float* u,
                 const float* d, float* g) {
  Out G(g, idx(k), idx(m));
  G.noalias() += (alpha * InCol(u, idx(k))) * InRow(d, idx(m));
}

// dx = W d (column vectors).
void backprop_gemv(std::size_t, std::size_t k, std::size_t m, const float* d, const float* w,
                   float* dx) {
  OutCol DX(dx, idx(k));
  DX.noalias() = In(w, idx(k), idx(m)) * InCol(d, idx(m));
}

// --- n = 1, W and G stored transposed (m x k) --------------------------------

// y = b + Wt x (column vectors).
void gemm_rows_gemv_t(std::size_t, std::size_t k, std::size_t m, const float* x,
                      const float* wt, const float* b, float* y) {
  OutCol Y(y, idx(m));
  Y = InCol(b, idx(m));
  Y.noalias() += In(wt, idx(m), idx(k)) * InCol(x, idx(k));
}

// Gt += alpha d u (d a column, u a row).
void rank1_outer_t(std::size_t, std::size_t k, std::size_t m, float alpha, const float* u,
                   const float* d, float* gt) {
  Out Gt(gt, idx(m), idx(k));
  Gt.noalias() += (alpha * InCol(d, idx(m))) * InRow(u, idx(k));
}

// dx = d Wt (row vectors).
void backprop_gemv_t(std::size_t, std::size_t k, std::size_t m, const float* d,
                     const float* wt, float* dx) {
  OutRow DX(dx, idx(k));
  DX.noalias() = InRow(d, idx(m)) * In(wt, idx(m), idx(k));
}

constexpr auto kKxM = WeightLayout::kRowMajorKxM;
constexpr auto kMxK = WeightLayout::kTransposedMxK;
}  // namespace

const PeerForm kForms[] = {
    {"eigen", "Y = X*W, G += alpha*U^T*D, dX = D*W^T on Map<RowMajor>, W and G k×m", kKxM, 0,
     gemm_rows_product, rank1_product, backprop_product},
    {"eigen_t", "the same products, W and G stored transposed (m×k)", kMxK, 0,
     gemm_rows_product_t, rank1_product_t, backprop_product_t},
    {"eigen_gemv", "y += x*W (row vectors), dx = W*d (n = 1)", kKxM, 1, gemm_rows_gemv, nullptr,
     backprop_gemv},
    {"eigen_gemv_t", "y += Wt*x, dx = d*Wt, W stored transposed (m×k) (n = 1)", kMxK, 1,
     gemm_rows_gemv_t, nullptr, backprop_gemv_t},
    {"eigen_outer", "G += (alpha*u)*d, u a column, d a row (n = 1)", kKxM, 1, nullptr,
     rank1_outer, nullptr},
    {"eigen_outer_t", "Gt += (alpha*d)*u, G stored transposed (m×k) (n = 1)", kMxK, 1, nullptr,
     rank1_outer_t, nullptr},
};
const std::size_t kFormCount = sizeof kForms / sizeof kForms[0];

const char* simd_in_use() { return Eigen::SimdInstructionSetsInUse(); }

const char* version() {
#define TERN_BENCH_STR2(x) #x
#define TERN_BENCH_STR(x) TERN_BENCH_STR2(x)
  return TERN_BENCH_STR(EIGEN_WORLD_VERSION) "." TERN_BENCH_STR(
      EIGEN_MAJOR_VERSION) "." TERN_BENCH_STR(EIGEN_MINOR_VERSION);
#undef TERN_BENCH_STR
#undef TERN_BENCH_STR2
}

}  // namespace tern_bench::eigen
