// SPDX-License-Identifier: Apache-2.0
// Gradient accumulation (spec.h: with_accumulation; model.h: accumulate,
// flush): micro-batches then flush() are one step on the whole batch, bit
// for bit where the mean is an exact scaling and within rounding where it
// is not; with example gradients, clipping, noise and global clipping;
// the refusals of an overflowing, empty or interrupted accumulation.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "rank1_test_util.h"

using namespace tern;
using namespace tern::test;

namespace {

// Two models with the same start: one steps on the whole batch, the other
// accumulates micro-batches of it.
struct Pair {
  PerturbedModel one, acc;
  Pair(const ModelSpec& a, const ModelSpec& b) : one(a, 12, 12), acc(b, 12, 12) {}
};

}  // namespace

TEST_CASE("accumulation: micro-batches then flush() are one step on the whole batch") {
  struct Case {
    const char* name;
    ModelSpec whole;  // rows = the total
    std::vector<std::size_t> parts;
  };
  const std::vector<Case> cases = {
      {"mlp 8+8+16", mlp({13, 21, 7, 5}, 32, Mode::kTraining, Pointwise::kGelu), {8, 8, 16}},
      {"mlp 1+15", mlp({13, 21, 7, 5}, 16, Mode::kTraining, Pointwise::kRelu, LossKind::kMse),
       {1, 15}},
      {"ffn 4+12", ffn(16, 8, 12, Mode::kTraining), {4, 12}},
  };
  for (const Case& c : cases) {
    for (OptimizerKind opt : {OptimizerKind::kSgd, OptimizerKind::kAdam, OptimizerKind::kAdamW}) {
      for (bool fused : {false, true}) {
        CAPTURE(c.name);
        CAPTURE(int(opt));
        CAPTURE(fused);
        const ModelSpec whole = c.whole.training(c.whole.loss, opt);
        const std::size_t biggest = *std::max_element(c.parts.begin(), c.parts.end());
        const ModelSpec acc_spec = whole.with_rows(std::uint32_t(biggest))
                                       .with_accumulation(whole.rows)
                                       .with_fused_update(fused);
        Pair p(whole, acc_spec);
        set_optimizer(p.one.model, opt);
        set_optimizer(p.acc.model, opt);
        const Data d = make_data(whole, 3 * whole.rows, 5);
        for (std::size_t round = 0; round < 3; ++round) {
          const std::size_t base = round * whole.rows;
          float whole_loss = 0;
          REQUIRE(p.one.model.train_step(batch_of(whole, d, base, whole.rows), &whole_loss).ok());
          std::size_t at = 0;
          double loss_sum = 0;
          for (std::size_t part : c.parts) {
            float loss = 0;
            const Status s = p.acc.model.accumulate(batch_of(whole, d, base + at, part), &loss);
            REQUIRE_MESSAGE(s.ok(), s.message());
            loss_sum += double(loss) * double(part);
            at += part;
            CHECK(p.acc.model.accumulated_rows() == at);
            CHECK(p.acc.model.steps() == round);
          }
          REQUIRE(p.acc.model.flush().ok());
          CHECK(p.acc.model.accumulated_rows() == 0);
          CHECK(std::fabs(loss_sum / double(whole.rows) - whole_loss) <= 1e-5 * (1 + whole_loss));
          CHECK(State(p.one.model) == State(p.acc.model));
        }
      }
    }
  }
}

TEST_CASE("accumulation: a non-power-of-two total is the whole step within rounding") {
  // 5 + 6 rows: the mean is no longer an exact scaling, so compare one SGD
  // step (learning rate 1, no momentum: the step is the gradient).
  for (bool fused : {false, true}) {
    CAPTURE(fused);
    const ModelSpec whole = mlp({13, 21, 7, 5}, 11, Mode::kTraining, Pointwise::kTanh,
                                LossKind::kSoftmaxCrossEntropy, OptimizerKind::kSgd);
    Pair p(whole, whole.with_rows(6).with_accumulation(11).with_fused_update(fused));
    OptimizerParams o;
    o.learning_rate = 1.0f;
    o.momentum = 0.0f;
    REQUIRE(p.one.model.set_optimizer(o).ok());
    REQUIRE(p.acc.model.set_optimizer(o).ok());
    const Data d = make_data(whole, 11, 6);
    const std::vector<float> before = tern::test::parameters_of(p.one.model);
    const ReferenceModel ref(p.one.model);
    const Grads g = gradient_of(ref, d, 0, 11);
    REQUIRE(p.one.model.train_step(batch_of(whole, d, 0, 11), nullptr).ok());
    REQUIRE(p.acc.model.accumulate(batch_of(whole, d, 0, 5), nullptr).ok());
    REQUIRE(p.acc.model.accumulate(batch_of(whole, d, 5, 6), nullptr).ok());
    REQUIRE(p.acc.model.flush().ok());
    const std::vector<float> a = tern::test::parameters_of(p.one.model);
    const std::vector<float> b = tern::test::parameters_of(p.acc.model);
    double largest = 0;
    for (const auto& t : g)
      for (double v : t) largest = std::max(largest, std::fabs(v) / 11.0);
    std::size_t at = 0;
    int bad = 0;
    for (const auto& t : g)
      for (std::size_t i = 0; i < t.size(); ++i, ++at) {
        const double want = double(before[at]) - t[i] / 11.0;
        const double tol = 1e-4 * std::fabs(t[i] / 11.0) + 1e-5 * largest +
                           std::ldexp(std::fabs(double(before[at])) + std::fabs(want), -22);
        bad += std::fabs(double(b[at]) - want) > tol;
        bad += std::fabs(double(a[at]) - want) > tol;
      }
    CHECK(bad == 0);
    CHECK_FALSE(bits_equal(a, before));
  }
}

