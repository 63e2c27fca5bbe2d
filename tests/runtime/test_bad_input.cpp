// SPDX-License-Identifier: Apache-2.0
// The bad-input catalogue (docs/hardening.md, "Bad-input catalogue"): every way a caller, a
// sensor or a flash chip can hand tern bad data, each checked for its exact
// status code and its exact message, and for leaving the model untouched.
// Entries whose coverage lives elsewhere (kernel entry points, whole-file
// sweeps, IDX files) are listed in docs/hardening.md next to their tests.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "runtime_test_util.h"
#include "tern/kernels/isa_selection.h"
#include "tern/kernels/kernel_table.h"
#include "tern/kernels/dense.h"
#include "tern/runtime/persist.h"
#include "tern/runtime/rng.h"
#include "tern/runtime/schedule.h"

using namespace tern;
using tern::test::AlignedBuffer;
using tern::test::bits_equal;
using tern::test::ModelInArena;
using tern::test::parameters_of;
using State = tern::test::TrainingState;

namespace {

void is(const Status& s, StatusCode code, const std::string& message) {
  CHECK(status_code_name(s.code()) == std::string(status_code_name(code)));
  CHECK(std::string(s.message()) == message);
}

const ModelSpec kSpec = mlp({4, 6, 3}, 4, Mode::kTraining);

struct Data {
  std::vector<float> x = std::vector<float>(8 * 4, 0.25f);
  std::vector<std::uint32_t> labels = {0, 1, 2, 0, 1, 2, 0, 1};
  std::vector<float> targets = std::vector<float>(8 * 3, 0.5f);
  Batch batch(std::size_t rows) const {
    Batch b;
    b.x = x.data();
    b.ldx = 4;
    b.rows = rows;
    b.labels = labels.data();
    b.targets = targets.data();
    b.ldt = 3;
    return b;
  }
};

// Restores TERN_ISA, the CPU mask and the ISA selection.
struct IsaEnvGuard {
  std::string saved;
  bool had;
  IsaEnvGuard() {
    const char* v = std::getenv("TERN_ISA");
    had = v != nullptr;
    if (had) saved = v;
  }
  ~IsaEnvGuard() {
    if (had) setenv("TERN_ISA", saved.c_str(), 1);
    else unsetenv("TERN_ISA");
    set_cpu_isas(0);
    reset_isa_selection();
  }
};

}  // namespace

TEST_CASE("bad input: shape mismatches between layers and between buffers") {
  Arena arena;
  AlignedBuffer buffer(1 << 16);
  REQUIRE(arena.attach(buffer.data(), buffer.size()).ok());
  Model model;
  ModelSpec bad = mlp({10, 20, 5}, 4);
  bad.layers[1].in = 21;
  is(model.build(bad, arena), StatusCode::kShapeMismatch,
     "model spec: layer 1 (dense) has in=21 out=5 but its input point has width 20");
  is(model.build(ModelSpec::input(8, 2).dense(8).dense(6).residual(0), arena),
     StatusCode::kShapeMismatch,
     "model spec: residual layer 2 adds point 0, which must be an earlier point (< 2) of width 6");
  CHECK(arena.used() == 0);

  ModelInArena m(kSpec);
  REQUIRE(m.status.ok());
  m.model.initialize(1);
  const std::vector<float> before = parameters_of(m.model);
  Data d;
  Batch b = d.batch(4);
  b.ldx = 3;
  is(m.model.train_step(b, nullptr), StatusCode::kInvalidArgument,
     "train: input row stride 3 is smaller than the input width 4");
  is(m.model.forward(d.x.data(), 3, 2), StatusCode::kInvalidArgument,
     "forward: input row stride 3 is smaller than the input width 4");
  is(m.model.train_step(d.batch(5), nullptr), StatusCode::kInvalidArgument,
     "train: 5 rows; the model was built for 1..4 rows per step");

  ModelInArena mse(mlp({4, 6, 3}, 4, Mode::kTraining, Pointwise::kRelu, LossKind::kMse));
  REQUIRE(mse.status.ok());
  b = d.batch(4);
  b.ldt = 2;
  is(mse.model.train_step(b, nullptr), StatusCode::kInvalidArgument,
     "train: MSE needs targets with a row stride >= 3 (targets given, stride 2)");

  // A kernel called directly on buffers whose shapes do not agree.
  std::vector<float> x(6), w(6), y(4);
  is(gemm_rows_f32(2, 3, 2, x.data(), 2, w.data(), 2, nullptr, y.data(), 2),
     StatusCode::kInvalidArgument, "gemm_rows_f32: row stride of X is 2, smaller than its 3 columns");
  CHECK(bits_equal(parameters_of(m.model), before));
}

