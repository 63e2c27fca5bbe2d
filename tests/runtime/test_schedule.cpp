// SPDX-License-Identifier: Apache-2.0
// Learning-rate schedules: cos_pi against std::cos in double and pinned
// bits; every kind's factor against the formula in double and pinned bits;
// the checks; a model on a schedule trains exactly like one whose learning
// rate is set by hand every step; a state loaded with its step count goes on
// with the schedule; the moments are never reset.
#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <vector>

#include "runtime_test_util.h"
#include "tern/runtime/persist.h"
#include "tern/runtime/schedule.h"
#include "test_util.h"

using namespace tern;
using tern::test::contains;
using tern::test::ReadyModel;
using tern::test::TrainingState;

namespace {

constexpr double kPiDouble = 3.14159265358979323846;

std::uint32_t bits(float f) {
  std::uint32_t b;
  std::memcpy(&b, &f, sizeof b);
  return b;
}

LearningRateSchedule cosine(std::uint64_t warmup, std::uint64_t total, float floor) {
  LearningRateSchedule s;
  s.kind = ScheduleKind::kCosine;
  s.warmup_steps = warmup;
  s.total_steps = total;
  s.min_factor = floor;
  return s;
}

LearningRateSchedule step_decay(std::uint64_t every, float factor, float floor) {
  LearningRateSchedule s;
  s.kind = ScheduleKind::kStepDecay;
  s.decay_steps = every;
  s.decay_factor = factor;
  s.min_factor = floor;
  return s;
}

// The factor from the definition, in double with the C library's cosine.
double reference_factor(const LearningRateSchedule& s, std::uint64_t step) {
  if (step < s.warmup_steps) return double(step + 1) / double(s.warmup_steps);
  const std::uint64_t t = step - s.warmup_steps;
  switch (s.kind) {
    case ScheduleKind::kConstant: return 1.0;
    case ScheduleKind::kStepDecay:
      return std::fmax(s.min_factor, std::pow(double(s.decay_factor), double(t / s.decay_steps)));
    case ScheduleKind::kCosine: {
      if (step >= s.total_steps) return s.min_factor;
      const double p = double(t) / double(s.total_steps - s.warmup_steps);
      return s.min_factor + (1.0 - s.min_factor) * 0.5 * (1.0 + std::cos(kPiDouble * p));
    }
  }
  return -1.0;
}

constexpr ModelSpec kSpec = mlp({4, 8, 3}, 4, Mode::kTraining);

}  // namespace

TEST_CASE("schedule: cos_pi is within 2e-7 of cos(pi x), with pinned bits") {
  double worst = 0;
  for (int i = 0; i <= 1 << 16; ++i) {
    const float x = float(i) / float(1 << 16);
    worst = std::fmax(worst, std::fabs(double(cos_pi(x)) - std::cos(kPiDouble * double(x))));
  }
  CHECK(worst < 2e-7);
  // The same bits on every platform (tern's polynomial, not the libm's).
  CHECK(bits(cos_pi(0.0f)) == 0x3f800000u);   // 1
  CHECK(bits(cos_pi(0.1f)) == 0x3f737871u);   // 0.95105654
  CHECK(bits(cos_pi(0.25f)) == 0x3f3504f2u);  // 0.70710671
  CHECK(bits(cos_pi(1.0f / 3.0f)) == 0x3effffffu);
  CHECK(bits(cos_pi(0.5f)) == 0x00000000u);   // +0
  CHECK(bits(cos_pi(0.6f)) == 0xbe9e377du);
  CHECK(bits(cos_pi(0.9f)) == 0xbf737870u);
  CHECK(bits(cos_pi(1.0f)) == 0xbf800000u);   // -1
  // Clamped outside [0, 1].
  CHECK(cos_pi(-3.0f) == 1.0f);
  CHECK(cos_pi(2.0f) == -1.0f);
  CHECK(cos_pi(NAN) == 1.0f);
}

