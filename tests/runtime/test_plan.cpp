// SPDX-License-Identifier: Apache-2.0
// Arena sizing: arena_bytes(spec) is a compile-time constant, equals a
// hand-derived formula of the buffers each model needs, and equals the bytes
// Model::build() really takes (the arena's high-water mark).
#include <doctest/doctest.h>

#include <algorithm>
#include <cstddef>
#include <cstdio>
#include <cstring>
#include <vector>

#include "runtime_test_util.h"
#include "tern/runtime/compiled_plan.h"
#include "tern/runtime/plan.h"

using namespace tern;
using tern::test::contains;
using tern::test::ModelInArena;

namespace {

std::size_t R(std::size_t bytes) { return (bytes + 63) / 64 * 64; }

// Packed-panel scratch, from 16 rows per step: gemm_rows packs 32 x min(k,
// 256) floats of W; rank1_accumulate 160 n floats when n <= 256.
std::size_t scratch_formula(const std::vector<std::size_t>& in_widths, std::size_t n, bool training) {
  if (n < 16) return 0;
  std::size_t s = 0;
  for (std::size_t l = 0; l + 1 < in_widths.size(); ++l) {
    s = std::max(s, R(4 * 32 * std::min<std::size_t>(in_widths[l], 256)));
  }
  if (training && n <= 256) s = std::max(s, R(4 * 160 * n));
  return s;
}

// The bytes an MLP needs, derived by hand from what each pass keeps:
// parameters (W, b per layer) and, for training, gradients and 1 or 2
// optimizer moments of the same shapes; every point of the forward pass
// (training) or two ping-pong buffers (inference); two ping-pong delta
// buffers; labels; the kernels' scratch.
std::size_t mlp_formula(const std::vector<std::size_t>& w, std::size_t n, bool training,
                        int moments) {
  const std::size_t L = w.size() - 1;
  std::size_t params = 0;
  for (std::size_t l = 0; l < L; ++l) params += R(4 * w[l] * w[l + 1]) + R(4 * w[l + 1]);
  if (!training) {
    std::size_t odd = 0, even = 0;
    for (std::size_t p = 1; p <= L; ++p) {
      std::size_t& slot = p % 2 == 1 ? odd : even;
      slot = std::max(slot, R(4 * n * w[p]));
    }
    return params + odd + even + scratch_formula(w, n, false);
  }
  std::size_t total = params * (2 + moments);
  for (std::size_t p = 0; p <= L; ++p) total += R(4 * n * w[p]);
  std::size_t a = 0, b = 0;
  for (std::size_t p = 1; p <= L; ++p) {
    std::size_t& slot = (L - p) % 2 == 0 ? a : b;
    slot = std::max(slot, R(4 * n * w[p]));
  }
  total += a + b + R(4 * n);
  return total + scratch_formula(w, n, training);
}

// The feed-forward block LN(X + Dense2(gelu(Dense1(X)))) with MSE.
std::size_t ffn_formula(std::size_t n, std::size_t d, std::size_t dff, bool training,
                        int moments) {
  const std::size_t params = R(4 * d * dff) + R(4 * dff) + R(4 * dff * d) + R(4 * d) +
                             R(4 * d) + R(4 * d);
  // Inference: the input is the caller's; h (n x dff) and the d-wide points
  // alternate between two buffers (the residual reads the caller's input).
  const std::size_t scratch = scratch_formula({d, dff, d}, n, training);
  if (!training) return params + R(4 * n * dff) + R(4 * n * d) + scratch;
  std::size_t total = params * (2 + moments);
  total += R(4 * n * d) + R(4 * n * dff) + 3 * R(4 * n * d);  // points 0..4
  total += R(4 * n * dff);                                     // GELU pre-activation
  total += 2 * R(4 * n);                                       // LayerNorm mean, rstd
  total += R(4 * n * d) + R(4 * n * std::max(d, dff));         // delta slots
  total += R(4 * n * d);                                       // MSE targets
  return total + scratch;
}

// A firmware-style declaration: the arena is a static array sized in the
// compiler, and its budget is checked in the compiler too.
constexpr ModelSpec kFirmwareSpec =
    mlp({16, 24, 4}, 8, Mode::kTraining, Pointwise::kRelu, LossKind::kSoftmaxCrossEntropy,
        OptimizerKind::kSgd);
static_assert(arena_bytes(kFirmwareSpec) > 0, "valid spec");
static_assert(arena_bytes(kFirmwareSpec) % 64 == 0, "whole cache lines");
static_assert(arena_bytes(kFirmwareSpec) <= 16 * 1024, "fits a 16 KiB RAM budget");
alignas(64) unsigned char g_firmware_arena[arena_bytes(kFirmwareSpec)];

// Specs whose plans the compiler works out (compile_plan<kSpec>()): one of
// each plan shape, training variants included.
constexpr ModelSpec kCompiledMlpInference = mlp({2, 16, 16, 2}, 1, Mode::kInference);
constexpr ModelSpec kCompiledMlpAdamGuard =
    mlp({5, 7, 3}, 3, Mode::kTraining, Pointwise::kRelu, LossKind::kSoftmaxCrossEntropy,
        OptimizerKind::kAdam)
        .with_divergence_guard();
constexpr ModelSpec kCompiledFfnFused =
    ffn(16, 24, 40, Mode::kTraining, Pointwise::kGelu, LossKind::kMse, OptimizerKind::kSgd)
        .with_fused_update();
constexpr ModelSpec kCompiledFfnAccumulated = ffn(4, 6, 10, Mode::kTraining).with_accumulation(8);
constexpr ModelSpec kCompiledMlpExamples =
    mlp({6, 9, 4}, 4, Mode::kTraining, Pointwise::kTanh, LossKind::kSoftmaxCrossEntropy,
        OptimizerKind::kAdamW)
        .with_example_gradients();
constexpr ModelSpec kCompiledFfnInference = ffn(8, 12, 20, Mode::kInference);

// Where p points from base, or -1 for null.
std::ptrdiff_t offset_in(unsigned char* base, const void* p) {
  return p == nullptr ? -1 : static_cast<const unsigned char*>(p) - base;
}

// A model built from the compiled plan has every buffer where build(spec)
// puts it, and trains to the same bits.
template <std::size_t N>
void check_compiled_plan(const ModelSpec& spec, const CompiledPlan<N>& plan) {
  static_assert(N > 0, "a plan has buffers");
  ModelInArena by_spec(spec);
  REQUIRE_MESSAGE(by_spec.status.ok(), by_spec.status.message());
  struct {
    tern::test::AlignedBuffer buffer;
    Arena arena;
    Model model;
  } by_plan{tern::test::AlignedBuffer(arena_bytes(spec), 0xa5), {}, {}};  // garbage to overwrite
  REQUIRE(by_plan.arena.attach(by_plan.buffer.data(), by_plan.buffer.size()).ok());
  const Status s = by_plan.model.build(plan, by_plan.arena);
  REQUIRE_MESSAGE(s.ok(), s.message());
  CHECK(plan.facts.total == arena_bytes(spec));
  CHECK(by_plan.arena.high_water() == arena_bytes(spec));
  CHECK(by_plan.model.bytes() == by_spec.model.bytes());
  CHECK(by_plan.model.tensor_count() == by_spec.model.tensor_count());
  CHECK(by_plan.model.parameter_count() == by_spec.model.parameter_count());
  unsigned char* const a0 = by_spec.buffer.data();
  unsigned char* const b0 = by_plan.buffer.data();
  for (std::uint32_t t = 0; t <= by_spec.model.tensor_count(); ++t) {
    CAPTURE(t);
    const Tensor a = by_spec.model.tensor(t), b = by_plan.model.tensor(t);
    for (Span<float> Tensor::*f : {&Tensor::value, &Tensor::grad, &Tensor::moment1, &Tensor::moment2}) {
      CHECK(offset_in(a0, (a.*f).data) == offset_in(b0, (b.*f).data));
      CHECK((a.*f).size == (b.*f).size);
    }
  }
  for (std::uint32_t p = 0; p <= spec.layer_count; ++p) {
    CAPTURE(p);
    CHECK(offset_in(a0, by_spec.model.point(p).data) == offset_in(b0, by_plan.model.point(p).data));
    CHECK(offset_in(a0, by_spec.model.delta(p).data) == offset_in(b0, by_plan.model.delta(p).data));
  }
  // Both start from the same kDefaultInitSeed weights, with gradients and
  // moments at zero, and the weights are not all zero.
  bool nonzero = false;
  for (std::uint32_t t = 0; t < by_plan.model.tensor_count(); ++t) {
    const Tensor a = by_spec.model.tensor(t), b = by_plan.model.tensor(t);
    REQUIRE(std::memcmp(a.value.data, b.value.data, a.value.size * sizeof(float)) == 0);
    for (const float v : b.value) nonzero = nonzero || v != 0.0f;
    for (const Span<float>& s : {b.grad, b.moment1, b.moment2}) {
      for (const float v : s) REQUIRE(v == 0.0f);
    }
  }
  CHECK(nonzero);
  by_spec.model.initialize(5);
  by_plan.model.initialize(5);
  const tern::test::SyntheticData d = tern::test::synthetic_data(spec, 4 * spec.rows, 11, 1);
  for (std::size_t at = 0; at < d.count; at += spec.rows) {
    if (spec.mode == Mode::kTraining) {
      float la = 0.0f, lb = 0.0f;
      REQUIRE(by_spec.model.train_step(tern::test::batch_of(spec, d, at, spec.rows), &la).ok());
      REQUIRE(by_plan.model.train_step(tern::test::batch_of(spec, d, at, spec.rows), &lb).ok());
      CHECK(std::memcmp(&la, &lb, sizeof la) == 0);
    } else {
      REQUIRE(by_spec.model.forward(d.x.data() + at * spec.input_width, spec.input_width, spec.rows).ok());
      REQUIRE(by_plan.model.forward(d.x.data() + at * spec.input_width, spec.input_width, spec.rows).ok());
      const MatrixView<const float> a = by_spec.model.output(), b = by_plan.model.output();
      CHECK(std::memcmp(a.data, b.data, a.rows * a.stride * sizeof(float)) == 0);
    }
  }
  for (std::uint32_t t = 0; t < by_plan.model.tensor_count(); ++t) {
    const Span<float> a = by_spec.model.tensor(t).value, b = by_plan.model.tensor(t).value;
    CHECK(std::memcmp(a.data, b.data, a.size * sizeof(float)) == 0);
  }
}

}  // namespace

