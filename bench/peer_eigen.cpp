// The Eigen peer: the three dense-layer operations on Eigen::Map views of
// the same row-major operands the tern benchmarks use.
//
// Built with the kernel flags of one ISA (TERN_BENCH_EIGEN_ISA, normally the
// widest this machine runs, e.g. the AVX-512 flags tern's own AVX-512 kernels
// get), so Eigen vectorises with the same registers tern does; a baseline
// x86-64 build would leave Eigen at SSE2 and the comparison would be unfair.
// This unit is the only one that sees those flags and the only one that
// includes Eigen; the driver calls it only when the CPU runs that ISA.
// Eigen runs single-threaded: tern-bench is not built with OpenMP, and
// Eigen only parallelises its products through OpenMP.
#include <Eigen/Core>

#include "units.h"

namespace tern_bench::eigen {

namespace {
using Matrix = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using RowVector = Eigen::Matrix<float, 1, Eigen::Dynamic>;
using In = Eigen::Map<const Matrix, Eigen::Unaligned>;
using Out = Eigen::Map<Matrix, Eigen::Unaligned>;
using Index = Eigen::Index;

Index idx(std::size_t v) { return static_cast<Index>(v); }
}  // namespace

void gemm_rows(std::size_t n, std::size_t k, std::size_t m, const float* x, const float* w,
               const float* b, float* y) {
  Out Y(y, idx(n), idx(m));
  Y.rowwise() = Eigen::Map<const RowVector>(b, idx(m));
  Y.noalias() += In(x, idx(n), idx(k)) * In(w, idx(k), idx(m));
}

void rank1_accumulate(std::size_t n, std::size_t k, std::size_t m, float alpha, const float* u,
                      const float* d, float* g) {
  Out G(g, idx(k), idx(m));
  G.noalias() += alpha * (In(u, idx(n), idx(k)).transpose() * In(d, idx(n), idx(m)));
}

void backprop_rows(std::size_t n, std::size_t k, std::size_t m, const float* d, const float* w,
                   float* dx) {
  Out DX(dx, idx(n), idx(k));
  DX.noalias() = In(d, idx(n), idx(m)) * In(w, idx(k), idx(m)).transpose();
}

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