TEST_CASE("schedule: every kind's factor follows its formula, with pinned bits") {
  const LearningRateSchedule schedules[] = {
      LearningRateSchedule(), cosine(10, 110, 0.1f), cosine(0, 1000, 0.0f),
      step_decay(100, 0.5f, 0.01f), step_decay(7, 0.9f, 0.0f)};
  for (const LearningRateSchedule& s : schedules) {
    REQUIRE(check_schedule(s).ok());
    for (std::uint64_t step = 0; step < 1200; ++step) {
      CAPTURE(step);
      const double f = double(schedule_factor(s, step));
      CHECK(std::fabs(f - reference_factor(s, step)) <= 4e-7);
      CHECK((f >= 0.0 && f <= 1.0));
    }
  }
  const LearningRateSchedule c = cosine(10, 110, 0.1f);
  CHECK(bits(schedule_factor(c, 0)) == 0x3dcccccdu);    // warm-up: 1/10
  CHECK(bits(schedule_factor(c, 4)) == 0x3f000000u);    // 5/10
  CHECK(bits(schedule_factor(c, 9)) == 0x3f800000u);    // 1
  CHECK(bits(schedule_factor(c, 10)) == 0x3f800000u);   // the cosine's start
  CHECK(bits(schedule_factor(c, 35)) == 0x3f5e423au);   // 0.86819804
  CHECK(bits(schedule_factor(c, 60)) == 0x3f0ccccdu);   // halfway: 0.55
  CHECK(bits(schedule_factor(c, 85)) == 0x3e6d5d80u);   // 0.23180199
  CHECK(bits(schedule_factor(c, 109)) == 0x3dcd4139u);  // 0.10022206
  CHECK(bits(schedule_factor(c, 110)) == 0x3dcccccdu);  // the floor from total_steps on
  CHECK(schedule_factor(c, UINT64_MAX) == 0.1f);
  const LearningRateSchedule d = step_decay(100, 0.5f, 0.01f);
  CHECK(schedule_factor(d, 99) == 1.0f);
  CHECK(schedule_factor(d, 100) == 0.5f);
  CHECK(schedule_factor(d, 600) == 0.015625f);
  CHECK(bits(schedule_factor(d, 1000)) == 0x3c23d70au);  // the floor 0.01
  CHECK(schedule_factor(d, UINT64_MAX) == 0.01f);         // 2^57 drops, by squaring
  CHECK(schedule_factor(step_decay(1, 1.0f, 0.0f), UINT64_MAX) == 1.0f);
  // Warm-up before a constant rate.
  LearningRateSchedule w;
  w.warmup_steps = 4;
  CHECK(schedule_factor(w, 0) == 0.25f);
  CHECK(schedule_factor(w, 3) == 1.0f);
  CHECK(schedule_factor(w, 1000) == 1.0f);
}

TEST_CASE("schedule: invalid schedules are refused, naming the field, and change nothing") {
  ReadyModel m(kSpec, 1);
  const LearningRateSchedule kept = cosine(2, 20, 0.25f);
  REQUIRE(m.model.set_schedule(kept).ok());
  auto refused = [&](const LearningRateSchedule& s, const char* text) {
    const Status st = m.model.set_schedule(s);
    CHECK(st.code() == StatusCode::kInvalidArgument);
    CHECK_MESSAGE(contains(st, text), st.message());
    CHECK(m.model.schedule().total_steps == 20);
    CHECK(m.model.schedule().min_factor == 0.25f);
  };
  refused(cosine(21, 20, 0.0f), "set_schedule: warmup_steps 21 exceed total_steps 20");
  refused(cosine(0, 0, 0.0f), "set_schedule: a cosine schedule needs total_steps >= 1");
  refused(cosine(0, 10, 1.5f), "set_schedule: min_factor 1.5 must be in [0, 1]");
  refused(cosine(0, 10, -0.1f), "min_factor -0.1 must be in [0, 1]");
  refused(cosine(0, 10, NAN), "min_factor nan must be in [0, 1]");
  refused(step_decay(0, 0.5f, 0.0f), "step decay needs decay_steps >= 1");
  refused(step_decay(10, 0.0f, 0.0f), "step decay factor 0 must be in (0, 1]");
  refused(step_decay(10, 1.5f, 0.0f), "step decay factor 1.5 must be in (0, 1]");
  refused(step_decay(10, NAN, 0.0f), "step decay factor nan");
  LearningRateSchedule unknown;
  unknown.kind = static_cast<ScheduleKind>(7);
  refused(unknown, "set_schedule: unknown schedule kind 7");
  // Accepted in any state, kept by build() and initialize().
  Model unbuilt;
  CHECK(unbuilt.set_schedule(kept).ok());
  m.model.initialize(2);
  CHECK(m.model.schedule().warmup_steps == 2);
}

TEST_CASE("schedule: a model on a schedule trains like one whose rate is set every step") {
  for (OptimizerKind opt : {OptimizerKind::kSgd, OptimizerKind::kAdam, OptimizerKind::kAdamW}) {
    CAPTURE(int(opt));
    ModelSpec spec = kSpec;
    spec.optimizer = opt;
    const tern::test::SyntheticData d = tern::test::synthetic_data(spec, 4 * 30, 5, 1);
    for (const LearningRateSchedule& s : {cosine(5, 25, 0.05f), step_decay(6, 0.5f, 0.1f)}) {
      ReadyModel scheduled(spec, 3), by_hand(spec, 3);
      OptimizerParams p;
      p.learning_rate = 0.02f;
      REQUIRE(scheduled.model.set_optimizer(p).ok());
      REQUIRE(scheduled.model.set_schedule(s).ok());
      for (std::uint64_t step = 0; step < 30; ++step) {
        CAPTURE(step);
        const float rate = p.learning_rate * schedule_factor(s, step);
        CHECK(scheduled.model.learning_rate() == rate);
        OptimizerParams q = p;
        q.learning_rate = rate;
        REQUIRE(by_hand.model.set_optimizer(q).ok());
        const Batch b = tern::test::batch_of(spec, d, 4 * step, 4);
        REQUIRE(scheduled.model.train_step(b, nullptr).ok());
        REQUIRE(by_hand.model.train_step(b, nullptr).ok());
      }
      CHECK(TrainingState(scheduled.model) == TrainingState(by_hand.model));
    }
  }
}

