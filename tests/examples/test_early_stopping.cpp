// SPDX-License-Identifier: Apache-2.0
// Early stopping and the best-weights copy of tern-train-fashion
// (examples/training/): the rule on loss sequences worked out by hand, the
// copy's round trip and refusals, and a whole run on a small synthetic set
// that overfits — random labels, which a model can only memorise, so its
// validation loss rises — where training must stop `patience` epochs after
// the best one and the restored weights must give, through
// Model::evaluate, exactly the best validation loss recorded.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <vector>

#include "runtime/runtime_test_util.h"
#include "tern/runtime/model.h"
#include "tern/runtime/rng.h"
#include "training/early_stopping.h"
#include "training/weight_snapshot.h"

using namespace tern;
using tern::test::contains;
using tern::test::ModelInArena;
using tern::training::EarlyStopping;
using tern::training::WeightSnapshot;

namespace {

// observe() over a sequence; the epochs (from 1) on which it said
// "improved", and the epoch it said "stop" first (0: never).
struct Trace {
  std::vector<std::uint32_t> improved;
  std::uint32_t stop = 0;
};
Trace trace(EarlyStopping& rule, const std::vector<double>& losses) {
  Trace t;
  for (const double loss : losses) {
    const EarlyStopping::Decision d = rule.observe(loss);
    if (d.improved) t.improved.push_back(rule.epochs());
    if (d.stop && t.stop == 0) t.stop = rule.epochs();
  }
  return t;
}

std::vector<float> parameters_of(const Model& m) { return tern::test::parameters_of(m); }

}  // namespace

TEST_CASE("early stopping: improvements, the patience count and the stop") {
  EarlyStopping rule(3);
  // Best at epoch 2 (0.8); epochs 3, 4, 5 do not beat it (0.8 again is no
  // improvement): the third of them stops.
  const Trace t = trace(rule, {1.0, 0.8, 0.9, 0.8, 0.81});
  CHECK(t.improved == std::vector<std::uint32_t>{1, 2});
  CHECK(t.stop == 5);
  CHECK(rule.best_epoch() == 2);
  CHECK(rule.best_loss() == 0.8);
  CHECK(rule.epochs_without_improvement() == 3);
  CHECK(rule.stopped());
  // A stop is final: a later improvement is recorded, the stop stays.
  const EarlyStopping::Decision after = rule.observe(0.1);
  CHECK(after.improved);
  CHECK(after.stop);

  // An improvement resets the count.
  EarlyStopping reset(2);
  const Trace r = trace(reset, {1.0, 1.1, 0.9, 1.2, 0.95, 0.5});
  CHECK(r.improved == std::vector<std::uint32_t>{1, 3, 6});  // 6: after the stop
  CHECK(r.stop == 5);
}

TEST_CASE("early stopping: patience 0 never stops; losses that are not finite never improve") {
  EarlyStopping never(0);
  const Trace t = trace(never, {1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0});
  CHECK(t.improved == std::vector<std::uint32_t>{1});
  CHECK(t.stop == 0);
  CHECK(never.best_epoch() == 1);
  CHECK(never.epochs_without_improvement() == 7);

  const double inf = std::numeric_limits<double>::infinity();
  const double nan = std::numeric_limits<double>::quiet_NaN();
  EarlyStopping rule(2);
  CHECK(rule.best_epoch() == 0);
  CHECK(rule.best_loss() == inf);
  const Trace u = trace(rule, {nan, inf, 0.5, nan, -inf});
  CHECK(u.improved == std::vector<std::uint32_t>{3});
  CHECK(u.stop == 2);  // two epochs without any finite loss
  CHECK(rule.best_loss() == 0.5);
  CHECK(rule.best_epoch() == 3);
}