TEST_CASE("bad input: null and misaligned pointers") {
  Arena arena;
  is(arena.attach(nullptr, 64), StatusCode::kInvalidArgument, "arena: buffer is null");
  AlignedBuffer buffer(256);
  unsigned char* odd = buffer.data() + 8;
  const Status mis = arena.attach(odd, 128);
  const Status expect = Status::error(
      StatusCode::kMisaligned, "arena: buffer at %p is not %u-byte aligned (declare it alignas(%u))",
      static_cast<void*>(odd), 64u, 64u);
  is(mis, StatusCode::kMisaligned, expect.message());
  CHECK_FALSE(arena.attached());

  ModelInArena m(kSpec);
  REQUIRE(m.status.ok());
  Data d;
  is(m.model.forward(nullptr, 4, 1), StatusCode::kInvalidArgument, "forward: input is null");
  Batch b = d.batch(4);
  b.labels = nullptr;
  is(m.model.train_step(b, nullptr), StatusCode::kInvalidArgument,
     "train: softmax cross-entropy needs labels, and batch.labels is null");
  is(m.model.predict(d.x.data(), 4, 1, nullptr), StatusCode::kInvalidArgument,
     "predict: classes is null");
  std::vector<float> w(6), y(4);
  is(gemm_rows_f32(2, 3, 2, nullptr, 3, w.data(), 2, nullptr, y.data(), 2),
     StatusCode::kInvalidArgument, "gemm_rows_f32: X is null for a 2x3 operand");
}

TEST_CASE("bad input: an arena too small by one byte or by a lot names the size it needs") {
  const std::size_t need = arena_bytes(kSpec);
  AlignedBuffer buffer(need);
  for (std::size_t have : {need - 1, std::size_t{64}}) {
    CAPTURE(have);
    Arena arena;
    REQUIRE(arena.attach(buffer.data(), have).ok());
    const std::size_t usable = have / 64 * 64;  // attach rounds down to cache lines
    Model model;
    const Status s = model.build(kSpec, arena);
    const std::string expect = "model: needs " + std::to_string(need) +
                               " bytes of arena (tern::arena_bytes(spec)), only " +
                               std::to_string(usable) + " of " + std::to_string(usable) +
                               " are free";
    is(s, StatusCode::kOutOfMemory, expect);
    CHECK(arena.used() == 0);
    CHECK_FALSE(model.built());
  }
  // One byte more than the arena holds, allocated directly.
  Arena arena;
  REQUIRE(arena.attach(buffer.data(), 128).ok());
  void* p = nullptr;
  is(arena.allocate_bytes(129, &p), StatusCode::kOutOfMemory,
     "arena: out of space: requested 129 bytes (192 aligned), 128 of 128 bytes free; the arena "
     "needs at least 192 bytes");
}

TEST_CASE("bad input: zero-sized dimensions") {
  Arena arena;
  AlignedBuffer buffer(4096);
  REQUIRE(arena.attach(buffer.data(), buffer.size()).ok());
  Model model;
  is(model.build(mlp({10, 20, 5}, 0), arena), StatusCode::kInvalidArgument,
     "model spec: rows per step is 0 (layer 0)");
  is(model.build(mlp({10, 0, 5}, 4), arena), StatusCode::kInvalidArgument,
     "model spec: a width is 0 (layer 0)");
  is(model.build(mlp({0, 4}, 4), arena), StatusCode::kInvalidArgument,
     "model spec: a width is 0 (layer 0)");
  is(model.build(ModelSpec::input(10, 4), arena), StatusCode::kInvalidArgument,
     "model spec: the model has no layers (layer 0)");
  ModelInArena m(kSpec);
  REQUIRE(m.status.ok());
  Data d;
  is(m.model.train_step(d.batch(0), nullptr), StatusCode::kInvalidArgument,
     "train: 0 rows; the model was built for 1..4 rows per step");
  is(m.model.forward(d.x.data(), 4, 0), StatusCode::kInvalidArgument,
     "forward: 0 rows; the model was built for 1..4 rows per step");
  // The kernels accept empty shapes (nothing to do) — a zero-row GEMM is a
  // no-op, not an error.
  CHECK(gemm_rows_f32(0, 3, 2, nullptr, 3, nullptr, 2, nullptr, nullptr, 2).ok());
}

