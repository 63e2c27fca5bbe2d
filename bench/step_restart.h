// SPDX-License-Identifier: Apache-2.0
// bench/step_restart.h — restarting a training benchmark from its initial
// weights every kStepsPerRun steps, outside the timed region; used by the
// whole-step benchmarks of tern and of the Eigen peer alike
// (train_bench.cpp, rank1_bench.cpp), so both sides train the same number
// of steps from the same start.
#pragma once

#include <benchmark/benchmark.h>

namespace tern_bench {

// Steps from initialisation after which a benchmark starts again from the
// initial weights (untimed). Hundreds of steps on one fixed batch drive the
// loss towards 0: gradients, and from them Adam's moments, fall into the
// subnormal range, where every multiply is many times slower (the MLP at
// batch 1 takes 9x longer per step after 4000 steps than after 100; with
// flush-to-zero it does not slow down at all). 100 steps stay clear of that
// in every model here (the same figures with the FPU flushing subnormals to
// zero), so the time per step does not depend on how many iterations the
// benchmark library chose to run.
constexpr int kStepsPerRun = 100;

// Calls `reset` (back to the initial weights and optimizer state) every
// kStepsPerRun iterations, with the timer paused.
template <typename Reset>
class Restarter {
 public:
  explicit Restarter(Reset reset) : reset_(reset) {}
  void tick(benchmark::State& state) {
    if (++steps_ <= kStepsPerRun) return;
    state.PauseTiming();
    reset_();
    state.ResumeTiming();
    steps_ = 1;
  }

 private:
  Reset reset_;
  int steps_ = 0;
};

}  // namespace tern_bench
