// The bad-input catalogue (README, "Bad input"): every way a caller, a
// sensor or a flash chip can hand tern bad data, each checked for its exact
// status code and its exact message, and for leaving the model untouched.
// Entries whose coverage lives elsewhere (kernel entry points, whole-file
// sweeps, IDX files) are listed in the README next to their tests.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdlib>
#include <string>
#include <vector>

#include "runtime_test_util.h"
#include "tern/kernels/isa_selection.h"
#include "tern/kernels/kernel_table.h"
#include "tern/kernels/dense.h"
#include "tern/runtime/persist.h"
#include "tern/runtime/rng.h"

using namespace tern;
using tern::test::AlignedBuffer;
using tern::test::bits_equal;
using tern::test::ModelInArena;
using tern::test::parameters_of;

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