TEST_CASE("bad input: NaN and Inf in inputs and targets, labels out of range") {
  ModelInArena m(kSpec);
  REQUIRE(m.status.ok());
  m.model.initialize(1);
  const std::vector<float> before = parameters_of(m.model);
  Data d;
  d.x[2 * 4 + 1] = std::nanf("");
  is(m.model.train_step(d.batch(4), nullptr), StatusCode::kNonFinite,
     "train: input sample 2 (batch row 2) column 1 is not finite");
  d.x[2 * 4 + 1] = -INFINITY;
  is(m.model.forward(d.x.data(), 4, 3), StatusCode::kNonFinite,
     "forward: input row 2 column 1 is not finite");
  d.x[2 * 4 + 1] = 0.5f;
  d.labels[3] = 3;
  is(m.model.train_step(d.batch(4), nullptr), StatusCode::kInvalidArgument,
     "train: label 3 of sample 3 is out of range for 3 classes");
  d.labels[3] = 0xffffffffu;
  is(m.model.train_step(d.batch(4), nullptr), StatusCode::kInvalidArgument,
     "train: label 4294967295 of sample 3 is out of range for 3 classes");
  d.labels[3] = 0;
  const std::uint32_t indices[4] = {0, 1, 8, 2};
  Batch gathered = d.batch(4);
  gathered.indices = indices;
  gathered.samples = 8;
  is(m.model.train_step(gathered, nullptr), StatusCode::kInvalidArgument,
     "train: batch row 2 selects sample 8 of 8");
  CHECK(bits_equal(parameters_of(m.model), before));

  ModelInArena mse(mlp({4, 6, 3}, 4, Mode::kTraining, Pointwise::kRelu, LossKind::kMse));
  REQUIRE(mse.status.ok());
  d.targets[1 * 3 + 0] = INFINITY;
  is(mse.model.train_step(d.batch(4), nullptr), StatusCode::kNonFinite,
     "train: target of sample 1 column 0 is not finite");

  // Optimizer settings are inputs too.
  OptimizerParams p;
  p.learning_rate = std::nanf("");
  is(m.model.set_optimizer(p), StatusCode::kInvalidArgument,
     "optimizer: learning rate nan must be finite and > 0");
}

TEST_CASE("bad input: optimizer settings for a built inference model are refused, not lost") {
  ModelInArena inference(mlp({4, 6, 3}, 2));
  REQUIRE(inference.status.ok());
  OptimizerParams p;
  p.learning_rate = 0.25f;
  is(inference.model.set_optimizer(p), StatusCode::kFailedPrecondition,
     "optimizer: an inference model has no optimizer (build it with Mode::kTraining)");
  CHECK(inference.model.optimizer().learning_rate == OptimizerParams().learning_rate);
  LearningRateSchedule cosine;
  cosine.kind = ScheduleKind::kCosine;
  cosine.total_steps = 10;
  is(inference.model.set_schedule(cosine), StatusCode::kFailedPrecondition,
     "schedule: an inference model has no optimizer (build it with Mode::kTraining)");
  // Before build() the settings are kept for the model built next.
  Model unbuilt;
  CHECK(unbuilt.set_optimizer(p).ok());
  CHECK(unbuilt.optimizer().learning_rate == 0.25f);
}

