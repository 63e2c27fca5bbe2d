// SPDX-License-Identifier: Apache-2.0
// The calls tern.h gained for parity with the C++ runtime drive the same
// runtime: for each feature, a model driven through tern.h and the same
// model driven through tern::Model (same spec, seed, settings and batches)
// end in the same bytes (saved with optimizer state), report the same
// statuses and figures, under every ISA this CPU runs, and the C path
// touches no heap. Features: the init choice, fused update, batches by
// index, per-example gradients with clipping and noise, global clipping,
// accumulation, the divergence guard, rank-1 edits and their factors, and
// files.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "alloc_counter.h"
#include "doctest/doctest.h"
#include "tern.h"
#include "tern/kernels/isa_selection.h"
#include "tern/runtime/model.h"
#include "tern/runtime/model_file.h"
#include "tern/runtime/persist.h"
#include "tern/runtime/rng.h"
#include "test_util.h"

namespace {

using tern::ModelSpec;

// Selects an ISA for the scope, restoring the default selection after.
struct IsaScope {
  explicit IsaScope(tern::Isa isa) { REQUIRE(tern::select_isa(isa).ok()); }
  ~IsaScope() { tern::reset_isa_selection(); }
};

constexpr std::size_t kArenaBytes = 256 * 1024;
alignas(64) unsigned char g_c_arena[kArenaBytes];
alignas(64) unsigned char g_cpp_arena[kArenaBytes];

// A ModelSpec as the tern_spec that describes it, field for field.
struct CSpec {
  tern_layer layers[tern::kMaxLayers] = {};
  tern_spec spec = {};
  explicit CSpec(const ModelSpec& s) {
    for (std::uint32_t l = 0; l < s.layer_count; ++l) {
      const tern::LayerSpec& ls = s.layers[l];
      layers[l].kind = static_cast<std::int32_t>(ls.kind);
      layers[l].activation = static_cast<std::int32_t>(ls.act);
      layers[l].out = ls.out;
      layers[l].from = ls.from;
      layers[l].init = static_cast<std::int32_t>(ls.init);
    }
    spec.input_width = s.input_width;
    spec.rows = s.rows;
    spec.mode = static_cast<std::int32_t>(s.mode);
    spec.loss = static_cast<std::int32_t>(s.loss);
    spec.optimizer = static_cast<std::int32_t>(s.optimizer);
    spec.layers = layers;
    spec.layer_count = s.layer_count;
    spec.divergence_guard = s.divergence_guard ? 1 : 0;
    spec.fused_update = s.fused_update ? 1 : 0;
    spec.example_rows = s.example_rows;
    spec.accumulation_rows = s.accumulation_rows;
  }
};

// The same model twice: through tern.h in g_c_arena, through tern::Model
// in g_cpp_arena; both initialised with `seed`.
struct Twins {
  ModelSpec spec;
  CSpec c_spec;
  tern_model* c = nullptr;
  tern::Arena arena;
  tern::Model cpp;
  Twins(const ModelSpec& s, std::uint64_t seed) : spec(s), c_spec(s) {
    tern_error err;
    REQUIRE(tern::check_spec(s).ok());
    // The handle's whole cache lines, then the C++ model's buffers.
    const std::size_t c_bytes = tern_arena_bytes(&c_spec.spec);
    REQUIRE(c_bytes > tern::arena_bytes(s));
    CHECK((c_bytes - tern::arena_bytes(s)) % 64 == 0);
    REQUIRE_MESSAGE(tern_model_create(&c_spec.spec, g_c_arena, sizeof g_c_arena, &c, &err) ==
                        TERN_OK,
                    err.message);
    REQUIRE(tern_model_initialize(c, seed, &err) == TERN_OK);
    REQUIRE(arena.attach(g_cpp_arena, sizeof g_cpp_arena).ok());
    REQUIRE(cpp.build(s, arena).ok());
    cpp.initialize(seed);
  }
  void set_optimizer(float rate) {
    tern_optimizer_params c_params = tern_optimizer_defaults();
    c_params.learning_rate = rate;
    c_params.weight_decay = 0.01f;
    tern_error err;
    REQUIRE(tern_model_set_optimizer(c, &c_params, &err) == TERN_OK);
    tern::OptimizerParams p;
    p.learning_rate = rate;
    p.weight_decay = 0.01f;
    REQUIRE(cpp.set_optimizer(p).ok());
  }
  // Both saved with optimizer state (weights only for inference models):
  // the bytes must be the same.
  void check_same_bytes() const {
    const bool state = spec.mode == tern::Mode::kTraining;
    std::vector<unsigned char> c_file(tern::model_file_bytes(spec, state));
    std::vector<unsigned char> cpp_file(c_file.size());
    std::size_t written = 0;
    tern_error err;
    REQUIRE(tern_model_save(c, c_file.data(), c_file.size(), state ? 1 : 0, &written, &err) ==
            TERN_OK);
    CHECK(written == c_file.size());
    tern::MemorySink sink(cpp_file.data(), cpp_file.size());
    REQUIRE(tern::save_model(cpp, sink.sink(), state).ok());
    CHECK(c_file == cpp_file);
    CHECK(tern_model_steps(c) == cpp.steps());
  }
};

// A data set of `count` samples for `spec`: inputs in [-1, 1), labels or
// targets.
struct Data {
  std::vector<float> x, t;
  std::vector<std::uint32_t> labels;
  std::size_t in = 0, out = 0;
  Data(const ModelSpec& spec, std::size_t count, std::uint64_t seed)
      : in(spec.input_width), out(spec.output_width()) {
    tern::Rng rng(seed);
    x.resize(count * in);
    t.resize(count * out);
    labels.resize(count);
    for (float& v : x) v = rng.symmetric(1.0f);
    for (float& v : t) v = rng.symmetric(0.5f);
    for (std::uint32_t& l : labels) l = rng.next_u32() % static_cast<std::uint32_t>(out);
  }
  // Rows [first, first + rows) as a C batch.
  tern_batch c_batch(std::size_t first, std::size_t rows) const {
    tern_batch b{};
    b.x = x.data() + first * in;
    b.ldx = in;
    b.rows = rows;
    b.labels = labels.data() + first;
    b.targets = t.data() + first * out;
    b.ldt = out;
    return b;
  }
};

// The C batch as the C++ Batch, written here independently of c_handle.
tern::Batch cpp_batch(const tern_batch& c) {
  tern::Batch b;
  b.x = c.x;
  b.ldx = c.ldx;
  b.rows = c.rows;
  b.labels = c.labels;
  b.targets = c.targets;
  b.ldt = c.ldt;
  b.indices = c.indices;
  b.samples = c.samples;
  return b;
}

// Under every ISA: runs c_part(twins) (the tern.h calls, counting heap
// allocations: there must be none) and cpp_part(twins) (the same through
// tern::Model), then checks the bytes after them, and that they are the
// same under every ISA.
template <typename CPart, typename CppPart>
void under_every_isa(const ModelSpec& spec, CPart c_part, CppPart cpp_part) {
  std::vector<unsigned char> first;
  for (tern::Isa isa : tern::test::runnable_isas()) {
    CAPTURE(tern::isa_name(isa));
    IsaScope scope(isa);
    Twins twins(spec, 17);
    CHECK(std::string(tern_model_isa(twins.c)) == tern::isa_name(isa));
    {
      tern::test::HeapAllocationScope heap;
      c_part(twins);
      CHECK(heap.count() == 0);
    }
    cpp_part(twins);
    twins.check_same_bytes();
    std::vector<unsigned char> file(tern::model_file_bytes(spec, false));
    std::size_t written = 0;
    REQUIRE(tern_model_save(twins.c, file.data(), file.size(), 0, &written, nullptr) == TERN_OK);
    if (first.empty()) first = file;
    CHECK(file == first);
  }
}

}  // namespace

