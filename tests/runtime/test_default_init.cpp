// SPDX-License-Identifier: Apache-2.0
// build() leaves every model initialised with kDefaultInitSeed: the weights
// of initialize(kDefaultInitSeed), bit for bit, whichever build() and mode;
// a program that never calls initialize() trains (XOR learns).
#include <doctest/doctest.h>

#include <cstring>
#include <vector>

#include "runtime_test_util.h"
#include "test_util.h"

using namespace tern;
using tern::test::ModelInArena;

namespace {

constexpr ModelSpec kSpec = ModelSpec::input(3, 4)
                                .dense(6, Pointwise::kGelu)
                                .layer_norm()
                                .dense(2)
                                .training(LossKind::kSoftmaxCrossEntropy, OptimizerKind::kAdam);
constexpr ModelSpec kInference = kSpec.inference().with_rows(1);

}  // namespace

TEST_CASE("default initialisation: build() gives the weights of initialize(kDefaultInitSeed)") {
  static_assert(kDefaultInitSeed == 1, "the C API's seed since 0.1.0");
  ModelInArena built(kSpec), reference(kSpec), inference(kInference);
  REQUIRE(built.status.ok());
  REQUIRE(reference.status.ok());
  REQUIRE(inference.status.ok());
  // The reference: moved off, trained on, then initialised explicitly.
  tern::test::perturb(reference.model, 3);
  const tern::test::SyntheticData d = tern::test::synthetic_data(kSpec, 4, 1, 2);
  float loss = 0;
  REQUIRE(reference.model.train_step(tern::test::batch_of(kSpec, d, 0, 4), &loss).ok());
  reference.model.initialize(kDefaultInitSeed);
  CHECK(tern::test::TrainingState(built.model) == tern::test::TrainingState(reference.model));
  CHECK(tern::test::bits_equal(tern::test::parameters_of(inference.model),
                               tern::test::parameters_of(built.model)));
  // Not all zero; biases 0, LayerNorm gamma 1 and beta 0 (initialize()).
  bool nonzero = false;
  for (float v : built.model.tensor(0).value) nonzero = nonzero || v != 0.0f;
  CHECK(nonzero);
  for (float v : built.model.tensor(1).value) CHECK(v == 0.0f);
  for (float v : built.model.tensor(2).value) CHECK(v == 1.0f);
  for (float v : built.model.tensor(3).value) CHECK(v == 0.0f);
  CHECK(built.model.steps() == 0);
  // A compiled plan builds the same weights.
  static constexpr ModelSpec kCompiled = kSpec;
  static constexpr auto kPlan = compile_plan<kCompiled>();
  tern::test::AlignedBuffer memory(arena_bytes(kSpec));
  Arena arena;
  Model compiled;
  REQUIRE(arena.attach(memory.data(), memory.size()).ok());
  REQUIRE(compiled.build(kPlan, arena).ok());
  CHECK(tern::test::TrainingState(compiled) == tern::test::TrainingState(built.model));
}

TEST_CASE("default initialisation: XOR learns without initialize()") {
  // With all-zero weights every hidden unit gets the same gradient and the
  // loss sits at ln 2 = 0.6931 for ever; from kDefaultInitSeed it learns.
  constexpr ModelSpec spec = mlp({2, 8, 2}, 4, Mode::kTraining, Pointwise::kTanh);
  ModelInArena m(spec);
  REQUIRE(m.status.ok());
  OptimizerParams p;
  p.learning_rate = 0.05f;
  REQUIRE(m.model.set_optimizer(p).ok());
  const float x[] = {0, 0, 0, 1, 1, 0, 1, 1};
  const std::uint32_t labels[] = {0, 1, 1, 0};
  const Batch batch{x, 2, 4, labels, nullptr, 0};
  float loss = 0;
  for (int step = 0; step < 300; ++step) REQUIRE(m.model.train_step(batch, &loss).ok());
  CHECK(loss < 0.05f);
  std::uint32_t classes[4] = {};
  REQUIRE(m.model.predict(x, 2, 4, classes).ok());
  for (int i = 0; i < 4; ++i) CHECK(classes[i] == labels[i]);
}