TEST_CASE("weight snapshot: the weights round-trip bit for bit; refusals keep the copy") {
  const ModelSpec spec = mlp({6, 10, 3}, 4, Mode::kTraining);
  tern::test::ReadyModel m(spec, 3);
  WeightSnapshot snapshot;
  CHECK(snapshot.empty());
  const Status none = snapshot.restore(m.model);
  CHECK(none.code() == StatusCode::kFailedPrecondition);
  CHECK(contains(none, "no copy"));
  const Model unbuilt;
  CHECK(snapshot.take(unbuilt).code() == StatusCode::kFailedPrecondition);
  CHECK(snapshot.empty());

  REQUIRE(snapshot.take(m.model).ok());
  const std::vector<float> saved = parameters_of(m.model);
  // Change every weight, then a NaN: the copy is refused and the first kept.
  for (std::uint32_t i = 0; i < m.model.tensor_count(); ++i) {
    for (float& v : m.model.tensor(i).value) v += 1.0f;
  }
  m.model.tensor(0).value[0] = std::numeric_limits<float>::quiet_NaN();
  CHECK(snapshot.take(m.model).code() == StatusCode::kNonFinite);
  REQUIRE(snapshot.restore(m.model).ok());
  CHECK(tern::test::bits_equal(parameters_of(m.model), saved));

  // Another architecture is refused and left as it was.
  tern::test::ReadyModel other(mlp({6, 11, 3}, 4, Mode::kTraining), 4);
  const std::vector<float> before = parameters_of(other.model);
  CHECK(snapshot.restore(other.model).code() == StatusCode::kShapeMismatch);
  CHECK(tern::test::bits_equal(parameters_of(other.model), before));
}

TEST_CASE("early stopping: a run that overfits stops after its best epoch and restores it") {
  // The label of a row is the largest of 4 fixed random projections of
  // its 8 inputs: a rule to learn. Half of the 32 training rows get a
  // random label instead, which the model can only memorise; the 256
  // validation rows keep the rule. The validation loss first falls (the
  // rule is learnt), then rises (the noise is memorised).
  constexpr std::size_t kWidth = 8, kClasses = 4, kTrain = 32, kValidation = 256, kBatch = 8;
  constexpr std::uint32_t kPatience = 3, kMaxEpochs = 200;
  Rng rng(17, 3);
  std::vector<float> projection(kWidth * kClasses);
  for (float& v : projection) v = rng.symmetric(1.0f);
  std::vector<float> x((kTrain + kValidation) * kWidth);
  std::vector<std::uint32_t> y(kTrain + kValidation);
  for (float& v : x) v = rng.symmetric(1.0f);
  for (std::size_t r = 0; r < y.size(); ++r) {
    std::uint32_t best_class = 0;
    double best_score = -1e30;
    for (std::uint32_t c = 0; c < kClasses; ++c) {
      double score = 0;
      for (std::size_t i = 0; i < kWidth; ++i) score += double(x[r * kWidth + i]) * projection[i * kClasses + c];
      if (score > best_score) {
        best_score = score;
        best_class = c;
      }
    }
    y[r] = r < kTrain && r % 2 == 1 ? rng.below(kClasses) : best_class;
  }

  tern::test::ReadyModel m(mlp({kWidth, 64, 64, kClasses}, kBatch, Mode::kTraining), 5);
  OptimizerParams params;
  params.learning_rate = 0.01f;
  REQUIRE(m.model.set_optimizer(params).ok());
  Batch validation;
  validation.x = x.data() + kTrain * kWidth;
  validation.ldx = kWidth;
  validation.rows = kValidation;
  validation.labels = y.data() + kTrain;

  EarlyStopping rule(kPatience);
  WeightSnapshot best;
  std::vector<double> losses;
  while (!rule.stopped() && rule.epochs() < kMaxEpochs) {
    for (std::size_t start = 0; start < kTrain; start += kBatch) {
      Batch b;
      b.x = x.data() + start * kWidth;
      b.ldx = kWidth;
      b.rows = kBatch;
      b.labels = y.data() + start;
      REQUIRE(m.model.train_step(b, nullptr).ok());
    }
    Evaluation e;
    REQUIRE(m.model.evaluate(validation, &e).ok());
    losses.push_back(e.mean_loss);
    if (rule.observe(e.mean_loss).improved) REQUIRE(best.take(m.model).ok());
  }
  CAPTURE(losses.size());
  REQUIRE(rule.stopped());
  CHECK(rule.epochs() == rule.best_epoch() + kPatience);
  // The loss fell before it rose: the best epoch is not the first, so the
  // copy taken then is not the initial training state.
  CHECK(rule.best_epoch() > 1);
  // The loss rose: the last epoch is worse than the best, and the best is
  // the smallest of all.
  CHECK(losses.back() > rule.best_loss());
  for (const double loss : losses) CHECK(loss >= rule.best_loss());
  CHECK(losses[rule.best_epoch() - 1] == rule.best_loss());

  const std::vector<float> last = parameters_of(m.model);
  REQUIRE(best.restore(m.model).ok());
  CHECK(!tern::test::bits_equal(parameters_of(m.model), last));
  Evaluation restored;
  REQUIRE(m.model.evaluate(validation, &restored).ok());
  CHECK(double(restored.mean_loss) == rule.best_loss());
}