TEST_CASE("plan: a plan compiled from a constexpr spec builds the same model") {
  constexpr auto kInference = compile_plan<kCompiledMlpInference>();
  // Only the buffers the model has: 3 x (W, b), the parameter group, and
  // points 1..3 (in two ping-pong buffers).
  static_assert(sizeof kInference.entries / sizeof kInference.entries[0] == 10, "10 buffers");
  static_assert(kInference.facts.total == arena_bytes(kCompiledMlpInference), "same total");
  check_compiled_plan(kCompiledMlpInference, kInference);
  check_compiled_plan(kCompiledMlpAdamGuard, compile_plan<kCompiledMlpAdamGuard>());
  check_compiled_plan(kCompiledFfnFused, compile_plan<kCompiledFfnFused>());
  check_compiled_plan(kCompiledFfnAccumulated, compile_plan<kCompiledFfnAccumulated>());
  check_compiled_plan(kCompiledMlpExamples, compile_plan<kCompiledMlpExamples>());
  check_compiled_plan(kCompiledFfnInference, compile_plan<kCompiledFfnInference>());
}

// An arena one cache line short of `need` is refused by build (kOutOfMemory
// naming the bytes), takes nothing and leaves the model unbuilt; an
// unattached arena is a failed precondition.
template <typename Build>
void check_small_arena_refused(std::size_t need, Build build) {
  tern::test::AlignedBuffer buffer(need);
  Arena arena;
  REQUIRE(arena.attach(buffer.data(), need - 64).ok());
  Model model;
  const Status s = build(model, arena);
  CHECK(s.code() == StatusCode::kOutOfMemory);
  char expect[96];
  std::snprintf(expect, sizeof expect, "needs %zu bytes of arena", need);
  CHECK(contains(s, expect));
  CHECK(arena.used() == 0);
  CHECK_FALSE(model.built());
  Arena unattached;
  CHECK(build(model, unattached).code() == StatusCode::kFailedPrecondition);
}

