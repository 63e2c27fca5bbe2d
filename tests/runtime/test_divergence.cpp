// Divergence guard: a huge learning rate (or a NaN written into a weight)
// makes training diverge; train_step restores the last good parameters,
// moments and step count from the arena's snapshot — bit for bit the state
// of an unguarded model trained on the same batches up to that point — and
// stops or continues with a smaller learning rate, as configured. The
// snapshot is planned into the arena, so arena_bytes stays exact, and the
// guarded run allocates nothing.
#include <doctest/doctest.h>

#include <cmath>
#include <string>
#include <vector>

#include "alloc_counter.h"
#include "runtime_test_util.h"

using namespace tern;
using tern::test::ModelInArena;
using tern::test::ReadyModel;
using State = tern::test::TrainingState;
using Data = tern::test::SyntheticData;

namespace {

const ModelSpec kPlain = mlp({4, 8, 3}, 4, Mode::kTraining, Pointwise::kRelu,
                             LossKind::kSoftmaxCrossEntropy, OptimizerKind::kAdam);
const ModelSpec kGuarded = kPlain.with_divergence_guard();

// 64 samples of kPlain's shape: 16 batches of its 4 rows.
Data make_data() { return tern::test::synthetic_data(kPlain, 64, 8, 2); }

// Batch i, cycling through the 16.
Batch batch(const Data& d, int i) {
  return tern::test::batch_of(kPlain, d, std::size_t(i % 16) * 4, 4);
}

// An unguarded and a guarded model from the same start, the guarded one
// under `policy`: up to a divergence the two must agree bit for bit.
struct GuardedPair {
  ReadyModel ref, g;
  GuardedPair(std::uint64_t seed, const DivergencePolicy& policy)
      : ref(kPlain, seed), g(kGuarded, seed) {
    REQUIRE(g.model.set_divergence_policy(policy).ok());
  }
};

void set_lr(Model& m, float lr) {
  OptimizerParams p = m.optimizer();
  p.learning_rate = lr;
  REQUIRE(m.set_optimizer(p).ok());
}

}  // namespace

TEST_CASE("divergence guard: the snapshot is planned into the arena, exactly") {
  const ModelPlan plan = plan_model(kGuarded);
  const std::size_t state =
      static_cast<std::size_t>(plan[ModelBuffer::kParameters].bytes +
                               plan[ModelBuffer::kMoment1].bytes + plan[ModelBuffer::kMoment2].bytes);
  CHECK(plan[ModelBuffer::kSnapshot].bytes == state);
  CHECK(arena_bytes(kGuarded) == arena_bytes(kPlain) + state);
  CHECK(plan[ModelBuffer::kSnapshot].end() == plan.total);
  ModelInArena g(kGuarded);
  REQUIRE(g.status.ok());
  CHECK(g.arena.high_water() == arena_bytes(kGuarded));
  // Inference specs have nothing to guard.
  CHECK(arena_bytes(kGuarded.inference()) == arena_bytes(kPlain.inference()));

  ModelInArena plain(kPlain);
  REQUIRE(plain.status.ok());
  const Status s = plain.model.set_divergence_policy(DivergencePolicy());
  CHECK(s.code() == StatusCode::kFailedPrecondition);
  CHECK(std::string(s.message()) ==
        "set_divergence_policy: the spec has no divergence guard (build it with "
        ".with_divergence_guard() so the arena holds a snapshot)");
  DivergencePolicy bad;
  bad.learning_rate_factor = 1.0f;
  const Status f = g.model.set_divergence_policy(bad);
  CHECK(f.code() == StatusCode::kInvalidArgument);
  CHECK(std::string(f.message()) ==
        "set_divergence_policy: learning rate factor 1 must be in (0, 1)");
}