TEST_CASE("C API parity: the init choice, fused update and batches by index") {
  using tern::Init;
  using tern::Pointwise;
  const ModelSpec spec = ModelSpec::input(6, 4)
                             .dense(16, Pointwise::kRelu, Init::kXavier)
                             .dense(8, Pointwise::kTanh, Init::kHe)
                             .dense(3)
                             .training(tern::LossKind::kSoftmaxCrossEntropy,
                                       tern::OptimizerKind::kAdam)
                             .with_fused_update();
  const Data d(spec, 24, 3);
  std::uint32_t order[24];
  for (std::uint32_t i = 0; i < 24; ++i) order[i] = (i * 7 + 5) % 24;  // a permutation
  const auto batch = [&](int step) {
    tern_batch b = d.c_batch(0, 4);
    b.indices = order + 4 * step;
    b.samples = 24;
    return b;
  };
  float c_loss[6], cpp_loss[6];
  under_every_isa(
      spec,
      [&](Twins& t) {
        t.set_optimizer(0.01f);
        for (int s = 0; s < 6; ++s) {
          const tern_batch b = batch(s);
          REQUIRE(tern_model_train_step(t.c, &b, &c_loss[s], nullptr) == TERN_OK);
        }
      },
      [&](Twins& t) {
        for (int s = 0; s < 6; ++s) {
          REQUIRE(t.cpp.train_step(cpp_batch(batch(s)), &cpp_loss[s]).ok());
        }
        CHECK(std::memcmp(c_loss, cpp_loss, sizeof c_loss) == 0);
      });
}