TEST_CASE("plan: a compiled plan is refused by a small or unattached arena, naming the bytes") {
  static constexpr auto kPlan = compile_plan<kCompiledMlpAdamGuard>();
  const std::size_t need = arena_bytes(kCompiledMlpAdamGuard);
  check_small_arena_refused(need, [](Model& m, Arena& a) { return m.build(kPlan, a); });
}

TEST_CASE("plan: arena_bytes sizes a static array and the model fits it exactly") {
  Arena arena;
  REQUIRE(arena.attach(g_firmware_arena, sizeof g_firmware_arena).ok());
  Model model;
  const Status s = model.build(kFirmwareSpec, arena);
  REQUIRE_MESSAGE(s.ok(), s.message());
  CHECK(arena.free_bytes() == 0);
  CHECK(arena.high_water() == sizeof g_firmware_arena);
  CHECK(sizeof g_firmware_arena == mlp_formula({16, 24, 4}, 8, true, 1));
}

TEST_CASE("plan: arena_bytes equals the hand-derived formula and the bytes build() takes") {
  struct Case {
    const char* name;
    ModelSpec spec;
    std::size_t expected;
  };
  const std::vector<Case> cases = {
      {"fashion mlp, training, adam",
       mlp({784, 256, 128, 10}, 32, Mode::kTraining, Pointwise::kRelu,
           LossKind::kSoftmaxCrossEntropy, OptimizerKind::kAdam),
       mlp_formula({784, 256, 128, 10}, 32, true, 2)},
      {"fashion mlp, inference", mlp({784, 256, 128, 10}, 128, Mode::kInference),
       mlp_formula({784, 256, 128, 10}, 128, false, 0)},
      {"odd mlp, training, sgd",
       mlp({5, 7, 3}, 3, Mode::kTraining, Pointwise::kRelu, LossKind::kSoftmaxCrossEntropy,
           OptimizerKind::kSgd),
       mlp_formula({5, 7, 3}, 3, true, 1)},
      {"deep odd mlp, training, adamw",
       mlp({13, 300, 17, 41, 2}, 5, Mode::kTraining, Pointwise::kRelu,
           LossKind::kSoftmaxCrossEntropy, OptimizerKind::kAdamW),
       mlp_formula({13, 300, 17, 41, 2}, 5, true, 2)},
      {"deep odd mlp, inference", mlp({13, 300, 17, 41, 2}, 5, Mode::kInference),
       mlp_formula({13, 300, 17, 41, 2}, 5, false, 0)},
      {"ffn block, training, adam", ffn(16, 24, 40, Mode::kTraining),
       ffn_formula(16, 24, 40, true, 2)},
      {"ffn block, training, sgd",
       ffn(7, 300, 100, Mode::kTraining, Pointwise::kGelu, LossKind::kMse, OptimizerKind::kSgd),
       ffn_formula(7, 300, 100, true, 1)},
      {"ffn block n=128 d=256 d_ff=1024, inference", ffn(128, 256, 1024, Mode::kInference),
       ffn_formula(128, 256, 1024, false, 0)},
  };
  for (const Case& c : cases) {
    CAPTURE(c.name);
    CHECK(arena_bytes(c.spec) == c.expected);
    // The model takes exactly that, and the arena's high-water mark shows it,
    // also when the model is not the arena's first allocation.
    ModelInArena m(c.spec, 128);
    REQUIRE_MESSAGE(m.status.ok(), m.status.message());
    CHECK(m.arena.high_water() == c.expected);
    CHECK(m.model.bytes() == c.expected);
    Arena second;
    REQUIRE(second.attach(m.buffer.data(), m.buffer.size()).ok());
    void* first = nullptr;
    REQUIRE(second.allocate_bytes(100, &first).ok());
    Model again;
    REQUIRE(again.build(c.spec, second).ok());
    CHECK(second.high_water() == 128 + c.expected);
  }
}

