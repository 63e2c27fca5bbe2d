// SPDX-License-Identifier: Apache-2.0
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

// --- Peers: OpenBLAS (peer_openblas.cpp) and Eigen (peer_eigen.cpp) -------
// Every peer is a list of forms: one way of writing the three dense-layer
// operations with that library (its general product, its level-2 calls for
// one row, the transposed weight layout). tern-bench measures every form
// and make_results.py compares tern with the fastest one per kernel and
// shape, so each peer is judged at its best.
//
// Every form does the same math on the same numbers:
//   gemm_rows        Y (n x m) = X (n x k) W + b: Y's rows are set to b,
//                    then the product is added to Y (one pass over Y for
//                    the bias, as in tern, where the accumulators start
//                    from b);
//   rank1_accumulate G += alpha U^T D, U n x k, D n x m;
//   backprop_rows    dX (n x k) = D (n x m) W^T.
// Only where W and G live differs: kRowMajorKxM is tern's layout (W and G
// k x m, row-major, tight strides); kTransposedMxK stores their transposes
// (m x k, row-major), the layout of a library that keeps one output's
// weights contiguous. The driver fills the transposed buffers with the
// transposes of the same numbers.
enum class WeightLayout { kRowMajorKxM, kTransposedMxK };

struct PeerForm {
  const char* impl;         // benchmark impl name, e.g. "openblas_gemv"
  const char* calls;        // what it calls, for RESULTS.md's legend
  WeightLayout layout;
  std::size_t max_rows;     // 0: any n; 1: a level-2 form, n = 1 only
  // nullptr where the form has no version of that kernel (a gemv form has
  // no rank-1 update; its ger sibling has nothing else).
  void (*gemm_rows)(std::size_t n, std::size_t k, std::size_t m, const float* x, const float* w,
                    const float* b, float* y);
  void (*rank1_accumulate)(std::size_t n, std::size_t k, std::size_t m, float alpha,
                           const float* u, const float* d, float* g);
  void (*backprop_rows)(std::size_t n, std::size_t k, std::size_t m, const float* d,
                        const float* w, float* dx);
};

// The form lists are data (constant-initialised arrays), so the driver can
// read them to register benchmarks without executing any code of a flagged
// unit on a CPU that may lack its ISA.
namespace eigen {
extern const PeerForm kForms[];
extern const std::size_t kFormCount;
// Eigen::SimdInstructionSetsInUse() and the Eigen version, e.g. "3.4.0".
const char* simd_in_use();
const char* version();
}  // namespace eigen

namespace openblas {
extern const PeerForm kForms[];
extern const std::size_t kFormCount;
// Pins OpenBLAS to one thread; returns the thread count OpenBLAS reports
// afterwards (must be 1).
int set_single_thread();
const char* config();    // openblas_get_config()
const char* core_name(); // openblas_get_corename(): which kernels it picked
}  // namespace openblas

}  // namespace tern_bench
