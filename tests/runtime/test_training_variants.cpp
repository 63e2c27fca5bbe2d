// SPDX-License-Identifier: Apache-2.0
// What every training variant built on the rank-1 structure shares (fused
// update, example gradients with clipping and noise, accumulation, edits):
// the same bits on every ISA, no heap allocation, and the spec checks of
// their combinations.
#include <doctest/doctest.h>

#include <cstring>
#include <vector>

#include "alloc_counter.h"
#include "rank1_test_util.h"
#include "test_util.h"

using namespace tern;
using namespace tern::test;

// ---------------------------------------------------------------------------
// Bit identity across ISAs
// ---------------------------------------------------------------------------

namespace {

// Everything the rank-1 variants compute on one ISA, as a flat vector.
std::vector<float> rank1_fingerprint() {
  std::vector<float> out;
  auto append = [&out](const std::vector<float>& v) { out.insert(out.end(), v.begin(), v.end()); };
  // Example norms (an MLP with packed panels; an FFN with examples longer
  // than a Gram block).
  const ModelSpec norm_specs[] = {
      mlp({37, 50, 19, 5}, 17, Mode::kTraining, Pointwise::kGelu).with_example_gradients(),
      ffn(38, 20, 36, Mode::kTraining).with_example_gradients(19),
  };
  for (const ModelSpec& spec : norm_specs) {
    const Data d = make_data(spec, spec.rows, 3);
    PerturbedModel m(spec, 1, 1);
    REQUIRE(m.model.compute_gradients(batch_of(spec, d, 0, spec.rows), nullptr).ok());
    const MatrixView<const float> n = m.model.example_norms();
    append(std::vector<float>(n.data, n.data + n.rows * n.stride));
    append(all_grads(m.model));
  }
  // Clipped, noisy, globally clipped fused and unfused steps.
  for (const ModelSpec& spec : norm_specs) {
    for (bool fused : {false, true}) {
      append(noisy_run(fused ? spec.with_fused_update() : spec, OptimizerKind::kAdamW, 4, 3, 0.05f)
                 .values);
    }
  }
  // Fused steps without example gradients.
  std::vector<float> losses;
  append(plain_run(mlp({37, 50, 19, 5}, 32, Mode::kTraining).with_fused_update(),
                   OptimizerKind::kSgd, 3, &losses)
             .values);
  append(plain_run(ffn(16, 20, 36, Mode::kTraining).with_fused_update(), OptimizerKind::kAdam, 3,
                   &losses)
             .values);
  append(losses);
  // Accumulation (fused and not) with global clipping.
  const ModelSpec acc = ffn(16, 20, 36, Mode::kTraining).with_rows(8).with_accumulation(24);
  for (bool fused : {false, true}) {
    ReadyModel m(acc.with_fused_update(fused), 2);
    set_optimizer(m.model, OptimizerKind::kAdam);
    set_clip(m.model, 0, 0, 0, 0.01f);
    const Data d = make_data(acc, 48, 4);
    for (std::size_t at = 0; at < 48; at += 8) {
      REQUIRE(m.model.accumulate(batch_of(acc, d, at, 8), nullptr).ok());
      if (m.model.accumulated_rows() == 24) REQUIRE(m.model.flush().ok());
    }
    append(State(m.model).values);
    out.push_back(m.model.gradient_norm());
  }
  return out;
}

}  // namespace

TEST_CASE("bit identity: norms, clipped noisy steps, fused steps, accumulation on every ISA") {
  std::vector<float> reference;
  {
    IsaScope scope(Isa::kScalar);
    reference = rank1_fingerprint();
  }
  REQUIRE(reference.size() > 10000);
  for (Isa isa : tern::test::runnable_isas()) {
    if (isa == Isa::kScalar) continue;
    CAPTURE(isa_name(isa));
    IsaScope scope(isa);
    const std::vector<float> got = rank1_fingerprint();
    REQUIRE(got.size() == reference.size());
    CHECK(std::memcmp(got.data(), reference.data(), got.size() * sizeof(float)) == 0);
  }
}

// ---------------------------------------------------------------------------
// No heap
// ---------------------------------------------------------------------------