TEST_CASE("accumulation: overflow, empty flush and a pending train_step are refused") {
  const ModelSpec whole = mlp({13, 21, 7, 5}, 32, Mode::kTraining);
  for (bool fused : {false, true}) {
    CAPTURE(fused);
    Pair p(whole, whole.with_rows(16).with_accumulation(32).with_fused_update(fused));
    const Data d = make_data(whole, 40, 7);
    Model& m = p.acc.model;

    // Nothing accumulated: flush() does nothing.
    const State start(m);
    REQUIRE(m.flush().ok());
    CHECK(State(m) == start);
    CHECK(m.steps() == 0);

    REQUIRE(m.accumulate(batch_of(whole, d, 0, 16), nullptr).ok());
    REQUIRE(m.accumulate(batch_of(whole, d, 16, 8), nullptr).ok());
    const Status over = m.accumulate(batch_of(whole, d, 24, 9), nullptr);
    CHECK(over.code() == StatusCode::kFailedPrecondition);
    CHECK(contains(over, "9 rows do not fit: 24 of 32 factor rows are in use; flush() first"));
    // More rows than a step takes can never be accumulated, however empty
    // the accumulator: an invalid argument, not a state to flush away.
    for (std::size_t rows : {std::size_t{17}, std::size_t{33}}) {
      const Status never = m.accumulate(batch_of(whole, d, 0, rows), nullptr);
      CHECK(never.code() == StatusCode::kInvalidArgument);
      const std::string text =
          std::to_string(rows) + " rows; the model was built for 1..16 rows per step";
      CHECK(contains(never, text.c_str()));
    }
    CHECK(m.accumulated_rows() == 24);
    CHECK(State(m) == start);
    const Status pending = m.train_step(batch_of(whole, d, 0, 16), nullptr);
    CHECK(pending.code() == StatusCode::kFailedPrecondition);
    CHECK(contains(pending, "24 accumulated rows are waiting; flush() them first"));
    CHECK(m.accumulated_rows() == 24);
    CHECK(m.compute_gradients(batch_of(whole, d, 0, 16), nullptr).code() ==
          StatusCode::kFailedPrecondition);
    CHECK(m.apply_gradients().code() == StatusCode::kFailedPrecondition);
    REQUIRE(m.accumulate(batch_of(whole, d, 24, 8), nullptr).ok());
    REQUIRE(m.flush().ok());
    // The refused calls left no trace: the step is the whole batch's.
    REQUIRE(p.one.model.train_step(batch_of(whole, d, 0, 32), nullptr).ok());
    CHECK(State(p.one.model) == State(m));
    // train_step() on an accumulating spec with nothing pending is one
    // accumulate + flush.
    REQUIRE(p.one.model.train_step(batch_of(whole, d, 8, 16), nullptr).ok());
    REQUIRE(m.train_step(batch_of(whole, d, 8, 16), nullptr).ok());
    CHECK(State(p.one.model) == State(m));
  }
  // Accumulation calls on a spec without it.
  ModelInArena plain(whole);
  REQUIRE(plain.status.ok());
  const Data d = make_data(whole, 4, 1);
  CHECK(plain.model.accumulate(batch_of(whole, d, 0, 4), nullptr).code() ==
        StatusCode::kFailedPrecondition);
  CHECK(plain.model.flush().code() == StatusCode::kFailedPrecondition);
}