TEST_CASE("C API parity: per-example norms, clipping with noise, global clipping") {
  for (bool fused : {false, true}) {
    CAPTURE(fused);
    const ModelSpec spec = ModelSpec::input(5, 6)
                               .dense(12, tern::Pointwise::kGelu)
                               .layer_norm()
                               .dense(4)
                               .training(tern::LossKind::kMse, tern::OptimizerKind::kSgd)
                               .with_example_gradients(2)
                               .with_fused_update(fused);
    const Data d(spec, 30, 4);
    tern_clip_params c_clip{0.5f, 0.3f, 99, 0.8f, TERN_EXAMPLE_DIVISOR_ROWS};
    tern::ClipParams clip;
    clip.example_clip = 0.5f;
    clip.noise_multiplier = 0.3f;
    clip.noise_seed = 99;
    clip.global_clip = 0.8f;
    // 3 examples of 2 rows per step, then the last step on 2 examples.
    constexpr std::size_t kColumns = 4;  // 3 layers + the model
    float c_norms[5][3 * kColumns], c_global[5];
    std::size_t c_examples[5];
    under_every_isa(
        spec,
        [&](Twins& t) {
          t.set_optimizer(0.05f);
          REQUIRE(tern_model_set_clipping(t.c, &c_clip, nullptr) == TERN_OK);
          for (int s = 0; s < 5; ++s) {
            const tern_batch b = d.c_batch(6 * s, s < 4 ? 6 : 4);
            REQUIRE(tern_model_train_step(t.c, &b, nullptr, nullptr) == TERN_OK);
            REQUIRE(tern_model_example_norms(t.c, c_norms[s], 3 * kColumns, &c_examples[s],
                                             nullptr) == TERN_OK);
            c_global[s] = tern_model_gradient_norm(t.c);
          }
        },
        [&](Twins& t) {
          REQUIRE(t.cpp.set_clipping(clip).ok());
          for (int s = 0; s < 5; ++s) {
            const tern_batch b = d.c_batch(6 * s, s < 4 ? 6 : 4);
            REQUIRE(t.cpp.train_step(cpp_batch(b), nullptr).ok());
            const tern::MatrixView<const float> norms = t.cpp.example_norms();
            REQUIRE(norms.rows == c_examples[s]);
            REQUIRE(norms.cols == kColumns);
            for (std::size_t e = 0; e < norms.rows; ++e) {
              CHECK(std::memcmp(norms.data + e * norms.stride, c_norms[s] + e * kColumns,
                                kColumns * sizeof(float)) == 0);
            }
            const float global = t.cpp.gradient_norm();
            CHECK(std::memcmp(&c_global[s], &global, sizeof(float)) == 0);
          }
          CHECK(c_examples[4] == 2);
        });
  }
}

TEST_CASE("C API parity: accumulate and flush") {
  const ModelSpec spec = ModelSpec::input(5, 3)
                             .dense(10, tern::Pointwise::kRelu)
                             .dense(3)
                             .training(tern::LossKind::kSoftmaxCrossEntropy,
                                       tern::OptimizerKind::kAdamW)
                             .with_accumulation(9);
  const Data d(spec, 20, 5);
  // Micro-batches (first row, rows) and where a flush follows.
  struct Part {
    std::size_t first, rows;
    bool flush;
  };
  const Part parts[] = {{0, 3, false}, {3, 2, false}, {5, 3, true}, {8, 3, true}};
  float c_loss[5], cpp_loss[5];
  std::uint32_t c_rows[4];
  under_every_isa(
      spec,
      [&](Twins& t) {
        t.set_optimizer(0.02f);
        for (int i = 0; i < 4; ++i) {
          const tern_batch b = d.c_batch(parts[i].first, parts[i].rows);
          REQUIRE(tern_model_accumulate(t.c, &b, &c_loss[i], nullptr) == TERN_OK);
          c_rows[i] = tern_model_accumulated_rows(t.c);
          if (parts[i].flush) REQUIRE(tern_model_flush(t.c, nullptr) == TERN_OK);
        }
        const tern_batch b = d.c_batch(11, 3);
        REQUIRE(tern_model_train_step(t.c, &b, &c_loss[4], nullptr) == TERN_OK);
      },
      [&](Twins& t) {
        for (int i = 0; i < 4; ++i) {
          const tern_batch b = d.c_batch(parts[i].first, parts[i].rows);
          REQUIRE(t.cpp.accumulate(cpp_batch(b), &cpp_loss[i]).ok());
          CHECK(t.cpp.accumulated_rows() == c_rows[i]);
          if (parts[i].flush) REQUIRE(t.cpp.flush().ok());
        }
        REQUIRE(t.cpp.train_step(cpp_batch(d.c_batch(11, 3)), &cpp_loss[4]).ok());
        CHECK(std::memcmp(c_loss, cpp_loss, sizeof c_loss) == 0);
        CHECK(t.cpp.steps() == 3);
      });
}