TEST_CASE("no heap: fused, example-gradient, accumulating and editing calls allocate nothing") {
  const ModelSpec fused = mlp({30, 24, 16, 4}, 16, Mode::kTraining).with_fused_update();
  const ModelSpec example =
      ffn(16, 12, 20, Mode::kTraining).with_example_gradients(4).with_fused_update();
  const ModelSpec accumulating =
      mlp({30, 24, 16, 4}, 8, Mode::kTraining).with_example_gradients().with_accumulation(16);
  const Data d = make_data(fused, 64, 3);
  const Data fd = make_data(example, 64, 4);
  tern::test::AlignedBuffer buffer(arena_bytes(fused) + arena_bytes(example) +
                                   arena_bytes(accumulating));
  std::vector<float> u(16 * 30), delta(16 * 24);

  tern::test::HeapAllocationScope heap;
  Arena arena;
  REQUIRE(arena.attach(buffer.data(), buffer.size()).ok());
  Model a, b, c;
  REQUIRE(a.build(fused, arena).ok());
  REQUIRE(b.build(example, arena).ok());
  REQUIRE(c.build(accumulating, arena).ok());
  a.initialize(1);
  b.initialize(2);
  c.initialize(3);
  ClipParams clip;
  clip.example_clip = 0.5f;
  clip.noise_multiplier = 1.0f;
  clip.noise_seed = 4;
  clip.global_clip = 0.2f;
  REQUIRE(b.set_clipping(clip).ok());
  REQUIRE(c.set_clipping(clip).ok());
  float norms = 0;
  for (int round = 0; round < 3; ++round) {
    for (std::size_t at = 0; at < 64; at += 16) {
      REQUIRE(a.train_step(batch_of(fused, d, at, 16), nullptr).ok());
      REQUIRE(b.train_step(batch_of(example, fd, at, 16), nullptr).ok());
      norms += b.example_norms()(0, 4);
      REQUIRE(c.accumulate(batch_of(accumulating, d, at, 8), nullptr).ok());
      REQUIRE(c.accumulate(batch_of(accumulating, d, at + 8, 8), nullptr).ok());
      REQUIRE(c.flush().ok());
      REQUIRE(c.edit_factors(batch_of(accumulating, d, at, 8), 0, u.data(), delta.data()).ok());
      REQUIRE(c.rank1_edit(0, 8, u.data(), 30, delta.data(), 24, -0.01f).ok());
    }
  }
  // Errors allocate nothing either.
  CHECK(c.flush().ok());
  CHECK_FALSE(a.compute_gradients(batch_of(fused, d, 0, 16), nullptr).ok());
  CHECK_FALSE(a.rank1_edit(0, 1, u.data(), 1, delta.data(), 24, 1.0f).ok());
  CHECK(heap.count() == 0);
  CHECK(norms > 0);
}

// ---------------------------------------------------------------------------
// Spec checks
// ---------------------------------------------------------------------------

TEST_CASE("spec checks: misconfigured rank-1 variants are kBadTrainingOption") {
  const ModelSpec ok = mlp({6, 8, 3}, 12, Mode::kTraining);
  const ModelSpec bad[] = {
      ok.with_example_gradients(5),                      // 5 does not divide 12 rows
      ok.with_accumulation(8),                           // fewer factor rows than rows
      ok.inference().with_accumulation(12),              // inference
      ok.inference().with_fused_update(),                // inference
      ok.inference().with_example_gradients(),           // inference
      ok.with_accumulation(24).with_divergence_guard(),  // the guard wraps train_step
      ok.with_example_gradients(4).with_accumulation(18),  // 4 does not divide 18
  };
  for (const ModelSpec& spec : bad) {
    const SpecCheck c = check_spec(spec);
    CHECK(c.error == SpecError::kBadTrainingOption);
    CHECK(arena_bytes(spec) == 0);
    tern::test::AlignedBuffer buffer(1 << 16);
    Arena arena;
    REQUIRE(arena.attach(buffer.data(), buffer.size()).ok());
    Model m;
    const Status s = m.build(spec, arena);
    CHECK(s.code() == StatusCode::kInvalidArgument);
    CHECK(contains(s, "fused update, example gradients and accumulation need training mode"));
  }
  const ModelSpec good[] = {
      ok.with_example_gradients(4),
      ok.with_accumulation(12),
      ok.with_accumulation(36).with_example_gradients(6).with_fused_update(),
      ok.with_fused_update().with_divergence_guard(),
      ok.with_example_gradients(3).with_divergence_guard(),
  };
  for (const ModelSpec& spec : good) CHECK(check_spec(spec).ok());
}
