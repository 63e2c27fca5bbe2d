// SPDX-License-Identifier: Apache-2.0
// The conventions' fields of tern.h (weight_decay_scope and mse_reduction
// of tern_optimizer_params, divisor of tern_clip_params) are the C++
// options underneath: a model trained through tern.h with them ends in
// exactly the bytes (parameters and optimizer state) of the same model
// trained through tern::Model, under every ISA this CPU runs.
#include <cstdint>
#include <vector>

#include "doctest/doctest.h"
#include "tern.h"
#include "tern/kernels/isa_selection.h"
#include "tern/runtime/model.h"
#include "tern/runtime/persist.h"
#include "tern/runtime/rng.h"
#include "test_util.h"

namespace {

constexpr std::uint32_t kRows = 6, kIn = 5, kHidden = 7, kOut = 4;
constexpr int kSteps = 4;

// One case: a spec in both APIs and the options in both.
struct Case {
  const char* name;
  tern_spec c_spec;
  tern::ModelSpec spec;
  tern_optimizer_params c_params;
  tern::OptimizerParams params;
  bool clip;
  tern_clip_params c_clip;
  tern::ClipParams clipping;
};

const tern_layer kLayers[] = {
    {TERN_LAYER_DENSE, TERN_ACT_TANH, kHidden, 0, TERN_INIT_AUTO},
    {TERN_LAYER_DENSE, TERN_ACT_IDENTITY, kOut, 0, TERN_INIT_AUTO},
    {TERN_LAYER_LAYER_NORM, TERN_ACT_IDENTITY, 0, 0, TERN_INIT_AUTO},
};

alignas(64) unsigned char g_c_arena[64 * 1024];
alignas(64) unsigned char g_cpp_arena[64 * 1024];

struct Data {
  std::vector<float> x, t;
  std::vector<std::uint32_t> labels;
  Data() : x(kSteps * kRows * kIn), t(kSteps * kRows * kOut), labels(kSteps * kRows) {
    tern::Rng rng(17);
    for (float& v : x) v = rng.symmetric(1.0f);
    for (float& v : t) v = rng.symmetric(1.0f);
    for (std::uint32_t& l : labels) l = rng.next_u32() % kOut;
  }
};

std::vector<unsigned char> train_c(const Case& c, const Data& d) {
  std::vector<unsigned char> file(tern_model_file_bytes(&c.c_spec, 1));
  tern_model* model = nullptr;
  tern_error err;
  REQUIRE(tern_model_create(&c.c_spec, g_c_arena, sizeof g_c_arena, &model, &err) == TERN_OK);
  REQUIRE(tern_model_initialize(model, 3, &err) == TERN_OK);
  REQUIRE_MESSAGE(tern_model_set_optimizer(model, &c.c_params, &err) == TERN_OK, err.message);
  if (c.clip)
    REQUIRE_MESSAGE(tern_model_set_clipping(model, &c.c_clip, &err) == TERN_OK, err.message);
  for (int s = 0; s < kSteps; ++s) {
    tern_batch b{};
    b.x = d.x.data() + s * kRows * kIn;
    b.ldx = kIn;
    b.rows = kRows;
    b.labels = d.labels.data() + s * kRows;
    b.targets = d.t.data() + s * kRows * kOut;
    b.ldt = kOut;
    REQUIRE_MESSAGE(tern_model_train_step(model, &b, nullptr, &err) == TERN_OK, err.message);
  }
  std::size_t written = 0;
  REQUIRE(tern_model_save(model, file.data(), file.size(), 1, &written, &err) == TERN_OK);
  return file;
}

std::vector<unsigned char> train_cpp(const Case& c, const Data& d) {
  std::vector<unsigned char> file(tern::model_file_bytes(c.spec, true));
  tern::Arena arena;
  tern::Model model;
  REQUIRE(arena.attach(g_cpp_arena, sizeof g_cpp_arena).ok());
  REQUIRE(model.build(c.spec, arena).ok());
  model.initialize(3);
  REQUIRE(model.set_optimizer(c.params).ok());
  if (c.clip) REQUIRE(model.set_clipping(c.clipping).ok());
  for (int s = 0; s < kSteps; ++s) {
    tern::Batch b;
    b.x = d.x.data() + s * kRows * kIn;
    b.ldx = kIn;
    b.rows = kRows;
    b.labels = d.labels.data() + s * kRows;
    b.targets = d.t.data() + s * kRows * kOut;
    b.ldt = kOut;
    REQUIRE(model.train_step(b, nullptr).ok());
  }
  tern::MemorySink sink(file.data(), file.size());
  REQUIRE(tern::save_model(model, sink.sink(), true).ok());
  return file;
}

Case make_case(const char* name, tern_loss loss, tern_optimizer opt, std::uint32_t example_rows) {
  Case c{};
  c.name = name;
  c.c_spec = tern_spec{kIn, kRows, TERN_MODE_TRAINING, loss, opt, kLayers, 3, 0, 0, example_rows,
                       0, 0};
  c.spec = tern::ModelSpec::input(kIn, kRows)
               .dense(kHidden, tern::Pointwise::kTanh)
               .dense(kOut)
               .layer_norm()
               .training(static_cast<tern::LossKind>(loss), static_cast<tern::OptimizerKind>(opt))
               .with_example_gradients(example_rows);
  c.c_params = tern_optimizer_defaults();
  c.c_params.learning_rate = 0.02f;
  c.c_params.weight_decay = 0.3f;
  c.params.learning_rate = 0.02f;
  c.params.weight_decay = 0.3f;
  return c;
}

}  // namespace