TEST_CASE("C API parity: the divergence guard recovers, stops and is cleared alike") {
  const ModelSpec spec = ModelSpec::input(3, 4)
                             .dense(16, tern::Pointwise::kTanh)
                             .dense(2)
                             .training(tern::LossKind::kMse, tern::OptimizerKind::kSgd)
                             .with_divergence_guard();
  const Data d(spec, 4, 6);
  // The learning rate of each step: sane, blowing up, sane again.
  const float rates[] = {0.05f, 0.05f, 0.05f, 1e30f, 1e30f, 1e30f, 1e30f, 1e30f, 0.05f, 0.05f};
  constexpr int kSteps = 10;
  tern_status c_status[kSteps + 1];
  float c_loss[kSteps + 1];
  tern_divergence_report c_report{};
  tern_divergence_policy c_policy = tern_divergence_policy_defaults();
  c_policy.max_recoveries = 2;
  c_policy.learning_rate_factor = 0.25f;
  tern::DivergencePolicy policy;
  policy.max_recoveries = 2;
  policy.learning_rate_factor = 0.25f;
  const auto rate = [](float r) {
    tern::OptimizerParams p;
    p.learning_rate = r;
    p.momentum = 0;
    return p;
  };
  under_every_isa(
      spec,
      [&](Twins& t) {
        REQUIRE(tern_model_set_divergence_policy(t.c, &c_policy, nullptr) == TERN_OK);
        const tern_batch b = d.c_batch(0, 4);
        for (int s = 0; s < kSteps; ++s) {
          tern_optimizer_params p = tern_optimizer_defaults();
          p.learning_rate = rates[s];
          p.momentum = 0;
          REQUIRE(tern_model_set_optimizer(t.c, &p, nullptr) == TERN_OK);
          c_loss[s] = -1;
          c_status[s] = tern_model_train_step(t.c, &b, &c_loss[s], nullptr);
        }
        REQUIRE(tern_model_divergence(t.c, &c_report, nullptr) == TERN_OK);
        REQUIRE(tern_model_clear_divergence_stop(t.c, nullptr) == TERN_OK);
        c_loss[kSteps] = -1;
        c_status[kSteps] = tern_model_train_step(t.c, &b, &c_loss[kSteps], nullptr);
      },
      [&](Twins& t) {
        REQUIRE(t.cpp.set_divergence_policy(policy).ok());
        const tern::Batch b = cpp_batch(d.c_batch(0, 4));
        for (int s = 0; s <= kSteps; ++s) {
          CAPTURE(s);
          if (s < kSteps) REQUIRE(t.cpp.set_optimizer(rate(rates[s])).ok());
          if (s == kSteps) {
            const tern::DivergenceReport& r = t.cpp.divergence();
            CHECK(c_report.recoveries == r.recoveries);
            CHECK(c_report.last_step == r.last_step);
            CHECK(std::memcmp(&c_report.last_loss, &r.last_loss, sizeof(float)) == 0);
            CHECK(c_report.stopped == (r.stopped ? 1 : 0));
            CHECK(c_report.learning_rate_scale == r.learning_rate_scale);
            CHECK(std::memcmp(&c_report.smoothed_loss, &r.smoothed_loss, sizeof(float)) == 0);
            CHECK(std::memcmp(&c_report.reference_loss, &r.reference_loss, sizeof(float)) == 0);
            t.cpp.clear_divergence_stop();
          }
          float loss = -1;
          const tern::Status st = t.cpp.train_step(b, &loss);
          CHECK(static_cast<int>(c_status[s]) == static_cast<int>(st.code()));
          CHECK(std::memcmp(&c_loss[s], &loss, sizeof loss) == 0);
        }
        // The scenario went through recoveries and a stop.
        CHECK(c_report.stopped == 1);
        CHECK(c_report.recoveries == 2);
        CHECK(c_status[kSteps] == TERN_OK);
      });
}

