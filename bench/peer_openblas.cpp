// SPDX-License-Identifier: Apache-2.0
// The OpenBLAS peer: the three dense-layer operations (units.h, "Peers")
// on the same operands the tern benchmarks use, in every form a user of
// OpenBLAS would pick from — cblas_sgemm for any n, the level-2 calls
// cblas_sgemv and cblas_sger for one row, each in tern's weight layout
// (W, G: k x m) and in the transposed one (m x k).
//
// Single thread: tern's kernels run on one core, so OpenBLAS must too.
// set_single_thread() pins it with openblas_set_num_threads(1) (Debian's
// default libopenblas0-pthread otherwise uses every core) and reports what
// OpenBLAS then says; the driver refuses to run the peer unless that is 1.
// The driver also measures process CPU time, so a peer that still used
// helper threads would show CPU time above wall time in the results.
#include <cblas.h>

#include <cstring>

#include "units.h"

namespace tern_bench::openblas {

namespace {
int to_int(std::size_t v) { return static_cast<int>(v); }

// The bias, as every form adds it: Y's rows set to b, then the product is
// accumulated into Y (beta = 1) — the one pass over Y that tern spends
// starting its accumulators from b.
void fill_rows_with_bias(std::size_t n, std::size_t m, const float* b, float* y) {
  for (std::size_t i = 0; i < n; ++i) std::memcpy(y + i * m, b, m * sizeof(float));
}

// --- sgemm, W and G k x m ----------------------------------------------------

void gemm_rows_sgemm(std::size_t n, std::size_t k, std::size_t m, const float* x, const float* w,
                     const float* b, float* y) {
  fill_rows_with_bias(n, m, b, y);
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, to_int(n), to_int(m), to_int(k), 1.0f,
              x, to_int(k), w, to_int(m), 1.0f, y, to_int(m));
}

// G (k x m) += alpha * U^T D: A = U (n x k) transposed, beta = 1.
void rank1_sgemm(std::size_t n, std::size_t k, std::size_t m, float alpha, const float* u,
                 const float* d, float* g) {
  cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, to_int(k), to_int(m), to_int(n), alpha, u,
              to_int(k), d, to_int(m), 1.0f, g, to_int(m));
}

// dX (n x k) = D (n x m) W^T: B = W (k x m) transposed, beta = 0.
void backprop_sgemm(std::size_t n, std::size_t k, std::size_t m, const float* d, const float* w,
                    float* dx) {
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, to_int(n), to_int(k), to_int(m), 1.0f, d,
              to_int(m), w, to_int(m), 0.0f, dx, to_int(k));
}

// --- sgemm, W and G stored transposed (m x k) ---------------------------------

// Y = X Wt^T + b.
void gemm_rows_sgemm_t(std::size_t n, std::size_t k, std::size_t m, const float* x,
                       const float* wt, const float* b, float* y) {
  fill_rows_with_bias(n, m, b, y);
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, to_int(n), to_int(m), to_int(k), 1.0f, x,
              to_int(k), wt, to_int(k), 1.0f, y, to_int(m));
}

// Gt (m x k) += alpha D^T U.
void rank1_sgemm_t(std::size_t n, std::size_t k, std::size_t m, float alpha, const float* u,
                   const float* d, float* gt) {
  cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, to_int(m), to_int(k), to_int(n), alpha, d,
              to_int(m), u, to_int(k), 1.0f, gt, to_int(k));
}

// dX = D Wt.
void backprop_sgemm_t(std::size_t n, std::size_t k, std::size_t m, const float* d,
                      const float* wt, float* dx) {
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, to_int(n), to_int(k), to_int(m), 1.0f,
              d, to_int(m), wt, to_int(k), 0.0f, dx, to_int(k));
}

// --- level 2, n = 1, W and G k x m -------------------------------------------

// y (m) = b + W^T x.
void gemm_rows_sgemv(std::size_t, std::size_t k, std::size_t m, const float* x, const float* w,
                     const float* b, float* y) {
  fill_rows_with_bias(1, m, b, y);
  cblas_sgemv(CblasRowMajor, CblasTrans, to_int(k), to_int(m), 1.0f, w, to_int(m), x, 1, 1.0f, y,
              1);
}

// G += alpha u d^T.
void rank1_sger(std::size_t, std::size_t k, std::size_t m, float alpha, const float* u,
                const float* d, float* g) {
  cblas_sger(CblasRowMajor, to_int(k), to_int(m), alpha, u, 1, d, 1, g, to_int(m));
}

// dx (k) = W d.
void backprop_sgemv(std::size_t, std::size_t k, std::size_t m, const float* d, const float* w,
                    float* dx) {
  cblas_sgemv(CblasRowMajor, CblasNoTrans, to_int(k), to_int(m), 1.0f, w, to_int(m), d, 1, 0.0f,
              dx, 1);
}

// --- level 2, n = 1, W and G stored transposed (m x k) ------------------------

// y = b + Wt x.
void gemm_rows_sgemv_t(std::size_t, std::size_t k, std::size_t m, const float* x,
                       const float* wt, const float* b, float* y) {
  fill_rows_with_bias(1, m, b, y);
  cblas_sgemv(CblasRowMajor, CblasNoTrans, to_int(m), to_int(k), 1.0f, wt, to_int(k), x, 1, 1.0f,
              y, 1);
}

// Gt += alpha d u^T.
void rank1_sger_t(std::size_t, std::size_t k, std::size_t m, float alpha, const float* u,
                  const float* d, float* gt) {
  cblas_sger(CblasRowMajor, to_int(m), to_int(k), alpha, d, 1, u, 1, gt, to_int(k));
}

// dx = Wt^T d.
void backprop_sgemv_t(std::size_t, std::size_t k, std::size_t m, const float* d,
                      const float* wt, float* dx) {
  cblas_sgemv(CblasRowMajor, CblasTrans, to_int(m), to_int(k), 1.0f, wt, to_int(k), d, 1, 0.0f,
              dx, 1);
}

constexpr auto kKxM = WeightLayout::kRowMajorKxM;
constexpr auto kMxK = WeightLayout::kTransposedMxK;
}  // namespace

const PeerForm kForms[] = {
    {"openblas", "cblas_sgemm, W and G k×m", kKxM, 0, gemm_rows_sgemm, rank1_sgemm,
     backprop_sgemm},
    {"openblas_t", "cblas_sgemm, W and G stored transposed (m×k)", kMxK, 0, gemm_rows_sgemm_t,
     rank1_sgemm_t, backprop_sgemm_t},
    {"openblas_gemv", "cblas_sgemv, W k×m (n = 1)", kKxM, 1, gemm_rows_sgemv, nullptr,
     backprop_sgemv},
    {"openblas_gemv_t", "cblas_sgemv, W stored transposed (m×k) (n = 1)", kMxK, 1,
     gemm_rows_sgemv_t, nullptr, backprop_sgemv_t},
    {"openblas_ger", "cblas_sger, G k×m (n = 1)", kKxM, 1, nullptr, rank1_sger, nullptr},
    {"openblas_ger_t", "cblas_sger, G stored transposed (m×k) (n = 1)", kMxK, 1, nullptr,
     rank1_sger_t, nullptr},
};
const std::size_t kFormCount = sizeof kForms / sizeof kForms[0];

int set_single_thread() {
  openblas_set_num_threads(1);
  return openblas_get_num_threads();
}

const char* config() { return openblas_get_config(); }
const char* core_name() { return openblas_get_corename(); }

}  // namespace tern_bench::openblas