TEST_CASE("schedule: a state loaded with its step count continues the schedule") {
  const ModelSpec spec = kSpec;
  const tern::test::SyntheticData d = tern::test::synthetic_data(spec, 4 * 20, 6, 1);
  const LearningRateSchedule s = cosine(3, 20, 0.1f);
  ReadyModel whole(spec, 4), first(spec, 4), resumed(spec, 9);
  for (Model* m : {&whole.model, &first.model, &resumed.model}) REQUIRE(m->set_schedule(s).ok());
  for (std::uint64_t step = 0; step < 20; ++step) {
    REQUIRE(whole.model.train_step(tern::test::batch_of(spec, d, 4 * step, 4), nullptr).ok());
  }
  for (std::uint64_t step = 0; step < 8; ++step) {
    REQUIRE(first.model.train_step(tern::test::batch_of(spec, d, 4 * step, 4), nullptr).ok());
  }
  std::vector<unsigned char> file(model_file_bytes(spec, true));
  MemorySink sink(file.data(), file.size());
  REQUIRE(save_model(first.model, sink.sink(), true).ok());
  REQUIRE(load_model(resumed.model, memory_source(file.data(), sink.size()), true).ok());
  CHECK(resumed.model.steps() == 8);
  CHECK(resumed.model.learning_rate() == first.model.learning_rate());
  for (std::uint64_t step = 8; step < 20; ++step) {
    REQUIRE(resumed.model.train_step(tern::test::batch_of(spec, d, 4 * step, 4), nullptr).ok());
  }
  CHECK(TrainingState(resumed.model) == TrainingState(whole.model));
}

TEST_CASE("schedule: changing it keeps the moments and the step count") {
  ReadyModel m(kSpec, 7);
  const tern::test::SyntheticData d = tern::test::synthetic_data(kSpec, 8, 6, 1);
  REQUIRE(m.model.train_step(tern::test::batch_of(kSpec, d, 0, 4), nullptr).ok());
  const TrainingState before(m.model);
  REQUIRE(m.model.set_schedule(cosine(0, 10, 0.0f)).ok());
  CHECK(TrainingState(m.model) == before);
  CHECK(m.model.learning_rate() == m.model.optimizer().learning_rate * schedule_factor(
                                       m.model.schedule(), 1));
  // A floor of 0 past total_steps: the rate is 0 and the weights stay,
  // while the step still counts.
  REQUIRE(m.model.set_schedule(cosine(0, 1, 0.0f)).ok());
  CHECK(m.model.learning_rate() == 0.0f);
  const std::vector<float> weights = tern::test::parameters_of(m.model);
  REQUIRE(m.model.train_step(tern::test::batch_of(kSpec, d, 4, 4), nullptr).ok());
  CHECK(tern::test::bits_equal(tern::test::parameters_of(m.model), weights));
  CHECK(m.model.steps() == 2);
}

TEST_CASE("schedule: train_step<kFeatures> links it only with kStepSchedule") {
  constexpr ModelSpec spec = kSpec;
  const tern::test::SyntheticData d = tern::test::synthetic_data(spec, 4 * 6, 8, 1);
  ReadyModel with(spec, 2), plain(spec, 2);
  // The default (constant) schedule needs no part.
  REQUIRE(with.model.train_step<step_features(spec)>(tern::test::batch_of(spec, d, 0, 4), nullptr)
              .ok());
  REQUIRE(plain.model.train_step(tern::test::batch_of(spec, d, 0, 4), nullptr).ok());
  for (Model* m : {&with.model, &plain.model}) REQUIRE(m->set_schedule(cosine(2, 6, 0.1f)).ok());
  const TrainingState before(with.model);
  const Status s =
      with.model.train_step<step_features(spec)>(tern::test::batch_of(spec, d, 4, 4), nullptr);
  CHECK(s.code() == StatusCode::kFailedPrecondition);
  CHECK_MESSAGE(contains(s, "need kStepSchedule"), s.message());
  CHECK(TrainingState(with.model) == before);
  for (std::size_t step = 1; step < 6; ++step) {
    const Batch b = tern::test::batch_of(spec, d, 4 * step, 4);
    REQUIRE(with.model.train_step<step_features(spec) | kStepSchedule>(b, nullptr).ok());
    REQUIRE(plain.model.train_step(b, nullptr).ok());
  }
  CHECK(TrainingState(with.model) == TrainingState(plain.model));
}
