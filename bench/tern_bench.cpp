// SPDX-License-Identifier: Apache-2.0
// tern-bench: the dense-layer kernels of every ISA tern was built with, side
// by side with OpenBLAS and Eigen, plus the two ceilings that say how good a
// figure is — this core's FMA peak and its cache read bandwidth.
//
// Names: <kernel>/<impl>/<n>x<k>x<m> with kernel in gemm_rows,
// rank1_accumulate, backprop_rows and impl in scalar, avx2, avx512, neon
// (tern's own tables) or one form of a peer (units.h, "Peers"): openblas,
// openblas_t, eigen, eigen_t for every shape and, for n = 1, openblas_gemv,
// openblas_ger, eigen_gemv, eigen_outer and their _t siblings (transposed
// weight layout); peak/<isa>; membw/<cache>/<k>x<m>;
// train_step/<impl>/<model>/<optimizer>/<update> (whole training steps,
// train_bench.cpp); epoch/<impl>/<run> (a Fashion-MNIST epoch,
// epoch_bench.cpp); rank1_* (rank1_bench.cpp).
// Every kernel benchmark reports GFLOPS = 2 n k m per iteration over the
// measured time; membw reports GBps; train_step samples_per_s.
//
// What is measured, so the figures compare like with like:
// - tern is called through the UNCHECKED kernel table of each ISA
//   (tern::kernel_table(isa)->gemm_rows_f32 ...): no argument checks, no
//   dispatch, just the kernel, and every ISA in one process (TERN_ISA plays
//   no part). An ISA the CPU lacks is reported as skipped, not failed.
// - Peers compute the same math on the same numbers, single threaded, in
//   each of their forms (see peer_openblas.cpp and peer_eigen.cpp); the
//   forms of the transposed layout get W and G transposed.
// - Operands are allocated once per run and reused every iteration, so they
//   are warm in cache: these are in-cache kernel speeds. For n <= 4 the
//   kernels are bound by streaming W from cache, which membw measures.
// - Time is the CPU time of the benchmark thread (Google Benchmark's
//   default), so time spent preempted on a shared machine is not counted.
//   Every kernel benchmark also reports cpu_threads = process CPU time /
//   thread CPU time over its loop: 1.0 for single-threaded code, above 1
//   when a peer keeps helper threads busy.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <time.h>
#include <unistd.h>
#include <utility>
#include <vector>

#include "tern/kernels/dense.h"
#include "tern/kernels/isa_selection.h"
#include "tern/kernels/kernel_table.h"
#include "tern/platform/isa.h"
#include "train_units.h"
#include "units.h"

