// SPDX-License-Identifier: Apache-2.0
// The figures the documentation quotes, computed from the code and looked
// up in the docs, so that a change of the planner, the kernels' constants or
// the C handle cannot leave a stale number behind: a doc that no longer says
// what the code does fails here. Each check names the sentence it pins.
//
// The docs are README.md and docs/*.md of the source tree (TERN_SOURCE_DIR);
// a figure may move between them.
#include <algorithm>
#include <cmath>
#include <cinttypes>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "doctest/doctest.h"
#include "tern.h"
#include "c_handle.h"  // the handle itself (capi/src), for its measured size
#include "tern/kernels/dense.h"
#include "tern/runtime/plan.h"
#include "tern/runtime/spec.h"
#include "tern/runtime/training_inputs.h"

using namespace tern;

namespace {

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// Every doc, with its lines joined by single spaces so that a sentence
// wrapped across lines still matches.
const std::string& docs() {
  static const std::string all = [] {
    const std::string root = TERN_SOURCE_DIR;
    std::string text;
    std::vector<std::string> names{root + "/README.md"};
    for (const auto& entry : std::filesystem::directory_iterator(root + "/docs")) {
      if (entry.path().extension() == ".md") names.push_back(entry.path().string());
    }
    std::sort(names.begin() + 1, names.end());  // a fixed order, whatever the file system's
    for (const std::string& name : names) {
      text += read_file(name);
      text += ' ';
    }
    std::string joined;
    bool space = false;
    for (const char c : text) {
      const bool blank = c == '\n' || c == ' ';
      if (blank && space) continue;
      joined += blank ? ' ' : c;
      space = blank;
    }
    return joined;
  }();
  return all;
}

// n with a space between groups of three digits, as the docs write it.
std::string spaced(std::uint64_t n) {
  std::string digits = std::to_string(n), out;
  for (std::size_t i = 0; i < digits.size(); ++i) {
    if (i != 0 && (digits.size() - i) % 3 == 0) out += ' ';
    out += digits[i];
  }
  return out;
}

void check_docs_say(const std::string& phrase) {
  INFO("the docs should say: \"" << phrase << "\"");
  CHECK(docs().find(phrase) != std::string::npos);
}

constexpr ModelSpec kFashion = mlp({784, 256, 128, 10}, 64, Mode::kTraining, Pointwise::kRelu,
                                   LossKind::kSoftmaxCrossEntropy, OptimizerKind::kAdam);
constexpr ModelSpec kFfn = ffn(128, 256, 1024, Mode::kTraining);

// The Dense layers' weight gradients: what a fused update does not plan.
std::uint64_t weight_gradient_bytes(const ModelSpec& spec) {
  const ModelPlan plan = plan_model(spec);
  std::uint64_t bytes = 0;
  for (std::uint32_t l = 0; l < spec.layer_count; ++l) {
    if (spec.layers[l].kind != LayerKind::kDense) continue;
    bytes += plan.layers[l][LayerBuffer::kWeightGrad].bytes;
  }
  return bytes;
}

std::string percent(std::uint64_t part, std::uint64_t whole) {
  char text[32];
  std::snprintf(text, sizeof text, "%.1f %%", 100.0 * static_cast<double>(part) /
                                                  static_cast<double>(whole));
  return text;
}

}  // namespace

TEST_CASE("docs: the docs are there to check") {
  REQUIRE(docs().size() > 10000);
}

TEST_CASE("docs: the Fashion-MNIST MLP's arena") {
  // tern-train-fashion prints its arena, which holds the divergence guard's
  // snapshot (on by default there).
  check_docs_say("arena size (" + spaced(arena_bytes(kFashion.with_divergence_guard())) +
                 " bytes, of which " +
                 spaced(arena_bytes(kFashion.with_divergence_guard()) - arena_bytes(kFashion)) +
                 " are the divergence guard's snapshot)");
  const ModelPlan plan = plan_model(kFashion);
  const std::uint64_t state = plan[ModelBuffer::kParameters].bytes +
                              plan[ModelBuffer::kGradients].bytes +
                              plan[ModelBuffer::kMoment1].bytes + plan[ModelBuffer::kMoment2].bytes;
  check_docs_say("batch 64 with Adam takes " + spaced(arena_bytes(kFashion)) + " bytes, of which " +
                 spaced(state) + " are parameters, gradients and moments");
  check_docs_say("the same model for inference at one row takes " +
                 spaced(arena_bytes(kFashion.inference().with_rows(1))) + " bytes");
}

