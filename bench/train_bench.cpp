// SPDX-License-Identifier: Apache-2.0
// Training-step benchmarks: one whole training step (forward, loss,
// backward, optimizer) of the Fashion-MNIST MLP 784-256-128-10 at batch 1,
// 32 and 128 and of the feed-forward block n=128, d=256, d_ff=1024, with
// plain SGD, SGD with momentum and Adam, each in two update forms, under
// every ISA tern was built with and in the hand-written Eigen peer
// (peer_eigen_train.cpp) doing the same arithmetic.
//
// Names: train_step/<impl>/<model>/<optimizer>/<update>
//   impl       scalar, avx2, avx512, neon (tern's Model::train_step with the
//              model built under that ISA) or eigen
//   model      mlp784-256-128-10_b1, _b32, _b128, ffn_n128_d256_dff1024
//   optimizer  sgd (plain, momentum 0), momentum (0.9), adam
//   update     unfused: weight gradients into buffers, then the optimizer
//              (tern: the plain spec; Eigen: Update::kGradientBuffers);
//              fused: no weight-gradient buffer, each layer's weights
//              updated during the backward pass (tern:
//              spec.with_fused_update(); Eigen: Update::kIntoWeights,
//              e.g. W -= lr X^T dZ for plain SGD — train_units.h)
// Counter samples_per_s = rows per step / time (per-step time is the
// benchmark's own figure). The tern step goes through the public API the
// examples use — model built once in its arena with the ISA selected by
// tern::select_isa, the batch copied in and validated every step — so it is
// the speed an application gets, not a kernel in isolation. Both sides run a
// small learning rate and start again from their initial weights every
// kStepsPerRun steps (untimed; step_restart.h), so they train the same
// steps from the same start.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <string>
#include <vector>

#include "tern/kernels/isa_selection.h"
#include "tern/kernels/kernel_table.h"
#include "tern/runtime/model.h"
#include "tern/runtime/rng.h"
#include "step_restart.h"
#include "train_units.h"