namespace {

struct Shape {
  std::size_t n, k, m;
};

// The shapes of the study: batch-1 and batch-4 inference of a 784-256 MLP
// layer (memory bound), its training batch of 32 and the layers after it
// (256-128, 128-10), two square-ish training GEMMs large enough to reach the
// FMA peak, tiny ones where call overhead and tails dominate, an odd one
// (1000 rows of 37 -> 61: nothing is a multiple of a vector width), and a
// batch-1 1024 x 1024 layer whose weights no longer fit L2.
constexpr Shape kShapes[] = {
    {1, 784, 256},    {4, 784, 256},    {32, 784, 256}, {32, 256, 128},
    {32, 128, 10},    {128, 256, 1024}, {128, 1024, 256}, {256, 512, 512},
    {64, 64, 64},     {16, 16, 16},     {1000, 37, 61},  {1, 1024, 1024},
};

// Rows up to which a product is bound by streaming its weights: RESULTS.md
// gives these shapes a memory roofline, so tern-bench measures the read
// bandwidth of a buffer the size of their W.
constexpr std::size_t kMemoryBoundRows = 4;

// Default minimum time per repetition (--benchmark_min_time; the library's
// own default is 0.5 s). The vector kernels and peers run hundreds to
// millions of iterations in 0.1 s; the scalar reference runs the largest
// shapes once or twice (~0.2 s each), which bounds the whole run to a few
// minutes even with repetitions. Set per run, not per benchmark, because
// a per-benchmark MinTime would be appended to every benchmark's name.
constexpr const char* kDefaultMinTime = "--benchmark_min_time=0.1";

enum class Kernel { kGemmRows, kRank1, kBackprop };
constexpr Kernel kKernels[] = {Kernel::kGemmRows, Kernel::kRank1, Kernel::kBackprop};

const char* kernel_name(Kernel k) {
  switch (k) {
    case Kernel::kGemmRows: return "gemm_rows";
    case Kernel::kRank1: return "rank1_accumulate";
    case Kernel::kBackprop: return "backprop_rows";
  }
  return "?";
}

// 64-byte aligned float storage (the alignment tern's arena gives).
struct FreeDeleter {
  void operator()(float* p) const { std::free(p); }
};
using Buffer = std::unique_ptr<float[], FreeDeleter>;

Buffer make_buffer(std::size_t floats, std::mt19937* rng) {
  const std::size_t bytes = (std::max<std::size_t>(floats, 1) * sizeof(float) + 63) / 64 * 64;
  Buffer b(static_cast<float*>(std::aligned_alloc(64, bytes)));
  if (!b) {
    std::fprintf(stderr, "tern-bench: out of memory (%zu bytes)\n", bytes);
    std::exit(1);
  }
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  for (std::size_t i = 0; i < bytes / sizeof(float); ++i) b[i] = dist(*rng);
  return b;
}

// Every operand of the three kernels for one shape, tight row strides.
// gemm_rows: Y = X W + b. rank1_accumulate: G += alpha X^T D.
// backprop_rows: dX = D W^T.
struct Operands {
  explicit Operands(const Shape& shape) : s(shape) {
    std::mt19937 rng(20240611);  // fixed: every impl sees the same numbers
    x = make_buffer(s.n * s.k, &rng);
    w = make_buffer(s.k * s.m, &rng);
    b = make_buffer(s.m, &rng);
    y = make_buffer(s.n * s.m, &rng);
    d = make_buffer(s.n * s.m, &rng);
    g = make_buffer(s.k * s.m, &rng);
    dx = make_buffer(s.n * s.k, &rng);
    // Panel scratch for gemm_rows and rank1_accumulate, as the runtime
    // hands it out of its arena: the kernels' fast path.
    scratch = make_buffer(std::max(tern::gemm_rows_scratch_floats(s.k),
                                   tern::rank1_accumulate_scratch_floats(s.n)),
                          &rng);
  }
  Shape s;
  Buffer x, w, b, y, d, g, dx, scratch;
};

// Small enough that G, which rank1_accumulate adds to every iteration,
// stays far from overflow however many iterations run.
constexpr float kAlpha = 1e-3f;

double flops(const Shape& s) { return 2.0 * double(s.n) * double(s.k) * double(s.m); }

double cpu_seconds(clockid_t clock) {
  timespec ts{};
  clock_gettime(clock, &ts);
  return double(ts.tv_sec) + 1e-9 * double(ts.tv_nsec);
}

template <typename Op>
void timed_loop(benchmark::State& state, const Shape& s, Op&& op) {
  const double process0 = cpu_seconds(CLOCK_PROCESS_CPUTIME_ID);
  const double thread0 = cpu_seconds(CLOCK_THREAD_CPUTIME_ID);
  for (auto _ : state) {
    op();
    benchmark::ClobberMemory();
  }
  const double thread = cpu_seconds(CLOCK_THREAD_CPUTIME_ID) - thread0;
  const double process = cpu_seconds(CLOCK_PROCESS_CPUTIME_ID) - process0;
  state.counters["GFLOPS"] =
      benchmark::Counter(flops(s) * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
  state.counters["cpu_threads"] = thread > 0 ? process / thread : 0.0;
}

std::string isa_list(tern::IsaMask mask) {
  char text[64];
  tern::format_isa_mask(mask, text, sizeof text);
  return text;
}

bool cpu_runs(tern::Isa isa) { return (tern::cpu_isas() & tern::isa_bit(isa)) != 0; }

void skip_missing_isa(benchmark::State& state, tern::Isa isa) {
  const std::string msg = std::string("skipped: this CPU does not run ") + tern::isa_name(isa) +
                          " (it runs: " + isa_list(tern::cpu_isas()) + ")";
  state.SkipWithError(msg.c_str());
}

// --- tern ------------------------------------------------------------------

void bench_tern(benchmark::State& state, Kernel kernel, Shape s, tern::Isa isa) {
  if ((tern::available_isas() & tern::isa_bit(isa)) == 0) {
    skip_missing_isa(state, isa);
    return;
  }
  const tern::KernelTable* t = tern::kernel_table(isa);
  Operands o(s);
  const std::size_t n = s.n, k = s.k, m = s.m;
  switch (kernel) {
    case Kernel::kGemmRows:
      timed_loop(state, s, [&] {
        t->gemm_rows_f32(n, k, m, o.x.get(), k, o.w.get(), m, o.b.get(), o.y.get(), m,
                         tern::Activation::kNone, o.scratch.get());
      });
      break;
    case Kernel::kRank1:
      timed_loop(state, s, [&] {
        t->rank1_accumulate_f32(n, k, m, kAlpha, o.x.get(), k, o.d.get(), m, o.g.get(), m,
                                o.scratch.get());
      });
      break;
    case Kernel::kBackprop:
      timed_loop(state, s, [&] {
        t->backprop_rows_f32(n, k, m, o.d.get(), m, o.w.get(), m, o.dx.get(), k);
      });
      break;
  }
}

// --- registration helpers ---

std::string shape_name(const Shape& s) {
  return std::to_string(s.n) + "x" + std::to_string(s.k) + "x" + std::to_string(s.m);
}

template <typename Fn>
benchmark::internal::Benchmark* add(const std::string& name, Fn&& fn) {
  return benchmark::RegisterBenchmark(name.c_str(), std::forward<Fn>(fn))
      ->Unit(benchmark::kMicrosecond);
}

// --- peers -----------------------------------------------------------------

// W (k x m) transposed into a fresh buffer (m x k): the peer forms of the
// transposed layout get the same numbers in the order they prefer.
Buffer transposed(const float* src, std::size_t rows, std::size_t cols) {
  std::mt19937 filler(0);  // make_buffer fills; every element is overwritten below
  Buffer t = make_buffer(rows * cols, &filler);
  for (std::size_t r = 0; r < rows; ++r) {
    for (std::size_t c = 0; c < cols; ++c) t[c * rows + r] = src[r * cols + c];
  }
  return t;
}

// `skip`: why this peer cannot run here (empty when it can). Unused in a
// build without peers.
[[maybe_unused]] void bench_peer(benchmark::State& state, Kernel kernel, Shape s,
                                 tern_bench::PeerForm form, const std::string& skip) {
  if (!skip.empty()) {
    state.SkipWithError(skip.c_str());
    return;
  }
  Operands o(s);
  const std::size_t n = s.n, k = s.k, m = s.m;
  if (form.layout == tern_bench::WeightLayout::kTransposedMxK) {
    o.w = transposed(o.w.get(), k, m);
    o.g = transposed(o.g.get(), k, m);
  }
  switch (kernel) {
    case Kernel::kGemmRows:
      timed_loop(state, s,
                 [&] { form.gemm_rows(n, k, m, o.x.get(), o.w.get(), o.b.get(), o.y.get()); });
      break;
    case Kernel::kRank1:
      timed_loop(state, s, [&] {
        form.rank1_accumulate(n, k, m, kAlpha, o.x.get(), o.d.get(), o.g.get());
      });
      break;
    case Kernel::kBackprop:
      timed_loop(state, s,
                 [&] { form.backprop_rows(n, k, m, o.d.get(), o.w.get(), o.dx.get()); });
      break;
  }
}

// Whether the form has a version of `kernel`.
[[maybe_unused]] bool form_has(const tern_bench::PeerForm& form, Kernel kernel) {
  switch (kernel) {
    case Kernel::kGemmRows: return form.gemm_rows != nullptr;
    case Kernel::kRank1: return form.rank1_accumulate != nullptr;
    case Kernel::kBackprop: return form.backprop_rows != nullptr;
  }
  return false;
}

// Registers <kernel>/<form>/<shape> for every form of one peer that has
// that kernel and takes that many rows, and records each form's calls in
// the JSON context (peer_form/<impl>) for RESULTS.md's legend.
[[maybe_unused]] void register_peer_forms(Kernel kernel, const Shape& s,
                                          const tern_bench::PeerForm* forms, std::size_t count,
                                          const std::string& skip) {
  for (std::size_t i = 0; i < count; ++i) {
    const tern_bench::PeerForm form = forms[i];
    if (!form_has(form, kernel) || (form.max_rows != 0 && s.n > form.max_rows)) continue;
    add(std::string(kernel_name(kernel)) + "/" + form.impl + "/" + shape_name(s),
        [kernel, s, form, skip](benchmark::State& st) { bench_peer(st, kernel, s, form, skip); });
  }
}

[[maybe_unused]] void describe_peer_forms(const tern_bench::PeerForm* forms, std::size_t count) {
  for (std::size_t i = 0; i < count; ++i) {
    benchmark::AddCustomContext(std::string("peer_form/") + forms[i].impl, forms[i].calls);
  }
}

// --- ceilings: FMA peak and cache read bandwidth ----------------------------

struct Loops {
  tern::Isa isa;
  double (*fma_peak)(std::size_t, float*);
  float (*read_stream)(const float*, std::size_t);
};

// The loop units compiled into this binary, widest first.
std::vector<Loops> built_loops() {
  std::vector<Loops> loops;
  tern::Isa isa{};
#define TERN_BENCH_LOOPS(name)                                                   \
  if (tern::parse_isa(#name, &isa).ok()) {                                       \
    loops.push_back({isa, tern_bench::name::fma_peak, tern_bench::name::read_stream}); \
  }
#include "tern_bench_loop_isas.h"
#undef TERN_BENCH_LOOPS
  std::stable_sort(loops.begin(), loops.end(), [](const Loops& a, const Loops& b) {
    return tern::isa_vector_bits(a.isa) > tern::isa_vector_bits(b.isa);
  });
  return loops;
}

// One iteration: 2048 rounds of FMAs on every chain, a few microseconds.
constexpr std::size_t kPeakSteps = 2048;

void bench_peak(benchmark::State& state, Loops loops) {
  if (!cpu_runs(loops.isa)) {
    skip_missing_isa(state, loops.isa);
    return;
  }
  float sink = 0;
  double done = 0;
  for (auto _ : state) {
    done += loops.fma_peak(kPeakSteps, &sink);
    benchmark::DoNotOptimize(sink);
  }
  state.counters["GFLOPS"] = benchmark::Counter(done * 1e-9, benchmark::Counter::kIsRate);
}

void bench_membw(benchmark::State& state, Loops loops, std::size_t floats) {
  std::mt19937 rng(7);
  Buffer buf = make_buffer(floats, &rng);
  float sink = loops.read_stream(buf.get(), floats);  // first touch: into cache
  for (auto _ : state) {
    sink += loops.read_stream(buf.get(), floats);
    benchmark::DoNotOptimize(sink);
  }
  state.counters["GBps"] = benchmark::Counter(double(floats) * sizeof(float) * 1e-9,
                                              benchmark::Counter::kIsIterationInvariantRate);
  state.SetLabel(std::string(tern::isa_name(loops.isa)) + " loads, " +
                 std::to_string(floats * sizeof(float)) + " bytes");
}

// Which cache level a buffer of `bytes` is resident in when streamed in a
// loop: the smallest level it fits.
std::string cache_level(std::size_t bytes) {
  const long l2 = sysconf(_SC_LEVEL2_CACHE_SIZE);
  const long l3 = sysconf(_SC_LEVEL3_CACHE_SIZE);
  if (l2 > 0 && bytes <= static_cast<std::size_t>(l2)) return "l2";
  if (l3 > 0 && bytes <= static_cast<std::size_t>(l3)) return "l3";
  if (l2 <= 0 && l3 <= 0) return "cache";
  return "dram";
}

// --- registration ------------------------------------------------------------

double max_of(const std::vector<double>& v) {
  return v.empty() ? 0.0 : *std::max_element(v.begin(), v.end());
}

// A ceiling is what the core can do at best, and on a shared machine a
// neighbour can only pull a measurement down, never up: its best repetition
// is the estimate (aggregate "max"), and it is measured once before the
// kernels and once more after them (suffix "/end") so that a busy moment at
// the start does not lower the ceiling every kernel is compared with.
void register_ceilings(const char* suffix) {
  const std::vector<Loops> loops = built_loops();
  for (const Loops& l : loops) {
    add(std::string("peak/") + tern::isa_name(l.isa) + suffix,
        [l](benchmark::State& st) { bench_peak(st, l); })
        ->ComputeStatistics("max", max_of);
  }
  // membw with the widest loads this CPU runs, one buffer per distinct W of
  // the memory-bound shapes.
  const Loops* widest = nullptr;
  for (const Loops& l : loops) {
    if (widest == nullptr && cpu_runs(l.isa)) widest = &l;
  }
  if (widest == nullptr) {
    if (*suffix == '\0') {
      std::fprintf(stderr, "tern-bench: no vector loop unit runs on this CPU: no membw figures\n");
    }
    return;
  }
  std::set<std::pair<std::size_t, std::size_t>> seen;
  for (const Shape& s : kShapes) {
    if (s.n > kMemoryBoundRows || !seen.insert({s.k, s.m}).second) continue;
    std::size_t floats = s.k * s.m;
    floats = (floats + tern_bench::kReadStreamGranule - 1) / tern_bench::kReadStreamGranule *
             tern_bench::kReadStreamGranule;
    const Loops l = *widest;
    add("membw/" + cache_level(floats * sizeof(float)) + "/" + std::to_string(s.k) + "x" +
            std::to_string(s.m) + suffix,
        [l, floats](benchmark::State& st) { bench_membw(st, l, floats); })
        ->ComputeStatistics("max", max_of);
  }
}

// Why a peer that was built cannot run in this process (empty when it can).
struct PeerSkips {
  std::string openblas, eigen;
};

// Writes what RESULTS.md needs to know about this build into the JSON
// "context" block, and decides whether the peers can run.
PeerSkips describe_build() {
  PeerSkips skips;
  char cpu[80];
  tern::cpu_model(cpu, sizeof cpu);
  benchmark::AddCustomContext("tern_cpu", cpu);
  benchmark::AddCustomContext("tern_isas_detected", isa_list(tern::cpu_isas()));
  benchmark::AddCustomContext("tern_isas_built", isa_list(tern::built_isas()));
#if defined(__clang__)
  benchmark::AddCustomContext("compiler", std::string("clang ") + __clang_version__);
#elif defined(__GNUC__)
  benchmark::AddCustomContext("compiler", std::string("gcc ") + __VERSION__);
#endif
  benchmark::AddCustomContext("tern_build_type", TERN_BENCH_BUILD_TYPE);
  const char* env_names[] = {"OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "OPENBLAS_NUM_THREADS",
                             "OMP_NUM_THREADS", "TERN_ISA"};
  std::string env;
  for (const char* name : env_names) {
    const char* v = std::getenv(name);
    env += std::string(env.empty() ? "" : " ") + name + "=" + (v ? v : "(unset)");
  }
  benchmark::AddCustomContext("environment", env);

#if TERN_BENCH_OPENBLAS
  const int threads = tern_bench::openblas::set_single_thread();
  benchmark::AddCustomContext("openblas_config", tern_bench::openblas::config());
  benchmark::AddCustomContext("openblas_core", tern_bench::openblas::core_name());
  benchmark::AddCustomContext("openblas_threads", std::to_string(threads));
  describe_peer_forms(tern_bench::openblas::kForms, tern_bench::openblas::kFormCount);
  if (threads != 1) {
    skips.openblas = "skipped: OpenBLAS still reports " + std::to_string(threads) +
                     " threads after openblas_set_num_threads(1)";
  }
#else
  benchmark::AddCustomContext("openblas_config",
                              "not built (OpenBLAS not found at configure time)");
#endif

#if TERN_BENCH_EIGEN
  tern::Isa eigen_isa = tern::Isa::kScalar;
  const tern::Status parsed = tern::parse_isa(TERN_BENCH_EIGEN_ISA, &eigen_isa);
  benchmark::AddCustomContext("eigen_isa", TERN_BENCH_EIGEN_ISA);
  benchmark::AddCustomContext("eigen_flags", TERN_BENCH_EIGEN_FLAGS);
  describe_peer_forms(tern_bench::eigen::kForms, tern_bench::eigen::kFormCount);
  if (parsed.ok() && cpu_runs(eigen_isa)) {  // only now is it safe to enter the flagged unit
    benchmark::AddCustomContext("eigen_version", tern_bench::eigen::version());
    benchmark::AddCustomContext("eigen_simd", tern_bench::eigen::simd_in_use());
  } else {
    skips.eigen = std::string("skipped: the Eigen peer was compiled for ") +
                  TERN_BENCH_EIGEN_ISA + ", which this CPU does not run (it runs: " +
                  isa_list(tern::cpu_isas()) +
                  "); reconfigure with -DTERN_BENCH_EIGEN_ISA=<one of those>";
  }
#else
  benchmark::AddCustomContext("eigen_isa", "not built (Eigen not found at configure time)");
#endif
  return skips;
}

void register_all(const PeerSkips& skips) {
  register_ceilings("");

  for (Kernel kernel : kKernels) {
    for (const Shape& s : kShapes) {
      const std::string suffix = "/" + shape_name(s);
      for (int i = 0; i < tern::kIsaCount; ++i) {
        const tern::Isa isa = static_cast<tern::Isa>(i);
        if (tern::kernel_table(isa) == nullptr) continue;  // not built: nothing to measure
        add(std::string(kernel_name(kernel)) + "/" + tern::isa_name(isa) + suffix,
            [kernel, s, isa](benchmark::State& st) { bench_tern(st, kernel, s, isa); });
      }
#if TERN_BENCH_OPENBLAS
      register_peer_forms(kernel, s, tern_bench::openblas::kForms,
                          tern_bench::openblas::kFormCount, skips.openblas);
#endif
#if TERN_BENCH_EIGEN
      register_peer_forms(kernel, s, tern_bench::eigen::kForms, tern_bench::eigen::kFormCount,
                          skips.eigen);
#endif
    }
  }
  tern_bench::register_training_benchmarks(skips.eigen.c_str());
  tern_bench::register_epoch_benchmarks(skips.eigen.c_str());
  tern_bench::register_rank1_benchmarks();
  register_ceilings("/end");
}

}  // namespace

int main(int argc, char** argv) {
  // tern-bench's default minimum time goes first, so a --benchmark_min_time
  // on the command line (parsed later) overrides it.
  std::vector<char*> args(argv, argv + argc);
  std::string min_time = kDefaultMinTime;
  args.insert(args.begin() + 1, &min_time[0]);
  args.push_back(nullptr);
  int args_count = argc + 1;
  benchmark::Initialize(&args_count, args.data());
  if (benchmark::ReportUnrecognizedArguments(args_count, args.data())) return 1;
  register_all(describe_build());
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