TEST_CASE("docs: example gradients' extra arena") {
  const std::uint64_t extra = arena_bytes(kFashion.with_example_gradients(1)) -
                              arena_bytes(kFashion);
  check_docs_say("+" + spaced(extra) + " bytes for the Fashion-MNIST MLP at batch 64");
  check_docs_say(std::to_string(2 * kGramBlock * kGramBlock * 4 / 1024) + " KiB of Gram blocks");
}

TEST_CASE("docs: the fused update's block and its saving") {
  check_docs_say("a block buffer of " + std::to_string(kFusedBlockRows) + " rows (" +
                 std::to_string(kFusedBlockRowsPacked) + " when a step has at least `kPackMinRows` = " +
                 std::to_string(kPackMinRows) + " rows");
  const ModelSpec fused = kFashion.with_fused_update();
  check_docs_say("memory[tern::arena_bytes(fused)]; // " + spaced(arena_bytes(fused)) + " bytes");
  struct Row {
    const char* name;
    ModelSpec spec;
  };
  const Row rows[] = {{"MLP 784-256-128-10, batch 64", kFashion},
                      {"FFN block n=128, d=256, d_ff=1024 (GELU, MSE)", kFfn}};
  std::string gradients, blocks;
  for (const Row& r : rows) {
    const std::uint64_t plain = arena_bytes(r.spec), with = arena_bytes(r.spec.with_fused_update());
    check_docs_say(std::string("| ") + r.name + " | " + spaced(plain) + " | " + spaced(with) +
                   " | " + spaced(plain - with) + " | " + percent(plain - with, plain) + " |");
    gradients += (gradients.empty() ? "" : " and ") + spaced(weight_gradient_bytes(r.spec));
    blocks += (blocks.empty() ? "" : " and ") +
              spaced(plan_model(r.spec.with_fused_update())[ModelBuffer::kUpdateBlock].bytes);
  }
  check_docs_say("the weight gradients (" + gradients + " bytes) less the block buffer (" + blocks +
                 " bytes)");
  const ModelSpec sgd = mlp({784, 256, 128, 10}, 64, Mode::kTraining, Pointwise::kRelu,
                            LossKind::kSoftmaxCrossEntropy, OptimizerKind::kSgd);
  const std::uint64_t saved = arena_bytes(sgd) - arena_bytes(sgd.with_fused_update());
  check_docs_say("the MLP saves the same " + spaced(saved) + " bytes of " + spaced(arena_bytes(sgd)) +
                 " (" + percent(saved, arena_bytes(sgd)) + ")");
}

TEST_CASE("docs: accumulation's arena") {
  // K = 150 factor rows of the MLP's three Dense layers against its gradients.
  const ModelSpec k150 = mlp({784, 256, 128, 10}, 64, Mode::kTraining)
                             .with_accumulation(150)
                             .with_fused_update();
  const ModelPlan plan = plan_model(k150);
  std::uint64_t factors = 0;
  for (std::uint32_t l = 0; l < k150.layer_count; ++l) {
    factors += plan.layers[l][LayerBuffer::kFactorU].bytes + plan.layers[l][LayerBuffer::kFactorD].bytes;
  }
  check_docs_say("K = 150: " + spaced(factors) + " bytes of factors against " +
                 spaced(weight_gradient_bytes(kFashion)) + " of gradients");
  const ModelSpec micro = mlp({784, 256, 128, 10}, 16, Mode::kTraining)
                              .with_accumulation(64)
                              .with_fused_update();
  check_docs_say("16-row micro-batches takes " + spaced(arena_bytes(micro)) + " bytes");
  check_docs_say("a plain 16-row model, whose gradient buffers could hold a running sum, takes " +
                 spaced(arena_bytes(mlp({784, 256, 128, 10}, 16, Mode::kTraining))));
}

TEST_CASE("docs: the kernels' scratch sizes") {
  check_docs_say("`gemm_rows_scratch_floats(k)` = " + std::to_string(kPanelCols) + " x min(k, " +
                 std::to_string(kPanelDepth) + ") floats");
  check_docs_say("`rank1_accumulate_scratch_floats(n)` = " +
                 std::to_string(kPanelCols + kRank1Rows) + " n floats for n <= " +
                 std::to_string(kPanelDepth));
}