TEST_CASE("C API parity: rank-1 edits and the factors of a batch") {
  const ModelSpec spec = ModelSpec::input(4, 3)
                             .dense(8, tern::Pointwise::kRelu)
                             .dense(6, tern::Pointwise::kTanh)
                             .dense(2)
                             .training(tern::LossKind::kMse, tern::OptimizerKind::kAdam);
  const Data d(spec, 6, 7);
  float c_u[3 * 8], c_delta[3 * 6], cpp_u[3 * 8], cpp_delta[3 * 6];
  under_every_isa(
      spec,
      [&](Twins& t) {
        const tern_batch b = d.c_batch(0, 3);
        REQUIRE(tern_model_edit_factors(t.c, &b, 1, c_u, c_delta, nullptr) == TERN_OK);
        REQUIRE(tern_model_rank1_edit(t.c, 1, 3, c_u, 8, c_delta, 6, -0.5f, nullptr) == TERN_OK);
        const tern_batch next = d.c_batch(3, 3);
        REQUIRE(tern_model_train_step(t.c, &next, nullptr, nullptr) == TERN_OK);
      },
      [&](Twins& t) {
        REQUIRE(t.cpp.edit_factors(cpp_batch(d.c_batch(0, 3)), 1, cpp_u, cpp_delta).ok());
        CHECK(std::memcmp(c_u, cpp_u, sizeof c_u) == 0);
        CHECK(std::memcmp(c_delta, cpp_delta, sizeof c_delta) == 0);
        REQUIRE(t.cpp.rank1_edit(1, 3, cpp_u, 8, cpp_delta, 6, -0.5f).ok());
        REQUIRE(t.cpp.train_step(cpp_batch(d.c_batch(3, 3)), nullptr).ok());
      });

  // An inference model takes edits too.
  const ModelSpec inference = spec.inference().with_rows(1);
  const float a[2 * 8] = {0.5f, -1.0f, 0.25f, 2.0f, 0.0f, 1.5f, -0.75f, 1.0f,
                          1.0f, 0.5f,  -2.0f, 0.0f, 0.25f, 1.0f, 0.5f, -1.0f};
  const float bv[2 * 6] = {1.0f, -0.5f, 0.25f, 0.0f, 2.0f, -1.0f,
                           0.5f, 0.5f,  -1.0f, 1.0f, 0.0f, 0.25f};
  under_every_isa(
      inference,
      [&](Twins& t) {
        REQUIRE(tern_model_rank1_edit(t.c, 1, 2, a, 8, bv, 6, 0.125f, nullptr) == TERN_OK);
      },
      [&](Twins& t) { REQUIRE(t.cpp.rank1_edit(1, 2, a, 8, bv, 6, 0.125f).ok()); });
}

TEST_CASE("C API parity: files written by one side load on the other") {
  const ModelSpec spec = ModelSpec::input(5, 4)
                             .dense(9, tern::Pointwise::kSigmoid)
                             .dense(3)
                             .training(tern::LossKind::kSoftmaxCrossEntropy,
                                       tern::OptimizerKind::kAdam);
  const Data d(spec, 8, 8);
  // One file per registration of the test binary (they may run at once).
  const char* variant = std::getenv("TERN_ISA");
  const std::string suffix = std::string(variant != nullptr ? variant : "default") + ".tern";
  const std::string c_path = "capi-parity-c-" + suffix;
  const std::string cpp_path = "capi-parity-cpp-" + suffix;
  for (tern::Isa isa : tern::test::runnable_isas()) {
    CAPTURE(tern::isa_name(isa));
    IsaScope scope(isa);
    Twins writer(spec, 21);
    const tern_batch b = d.c_batch(0, 4);
    REQUIRE(tern_model_train_step(writer.c, &b, nullptr, nullptr) == TERN_OK);
    REQUIRE(writer.cpp.train_step(cpp_batch(b), nullptr).ok());
    REQUIRE(tern_model_save_file(writer.c, c_path.c_str(), 1, nullptr) == TERN_OK);
    REQUIRE(tern::save_model_file(writer.cpp, cpp_path.c_str(), true).ok());
    // The C side reads the C++ file and the C++ side the C file: same
    // models, same bytes.
    Twins reader(spec, 99);
    REQUIRE(tern_model_load_file(reader.c, cpp_path.c_str(), 1, nullptr) == TERN_OK);
    REQUIRE(tern::load_model_file(reader.cpp, c_path.c_str(), true).ok());
    reader.check_same_bytes();
    CHECK(tern_model_steps(reader.c) == 1);
  }
  std::remove(c_path.c_str());
  std::remove(cpp_path.c_str());
}
