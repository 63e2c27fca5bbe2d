// SPDX-License-Identifier: Apache-2.0
// The fused backward + optimizer step (spec.h: with_fused_update): the same
// bits as the unfused step for every optimizer, with and without the
// divergence guard and example gradients; a diverging fused step undone to
// the unfused run's state; and the plan without weight-gradient buffers.
#include <doctest/doctest.h>

#include <algorithm>
#include <cstdint>
#include <vector>

#include "rank1_test_util.h"

using namespace tern;
using namespace tern::test;

TEST_CASE("fused update: the same bits as the unfused step, every optimizer") {
  std::vector<ModelSpec> specs;
  for (std::uint32_t rows : {1u, 7u, 32u}) {
    // 37 inputs: W in three 16-row blocks below kPackMinRows rows, the last
    // partial; one partial 64-row block from there on.
    specs.push_back(ModelSpec::input(37, rows)
                        .dense(50, Pointwise::kRelu)
                        .dense(19, Pointwise::kGelu)
                        .dense(5)
                        .training(LossKind::kSoftmaxCrossEntropy, OptimizerKind::kAdam));
  }
  specs.push_back(ffn(9, 20, 36, Mode::kTraining));
  specs.push_back(ffn(16, 20, 36, Mode::kTraining, Pointwise::kTanh));
  // 150 inputs at 17 rows: three 64-row blocks, the last partial.
  specs.push_back(ModelSpec::input(150, 17)
                      .dense(70, Pointwise::kRelu)
                      .dense(3)
                      .training(LossKind::kSoftmaxCrossEntropy, OptimizerKind::kAdam));
  for (const ModelSpec& base : specs) {
    for (OptimizerKind opt : {OptimizerKind::kSgd, OptimizerKind::kAdam, OptimizerKind::kAdamW}) {
      for (bool guard : {false, true}) {
        CAPTURE(base.rows);
        CAPTURE(base.layer_count);
        CAPTURE(int(opt));
        CAPTURE(guard);
        const ModelSpec spec = base.training(base.loss, opt).with_divergence_guard(guard);
        std::vector<float> la, lb;
        const State a = plain_run(spec, opt, 4, &la);
        const State b = plain_run(spec.with_fused_update(), opt, 4, &lb);
        CHECK(a == b);
        CHECK(bits_equal(la, lb));
        CHECK(a.steps == 4);
      }
    }
  }
  // With example gradients (no clipping) and power-of-two rows, the fused
  // step is the plain step too.
  for (const ModelSpec& base : {specs[2], specs[4]}) {
    std::vector<float> la, lb;
    const ModelSpec ex = base.with_example_gradients(base.layer_count == 4 ? 4 : 1);
    const State a = plain_run(base, OptimizerKind::kAdam, 3, &la);
    const State b = plain_run(ex.with_fused_update(), OptimizerKind::kAdam, 3, &lb);
    CHECK(a == b);
  }
}

TEST_CASE("fused update, plain SGD: one pass over W, the unfused bits") {
  // Momentum 0 takes rank1_sgd_update_f32 at any number of rows (W read and
  // written once, no gradient block): streamed up to 4 rows, the register
  // tiles with the SGD step as their epilogue from 5 on.
  OptimizerParams plain;
  plain.learning_rate = 0.05f;
  plain.momentum = 0.0f;
  plain.weight_decay = 1e-3f;
  for (std::uint32_t rows : {1u, 2u, 3u, 4u, 5u, 7u, 17u, 32u}) {
    CAPTURE(rows);
    const ModelSpec spec = ModelSpec::input(37, rows)
                               .dense(50, Pointwise::kRelu)
                               .dense(19, Pointwise::kGelu)
                               .dense(5)
                               .training(LossKind::kSoftmaxCrossEntropy, OptimizerKind::kSgd);
    std::vector<float> la, lb;
    const State a = plain_run(spec, OptimizerKind::kSgd, 4, &la, &plain);
    const State b = plain_run(spec.with_fused_update(), OptimizerKind::kSgd, 4, &lb, &plain);
    CHECK(a == b);
    CHECK(bits_equal(la, lb));
    // The step moved the weights: not a run that did nothing on both sides.
    const State before = [&] {
      PerturbedModel m(spec, 9, 9);
      return State(m.model);
    }();
    CHECK_FALSE(a == before);
  }
}