TEST_CASE("docs: the firmware example's arenas") {
  const ModelSpec train = mlp({2, 16, 16, 2}, 8, Mode::kTraining, Pointwise::kRelu,
                              LossKind::kSoftmaxCrossEntropy, OptimizerKind::kSgd);
  check_docs_say("reports its arenas (" + spaced(arena_bytes(train)) + " and " +
                 spaced(arena_bytes(train.inference().with_rows(1))) + " bytes)");
}

TEST_CASE("docs: the C handle's reservation") {
  static const tern_layer layers[] = {
      {TERN_LAYER_DENSE, TERN_ACT_IDENTITY, 2, 0, TERN_INIT_AUTO}};
  const tern_spec c = {2, 1, TERN_MODE_INFERENCE, TERN_LOSS_MSE, TERN_OPTIMIZER_SGD,
                       layers, 1, 0, 0, 0, 0, 0};
  // The C arena is the reservation plus the C++ buffers, exactly.
  CHECK(tern_arena_bytes(&c) - arena_bytes(ModelSpec::input(2, 1).dense(2)) == TERN_HANDLE_BYTES);
  // Both reservations, read from tern/c/types.h (this build sees only its own).
  const std::string header =
      read_file(std::string(TERN_SOURCE_DIR) + "/capi/include/tern/c/types.h");
  const struct {
    const char* test;
    const char* sentence;
  } widths[] = {{"UINTPTR_MAX == 0xffffffffffffffffu", " bytes on 64-bit targets"},
                {"UINTPTR_MAX == 0xffffffffu", " on 32-bit ones"}};
  for (const auto& w : widths) {
    const std::string line = std::string(w.test) + "\n#define TERN_HANDLE_BYTES ";
    const std::size_t found = header.find(line);
    REQUIRE_MESSAGE(found != std::string::npos, line);
    check_docs_say(spaced(std::stoull(header.substr(found + line.size()))) + w.sentence);
  }
}

#if defined(__x86_64__)
TEST_CASE("docs: the C handle's size on x86-64") {
  check_docs_say("`tern::Arena`, " + spaced(sizeof(tern_model)) + " bytes on x86-64)");
}
#endif

TEST_CASE("docs: the PyTorch conventions table") {
  // docs/pytorch.md quotes these constants of the code.
  CHECK(kLayerNormEpsilon == 1e-5f);
  check_docs_say("biased variance (divided by the width), eps `1e-5` inside the root");
  const OptimizerParams defaults;
  CHECK(defaults.learning_rate == 1e-3f);
  CHECK(defaults.beta1 == 0.9f);
  CHECK(defaults.beta2 == 0.999f);
  CHECK(defaults.epsilon == 1e-8f);
  CHECK(defaults.weight_decay == 0.0f);
  check_docs_say("| Optimizer defaults | lr 1e-3, betas 0.9 and 0.999, eps 1e-8, weight decay 0 |");
  CHECK(defaults.momentum == 0.9f);
  check_docs_say("| SGD default momentum | 0.9 | 0 |");
  CHECK(defaults.weight_decay_scope == WeightDecayScope::kDenseWeights);
  CHECK(defaults.mse_reduction == MseReduction::kHalfSumOverRows);
  CHECK(ClipParams().divisor == ExampleGradientDivisor::kRows);
  // The largest gap between tern's tanh-form GELU and the erf form, on a
  // grid of step 1e-4 over [-10, 10] (the gap vanishes outside).
  double gap = 0, at = 0;
  for (int i = -100000; i <= 100000; ++i) {
    const double x = i / 10000.0;
    const double tanh_form =
        0.5 * x * (1 + std::tanh(std::sqrt(2 / 3.14159265358979323846) * (x + 0.044715 * x * x * x)));
    const double erf_form = 0.5 * x * (1 + std::erf(x / std::sqrt(2.0)));
    if (std::fabs(tanh_form - erf_form) > gap) {
      gap = std::fabs(tanh_form - erf_form);
      at = x;
    }
  }
  char text[96];
  std::snprintf(text, sizeof text, "differ by at most %.1fe-4, at x near %.2f)", gap * 1e4, at);
  check_docs_say(text);
}
