// SPDX-License-Identifier: Apache-2.0
// The Fashion-MNIST epoch benchmark: one training epoch of
// tern-train-fashion's defaults (examples/train_fashion.cpp) with tern, and
// the same epoch with the hand-written Eigen step (peer_eigen_train.cpp), so
// that the ratio of the two comes from one run of tern-bench.
//
// Names: epoch/<impl>/fashion-mnist_mlp784-256-128-10_b64_adam_cosine
//   impl  tern           Model::train_step, ISA chosen as tern-train-fashion
//                        chooses it without --isa (label: which one)
//         eigen_unfused  Eigen step with gradient buffers
//         eigen_fused    Eigen step updating the weights straight from the
//                        products (train_units.h, Update)
// One iteration is the first epoch of the default run: MLP 784-256-128-10
// (ReLU, softmax cross-entropy), batch 64, Adam with learning rate 1e-3 on a
// cosine schedule over 10 epochs set before every step, the 60000 training
// images in the seeded shuffle of epoch 1, each batch gathered by index from
// the standardised data set. Timed: the steps (with their schedule updates
// and gathers); not timed: re-initialising the model and the shuffle before
// each iteration, and the test-set evaluation tern-train-fashion does after
// the epoch. Counter samples_per_s = training images per second.
//
// The data set is Debian's dataset-fashion-mnist (IDX .gz files), read once
// by the examples' reader (examples/data/idx.h) when the first epoch
// benchmark runs; TERN_BENCH_FASHION_DIR overrides the directory. Without
// the files (or without zlib at build time) the epoch benchmarks are
// reported as skipped, with the reason.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "tern/kernels/isa_selection.h"
#include "tern/runtime/model.h"
#include "tern/runtime/rng.h"
#include "train_units.h"
#if TERN_BENCH_FASHION
#include "data/idx.h"
#endif

