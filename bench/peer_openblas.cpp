// The OpenBLAS peer: the three dense-layer operations as cblas_sgemm calls
// on the same row-major operands the tern benchmarks use.
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
}  // namespace

int set_single_thread() {
  openblas_set_num_threads(1);
  return openblas_get_num_threads();
}

const char* config() { return openblas_get_config(); }
const char* core_name() { return openblas_get_corename(); }

// Bias by pre-filling Y with b and sgemm with beta = 1: the same one pass
// over Y that tern spends starting its accumulators from b.
void gemm_rows(std::size_t n, std::size_t k, std::size_t m, const float* x, const float* w,
               const float* b, float* y) {
  for (std::size_t i = 0; i < n; ++i) std::memcpy(y + i * m, b, m * sizeof(float));
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, to_int(n), to_int(m), to_int(k), 1.0f,
              x, to_int(k), w, to_int(m), 1.0f, y, to_int(m));
}

// G (k x m) += alpha * U^T D: A = U (n x k) transposed, beta = 1.
void rank1_accumulate(std::size_t n, std::size_t k, std::size_t m, float alpha, const float* u,
                      const float* d, float* g) {
  cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, to_int(k), to_int(m), to_int(n), alpha, u,
              to_int(k), d, to_int(m), 1.0f, g, to_int(m));
}

// dX (n x k) = D (n x m) W^T: B = W (k x m) transposed, beta = 0.
void backprop_rows(std::size_t n, std::size_t k, std::size_t m, const float* d, const float* w,
                   float* dx) {
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, to_int(n), to_int(k), to_int(m), 1.0f, d,
              to_int(m), w, to_int(m), 0.0f, dx, to_int(k));
}

}  // namespace tern_bench::openblas