TEST_CASE("plan: activation and delta buffers are shared where lifetimes allow") {
  const ModelPlan mlp_inf = plan_model(mlp({784, 256, 128, 64, 10}, 32, Mode::kInference));
  CHECK(mlp_inf.point_buffers == 2);
  CHECK(mlp_inf.points[1].offset == mlp_inf.points[3].offset);
  CHECK(mlp_inf.points[2].offset == mlp_inf.points[4].offset);
  CHECK(mlp_inf.points[1].offset != mlp_inf.points[2].offset);

  const ModelPlan mlp_train = plan_model(mlp({784, 256, 128, 64, 10}, 32, Mode::kTraining));
  CHECK(mlp_train.point_buffers == 5);  // every point is kept for backward
  CHECK(mlp_train.delta_buffers == 2);
  CHECK(mlp_train.deltas[4].offset == mlp_train.deltas[2].offset);
  CHECK(mlp_train.deltas[3].offset == mlp_train.deltas[1].offset);

  // One feed-forward block: its input, which the residual reads again, is
  // the caller's (point 0), so its points ping-pong between two buffers
  // (plan.h and docs/training.md say so).
  CHECK(plan_model(ffn(128, 256, 1024)).point_buffers == 2);

  // Two stacked feed-forward blocks: the second block's input (point 4)
  // must outlive the two Dense layers for its residual, so inference needs a
  // third buffer; in training the delta of the residual's output must
  // survive until point 4's own delta is ready.
  const ModelSpec two = ffn_block(ffn_block(ModelSpec::input(24, 8), 40), 40);
  REQUIRE(check_spec(two).ok());
  const ModelPlan two_inf = plan_model(two);
  CHECK(two_inf.point_buffers == 3);
  const ModelPlan two_train = plan_model(two.training(LossKind::kMse, OptimizerKind::kAdam));
  // Delta 7 (the second residual's output) is read again after layer 4's
  // backward step: it must not share memory with deltas 6, 5 or 4.
  const Region d7 = two_train.deltas[7];
  for (int p : {4, 5, 6}) {
    CAPTURE(p);
    const Region o = two_train.deltas[p];
    CHECK((d7.end() <= o.offset || o.end() <= d7.offset));
  }
}