namespace tern_bench {
namespace {

constexpr const char* kModelName = "fashion-mnist_mlp784-256-128-10_b64_adam_cosine";

#if TERN_BENCH_FASHION
// tern-train-fashion's defaults (Options in examples/train_fashion.cpp).
constexpr std::uint32_t kBatch = 64;
constexpr float kLearningRate = 1e-3f;
constexpr int kEpochs = 10;  // the cosine schedule's length; the benchmark is epoch 1
constexpr std::uint64_t kSeed = 1;
constexpr const char* kDefaultDataDir = "/usr/share/datasets/fashion-mnist";

// The training set, loaded on first use; `error` says why it is absent.
struct Fashion {
  tern::data::Dataset train, test;
  std::string error;
};

const Fashion& fashion() {
  static const std::unique_ptr<Fashion> loaded = [] {
    auto f = std::make_unique<Fashion>();
    const char* env = std::getenv("TERN_BENCH_FASHION_DIR");
    const std::string dir = env != nullptr ? env : kDefaultDataDir;
    const tern::Status s = tern::data::load_fashion_mnist(dir.c_str(), 784, &f->train, &f->test);
    if (!s.ok()) {
      f->error = "skipped: Fashion-MNIST not readable in " + dir + " (" + s.message() +
                 "; apt-get install dataset-fashion-mnist, or set TERN_BENCH_FASHION_DIR)";
    }
    f->test = tern::data::Dataset();  // the epoch does not evaluate: free it
    return f;
  }();
  return *loaded;
}

// tern-train-fashion's cosine schedule: the learning rate before the step
// that starts at image `start` of epoch 1.
float scheduled_rate(std::size_t start, std::size_t count) {
  const double progress = double(start) / (double(kEpochs) * double(count));
  return float(0.5 * double(kLearningRate) * (1.0 + std::cos(3.141592653589793 * progress)));
}

// The epoch's order of images: tern-train-fashion's shuffler, first epoch.
void first_epoch_order(std::vector<std::uint32_t>& order) {
  tern::iota(tern::Span<std::uint32_t>{order.data(), order.size()});
  tern::Rng shuffler(kSeed, 1);
  tern::shuffle(tern::Span<std::uint32_t>{order.data(), order.size()}, shuffler);
}

void set_rate(benchmark::State& state, std::size_t images) {
  state.counters["samples_per_s"] =
      benchmark::Counter(double(images), benchmark::Counter::kIsIterationInvariantRate);
}

void bench_tern_epoch(benchmark::State& state) {
  const Fashion& f = fashion();
  if (!f.error.empty()) {
    state.SkipWithError(f.error.c_str());
    return;
  }
  const tern::data::Dataset& train = f.train;
  const tern::ModelSpec spec =
      tern::mlp({784, 256, 128, 10}, kBatch, tern::Mode::kTraining, tern::Pointwise::kRelu,
                tern::LossKind::kSoftmaxCrossEntropy, tern::OptimizerKind::kAdam);
  const std::size_t bytes = tern::arena_bytes(spec);
  std::vector<unsigned char> storage(bytes + 64);
  const auto addr = reinterpret_cast<std::uintptr_t>(storage.data());
  tern::Arena arena;
  tern::Model model;
  tern::OptimizerParams params;
  params.learning_rate = kLearningRate;
  tern::Status s = arena.attach(storage.data() + (64 - addr % 64) % 64, bytes);
  if (s.ok()) s = model.build(spec, arena);
  if (s.ok()) s = model.set_optimizer(params);
  tern::Isa isa = tern::Isa::kScalar;
  tern::SelectionReason reason = tern::SelectionReason::kNone;
  if (s.ok() && !tern::active_isa(&isa, &reason)) {
    s = tern::Status::error(tern::StatusCode::kInvalidArgument, "no ISA selected");
  }
  if (!s.ok()) {
    state.SkipWithError(s.message());
    return;
  }
  std::vector<std::uint32_t> order(train.count);
  for (auto _ : state) {
    state.PauseTiming();
    model.initialize(kSeed);
    first_epoch_order(order);
    state.ResumeTiming();
    for (std::size_t start = 0; start < train.count && s.ok(); start += kBatch) {
      tern::Batch b;
      b.x = train.x.data();
      b.ldx = train.width;
      b.labels = train.y.data();
      b.indices = order.data() + start;
      b.samples = train.count;
      b.rows = std::min<std::size_t>(kBatch, train.count - start);
      params.learning_rate = scheduled_rate(start, train.count);
      s = model.set_optimizer(params);
      float loss = 0;
      if (s.ok()) s = model.train_step(b, &loss);
      benchmark::DoNotOptimize(loss);
    }
    if (!s.ok()) {
      state.SkipWithError(s.message());
      break;
    }
  }
  set_rate(state, train.count);
  state.SetLabel(std::string("tern ISA ") + tern::isa_name(isa));
}

#if TERN_BENCH_EIGEN
void bench_eigen_epoch(benchmark::State& state, eigen_train::Update update,
                       const std::string& skip) {
  if (!skip.empty()) {
    state.SkipWithError(skip.c_str());
    return;
  }
  const Fashion& f = fashion();
  if (!f.error.empty()) {
    state.SkipWithError(f.error.c_str());
    return;
  }
  const tern::data::Dataset& train = f.train;
  eigen_train::StepConfig config;
  config.optimizer = eigen_train::Optimizer::kAdam;
  config.update = update;
  config.learning_rate = kLearningRate;
  eigen_train::Mlp* m = eigen_train::mlp_create(kBatch, config);
  std::vector<std::uint32_t> order(train.count);
  for (auto _ : state) {
    state.PauseTiming();
    eigen_train::mlp_reset(m);
    first_epoch_order(order);
    state.ResumeTiming();
    for (std::size_t start = 0; start < train.count; start += kBatch) {
      const std::size_t rows = std::min<std::size_t>(kBatch, train.count - start);
      eigen_train::mlp_set_learning_rate(m, scheduled_rate(start, train.count));
      benchmark::DoNotOptimize(eigen_train::mlp_step(m, train.x.data(), train.width,
                                                     train.y.data(), order.data() + start, rows));
    }
  }
  eigen_train::mlp_destroy(m);
  set_rate(state, train.count);
}
#endif
#endif  // TERN_BENCH_FASHION

[[maybe_unused]] void skip_unbuilt(benchmark::State& state) {
  state.SkipWithError(
      "skipped: tern-bench was built without the IDX reader (zlib not found at configure "
      "time)");
}

}  // namespace

void register_epoch_benchmarks(const char* eigen_skip) {
  const std::string skip = eigen_skip != nullptr ? eigen_skip : "";
  const std::string tail = std::string("/") + kModelName;
#if TERN_BENCH_FASHION
  benchmark::RegisterBenchmark(("epoch/tern" + tail).c_str(), bench_tern_epoch)
      ->Unit(benchmark::kMillisecond);
#if TERN_BENCH_EIGEN
  for (const bool fused : {false, true}) {
    const auto update =
        fused ? eigen_train::Update::kIntoWeights : eigen_train::Update::kGradientBuffers;
    benchmark::RegisterBenchmark(
        (std::string("epoch/eigen_") + (fused ? "fused" : "unfused") + tail).c_str(),
        [update, skip](benchmark::State& st) { bench_eigen_epoch(st, update, skip); })
        ->Unit(benchmark::kMillisecond);
  }
#endif
#else
  benchmark::RegisterBenchmark(("epoch/tern" + tail).c_str(), skip_unbuilt);
#endif
  (void)skip;
}

}  // namespace tern_bench
