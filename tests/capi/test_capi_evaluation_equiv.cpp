// SPDX-License-Identifier: Apache-2.0
// tern_model_evaluate is Model::evaluate underneath: the same model (spec,
// seed, data) gives the same bits through tern.h and through tern::Model,
// under every ISA this CPU runs, for both losses, without the heap.
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "alloc_counter.h"
#include "doctest/doctest.h"
#include "tern.h"
#include "tern/kernels/isa_selection.h"
#include "tern/runtime/model.h"
#include "tern/runtime/rng.h"
#include "test_util.h"

namespace {

constexpr std::uint32_t kRows = 6, kIn = 5, kOut = 4;
constexpr std::size_t kSamples = 3 * kRows + 2;
const tern_layer kLayers[] = {
    {TERN_LAYER_DENSE, TERN_ACT_GELU, 9, 0, TERN_INIT_AUTO},
    {TERN_LAYER_LAYER_NORM, TERN_ACT_IDENTITY, 0, 0, TERN_INIT_AUTO},
    {TERN_LAYER_DENSE, TERN_ACT_IDENTITY, kOut, 0, TERN_INIT_AUTO},
};

tern::ModelSpec cpp_spec(tern::LossKind loss) {
  return tern::ModelSpec::input(kIn, kRows)
      .dense(9, tern::Pointwise::kGelu)
      .layer_norm()
      .dense(kOut)
      .training(loss, tern::OptimizerKind::kAdam);
}

alignas(64) unsigned char g_c_arena[64 * 1024];
alignas(64) unsigned char g_cpp_arena[64 * 1024];

}  // namespace

TEST_CASE("tern_model_evaluate gives the bits of Model::evaluate") {
  std::vector<float> x(kSamples * kIn), t(kSamples * kOut);
  std::vector<std::uint32_t> labels(kSamples);
  tern::Rng rng(17);
  for (float& v : x) v = rng.symmetric(1.0f);
  for (float& v : t) v = rng.symmetric(1.0f);
  for (auto& l : labels) l = rng.below(kOut);

  for (int loss = 0; loss < 2; ++loss) {
    const tern::LossKind kind =
        loss == 0 ? tern::LossKind::kSoftmaxCrossEntropy : tern::LossKind::kMse;
    const tern_spec c_spec = {kIn, kRows, TERN_MODE_TRAINING, loss, TERN_OPTIMIZER_ADAM,
                              kLayers, 3, 0, 0, 0, 0, 0};
    for (int i = 0; i < tern::kIsaCount; ++i) {
      const tern::Isa isa = static_cast<tern::Isa>(i);
      if (!(tern::available_isas() & tern::isa_bit(isa))) continue;
      CAPTURE(tern::isa_name(isa));
      tern::test::IsaScope scope(isa);

      tern_model* c_model = nullptr;
      tern_error err;
      REQUIRE(tern_model_create(&c_spec, g_c_arena, sizeof g_c_arena, &c_model, &err) == TERN_OK);
      REQUIRE(tern_model_initialize(c_model, 5, &err) == TERN_OK);
      tern_batch b{};
      b.x = x.data();
      b.ldx = kIn;
      b.rows = kSamples;
      b.labels = labels.data();
      b.targets = t.data();
      b.ldt = kOut;
      tern_evaluation c_eval{};
      {
        tern::test::HeapAllocationScope heap;
        REQUIRE(tern_model_evaluate(c_model, &b, &c_eval, &err) == TERN_OK);
        CHECK(heap.count() == 0);
      }

      tern::Arena arena;
      tern::Model model;
      REQUIRE(arena.attach(g_cpp_arena, sizeof g_cpp_arena).ok());
      REQUIRE(model.build(cpp_spec(kind), arena).ok());
      model.initialize(5);
      tern::Batch batch;
      batch.x = x.data();
      batch.ldx = kIn;
      batch.rows = kSamples;
      batch.labels = labels.data();
      batch.targets = t.data();
      batch.ldt = kOut;
      tern::Evaluation e;
      REQUIRE(model.evaluate(batch, &e).ok());

      CHECK(c_eval.rows == e.rows);
      CHECK(c_eval.correct == e.correct);
      CHECK(std::memcmp(&c_eval.mean_loss, &e.mean_loss, sizeof(float)) == 0);
      CHECK(std::memcmp(&c_eval.accuracy, &e.accuracy, sizeof(float)) == 0);
      CHECK(std::memcmp(&c_eval.mean_squared_error, &e.mean_squared_error, sizeof(float)) == 0);
      CHECK(e.mean_loss > 0.0f);

      // Each row's loss, C and C++, bit for bit; the C call's errors.
      std::vector<float> c_losses(kSamples), cpp_losses(kSamples);
      REQUIRE(tern_model_row_losses(c_model, &b, c_losses.data(), &err) == TERN_OK);
      REQUIRE(model.row_losses(batch, cpp_losses.data()).ok());
      CHECK(std::memcmp(c_losses.data(), cpp_losses.data(), kSamples * sizeof(float)) == 0);
      CHECK(tern_model_row_losses(c_model, &b, nullptr, &err) == TERN_INVALID_ARGUMENT);
      CHECK(std::string(err.message) == "tern_model_row_losses: losses is null");
      CHECK(tern_model_row_losses(nullptr, &b, c_losses.data(), &err) == TERN_INVALID_ARGUMENT);
      CHECK(tern_model_row_losses(c_model, nullptr, c_losses.data(), &err) ==
            TERN_INVALID_ARGUMENT);
    }
  }
}
