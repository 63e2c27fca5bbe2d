// SPDX-License-Identifier: Apache-2.0
// Divergence guard: a huge learning rate (or a NaN written into a weight)
// makes training diverge; train_step restores the last good parameters,
// moments and step count from the arena's snapshot — bit for bit the state
// of an unguarded model trained on the same batches up to that point — and
// stops or continues with a smaller learning rate, as configured. The
// snapshot is planned into the arena, so arena_bytes stays exact, and the
// guarded run allocates nothing.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "alloc_counter.h"
#include "runtime_test_util.h"
#include "tern/runtime/persist.h"

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
  // The rate set is kept; the guard's scale multiplies it.
  CHECK(g.model.optimizer().learning_rate == 1e30f);
  CHECK(g.model.divergence().learning_rate_scale == 1e-32f);
  const float lr = 1e30f * 1e-32f;
  CHECK(State(g.model) == State(ref.model));  // back at the last good state

  // Training goes on from there at the new rate, exactly as a model that
  // was never blown up and was simply given that rate — even when the
  // caller sets its learning rate again every step, as a schedule does
  // (the reduction used to be undone by that).
  set_lr(ref.model, lr);
  float first = 0, last = 0;
  for (int k = 0; k < 40; ++k, ++i) {
    float loss_g = 0, loss_r = 0;
    set_lr(g.model, 1e30f);
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

// ---------------------------------------------------------------------------
// The loss rule (DivergencePolicy): a loss that runs away while staying
// finite is a divergence too.
// ---------------------------------------------------------------------------
namespace {

// Linear regression (one Dense layer, MSE), SGD without momentum, the whole
// data set as every batch. The mean loss's Hessian is H = (1/n) sum_i
// [x_i 1][x_i 1]^T; a learning rate of 2.5 / lambda_max(H) multiplies the
// error along the top eigenvector by 1 - 2.5 = -1.5 each step, so the loss
// grows by ~2.25x per step: finite for about a hundred steps, by orders of
// magnitude above where it started long before it overflows.
const ModelSpec kLinear =
    ModelSpec::input(4, 16).dense(1).training(LossKind::kMse, OptimizerKind::kSgd);
const ModelSpec kLinearGuarded = kLinear.with_divergence_guard();

// lambda_max of H by power iteration in double (a reference independent of
// tern's arithmetic).
double largest_eigenvalue(const Data& d) {
  const std::size_t n = d.count, dim = 5;
  std::vector<double> h(dim * dim, 0.0);
  for (std::size_t i = 0; i < n; ++i) {
    double v[dim];
    for (std::size_t c = 0; c < 4; ++c) v[c] = d.x[i * 4 + c];
    v[4] = 1.0;
    for (std::size_t a = 0; a < dim; ++a)
      for (std::size_t b = 0; b < dim; ++b) h[a * dim + b] += v[a] * v[b] / double(n);
  }
  std::vector<double> q(dim, 1.0), next(dim);
  double lambda = 0.0;
  for (int it = 0; it < 500; ++it) {
    double norm = 0.0;
    for (std::size_t a = 0; a < dim; ++a) {
      next[a] = 0.0;
      for (std::size_t b = 0; b < dim; ++b) next[a] += h[a * dim + b] * q[b];
      norm += next[a] * next[a];
    }
    norm = std::sqrt(norm);
    for (std::size_t a = 0; a < dim; ++a) q[a] = next[a] / norm;
    lambda = norm;
  }
  return lambda;
}

void set_sgd(Model& m, float lr) {
  OptimizerParams p;
  p.learning_rate = lr;
  p.momentum = 0.0f;
  REQUIRE(m.set_optimizer(p).ok());
}

struct BlowUp {
  Data d = tern::test::synthetic_data(kLinear, 16, 21, 1);
  Batch all = tern::test::batch_of(kLinear, d, 0, 16);
  float lr = static_cast<float>(2.5 / largest_eigenvalue(d));
  // The unguarded run: states[j] after j steps, losses[j] the loss of
  // states[j] on the batch (reported by step j + 1).
  std::vector<State> states;
  std::vector<float> losses;
  static constexpr int kSteps = 60;
  BlowUp() {
    ReadyModel ref(kLinear, 7);
    set_sgd(ref.model, lr);
    states.emplace_back(ref.model);
    for (int s = 0; s < kSteps; ++s) {
      float loss = 0;
      REQUIRE(ref.model.train_step(all, &loss).ok());
      losses.push_back(loss);
      states.emplace_back(ref.model);
    }
  }
};

}  // namespace

TEST_CASE("divergence guard: a finite blow-up is caught; the restored state met the rule") {
  const BlowUp run;
  // The premise: the loss grows a millionfold and stays finite.
  REQUIRE(std::isfinite(run.losses.back()));
  REQUIRE(run.losses.back() > 1e6f * run.losses.front());

  // The guard as it was (NaN/Inf only, loss_factor 0) sees nothing at all.
  {
    ReadyModel old(kLinearGuarded, 7);
    DivergencePolicy nan_only;
    nan_only.loss_factor = 0.0f;
    REQUIRE(old.model.set_divergence_policy(nan_only).ok());
    set_sgd(old.model, run.lr);
    for (int s = 0; s < BlowUp::kSteps; ++s) REQUIRE(old.model.train_step(run.all, nullptr).ok());
    CHECK(old.model.divergence().recoveries == 0);
    CHECK(State(old.model) == run.states.back());
  }

  // The default rule, with kStop to see where it acts.
  ReadyModel g(kLinearGuarded, 7);
  DivergencePolicy stop;
  stop.action = DivergenceAction::kStop;
  REQUIRE(g.model.set_divergence_policy(stop).ok());
  set_sgd(g.model, run.lr);
  Status s;
  int calls = 0;
  {
    tern::test::HeapAllocationScope heap;
    while (s.ok() && calls < BlowUp::kSteps) {
      s = g.model.train_step(run.all, nullptr);
      ++calls;
    }
    CHECK(heap.count() == 0);
  }
  REQUIRE(s.code() == StatusCode::kNonFinite);
  const DivergenceReport& r = g.model.divergence();
  CHECK(r.stopped);
  CHECK(std::isfinite(r.last_loss));
  CHECK(r.last_loss < 1e4f * run.losses.front());  // caught early, not near overflow
  const std::uint32_t restored = g.model.steps();
  CAPTURE(restored);
  CAPTURE(r.last_step);
  REQUIRE(restored < r.last_step);
  // Bit for bit the unguarded run's state after `restored` steps...
  CHECK(State(g.model) == run.states[restored]);
  // ...whose loss met the rule against the reference restored with it,
  // unlike the loss that tripped it.
  const DivergencePolicy def;
  const float limit = def.loss_factor * std::max(r.reference_loss, def.loss_floor);
  CHECK(run.losses[restored] <= limit);
  CHECK(r.last_loss > run.losses[restored]);
  const std::string msg = s.message();
  const std::string head = "train_step: loss diverged at step " + std::to_string(r.last_step) +
                           " (smoothed ";
  const std::string tail =
      "; restored the state after step " + std::to_string(restored) + " and stopped";
  CHECK(msg.rfind(head, 0) == 0);
  CHECK(msg.size() > tail.size());
  CHECK(msg.compare(msg.size() - tail.size(), tail.size(), tail) == 0);
  CHECK(msg.find(" x reference ") != std::string::npos);
}

TEST_CASE("divergence guard: a finite blow-up recovers at a reduced rate that schedules keep") {
  const BlowUp run;
  ReadyModel g(kLinearGuarded, 7);  // the default policy: reduce by 0.5
  float loss = 0;
  {
    tern::test::HeapAllocationScope heap;
    for (int s = 0; s < 200; ++s) {
      // A schedule sets the learning rate every step; the guard's reduction
      // must survive it (it used to be undone).
      set_sgd(g.model, run.lr);
      const Status st = g.model.train_step(run.all, &loss);
      REQUIRE_MESSAGE(st.ok(), st.message());
    }
    CHECK(heap.count() == 0);
  }
  const DivergenceReport& r = g.model.divergence();
  CHECK(r.recoveries >= 1);
  CHECK(r.recoveries <= 2);
  CHECK_FALSE(r.stopped);
  CHECK(r.learning_rate_scale == std::ldexp(1.0f, -static_cast<int>(r.recoveries)));
  CHECK(g.model.optimizer().learning_rate == run.lr);
  // At lr / 2 the iteration contracts: the loss ends below where it began.
  CHECK(std::isfinite(loss));
  CHECK(loss < run.losses.front());
  CHECK(r.reference_loss <= loss * 1.0001f + 1e-6f);
}

TEST_CASE("divergence guard: after a stop train_step refuses until initialize, a load or a clear") {
  const Data d = make_data();
  ReadyModel g(kGuarded, 5);
  DivergencePolicy stop;
  stop.action = DivergenceAction::kStop;
  REQUIRE(g.model.set_divergence_policy(stop).ok());
  int i = 0;
  auto stop_with_nan = [&] {
    REQUIRE(g.model.train_step(batch(d, i++), nullptr).ok());  // a good state to restore
    g.model.tensor(0).value[0] = std::nanf("");
    REQUIRE(g.model.train_step(batch(d, i++), nullptr).code() == StatusCode::kNonFinite);
    REQUIRE(g.model.divergence().stopped);
  };
  stop_with_nan();
  const State at_stop(g.model);
  const std::uint32_t diverged = g.model.divergence().last_step;
  for (int k = 0; k < 2; ++k) {
    const Status s = g.model.train_step(batch(d, i), nullptr);
    CHECK(s.code() == StatusCode::kFailedPrecondition);
    CHECK(std::string(s.message()) ==
          "train_step: training stopped when step " + std::to_string(diverged) +
              " diverged; initialize(), load a state or clear_divergence_stop() to train again");
    CHECK(State(g.model) == at_stop);
  }
  // Cleared explicitly: trains on from the restored state.
  g.model.clear_divergence_stop();
  REQUIRE(g.model.train_step(batch(d, i++), nullptr).ok());
  CHECK(g.model.steps() == at_stop.steps + 1);
  // A loaded training state (load_model with optimizer state and
  // load_checkpoint set the step count) starts afresh.
  stop_with_nan();
  g.model.set_steps(g.model.steps());
  CHECK_FALSE(g.model.divergence().stopped);
  REQUIRE(g.model.train_step(batch(d, i++), nullptr).ok());
  // initialize() too, and it resets the report.
  stop_with_nan();
  g.model.initialize(5);
  CHECK_FALSE(g.model.divergence().stopped);
  CHECK(g.model.divergence().recoveries == 0);
  REQUIRE(g.model.train_step(batch(d, i++), nullptr).ok());
  // max_recoveries used up is a stop like kStop.
  DivergencePolicy one;
  one.max_recoveries = 0;
  REQUIRE(g.model.set_divergence_policy(one).ok());
  stop_with_nan();
  CHECK(g.model.train_step(batch(d, i), nullptr).code() == StatusCode::kFailedPrecondition);
}

TEST_CASE("divergence guard: the default policy is the rule; bad rules are refused") {
  const DivergencePolicy def;
  CHECK(def.action == DivergenceAction::kReduceLearningRate);
  CHECK(def.loss_factor == 4.0f);
  CHECK(def.loss_smoothing == 8);
  CHECK(def.reference_window == 1000);
  CHECK(def.loss_floor == 0.01f);
  ReadyModel g(kGuarded, 1);
  auto refused = [&](const DivergencePolicy& p, const char* message) {
    const Status s = g.model.set_divergence_policy(p);
    CHECK(s.code() == StatusCode::kInvalidArgument);
    CHECK(std::string(s.message()) == message);
  };
  DivergencePolicy p;
  p.loss_factor = 1.0f;
  refused(p, "set_divergence_policy: loss factor 1 must be 0 (judge only NaN/Inf) or finite and > 1");
  p.loss_factor = INFINITY;
  refused(p,
          "set_divergence_policy: loss factor inf must be 0 (judge only NaN/Inf) or finite and > 1");
  p = DivergencePolicy();
  p.loss_smoothing = 0;
  refused(p, "set_divergence_policy: loss smoothing 0 and reference window 1000 must be >= 1 step");
  p = DivergencePolicy();
  p.reference_window = 0;
  refused(p, "set_divergence_policy: loss smoothing 8 and reference window 0 must be >= 1 step");
  p = DivergencePolicy();
  p.loss_floor = -1.0f;
  refused(p, "set_divergence_policy: loss floor -1 must be finite and >= 0");
  p.loss_floor = std::nanf("");
  refused(p, "set_divergence_policy: loss floor nan must be finite and >= 0");
  // The report follows the rule's figures: S and R start at the first loss.
  const Data d = make_data();
  float loss = 0;
  REQUIRE(g.model.train_step(batch(d, 0), &loss).ok());
  CHECK(g.model.divergence().smoothed_loss == loss);
  CHECK(g.model.divergence().reference_loss == loss);
}

TEST_CASE("divergence guard: the default rule stays quiet on ordinary, noisy training") {
  // One row per step (the on-device case: every loss is one sample's, from
  // near 0 to several nats) on labels the model can only partly learn, for
  // 3000 steps: not a single false alarm, and the same bits as unguarded.
  const ModelSpec one_row = mlp({4, 8, 3}, 1, Mode::kTraining, Pointwise::kRelu,
                                LossKind::kSoftmaxCrossEntropy, OptimizerKind::kAdam);
  const Data d = tern::test::synthetic_data(one_row, 64, 5, 9);
  for (float lr : {1e-3f, 1e-2f, 5e-2f}) {
    CAPTURE(lr);
    ReadyModel ref(one_row, 2), g(one_row.with_divergence_guard(), 2);
    set_lr(ref.model, lr);
    set_lr(g.model, lr);
    float low = INFINITY, high = 0;
    for (int s = 0; s < 3000; ++s) {
      const Batch b = tern::test::batch_of(one_row, d, std::size_t(s % 64), 1);
      float loss = 0;
      REQUIRE(ref.model.train_step(b, nullptr).ok());
      REQUIRE(g.model.train_step(b, &loss).ok());
      low = std::min(low, loss);
      high = std::max(high, loss);
    }
    CAPTURE(low);
    CAPTURE(high);
    CHECK(high > 10 * low);  // the per-step losses really are noisy
    CHECK(g.model.divergence().recoveries == 0);
    CHECK(State(g.model) == State(ref.model));
  }
}

// Parameters replaced from outside training start a new guard history: the
// snapshot holds the old parameters and the rule's figures the old loss, so
// without it the new model's first (much higher) loss would count as a
// divergence and the guard would silently restore the weights just replaced.
TEST_CASE("divergence guard: weights loaded or edited from outside are not undone") {
  const Data d = make_data();
  DivergencePolicy judge_each_step;  // one batch's loss alone trips the rule
  judge_each_step.loss_smoothing = 1;
  GuardedPair pair(5, judge_each_step);
  auto& [ref, g] = pair;
  int i = 0;
  float settled_loss = 0;
  for (; i < 40; ++i) {
    REQUIRE(ref.model.train_step(batch(d, i), nullptr).ok());
    REQUIRE(g.model.train_step(batch(d, i), &settled_loss).ok());
  }
  REQUIRE(State(g.model) == State(ref.model));
  REQUIRE(g.model.divergence().recoveries == 0);

  // The trained parameters times 40: confident, mostly wrong logits, a loss
  // far above loss_factor x the settled one.
  std::vector<float> replaced;
  for (std::uint32_t t = 0; t < ref.model.tensor_count(); ++t) {
    for (const float v : ref.model.tensor(t).value) replaced.push_back(40.0f * v);
  }
  std::uint32_t arch[2 + 5 * kMaxLayers];
  const std::size_t words = architecture_words(kPlain, arch, 2 + 5 * kMaxLayers);

  SUBCASE("load_parameters") {
    for (Model* m : {&ref.model, &g.model}) {
      REQUIRE(load_parameters(*m, arch, words, replaced.data(), replaced.size()).ok());
    }
  }
  SUBCASE("load_model without optimizer state") {
    ReadyModel source(kPlain, 5);
    REQUIRE(load_parameters(source.model, arch, words, replaced.data(), replaced.size()).ok());
    std::vector<unsigned char> file(model_file_bytes(kPlain, false));
    MemorySink sink(file.data(), file.size());
    REQUIRE(save_model(source.model, sink.sink()).ok());
    for (Model* m : {&ref.model, &g.model}) {
      REQUIRE(load_model(*m, memory_source(file.data(), sink.size())).ok());
    }
  }
  SUBCASE("rank1_edit") {
    // W += 39 * sum_j e_j^T w_j, the edit that turns layer 0's W into 40 W
    // (b a copy of W: the factors must not alias the weights).
    const std::uint32_t in = kPlain.layers[0].in, out = kPlain.layers[0].out;
    std::vector<float> eye(std::size_t{in} * in, 0.0f);
    for (std::uint32_t j = 0; j < in; ++j) eye[std::size_t{j} * in + j] = 1.0f;
    for (Model* m : {&ref.model, &g.model}) {
      const Span<float> w = m->tensor(0).value;
      const std::vector<float> w_copy(w.begin(), w.end());
      REQUIRE(m->rank1_edit(0, in, eye.data(), in, w_copy.data(), out, 39.0f).ok());
    }
  }
  float ref_loss = 0, loss = 0;
  REQUIRE(ref.model.train_step(batch(d, i), &ref_loss).ok());
  REQUIRE(g.model.train_step(batch(d, i), &loss).ok());
  CHECK(loss > judge_each_step.loss_factor * settled_loss);  // the old rule would have fired
  CHECK(g.model.divergence().recoveries == 0);
  CHECK(State(g.model) == State(ref.model));
}