TEST_CASE("plan: invalid specs are rejected with the numbers that matter") {
  Arena arena;
  alignas(64) static unsigned char buffer[4096];
  REQUIRE(arena.attach(buffer, sizeof buffer).ok());
  Model model;

  ModelSpec bad = mlp({10, 20, 5}, 4);
  bad.layers[1].in = 21;  // hand-edited: does not match point 1 (20 wide)
  CHECK(arena_bytes(bad) == 0);
  Status s = model.build(bad, arena);
  CHECK(s.code() == StatusCode::kShapeMismatch);
  CHECK(contains(s, "layer 1 (dense) has in=21 out=5 but its input point has width 20"));

  ModelSpec res = ModelSpec::input(8, 2).dense(8).dense(6).residual(0);
  s = model.build(res, arena);
  CHECK(s.code() == StatusCode::kShapeMismatch);
  CHECK(contains(s, "residual layer 2 adds point 0"));
  CHECK(arena_bytes(ModelSpec::input(8, 2).dense(8).residual(1)) == 0);  // not an earlier point

  CHECK(model.build(mlp({10, 20, 5}, 0), arena).code() == StatusCode::kInvalidArgument);
  CHECK(contains(model.build(mlp({10, 20, 5}, 0), arena), "rows per step is 0"));
  CHECK(model.build(ModelSpec::input(10, 4), arena).code() == StatusCode::kInvalidArgument);
  CHECK(model.build(mlp({10, 0, 5}, 4), arena).code() == StatusCode::kInvalidArgument);
  CHECK(model.build(mlp({10, 1}, 4, Mode::kTraining), arena).code() ==
        StatusCode::kInvalidArgument);  // softmax over one class

  ModelSpec deep = ModelSpec::input(4, 1);
  for (std::size_t i = 0; i < kMaxLayers + 1; ++i) deep = deep.dense(4);
  CHECK(deep.overflowed);
  CHECK(arena_bytes(deep) == 0);
  CHECK(contains(model.build(deep, arena), "more layers than kMaxLayers"));

  ModelSpec huge = mlp({kMaxDimension + 1, 4}, 1);
  CHECK(arena_bytes(huge) == 0);
  CHECK(arena.used() == 0);  // nothing was taken by any failed build
  CHECK_FALSE(model.built());
}

TEST_CASE("plan: an arena one cache line too small is refused, naming the bytes needed") {
  const ModelSpec spec = mlp({30, 20, 10}, 4, Mode::kTraining);
  const std::size_t need = arena_bytes(spec);
  check_small_arena_refused(need, [&spec](Model& m, Arena& a) { return m.build(spec, a); });
}

TEST_CASE("plan: parameter tensors are laid out layer by layer, weight then bias") {
  const ModelSpec spec = ffn(4, 6, 10, Mode::kTraining, Pointwise::kGelu, LossKind::kMse,
                             OptimizerKind::kAdam);
  ModelInArena m(spec);
  REQUIRE(m.status.ok());
  const Model& model = m.model;
  REQUIRE(model.tensor_count() == 6);
  const std::size_t sizes[6] = {6 * 10, 10, 10 * 6, 6, 6, 6};
  const std::uint32_t layers[6] = {0, 0, 1, 1, 3, 3};
  std::size_t total = 0;
  for (std::uint32_t t = 0; t < 6; ++t) {
    CAPTURE(t);
    const Tensor x = model.tensor(t);
    CHECK(x.layer == layers[t]);
    CHECK(x.is_bias == (t % 2 == 1));
    CHECK(x.value.size == sizes[t]);
    CHECK(x.grad.size == sizes[t]);
    CHECK(x.moment1.size == sizes[t]);
    CHECK(x.moment2.size == sizes[t]);
    total += sizes[t];
  }
  CHECK(model.parameter_count() == total);
  CHECK(parameter_floats(spec) == total);
  static_assert(parameter_floats(mlp({784, 256, 128, 10}, 1)) == 235146, "784*256+256+...");
  CHECK(model.tensor(6).value.data == nullptr);
  // Inference models have no training buffers.
  ModelInArena inf(spec.inference());
  REQUIRE(inf.status.ok());
  CHECK(inf.model.tensor(0).grad.data == nullptr);
  CHECK(inf.model.tensor(0).moment1.data == nullptr);
}
