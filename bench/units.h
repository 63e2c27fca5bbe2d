// bench/units.h — what the separately compiled parts of tern-bench export.
//
// tern-bench is one binary that must start on any CPU of its architecture, so
// its driver (tern_bench.cpp) is built for the baseline target, like the rest
// of tern. Code that needs ISA flags — the FMA-peak and cache-bandwidth loops
// and the Eigen peer — lives in its own translation unit compiled with that
// ISA's flags, and the driver calls it only after checking that this CPU runs
// the ISA.
//
// The interface is deliberately plain: functions taking pointers and sizes,
// nothing but <cstddef>. A flagged unit that included the benchmark library's
// or the standard library's headers would instantiate their inline functions
// with AVX-512 code, and the linker may keep that copy for the baseline
// driver too (the one-definition-rule trap of multi-ISA binaries). The timing
// loops therefore stay in the driver; each call here is one operation.
#pragma once

#include <cstddef>

namespace tern_bench {

// --- FMA throughput and cache read bandwidth, one namespace per ISA --------
// fma_peak: `steps` rounds of independent fused multiply-adds on every vector
// register the ISA can spare; returns the flops executed (2 per lane per FMA)
// and writes a value derived from every accumulator to *sink so the loop
// cannot be removed.
// read_stream: sums `count` floats from 64-byte aligned `p` with full-width
// vector loads (count a multiple of 128); the sum keeps the loads alive.
// One namespace per line of tern_bench_loop_isas.h, which bench/CMakeLists.txt
// writes: the ISAs of the target that have a peak_<isa>.cpp.
#define TERN_BENCH_LOOPS(isa)                                          \
  namespace isa {                                                      \
  double fma_peak(std::size_t steps, float* sink);                     \
  float read_stream(const float* p, std::size_t count);                \
  }
#include "tern_bench_loop_isas.h"
#undef TERN_BENCH_LOOPS

// Multiple of the vector width times the unroll of every read_stream.
constexpr std::size_t kReadStreamGranule = 128;

// --- Eigen peer (bench/peer_eigen.cpp) -------------------------------------
// Row-major operands with tight strides, as the tern benchmarks use them.
namespace eigen {
// Y (n x m) = X (n x k) W (k x m) + b: Y's rows are set to b, then
// Y += X W, so the bias costs one pass over Y as it does in tern.
void gemm_rows(std::size_t n, std::size_t k, std::size_t m, const float* x, const float* w,
               const float* b, float* y);
// G (k x m) += alpha U^T D, U n x k, D n x m.
void rank1_accumulate(std::size_t n, std::size_t k, std::size_t m, float alpha, const float* u,
                      const float* d, float* g);
// dX (n x k) = D (n x m) W^T, W k x m.
void backprop_rows(std::size_t n, std::size_t k, std::size_t m, const float* d, const float* w,
                   float* dx);
// Eigen::SimdInstructionSetsInUse() and the Eigen version, e.g. "3.4.0".
const char* simd_in_use();
const char* version();
}  // namespace eigen

// --- OpenBLAS peer (bench/peer_openblas.cpp) -------------------------------
// Same operations through cblas_sgemm; see peer_openblas.cpp for the calls.
namespace openblas {
// Pins OpenBLAS to one thread; returns the thread count OpenBLAS reports
// afterwards (must be 1).
int set_single_thread();
const char* config();    // openblas_get_config()
const char* core_name(); // openblas_get_corename(): which kernels it picked
void gemm_rows(std::size_t n, std::size_t k, std::size_t m, const float* x, const float* w,
               const float* b, float* y);
void rank1_accumulate(std::size_t n, std::size_t k, std::size_t m, float alpha, const float* u,
                      const float* d, float* g);
void backprop_rows(std::size_t n, std::size_t k, std::size_t m, const float* d, const float* w,
                   float* dx);
}  // namespace openblas

}  // namespace tern_bench