TEST_CASE("divergence guard: a huge learning rate is caught, the last good state restored, stop") {
  const Data d = make_data();
  DivergencePolicy stop;
  stop.action = DivergenceAction::kStop;
  GuardedPair pair(3, stop);
  auto& [ref, g] = pair;
  const int good = 5;
  for (int i = 0; i < good; ++i) {
    REQUIRE(ref.model.train_step(batch(d, i), nullptr).ok());
    REQUIRE(g.model.train_step(batch(d, i), nullptr).ok());
  }
  // The guard costs nothing in results: same bits as the unguarded model.
  REQUIRE(State(g.model) == State(ref.model));
  const State last_good(ref.model);

  set_lr(g.model, 1e30f);
  Status s;
  int calls = 0;
  {
    tern::test::HeapAllocationScope counter;
    for (int i = good; i < good + 4 && s.ok(); ++i, ++calls) {
      float loss = 0;
      s = g.model.train_step(batch(d, i), &loss);
    }
    CHECK(counter.count() == 0);
  }
  REQUIRE(s.code() == StatusCode::kNonFinite);
  const DivergenceReport& r = g.model.divergence();
  CHECK(r.stopped);
  CHECK(r.recoveries == 0);
  CHECK_FALSE(std::isfinite(r.last_loss));
  CHECK(r.last_step == std::uint32_t(good + calls));
  const Status expect = Status::error(
      StatusCode::kNonFinite,
      "train_step: training diverged at step %u (mean loss %g); restored the state after step %u "
      "and stopped",
      static_cast<unsigned>(r.last_step), static_cast<double>(r.last_loss),
      static_cast<unsigned>(good));
  CHECK(std::string(s.message()) == expect.message());
  // Every parameter, moment and the step count are those of the last step
  // whose loss was finite before the huge update — not the blown-up ones.
  CHECK(State(g.model) == last_good);
}

TEST_CASE("divergence guard: recover with a reduced learning rate and keep training") {
  const Data d = make_data();
  DivergencePolicy reduce;
  reduce.action = DivergenceAction::kReduceLearningRate;
  reduce.learning_rate_factor = 1e-32f;  // 1e30 -> about 0.01
  GuardedPair pair(4, reduce);
  auto& [ref, g] = pair;
  int i = 0;
  for (; i < 4; ++i) {
    REQUIRE(ref.model.train_step(batch(d, i), nullptr).ok());
    REQUIRE(g.model.train_step(batch(d, i), nullptr).ok());
  }
  set_lr(g.model, 1e30f);
  while (g.model.divergence().recoveries == 0) {
    REQUIRE(i < 10);
    const Status s = g.model.train_step(batch(d, i++), nullptr);
    REQUIRE_MESSAGE(s.ok(), s.message());
  }
  CHECK_FALSE(g.model.divergence().stopped);
  const float lr = g.model.optimizer().learning_rate;
  CHECK(lr == 1e30f * 1e-32f);
  CHECK(State(g.model) == State(ref.model));  // back at the last good state

  // Training goes on from there at the new rate, exactly as a model that
  // was never blown up and was simply given that rate.
  set_lr(ref.model, lr);
  float first = 0, last = 0;
  for (int k = 0; k < 40; ++k, ++i) {
    float loss_g = 0, loss_r = 0;
    REQUIRE(g.model.train_step(batch(d, i), &loss_g).ok());
    REQUIRE(ref.model.train_step(batch(d, i), &loss_r).ok());
    REQUIRE(loss_g == loss_r);
    if (k < 8) first += loss_g;
    if (k >= 32) last += loss_g;
  }
  CHECK(State(g.model) == State(ref.model));
  CHECK(last < first);
  CHECK(g.model.divergence().recoveries == 1);
}

TEST_CASE("divergence guard: a NaN written into a weight is undone; max_recoveries stops") {
  const Data d = make_data();
  ReadyModel g(kGuarded, 5);
  DivergencePolicy p;
  p.max_recoveries = 2;
  REQUIRE(g.model.set_divergence_policy(p).ok());
  // No good state saved yet: a broken model is refused, not "restored".
  g.model.tensor(0).value[0] = std::nanf("");
  Status s = g.model.train_step(batch(d, 0), nullptr);
  CHECK(s.code() == StatusCode::kNonFinite);
  CHECK(std::string(s.message()) ==
        "train_step: step 1 diverged (mean loss nan) before any good state was saved");
  g.model.initialize(5);
  for (int i = 0; i < 3; ++i) REQUIRE(g.model.train_step(batch(d, i), nullptr).ok());
  // The snapshot holds the state before step 3's update; restoring it
  // undoes step 3 as well (its result was never verified by a forward pass).
  for (int k = 1; k <= 3; ++k) {
    CAPTURE(k);
    g.model.tensor(2).value[1] = std::nanf("");  // a flipped bit in RAM, say
    s = g.model.train_step(batch(d, 3), nullptr);
    CHECK(g.model.steps() == 2);
    if (k <= 2) {
      REQUIRE(s.ok());
      CHECK(g.model.divergence().recoveries == std::uint32_t(k));
    } else {
      CHECK(s.code() == StatusCode::kNonFinite);
      CHECK(g.model.divergence().stopped);
    }
    for (std::uint32_t t = 0; t < g.model.tensor_count(); ++t) {
      for (float v : g.model.tensor(t).value) REQUIRE(std::isfinite(v));
    }
  }
}