namespace tern_bench {
namespace {

struct TrainCase {
  const char* name;
  bool ffn;
  std::uint32_t rows;
};
// The step sizes of the study: on-device training one sample at a time, the
// usual small batches, and a sequence of 128 positions through the block.
constexpr TrainCase kCases[] = {
    {"mlp784-256-128-10_b1", false, 1},
    {"mlp784-256-128-10_b32", false, 32},
    {"mlp784-256-128-10_b128", false, 128},
    {"ffn_n128_d256_dff1024", true, 128},
};
constexpr std::uint32_t kFfnD = 256, kFfnDff = 1024;
constexpr float kLearningRate = 1e-4f;

// One optimizer as tern and the Eigen peer each spell it.
struct OptimizerCase {
  const char* name;
  tern::OptimizerKind tern_kind;
  float momentum;  // tern's OptimizerParams::momentum (SGD only)
  eigen_train::Optimizer eigen_kind;
};
// Plain SGD is tern's SGD with momentum 0; 0.9 is tern's default momentum.
constexpr OptimizerCase kOptimizers[] = {
    {"sgd", tern::OptimizerKind::kSgd, 0.0f, eigen_train::Optimizer::kSgd},
    {"momentum", tern::OptimizerKind::kSgd, 0.9f, eigen_train::Optimizer::kMomentum},
    {"adam", tern::OptimizerKind::kAdam, 0.9f, eigen_train::Optimizer::kAdam},
};

tern::ModelSpec spec_of(const TrainCase& c, tern::OptimizerKind opt) {
  if (c.ffn) {
    return tern::ffn(c.rows, kFfnD, kFfnDff, tern::Mode::kTraining, tern::Pointwise::kGelu,
                     tern::LossKind::kMse, opt);
  }
  return tern::mlp({784, 256, 128, 10}, c.rows, tern::Mode::kTraining, tern::Pointwise::kRelu,
                   tern::LossKind::kSoftmaxCrossEntropy, opt);
}

// One batch of seeded inputs in [-1, 1), labels and regression targets.
struct Data {
  std::vector<float> x, targets;
  std::vector<std::uint32_t> labels;
};
Data make_data(const tern::ModelSpec& spec) {
  Data d;
  tern::Rng rng(42);
  d.x.resize(std::size_t{spec.rows} * spec.input_width);
  for (float& v : d.x) v = rng.symmetric(1.0f);
  d.targets.resize(std::size_t{spec.rows} * spec.output_width());
  for (float& v : d.targets) v = rng.symmetric(1.0f);
  d.labels.resize(spec.rows);
  for (auto& l : d.labels) l = rng.below(spec.output_width());
  return d;
}

void set_rate(benchmark::State& state, std::uint32_t rows) {
  state.counters["samples_per_s"] =
      benchmark::Counter(double(rows), benchmark::Counter::kIsIterationInvariantRate);
}

void bench_tern_step(benchmark::State& state, TrainCase c, OptimizerCase opt, bool fused,
                     tern::Isa isa) {
  if ((tern::available_isas() & tern::isa_bit(isa)) == 0) {
    state.SkipWithError((std::string("skipped: this CPU does not run ") + tern::isa_name(isa)).c_str());
    return;
  }
  tern::ModelSpec spec = spec_of(c, opt.tern_kind);
  if (fused) spec = spec.with_fused_update();
  const Data data = make_data(spec);
  // The arena: one 64-byte aligned block of exactly arena_bytes(spec).
  const std::size_t bytes = tern::arena_bytes(spec);
  std::vector<unsigned char> storage(bytes + 64);
  const auto addr = reinterpret_cast<std::uintptr_t>(storage.data());
  tern::Arena arena;
  tern::Model model;
  tern::Status s = tern::select_isa(isa);  // the model takes this ISA's table at build
  if (s.ok()) s = arena.attach(storage.data() + (64 - addr % 64) % 64, bytes);
  if (s.ok()) s = model.build(spec, arena);
  tern::OptimizerParams params;
  params.learning_rate = kLearningRate;
  params.momentum = opt.momentum;
  if (s.ok()) s = model.set_optimizer(params);
  tern::reset_isa_selection();
  if (!s.ok()) {
    state.SkipWithError(s.message());
    return;
  }
  model.initialize(1);
  tern::Batch batch;
  batch.x = data.x.data();
  batch.ldx = spec.input_width;
  batch.rows = spec.rows;
  batch.labels = data.labels.data();
  batch.targets = data.targets.data();
  batch.ldt = spec.output_width();
  Restarter restart([&model] { model.initialize(1); });
  for (auto _ : state) {
    restart.tick(state);
    float loss = 0;
    s = model.train_step(batch, &loss);
    if (!s.ok()) {
      state.SkipWithError(s.message());
      break;
    }
    benchmark::DoNotOptimize(loss);
  }
  set_rate(state, spec.rows);
  state.counters["arena_bytes"] = double(bytes);
}

#if TERN_BENCH_EIGEN
void bench_eigen_step(benchmark::State& state, TrainCase c, OptimizerCase opt, bool fused,
                      const std::string& skip) {
  if (!skip.empty()) {
    state.SkipWithError(skip.c_str());
    return;
  }
  const tern::ModelSpec spec = spec_of(c, opt.tern_kind);
  const Data data = make_data(spec);
  eigen_train::StepConfig config;
  config.optimizer = opt.eigen_kind;
  config.update =
      fused ? eigen_train::Update::kIntoWeights : eigen_train::Update::kGradientBuffers;
  config.learning_rate = kLearningRate;
  config.momentum = opt.momentum;
  if (c.ffn) {
    eigen_train::Ffn* s = eigen_train::ffn_create(c.rows, kFfnD, kFfnDff, config);
    Restarter restart([s] { eigen_train::ffn_reset(s); });
    for (auto _ : state) {
      restart.tick(state);
      benchmark::DoNotOptimize(eigen_train::ffn_step(s, data.x.data(), data.targets.data()));
    }
    eigen_train::ffn_destroy(s);
  } else {
    eigen_train::Mlp* s = eigen_train::mlp_create(c.rows, config);
    Restarter restart([s] { eigen_train::mlp_reset(s); });
    for (auto _ : state) {
      restart.tick(state);
      benchmark::DoNotOptimize(eigen_train::mlp_step(s, data.x.data(), spec.input_width,
                                                     data.labels.data(), nullptr, c.rows));
    }
    eigen_train::mlp_destroy(s);
  }
  set_rate(state, spec.rows);
}
#endif

}  // namespace

void register_training_benchmarks(const char* eigen_skip) {
  const std::string skip = eigen_skip != nullptr ? eigen_skip : "";
  for (const TrainCase& c : kCases) {
    for (const OptimizerCase& opt : kOptimizers) {
      for (const bool fused : {false, true}) {
        const std::string tail =
            std::string("/") + c.name + "/" + opt.name + (fused ? "/fused" : "/unfused");
        for (int i = 0; i < tern::kIsaCount; ++i) {
          const tern::Isa isa = static_cast<tern::Isa>(i);
          if (tern::kernel_table(isa) == nullptr) continue;
          benchmark::RegisterBenchmark(
              (std::string("train_step/") + tern::isa_name(isa) + tail).c_str(),
              [c, opt, fused, isa](benchmark::State& st) {
                bench_tern_step(st, c, opt, fused, isa);
              })
              ->Unit(benchmark::kMicrosecond);
        }
#if TERN_BENCH_EIGEN
        benchmark::RegisterBenchmark(("train_step/eigen" + tail).c_str(),
                                     [c, opt, fused, skip](benchmark::State& st) {
                                       bench_eigen_step(st, c, opt, fused, skip);
                                     })
            ->Unit(benchmark::kMicrosecond);
#endif
      }
    }
  }
  (void)skip;
}

}  // namespace tern_bench