TEST_CASE("C API conventions: the same bytes as the C++ options") {
  std::vector<Case> cases;
  {
    Case c = make_case("AdamW, decay on every parameter, MSE mean", TERN_LOSS_MSE,
                       TERN_OPTIMIZER_ADAMW, 0);
    c.c_params.weight_decay_scope = TERN_WEIGHT_DECAY_ALL_PARAMETERS;
    c.c_params.mse_reduction = TERN_MSE_MEAN;
    c.params.weight_decay_scope = tern::WeightDecayScope::kAllParameters;
    c.params.mse_reduction = tern::MseReduction::kMean;
    cases.push_back(c);
  }
  {
    Case c = make_case("SGD, decay on every parameter, MSE sum", TERN_LOSS_MSE,
                       TERN_OPTIMIZER_SGD, 0);
    c.c_params.learning_rate = c.params.learning_rate = 0.002f;
    c.c_params.weight_decay_scope = TERN_WEIGHT_DECAY_ALL_PARAMETERS;
    c.c_params.mse_reduction = TERN_MSE_SUM;
    c.params.weight_decay_scope = tern::WeightDecayScope::kAllParameters;
    c.params.mse_reduction = tern::MseReduction::kSum;
    cases.push_back(c);
  }
  {
    Case c = make_case("SGD, DP-SGD divided by examples, noise", TERN_LOSS_SOFTMAX_CROSS_ENTROPY,
                       TERN_OPTIMIZER_SGD, 3);
    c.clip = true;
    c.c_clip = tern_clip_params{0.5f, 1.1f, 77, 0.0f, TERN_EXAMPLE_DIVISOR_EXAMPLES};
    c.clipping.example_clip = 0.5f;
    c.clipping.noise_multiplier = 1.1f;
    c.clipping.noise_seed = 77;
    c.clipping.divisor = tern::ExampleGradientDivisor::kExamples;
    cases.push_back(c);
  }
  const Data data;
  for (tern::Isa isa : tern::test::runnable_isas()) {
    CAPTURE(tern::isa_name(isa));
    REQUIRE(tern::select_isa(isa).ok());
    for (const Case& c : cases) {
      CAPTURE(c.name);
      const std::vector<unsigned char> c_file = train_c(c, data);
      const std::vector<unsigned char> cpp_file = train_cpp(c, data);
      CHECK(c_file == cpp_file);
      // The options changed something: the defaults end elsewhere.
      Case plain = c;
      plain.params.weight_decay_scope = tern::WeightDecayScope::kDenseWeights;
      plain.params.mse_reduction = tern::MseReduction::kHalfSumOverRows;
      plain.clipping.divisor = tern::ExampleGradientDivisor::kRows;
      CHECK(train_cpp(plain, data) != cpp_file);
    }
    tern::reset_isa_selection();
  }
}
