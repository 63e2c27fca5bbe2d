// SPDX-License-Identifier: Apache-2.0
// Benchmarks of the training variants built on the rank-1 structure of a
// dense layer's gradient (README, "Rank-1 structure"), under every ISA tern
// was built with, through the public API only (Model::train_step,
// compute_gradients, accumulate, flush). Each benchmark builds its model in
// an arena of exactly tern::arena_bytes(spec) bytes, reported as the
// counter arena_bytes; per-step time is the benchmark's own figure.
//
//   rank1_examples/<isa>/<model>/<variant>   per-example gradient norms
//     plain            train_step of the plain spec (the reference)
//     norms_r<R>       train_step with spec.with_example_gradients(R): every
//                      delta kept, per-example norms from the rank-1
//                      factors, no clipping
//     clip_r<R>        the same with per-example clipping (ClipParams
//                      example_clip 0.1, below the examples' norms at
//                      initialisation: 1 to 30 for the MLP, ~3000 for the
//                      block)
//     clip_noise_r<R>  clipping plus Gaussian noise on every parameter
//                      (noise_multiplier 1: DP-SGD)
//     grads_plain, grads_norms_r<R>   Model::compute_gradients alone (no
//                      optimizer step) of the plain and example-gradient
//                      specs: the cost of the norms without the update
//     gram_r<R>        the arithmetic of the norms alone: for every example
//                      and Dense layer, the 16 x 16 blocks of the Gram
//                      matrices U U^T and D D^T (backprop_rows of the ISA's
//                      kernel table, as the runtime forms them) and the
//                      double sums of their products, on buffers of the
//                      model's shapes outside any model
//   (The fused update against the unfused one, with plain SGD, momentum and
//   Adam, is train_step/<isa>/<model>/<optimizer>/<unfused|fused> in
//   train_bench.cpp, beside the Eigen peer's two forms.)
//   rank1_accum/<isa>/<model>/<variant>   (model: its one-step batch)
//     step             one train_step on the model's n rows
//     accum_<k>x<r>    k Model::accumulate calls of r rows (k r = n) and one
//                      Model::flush (spec.with_accumulation(n)); the same
//                      update as step
//
// Models as in train_bench.cpp: the Fashion-MNIST MLP 784-256-128-10 (ReLU,
// softmax cross-entropy) at batch 1, 32 and 128, and the feed-forward block
// n=128, d=256, d_ff=1024 (GELU, MSE). An MLP example is one row; the
// block's examples are sequences of R rows (R = 32: four examples per step;
// R = 128: the whole step is one example). Every benchmark starts again from
// the initial weights every kStepsPerRun steps (untimed; step_restart.h says
// why).
// bench/make_results.py turns the medians into shares ((variant - plain) /
// plain) and ratios.
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

constexpr float kLearningRate = 1e-4f;
constexpr std::uint32_t kFfnD = 256, kFfnDff = 1024;

struct Rank1Case {
  const char* name;
  bool ffn;
  std::uint32_t rows;
};
constexpr Rank1Case kMlpB32 = {"mlp784-256-128-10_b32", false, 32};
constexpr Rank1Case kMlpB128 = {"mlp784-256-128-10_b128", false, 128};
constexpr Rank1Case kFfn = {"ffn_n128_d256_dff1024", true, 128};

tern::ModelSpec base_spec(const Rank1Case& c, tern::OptimizerKind opt) {
  if (c.ffn) {
    return tern::ffn(c.rows, kFfnD, kFfnDff, tern::Mode::kTraining, tern::Pointwise::kGelu,
                     tern::LossKind::kMse, opt);
  }
  return tern::mlp({784, 256, 128, 10}, c.rows, tern::Mode::kTraining, tern::Pointwise::kRelu,
                   tern::LossKind::kSoftmaxCrossEntropy, opt);
}