TEST_CASE("bad input: model files truncated, bit-flipped, of another version or architecture") {
  ModelInArena a(kSpec), b(kSpec);
  REQUIRE(a.status.ok());
  REQUIRE(b.status.ok());
  a.model.initialize(1);
  b.model.initialize(2);
  const std::vector<float> untouched = parameters_of(b.model);
  std::vector<unsigned char> file(model_file_bytes(kSpec, false));
  MemorySink sink(file.data(), file.size());
  REQUIRE(save_model(a.model, sink.sink(), false).ok());
  auto load = [&](const std::vector<unsigned char>& f) {
    return load_model(b.model, memory_source(f.data(), f.size()), false);
  };
  const std::size_t size = file.size();
  is(load(std::vector<unsigned char>(file.begin(), file.begin() + 10)), StatusCode::kCorruptData,
     "load: truncated: 10 bytes, a model file has at least 68");
  is(load(std::vector<unsigned char>(file.begin(), file.end() - 1)), StatusCode::kCorruptData,
     "load: truncated: " + std::to_string(size - 1) + " bytes, the header describes " +
         std::to_string(size));

  std::vector<unsigned char> f = file;
  f[size / 2] ^= 0x10;
  const std::uint32_t stored = crc32(file.data(), size - 4);
  const std::uint32_t actual = crc32(f.data(), size - 4);
  const Status crc_msg = Status::error(StatusCode::kCorruptData,
                                       "load: checksum mismatch: the file says %08x, its bytes "
                                       "give %08x",
                                       static_cast<unsigned>(stored), static_cast<unsigned>(actual));
  is(load(f), StatusCode::kCorruptData, crc_msg.message());

  auto fix_crc = [](std::vector<unsigned char>& v) {
    const std::uint32_t c = crc32(v.data(), v.size() - 4);
    for (int i = 0; i < 4; ++i) v[v.size() - 4 + i] = static_cast<unsigned char>(c >> (8 * i));
  };
  f = file;
  f[8] = 3;
  fix_crc(f);
  is(load(f), StatusCode::kCorruptData, "load: format version 3; this build reads versions 1 to 2");
  f = file;
  f[0] = 'X';
  is(load(f), StatusCode::kCorruptData, "load: not a tern model file (bad magic)");

  ModelInArena other(mlp({4, 7, 3}, 4, Mode::kTraining));
  REQUIRE(other.status.ok());
  is(load_model(other.model, memory_source(file.data(), file.size()), false),
     StatusCode::kShapeMismatch,
     "load: layer 0 differs: file has dense 4->6 relu, model has dense 4->7 relu");
  CHECK(bits_equal(parameters_of(b.model), untouched));
}

TEST_CASE("bad input: TERN_ISA with an unknown or an unavailable value") {
  IsaEnvGuard guard;
  char available[64];
  format_isa_mask(available_isas(), available, sizeof available);
  setenv("TERN_ISA", "avx9000", 1);
  reset_isa_selection();
  const KernelTable* t = nullptr;
  is(active_kernels(&t), StatusCode::kUnsupportedIsa,
     std::string("TERN_ISA='avx9000' is not an ISA name; available: ") + available);
  // Sticky: the kernels refuse to run rather than fall back to scalar.
  float x = 1, w = 1, y = 0;
  is(gemm_rows_f32(1, 1, 1, &x, 1, &w, 1, nullptr, &y, 1), StatusCode::kUnsupportedIsa,
     std::string("TERN_ISA='avx9000' is not an ISA name; available: ") + available);
  CHECK(y == 0.0f);
  // Set but empty is reported like any other value that names no ISA.
  setenv("TERN_ISA", "", 1);
  reset_isa_selection();
  is(active_kernels(&t), StatusCode::kUnsupportedIsa,
     std::string("TERN_ISA='' is not an ISA name; available: ") + available);
  ModelInArena m(kSpec);
  is(m.status, StatusCode::kUnsupportedIsa,
     std::string("TERN_ISA='' is not an ISA name; available: ") + available);

  // A CPU without SIMD (the mask firmware would pass) asked for each ISA.
  set_cpu_isas(isa_bit(Isa::kScalar));
  for (int i = 1; i < kIsaCount; ++i) {
    const Isa isa = static_cast<Isa>(i);
    CAPTURE(isa_name(isa));
    setenv("TERN_ISA", isa_name(isa), 1);
    reset_isa_selection();
    const std::string why = kernel_table(isa) != nullptr
                                ? std::string("this CPU does not support ISA '") + isa_name(isa) + "'"
                                : std::string("ISA '") + isa_name(isa) +
                                      "' is not compiled into this build";
    is(active_kernels(&t), StatusCode::kUnsupportedIsa,
       "TERN_ISA: " + why + "; available: scalar");
  }
}

// ---------------------------------------------------------------------------
// Issue 13: sizes that wrap, misaligned pointers, non-finite outputs, a
// failed rebuild.
// ---------------------------------------------------------------------------
namespace {

constexpr std::size_t kMaxSize = SIZE_MAX;
constexpr std::size_t kQuarter = SIZE_MAX / 4 + 1;  // 2^62 on 64-bit: x 4 bytes wraps to 0
constexpr std::size_t kEighth = SIZE_MAX / 8 + 1;   // 2^61: 2^63 bytes, more than any object
constexpr std::size_t kHalfBits = std::size_t{1} << (sizeof(std::size_t) * 4);  // 2^32

std::string does_not_fit(const char* op, const char* name, std::size_t rows, std::size_t ld) {
  return std::string(op) + ": " + name + " of " + std::to_string(rows) +
         " rows with row stride " + std::to_string(ld) + " does not fit in the address space";
}

std::string not_aligned(const char* op, const char* name, const void* p) {
  char address[32];
  std::snprintf(address, sizeof address, "%p", p);
  return std::string(op) + ": " + name + " at " + address + " is not 4-byte aligned";
}

}  // namespace