TEST_CASE("fused update: a diverging step is undone to the unfused run's bits") {
  // A learning rate of 1e30 blows the weights up during the fused backward
  // pass; the guard restores the last good state and stops. Once the stop
  // is cleared, training continues, fused and unfused in step.
  const ModelSpec specs[] = {
      ModelSpec::input(37, 7)
          .dense(50, Pointwise::kRelu)
          .dense(19, Pointwise::kGelu)
          .dense(5)
          .training(LossKind::kSoftmaxCrossEntropy, OptimizerKind::kSgd),
      ffn(9, 20, 36, Mode::kTraining).with_example_gradients(3),
  };
  for (const ModelSpec& base : specs) {
    const ModelSpec spec = base.with_divergence_guard();
    const Data d = make_data(spec, 6 * spec.rows, 19);
    std::vector<State> states;
    std::vector<std::uint32_t> recoveries;
    for (bool fused : {false, true}) {
      CAPTURE(fused);
      PerturbedModel m(spec.with_fused_update(fused), 4, 4);
      DivergencePolicy policy;
      policy.action = DivergenceAction::kStop;
      REQUIRE(m.model.set_divergence_policy(policy).ok());
      for (int s = 0; s < 6; ++s) {
        const Batch b = batch_of(spec, d, std::size_t(s) * spec.rows, spec.rows);
        set_optimizer(m.model, base.optimizer);
        if (s == 2) {
          OptimizerParams huge = m.model.optimizer();
          huge.learning_rate = 1e30f;
          REQUIRE(m.model.set_optimizer(huge).ok());
          const State before(m.model);
          // The step itself or the next one notices.
          Status st = m.model.train_step(b, nullptr);
          if (st.ok()) st = m.model.train_step(b, nullptr);
          CHECK(st.code() == StatusCode::kNonFinite);
          CHECK(State(m.model) == before);
          // A stop holds until cleared: the next step refuses to train.
          CHECK(m.model.divergence().stopped);
          CHECK(m.model.train_step(b, nullptr).code() == StatusCode::kFailedPrecondition);
          CHECK(State(m.model) == before);
          m.model.clear_divergence_stop();
          continue;
        }
        REQUIRE(m.model.train_step(b, nullptr).ok());
      }
      CHECK_FALSE(m.model.divergence().stopped);
      states.emplace_back(m.model);
      recoveries.push_back(m.model.divergence().last_step);
    }
    CHECK(states[0] == states[1]);
    CHECK(recoveries[0] == recoveries[1]);
  }
}

TEST_CASE("fused update: no weight-gradient buffers in the plan, one update block instead") {
  const ModelSpec specs[] = {
      mlp({37, 50, 19, 5}, 7, Mode::kTraining),
      mlp({37, 50, 19, 5}, 32, Mode::kTraining, Pointwise::kRelu, LossKind::kMse,
          OptimizerKind::kSgd),
      ffn(9, 20, 36, Mode::kTraining),
      ffn(16, 128, 160, Mode::kTraining).with_example_gradients(4),
  };
  for (const ModelSpec& spec : specs) {
    const ModelSpec fused = spec.with_fused_update();
    const ModelPlan plain_plan = plan_model(spec), fused_plan = plan_model(fused);
    std::uint64_t weight_grads = 0, widest = 0;
    for (std::uint32_t l = 0; l < spec.layer_count; ++l) {
      if (spec.layers[l].kind != LayerKind::kDense) continue;
      weight_grads += plain_plan.layers[l][LayerBuffer::kWeightGrad].bytes;
      CHECK(plain_plan.layers[l][LayerBuffer::kWeightGrad].bytes ==
            (std::uint64_t{spec.layers[l].in} * spec.layers[l].out * 4 + 63) / 64 * 64);
      CHECK_FALSE(fused_plan.layers[l][LayerBuffer::kWeightGrad].present());
      widest = std::max<std::uint64_t>(widest, spec.layers[l].out);
    }
    // 16 rows of W per block, 64 when the step packs panels (>= kPackMinRows rows).
    const std::uint64_t block_rows = spec.rows >= kPackMinRows ? 64 : 16;
    CHECK(fused_block_rows(fused) == block_rows);
    CHECK(fused_plan[ModelBuffer::kUpdateBlock].bytes ==
          (widest * block_rows * 4 + 63) / 64 * 64);
    CHECK_FALSE(plain_plan[ModelBuffer::kUpdateBlock].present());
    CHECK(arena_bytes(fused) ==
          arena_bytes(spec) - weight_grads + fused_plan[ModelBuffer::kUpdateBlock].bytes);

    ModelInArena m(fused);
    REQUIRE(m.status.ok());
    CHECK(m.arena.high_water() == arena_bytes(fused));
    for (std::uint32_t t = 0; t < m.model.tensor_count(); ++t) {
      const Tensor x = m.model.tensor(t);
      const bool dense_weight = !x.is_bias && spec.layers[x.layer].kind == LayerKind::kDense;
      CHECK(x.grad.empty() == dense_weight);
      CHECK_FALSE(x.moment1.empty());
    }
    const Data d = make_data(fused, fused.rows, 1);
    const Status cg = m.model.compute_gradients(batch_of(fused, d, 0, fused.rows), nullptr);
    CHECK(cg.code() == StatusCode::kFailedPrecondition);
    CHECK(contains(cg, "fused update"));
    CHECK(m.model.apply_gradients().code() == StatusCode::kFailedPrecondition);
    CHECK(m.model.steps() == 0);
  }
}