// `rows` rows of seeded inputs in [-1, 1), labels and regression targets.
struct Data {
  std::vector<float> x, targets;
  std::vector<std::uint32_t> labels;
};
Data make_data(const tern::ModelSpec& spec, std::size_t rows) {
  Data d;
  tern::Rng rng(42);
  d.x.resize(rows * spec.input_width);
  for (float& v : d.x) v = rng.symmetric(1.0f);
  d.targets.resize(rows * spec.output_width());
  for (float& v : d.targets) v = rng.symmetric(1.0f);
  d.labels.resize(rows);
  for (auto& l : d.labels) l = rng.below(spec.output_width());
  return d;
}

tern::Batch batch_of(const tern::ModelSpec& spec, const Data& d, std::size_t first,
                     std::size_t rows) {
  tern::Batch b;
  b.x = d.x.data() + first * spec.input_width;
  b.ldx = spec.input_width;
  b.rows = rows;
  b.labels = d.labels.data() + first;
  b.targets = d.targets.data() + first * spec.output_width();
  b.ldt = spec.output_width();
  return b;
}

// A model built in its own 64-byte aligned arena of exactly
// arena_bytes(spec) under `isa`, initialised, with a small learning rate
// (hundreds of steps on one batch stay finite) and `clip`.
struct Built {
  std::vector<unsigned char> storage;
  tern::Arena arena;
  tern::Model model;
  std::size_t bytes = 0;
};
tern::Status build(Built& b, const tern::ModelSpec& spec, tern::Isa isa,
                   const tern::ClipParams& clip) {
  b.bytes = tern::arena_bytes(spec);
  b.storage.resize(b.bytes + 64);
  const auto addr = reinterpret_cast<std::uintptr_t>(b.storage.data());
  tern::Status s = tern::select_isa(isa);
  if (s.ok()) s = b.arena.attach(b.storage.data() + (64 - addr % 64) % 64, b.bytes);
  if (s.ok()) s = b.model.build(spec, b.arena);
  tern::OptimizerParams params;
  params.learning_rate = kLearningRate;
  if (s.ok()) s = b.model.set_optimizer(params);
  if (s.ok()) s = b.model.set_clipping(clip);
  tern::reset_isa_selection();
  if (s.ok()) b.model.initialize(1);
  return s;
}

bool isa_runs(benchmark::State& state, tern::Isa isa) {
  if ((tern::available_isas() & tern::isa_bit(isa)) != 0) return true;
  state.SkipWithError((std::string("skipped: this CPU does not run ") + tern::isa_name(isa)).c_str());
  return false;
}

void finish(benchmark::State& state, const Built& b, std::size_t rows) {
  state.counters["samples_per_s"] =
      benchmark::Counter(double(rows), benchmark::Counter::kIsIterationInvariantRate);
  state.counters["arena_bytes"] = double(b.bytes);
}

// What one iteration does.
enum class Op { kTrainStep, kComputeGradients };

void bench_step(benchmark::State& state, tern::ModelSpec spec, tern::ClipParams clip, Op op,
                tern::Isa isa) {
  if (!isa_runs(state, isa)) return;
  Built b;
  const tern::Status built = build(b, spec, isa, clip);
  if (!built.ok()) {
    state.SkipWithError(built.message());
    return;
  }
  const Data data = make_data(spec, spec.rows);
  const tern::Batch batch = batch_of(spec, data, 0, spec.rows);
  Restarter restart([&b] { b.model.initialize(1); });
  for (auto _ : state) {
    restart.tick(state);
    float loss = 0;
    const tern::Status s = op == Op::kTrainStep ? b.model.train_step(batch, &loss)
                                                : b.model.compute_gradients(batch, &loss);
    if (!s.ok()) {
      state.SkipWithError(s.message());
      break;
    }
    benchmark::DoNotOptimize(loss);
  }
  finish(state, b, spec.rows);
}