TEST_CASE("bad input: Batch strides and counts whose extent wraps, in every Batch entry") {
  ModelInArena m(kSpec);
  REQUIRE(m.status.ok());
  m.model.initialize(1);
  const State before(m.model);
  Data d;
  float u[4 * 4], delta[4 * 6];
  // Every Model entry that takes a Batch, on the same batch.
  auto each_entry = [&](const Batch& b, const std::string& message) {
    is(m.model.train_step(b, nullptr), StatusCode::kInvalidArgument, message);
    is(m.model.compute_gradients(b, nullptr), StatusCode::kInvalidArgument, message);
    is(m.model.edit_factors(b, 0, u, delta), StatusCode::kInvalidArgument, message);
  };
  // ldx = 2^62 with 2 rows: row 1 would be at x + 2^64 bytes = x, so the
  // step used to train on row 0 twice and return ok.
  Batch b = d.batch(2);
  b.ldx = kQuarter;
  each_entry(b, does_not_fit("train", "input", 2, kQuarter));
  // ldx = 2^61 with indices: the index times the stride overflowed a
  // pointer offset (UBSan). All `samples` rows are checked, not just rows.
  const std::uint32_t indices[4] = {3, 0, 2, 1};
  b = d.batch(4);
  b.ldx = kEighth;
  b.indices = indices;
  b.samples = 8;
  each_entry(b, does_not_fit("train", "input", 8, kEighth));
  // A plausible stride with an absurd sample count.
  b.ldx = 4;
  b.samples = kMaxSize;
  each_entry(b, does_not_fit("train", "input", kMaxSize, 4));
  // Rows times stride overflow only as a product.
  b.samples = kHalfBits + 1;
  b.ldx = kHalfBits;
  each_entry(b, does_not_fit("train", "input", kHalfBits + 1, kHalfBits));
  // The labels' extent: samples of them.
  b.ldx = 4;
  b.samples = kQuarter;
  each_entry(b, does_not_fit("train", "input", kQuarter, 4));
  CHECK(State(m.model) == before);

  ModelInArena mse(mlp({4, 6, 3}, 4, Mode::kTraining, Pointwise::kRelu, LossKind::kMse));
  REQUIRE(mse.status.ok());
  b = d.batch(2);
  b.ldt = kQuarter;
  is(mse.model.train_step(b, nullptr), StatusCode::kInvalidArgument,
     does_not_fit("train", "batch.targets", 2, kQuarter));

  ModelInArena acc(kSpec.with_accumulation(8));
  REQUIRE(acc.status.ok());
  b = d.batch(2);
  b.ldx = kQuarter;
  is(acc.model.accumulate(b, nullptr), StatusCode::kInvalidArgument,
     does_not_fit("train", "input", 2, kQuarter));
  CHECK(acc.model.accumulated_rows() == 0);

  // forward() and predict() take a stride too.
  std::uint32_t classes[2] = {7, 7};
  is(m.model.forward(d.x.data(), kQuarter, 2), StatusCode::kInvalidArgument,
     does_not_fit("forward", "input", 2, kQuarter));
  is(m.model.predict(d.x.data(), kEighth, 2, classes), StatusCode::kInvalidArgument,
     does_not_fit("predict", "input", 2, kEighth));
  CHECK(classes[0] == 7);
  CHECK(State(m.model) == before);
}