TEST_CASE("accumulation with example gradients: clipped micro-batches are the clipped whole step") {
  const ModelSpec whole_specs[] = {
      mlp({13, 21, 7, 5}, 16, Mode::kTraining, Pointwise::kGelu).with_example_gradients(),
      ffn(16, 8, 12, Mode::kTraining).with_example_gradients(4),
  };
  for (const ModelSpec& whole : whole_specs) {
    for (bool fused : {false, true}) {
      for (int mode = 0; mode < 3; ++mode) {  // example clip; + noise; + global clip
        CAPTURE(whole.layer_count);
        CAPTURE(fused);
        CAPTURE(mode);
        Pair p(whole, whole.with_rows(8).with_accumulation(16).with_fused_update(fused));
        const Data d = make_data(whole, 32, 8);
        // A bound that clips about half of the examples.
        const ReferenceModel ref(p.one.model);
        std::vector<double> norms;
        for (const Grads& g : example_gradients(ref, d, 0, 16, whole.example_rows)) {
          norms.push_back(norm_of(g));
        }
        const float C = float(clip_between(norms));
        for (Model* m : {&p.one.model, &p.acc.model}) {
          set_optimizer(*m, OptimizerKind::kAdam);
          set_clip(*m, C, mode >= 1 ? 0.8f : 0.0f, 5, mode == 2 ? 0.1f * C : 0.0f);
        }
        for (std::size_t round = 0; round < 2; ++round) {
          REQUIRE(p.one.model.train_step(batch_of(whole, d, round * 16, 16), nullptr).ok());
          REQUIRE(p.acc.model.accumulate(batch_of(whole, d, round * 16, 8), nullptr).ok());
          // The norms of the micro-batch's examples (the whole step's second half).
          std::vector<float> first_half;
          {
            const MatrixView<const float> n = p.acc.model.example_norms();
            REQUIRE(n.rows == 8 / whole.example_rows);
            first_half.assign(n.data, n.data + n.rows * n.stride);
          }
          REQUIRE(p.acc.model.accumulate(batch_of(whole, d, round * 16 + 8, 8), nullptr).ok());
          const MatrixView<const float> whole_norms = p.one.model.example_norms();
          const MatrixView<const float> second_half = p.acc.model.example_norms();
          REQUIRE(whole_norms.rows == 16 / whole.example_rows);
          CHECK(std::memcmp(whole_norms.data, first_half.data(),
                            first_half.size() * sizeof(float)) == 0);
          CHECK(std::memcmp(whole_norms.row(second_half.rows), second_half.data,
                            second_half.rows * second_half.stride * sizeof(float)) == 0);
          REQUIRE(p.acc.model.flush().ok());
          CHECK(State(p.one.model) == State(p.acc.model));
          if (mode == 2) CHECK(p.one.model.gradient_norm() == p.acc.model.gradient_norm());
        }
      }
    }
  }
}

TEST_CASE("accumulation with global clipping and no example gradients") {
  // The global norm comes from the accumulated factors; it must match the
  // plain step's clipped gradient (within rounding: the norm is computed
  // another way).
  const ModelSpec whole = ffn(16, 8, 12, Mode::kTraining, Pointwise::kGelu, LossKind::kMse,
                              OptimizerKind::kSgd);
  for (bool fused : {false, true}) {
    CAPTURE(fused);
    Pair p(whole, whole.with_rows(8).with_accumulation(16).with_fused_update(fused));
    // The Gram blocks of the norm are planned without example gradients too.
    CHECK(plan_model(p.acc.model.spec())[ModelBuffer::kNormScratch].bytes >=
          2 * kGramBlock * kGramBlock * 4);
    OptimizerParams o;
    o.learning_rate = 1.0f;
    o.momentum = 0.0f;
    const Data d = make_data(whole, 16, 9);
    const ReferenceModel ref(p.one.model);
    Grads mean = gradient_of(ref, d, 0, 16);
    for (auto& t : mean)
      for (double& v : t) v /= 16.0;
    const double norm = norm_of(mean);
    for (Model* m : {&p.one.model, &p.acc.model}) {
      REQUIRE(m->set_optimizer(o).ok());
      set_clip(*m, 0, 0, 0, float(0.5 * norm));
    }
    const std::vector<float> before = tern::test::parameters_of(p.acc.model);
    REQUIRE(p.one.model.train_step(batch_of(whole, d, 0, 16), nullptr).ok());
    REQUIRE(p.acc.model.accumulate(batch_of(whole, d, 0, 8), nullptr).ok());
    REQUIRE(p.acc.model.accumulate(batch_of(whole, d, 8, 8), nullptr).ok());
    const Status s = p.acc.model.flush();
    REQUIRE_MESSAGE(s.ok(), s.message());
    CHECK(std::fabs(p.acc.model.gradient_norm() - norm) <= 1e-5 * norm);
    CHECK(std::fabs(p.one.model.gradient_norm() - norm) <= 1e-5 * norm);
    const std::vector<float> a = tern::test::parameters_of(p.one.model);
    const std::vector<float> b = tern::test::parameters_of(p.acc.model);
    std::size_t at = 0;
    int bad = 0;
    for (const auto& t : mean)
      for (std::size_t i = 0; i < t.size(); ++i, ++at) {
        const double want = double(before[at]) - 0.5 * t[i];
        const double tol = 1e-4 * std::fabs(0.5 * t[i]) + 1e-5 * norm +
                           std::ldexp(std::fabs(double(before[at])) + std::fabs(want), -22);
        bad += std::fabs(double(a[at]) - want) > tol;
        bad += std::fabs(double(b[at]) - want) > tol;
      }
    CHECK(bad == 0);
  }
}