// `micro` accumulate() calls of spec.rows rows each, then flush().
void bench_accumulate(benchmark::State& state, tern::ModelSpec spec, std::uint32_t micro,
                      tern::Isa isa) {
  if (!isa_runs(state, isa)) return;
  Built b;
  const tern::Status built = build(b, spec, isa, tern::ClipParams{});
  if (!built.ok()) {
    state.SkipWithError(built.message());
    return;
  }
  const std::size_t total = std::size_t{micro} * spec.rows;
  const Data data = make_data(spec, total);
  Restarter restart([&b] { b.model.initialize(1); });
  for (auto _ : state) {
    restart.tick(state);
    float loss = 0;
    tern::Status s;
    for (std::uint32_t i = 0; i < micro && s.ok(); ++i) {
      s = b.model.accumulate(batch_of(spec, data, i * std::size_t{spec.rows}, spec.rows), &loss);
    }
    if (s.ok()) s = b.model.flush();
    if (!s.ok()) {
      state.SkipWithError(s.message());
      break;
    }
    benchmark::DoNotOptimize(loss);
  }
  finish(state, b, total);
}

void add(const std::string& name, tern::ModelSpec spec, tern::ClipParams clip, Op op,
         tern::Isa isa) {
  benchmark::RegisterBenchmark(name.c_str(), [spec, clip, op, isa](benchmark::State& st) {
    bench_step(st, spec, clip, op, isa);
  })->Unit(benchmark::kMicrosecond);
}

// Per-example clipping at a bound below the examples' norms at
// initialisation (so the delta rows are scaled), noise at the multiplier
// DP-SGD papers use.
tern::ClipParams clip_only() {
  tern::ClipParams c;
  c.example_clip = 0.1f;
  return c;
}
tern::ClipParams clip_with_noise() {
  tern::ClipParams c = clip_only();
  c.noise_multiplier = 1.0f;
  c.noise_seed = 7;
  return c;
}

// The Gram-matrix arithmetic behind the per-example norms of one step of
// `spec`: for each example (spec.example_rows rows) and each Dense layer
// (inputs U: rows x in, deltas D: rows x out), the block pairs a <= b of
// 16 rows of U U^T and D D^T from backprop_rows, and the sums
// sum (u_a . u_b)(d_a . d_b) and sum (d_a . d_b) in double. Seeded buffers
// stand in for the activations and deltas; LayerNorm's (elementwise)
// share of the norms is left out.
void bench_gram(benchmark::State& state, tern::ModelSpec spec, tern::Isa isa) {
  if (!isa_runs(state, isa)) return;
  const tern::KernelTable& k = *tern::kernel_table(isa);
  constexpr std::size_t kBlock = tern::kGramBlock;
  const std::size_t rows = spec.rows, R = spec.example_rows;
  std::vector<std::vector<float>> u, d;
  tern::Rng rng(3);
  for (std::uint32_t l = 0; l < spec.layer_count; ++l) {
    const tern::LayerSpec& ls = spec.layers[l];
    if (ls.kind != tern::LayerKind::kDense) continue;
    u.emplace_back(rows * ls.in);
    d.emplace_back(rows * ls.out);
    for (float& v : u.back()) v = rng.symmetric(1.0f);
    for (float& v : d.back()) v = rng.symmetric(1.0f);
  }
  std::vector<float> gu(kBlock * kBlock), gd(kBlock * kBlock);
  for (auto _ : state) {
    double total = 0.0;
    for (std::size_t e0 = 0; e0 < rows; e0 += R) {
      for (std::size_t i = 0; i < u.size(); ++i) {
        const std::size_t kin = u[i].size() / rows, m = d[i].size() / rows;
        const float* ue = u[i].data() + e0 * kin;
        const float* de = d[i].data() + e0 * m;
        for (std::size_t a0 = 0; a0 < R; a0 += kBlock) {
          const std::size_t na = R - a0 < kBlock ? R - a0 : kBlock;
          for (std::size_t b0 = a0; b0 < R; b0 += kBlock) {
            const std::size_t nb = R - b0 < kBlock ? R - b0 : kBlock;
            k.backprop_rows_f32(na, nb, kin, ue + a0 * kin, kin, ue + b0 * kin, kin, gu.data(), nb);
            k.backprop_rows_f32(na, nb, m, de + a0 * m, m, de + b0 * m, m, gd.data(), nb);
            double w = 0.0, b = 0.0;
            for (std::size_t j = 0; j < na * nb; ++j) {
              w += double(gu[j]) * double(gd[j]);
              b += double(gd[j]);
            }
            total += (a0 == b0 ? 1.0 : 2.0) * (w + b);
          }
        }
      }
    }
    benchmark::DoNotOptimize(total);
  }
  state.counters["samples_per_s"] =
      benchmark::Counter(double(rows), benchmark::Counter::kIsIterationInvariantRate);
}