TEST_CASE("bad input: rank1_edit with a count or stride whose extent wraps") {
  ModelInArena m(kSpec.inference());
  REQUIRE(m.status.ok());
  m.model.initialize(1);
  const std::vector<float> before = parameters_of(m.model);
  std::vector<float> a(4 * 4, 0.5f), b(4 * 6, 0.25f);
  is(m.model.rank1_edit(0, kMaxSize, a.data(), 4, b.data(), 6, 1.0f),
     StatusCode::kInvalidArgument, does_not_fit("rank1_edit", "factor a", kMaxSize, 4));
  is(m.model.rank1_edit(0, kQuarter, a.data(), 4, b.data(), 6, 1.0f),
     StatusCode::kInvalidArgument, does_not_fit("rank1_edit", "factor a", kQuarter, 4));
  is(m.model.rank1_edit(0, kHalfBits + 1, a.data(), kHalfBits, b.data(), 6, 1.0f),
     StatusCode::kInvalidArgument, does_not_fit("rank1_edit", "factor a", kHalfBits + 1, kHalfBits));
  is(m.model.rank1_edit(0, 2, a.data(), 4, b.data(), kQuarter, 1.0f),
     StatusCode::kInvalidArgument, does_not_fit("rank1_edit", "factor b", 2, kQuarter));
  CHECK(bits_equal(parameters_of(m.model), before));
  // The same edit with sane sizes works.
  CHECK(m.model.rank1_edit(0, 2, a.data(), 4, b.data(), 6, 1.0f).ok());
}

TEST_CASE("bad input: float and uint32 arrays that are not 4-byte aligned (kMisaligned)") {
  ModelInArena m(kSpec);
  REQUIRE(m.status.ok());
  m.model.initialize(1);
  const State before(m.model);
  Data d;
  // Copies of the data one byte off float alignment.
  alignas(64) static unsigned char raw[4096];
  auto shifted = [](unsigned char* at, const void* from, std::size_t bytes) {
    std::memcpy(at, from, bytes);
    return at;
  };
  const float* x = reinterpret_cast<const float*>(
      shifted(raw + 1, d.x.data(), d.x.size() * sizeof(float)));
  const std::uint32_t* labels = reinterpret_cast<const std::uint32_t*>(
      shifted(raw + 1025, d.labels.data(), d.labels.size() * sizeof(std::uint32_t)));
  const float* targets = reinterpret_cast<const float*>(
      shifted(raw + 2049, d.targets.data(), d.targets.size() * sizeof(float)));
  const std::uint32_t indices[4] = {0, 1, 2, 3};
  const std::uint32_t* odd_indices =
      reinterpret_cast<const std::uint32_t*>(shifted(raw + 3073, indices, sizeof indices));
  float* odd_out = reinterpret_cast<float*>(raw + 3587);
  std::uint32_t* odd_classes = reinterpret_cast<std::uint32_t*>(raw + 3587);

  Batch b = d.batch(4);
  b.x = x;
  is(m.model.train_step(b, nullptr), StatusCode::kMisaligned, not_aligned("train", "input", x));
  b = d.batch(4);
  b.labels = labels;
  is(m.model.train_step(b, nullptr), StatusCode::kMisaligned,
     not_aligned("train", "batch.labels", labels));
  b = d.batch(4);
  b.indices = odd_indices;
  b.samples = 8;
  is(m.model.compute_gradients(b, nullptr), StatusCode::kMisaligned,
     not_aligned("train", "batch.indices", odd_indices));
  is(m.model.train_step(d.batch(4), odd_out), StatusCode::kMisaligned,
     not_aligned("train_step", "mean_loss", odd_out));
  is(m.model.compute_gradients(d.batch(4), odd_out), StatusCode::kMisaligned,
     not_aligned("compute_gradients", "mean_loss", odd_out));
  is(m.model.forward(x, 4, 2), StatusCode::kMisaligned, not_aligned("forward", "input", x));
  is(m.model.predict(d.x.data(), 4, 2, odd_classes), StatusCode::kMisaligned,
     not_aligned("predict", "classes", odd_classes));
  float u[16], delta[24];
  is(m.model.edit_factors(d.batch(4), 0, odd_out, delta), StatusCode::kMisaligned,
     not_aligned("edit_factors", "output u", odd_out));
  is(m.model.edit_factors(d.batch(4), 0, u, odd_out), StatusCode::kMisaligned,
     not_aligned("edit_factors", "output delta", odd_out));
  std::vector<float> fb(6, 0.25f);
  is(m.model.rank1_edit(0, 1, x, 4, fb.data(), 6, 1.0f), StatusCode::kMisaligned,
     not_aligned("rank1_edit", "factor a", x));
  CHECK(State(m.model) == before);

  ModelInArena mse(mlp({4, 6, 3}, 4, Mode::kTraining, Pointwise::kRelu, LossKind::kMse));
  REQUIRE(mse.status.ok());
  b = d.batch(4);
  b.targets = targets;
  is(mse.model.train_step(b, nullptr), StatusCode::kMisaligned,
     not_aligned("train", "batch.targets", targets));
  ModelInArena acc(kSpec.with_accumulation(8));
  REQUIRE(acc.status.ok());
  is(acc.model.accumulate(d.batch(4), odd_out), StatusCode::kMisaligned,
     not_aligned("accumulate", "mean_loss", odd_out));
}

TEST_CASE("bad input: outputs that overflow to Inf or NaN are non_finite, never a class") {
  ModelInArena m(kSpec);
  REQUIRE(m.status.ok());
  m.model.initialize(1);
  // Layer 0: W of 4 x 6, layer 1: W of 6 x 3 (biases 0 after initialize).
  Span<float> w0 = m.model.tensor(0).value, w1 = m.model.tensor(2).value;
  auto fill = [](Span<float> w, float v) {
    for (float& f : w) f = v;
  };
  const std::string overflow = " (the weights or inputs overflow float)";
  Data d;
  // Finite weights near float's limit: 4 x 3e38 overflows to +inf.
  fill(w0, 3e38f);
  fill(w1, 1.0f);
  is(m.model.forward(d.x.data(), 4, 2), StatusCode::kNonFinite,
     "forward: output row 0 column 0 is inf" + overflow);
  // Inputs near float's limit with ordinary weights.
  fill(w0, 1.0f);
  std::vector<float> huge(8 * 4, 3e38f);
  is(m.model.forward(huge.data(), 4, 1), StatusCode::kNonFinite,
     "forward: output row 0 column 0 is inf" + overflow);
  // inf - inf: a NaN in row 1 only. predict used to map it to class 0.
  for (std::size_t j = 0; j < 6; ++j) w1[j * 3 + 0] = j % 2 == 0 ? 1.0f : -1.0f;
  std::vector<float> x = d.x;
  for (std::size_t c = 0; c < 4; ++c) x[1 * 4 + c] = 3e38f;
  std::uint32_t classes[2] = {9, 9};
  const Status s = m.model.predict(x.data(), 4, 2, classes);
  CHECK(s.code() == StatusCode::kNonFinite);
  const std::string msg = s.message();
  CHECK(msg.rfind("predict: output row 1 column 0 is ", 0) == 0);
  CHECK(msg.find("nan (the weights or inputs overflow float)") != std::string::npos);
  // The row before the named one has its class; the named row is untouched.
  CHECK(classes[0] != 9);
  CHECK(classes[1] == 9);
  // Row 0 alone is finite and predicts the same class.
  std::uint32_t alone = 9;
  REQUIRE(m.model.predict(x.data(), 4, 1, &alone).ok());
  CHECK(alone == classes[0]);
}

TEST_CASE("bad input: a failed rebuild leaves the built model intact and working") {
  // Room for the model plus a little: a second build of it does not fit.
  ModelInArena m(kSpec, 64);
  REQUIRE(m.status.ok());
  m.model.initialize(3);
  Data d;
  REQUIRE(m.model.train_step(d.batch(4), nullptr).ok());
  const State before(m.model);
  REQUIRE(m.model.forward(d.x.data(), 4, 4).ok());
  const MatrixView<const float> y = m.model.output();
  const std::vector<float> out_before(y.data, y.data + 4 * 3);
  const std::size_t used = m.arena.used();

  ModelSpec bad = kSpec;
  bad.layers[1].in = 7;
  CHECK(m.model.build(bad, m.arena).code() == StatusCode::kShapeMismatch);
  CHECK(m.model.build(mlp({4, 6, 3}, 0, Mode::kTraining), m.arena).code() ==
        StatusCode::kInvalidArgument);
  CHECK(m.model.build(kSpec, m.arena).code() == StatusCode::kOutOfMemory);
  Arena detached;
  CHECK(m.model.build(kSpec, detached).code() == StatusCode::kFailedPrecondition);

  CHECK(m.model.built());
  CHECK(m.arena.used() == used);
  CHECK(m.model.spec().layers[1].in == 6);
  CHECK(State(m.model) == before);
  REQUIRE(m.model.forward(d.x.data(), 4, 4).ok());
  const MatrixView<const float> y2 = m.model.output();
  CHECK(bits_equal(std::vector<float>(y2.data, y2.data + 4 * 3), out_before));
  CHECK(m.model.train_step(d.batch(4), nullptr).ok());
}