void register_isa(tern::Isa isa) {
  const std::string tag = tern::isa_name(isa);
  const tern::ClipParams none;
  const auto adam = tern::OptimizerKind::kAdam;

  // Per-example gradient norms: the MLP with one row per example, the block
  // with four examples of 32 rows and with one of 128.
  struct ExampleCase {
    Rank1Case c;
    std::uint32_t example_rows[2];
  };
  const ExampleCase examples[] = {{kMlpB32, {1, 0}}, {kMlpB128, {1, 0}}, {kFfn, {32, 128}}};
  for (const ExampleCase& e : examples) {
    const std::string prefix = "rank1_examples/" + tag + "/" + e.c.name + "/";
    const tern::ModelSpec plain = base_spec(e.c, adam);
    add(prefix + "plain", plain, none, Op::kTrainStep, isa);
    add(prefix + "grads_plain", plain, none, Op::kComputeGradients, isa);
    for (std::uint32_t r : e.example_rows) {
      if (r == 0) continue;
      const std::string suffix = "_r" + std::to_string(r);
      const tern::ModelSpec spec = plain.with_example_gradients(r);
      add(prefix + "norms" + suffix, spec, none, Op::kTrainStep, isa);
      add(prefix + "clip" + suffix, spec, clip_only(), Op::kTrainStep, isa);
      add(prefix + "clip_noise" + suffix, spec, clip_with_noise(), Op::kTrainStep, isa);
      add(prefix + "grads_norms" + suffix, spec, none, Op::kComputeGradients, isa);
      benchmark::RegisterBenchmark((prefix + "gram" + suffix).c_str(),
                                   [spec, isa](benchmark::State& st) { bench_gram(st, spec, isa); })
          ->Unit(benchmark::kMicrosecond);
    }
  }

  // Gradient accumulation: micro-batches + flush against one step on all
  // their rows.
  struct AccumCase {
    Rank1Case step;
    std::uint32_t micro;
  };
  const AccumCase accums[] = {{kMlpB32, 4}, {kFfn, 4}};
  for (const AccumCase& a : accums) {
    const std::string prefix = "rank1_accum/" + tag + "/" + a.step.name + "/";
    const tern::ModelSpec step = base_spec(a.step, adam);
    const std::uint32_t r = a.step.rows / a.micro;
    add(prefix + "step", step, none, Op::kTrainStep, isa);
    const tern::ModelSpec acc = step.with_rows(r).with_accumulation(a.step.rows);
    const std::uint32_t micro = a.micro;
    benchmark::RegisterBenchmark(
        (prefix + "accum_" + std::to_string(micro) + "x" + std::to_string(r)).c_str(),
        [acc, micro, isa](benchmark::State& st) { bench_accumulate(st, acc, micro, isa); })
        ->Unit(benchmark::kMicrosecond);
  }
}

}  // namespace

void register_rank1_benchmarks() {
  for (int i = 0; i < tern::kIsaCount; ++i) {
    const tern::Isa isa = static_cast<tern::Isa>(i);
    if (tern::kernel_table(isa) != nullptr) register_isa(isa);
  }
}

}  // namespace tern_bench
