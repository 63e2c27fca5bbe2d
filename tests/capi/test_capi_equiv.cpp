// SPDX-License-Identifier: Apache-2.0
// The C interface is the C++ runtime underneath: a model driven through
// tern.h must end in exactly the bytes of the same model driven through
// tern::Model (same spec, seed, optimizer and batches), under every ISA this
// CPU runs, and the C path must not touch the heap.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "alloc_counter.h"
#include "doctest/doctest.h"
#include "tern.h"
#include "tern/kernels/isa_selection.h"
#include "tern/runtime/model.h"
#include "tern/runtime/checkpoint.h"
#include "tern/runtime/persist.h"
#include "tern/runtime/rng.h"
#include "tern/runtime/summary.h"
#include "test_util.h"

namespace {

// Selects an ISA for the scope, restoring the default selection after.
struct IsaScope {
  explicit IsaScope(tern::Isa isa) { REQUIRE(tern::select_isa(isa).ok()); }
  ~IsaScope() { tern::reset_isa_selection(); }
};

// A feed-forward block over 5 positions of width 12 (LayerNorm, residual,
// GELU) trained with AdamW on MSE: every layer kind the C spec can describe.
constexpr std::uint32_t kRows = 5, kWidth = 12, kInner = 20;
const tern_layer kLayers[] = {
    {TERN_LAYER_DENSE, TERN_ACT_GELU, kInner, 0, TERN_INIT_AUTO},
    {TERN_LAYER_DENSE, TERN_ACT_IDENTITY, kWidth, 0, TERN_INIT_AUTO},
    {TERN_LAYER_RESIDUAL, TERN_ACT_IDENTITY, 0, 0, TERN_INIT_AUTO},
    {TERN_LAYER_LAYER_NORM, TERN_ACT_IDENTITY, 0, 0, TERN_INIT_AUTO},
    {TERN_LAYER_ACTIVATION, TERN_ACT_TANH, kWidth, 0, TERN_INIT_AUTO},
};
constexpr tern_spec kCSpec = {kWidth, kRows, TERN_MODE_TRAINING, TERN_LOSS_MSE,
                              TERN_OPTIMIZER_ADAMW, kLayers, 5, 0, 0, 0, 0, 0};
constexpr tern::ModelSpec kSpec =
    tern::ffn(kRows, kWidth, kInner, tern::Mode::kTraining, tern::Pointwise::kGelu,
              tern::LossKind::kMse, tern::OptimizerKind::kAdamW)
        .activation(tern::Pointwise::kTanh);
constexpr int kSteps = 25;

struct Data {
  std::vector<float> x, t;
  Data() : x(kSteps * kRows * kWidth), t(kSteps * kRows * kWidth) {
    tern::Rng rng(5);
    for (float& v : x) v = rng.symmetric(1.0f);
    for (float& v : t) v = rng.symmetric(0.5f);
  }
};

alignas(64) unsigned char g_c_arena[96 * 1024];
alignas(64) unsigned char g_cpp_arena[tern::arena_bytes(kSpec)];

// The saved file (parameters and optimizer state) after kSteps steps.
std::vector<unsigned char> train_c(const Data& d, std::size_t* heap) {
  std::vector<unsigned char> file(tern_model_file_bytes(&kCSpec, 1));
  tern_model* model = nullptr;
  tern_error err;
  tern_optimizer_params p = tern_optimizer_defaults();
  p.learning_rate = 0.01f;
  p.weight_decay = 0.01f;
  tern::test::HeapAllocationScope scope;
  REQUIRE(tern_model_create(&kCSpec, g_c_arena, sizeof g_c_arena, &model, &err) == TERN_OK);
  REQUIRE(tern_model_initialize(model, 11, &err) == TERN_OK);
  REQUIRE(tern_model_set_optimizer(model, &p, &err) == TERN_OK);
  for (int s = 0; s < kSteps; ++s) {
    tern_batch b{};
    b.x = d.x.data() + s * kRows * kWidth;
    b.ldx = kWidth;
    b.rows = kRows;
    b.targets = d.t.data() + s * kRows * kWidth;
    b.ldt = kWidth;
    REQUIRE(tern_model_train_step(model, &b, nullptr, &err) == TERN_OK);
  }
  std::size_t written = 0;
  REQUIRE(tern_model_save(model, file.data(), file.size(), 1, &written, &err) == TERN_OK);
  CHECK(written == file.size());
  REQUIRE(tern_model_load(model, file.data(), written, 1, &err) == TERN_OK);
  *heap = scope.count();
  return file;
}

std::vector<unsigned char> train_cpp(const Data& d) {
  std::vector<unsigned char> file(tern::model_file_bytes(kSpec, true));
  tern::Arena arena;
  tern::Model model;
  REQUIRE(arena.attach(g_cpp_arena, sizeof g_cpp_arena).ok());
  REQUIRE(model.build(kSpec, arena).ok());
  model.initialize(11);
  tern::OptimizerParams p;
  p.learning_rate = 0.01f;
  p.weight_decay = 0.01f;
  REQUIRE(model.set_optimizer(p).ok());
  for (int s = 0; s < kSteps; ++s) {
    tern::Batch b;
    b.x = d.x.data() + s * kRows * kWidth;
    b.ldx = kWidth;
    b.rows = kRows;
    b.targets = d.t.data() + s * kRows * kWidth;
    b.ldt = kWidth;
    REQUIRE(model.train_step(b, nullptr).ok());
  }
  tern::MemorySink sink(file.data(), file.size());
  REQUIRE(tern::save_model(model, sink.sink(), true).ok());
  CHECK(sink.size() == file.size());
  return file;
}

}  // namespace

TEST_CASE("C API: same spec, sizes and bytes as the C++ runtime, no heap") {
  REQUIRE(tern_spec_check(&kCSpec, nullptr) == TERN_OK);
  const std::size_t c_bytes = tern_arena_bytes(&kCSpec);
  const std::size_t handle = c_bytes - tern::arena_bytes(kSpec);
  CHECK(c_bytes > tern::arena_bytes(kSpec));
  // The handle's fixed reservation (tern.h), which holds the Model and Arena.
  CHECK(handle == TERN_HANDLE_BYTES);
  CHECK(handle >= sizeof(tern::Model) + sizeof(tern::Arena));
  REQUIRE(c_bytes <= sizeof g_c_arena);
  CHECK(tern_model_file_bytes(&kCSpec, 1) == tern::model_file_bytes(kSpec, true));

  const Data data;
  std::vector<unsigned char> first;
  for (tern::Isa isa : tern::test::runnable_isas()) {
    CAPTURE(tern::isa_name(isa));
    IsaScope scope(isa);
    std::size_t heap = 0;
    const std::vector<unsigned char> c_file = train_c(data, &heap);
    const std::vector<unsigned char> cpp_file = train_cpp(data);
    CHECK(heap == 0);
    CHECK(c_file == cpp_file);
    if (first.empty()) first = c_file;
    CHECK(c_file == first);  // and the same bytes under every ISA
  }
}

TEST_CASE("C API: loaded state is checked like the C++ loader's (v >= 0), a short buffer is named") {
  const Data data;
  std::size_t heap = 0;
  std::vector<unsigned char> file = train_c(data, &heap);
  tern_model* model = nullptr;
  tern_error err;
  REQUIRE(tern_model_create(&kCSpec, g_c_arena, sizeof g_c_arena, &model, &err) == TERN_OK);
  // The first second moment (payload value 2P) set to -1, both CRCs right:
  // the C++ loader's refusal, and the model unchanged.
  const std::size_t P = tern_model_parameter_count(model);
  const std::size_t at = tern::model_file_header_bytes(kSpec.layer_count) + 4 * 2 * P;
  const unsigned char minus_one[4] = {0x00, 0x00, 0x80, 0xbf};
  std::memcpy(file.data() + at, minus_one, 4);
  const std::uint32_t crc = tern::crc32(file.data(), file.size() - 4);
  for (int i = 0; i < 4; ++i) file[file.size() - 4 + i] = static_cast<unsigned char>(crc >> (8 * i));
  float before[kWidth], after[kWidth];
  std::vector<float> x(kRows * kWidth, 0.25f);
  REQUIRE(tern_model_infer(model, x.data(), kWidth, 1, before, kWidth, &err) == TERN_OK);
  CHECK(tern_model_load(model, file.data(), file.size(), 1, &err) == TERN_CORRUPT_DATA);
  CHECK(std::string(err.message).find("is -1; Adam's second moments are means of squares") !=
        std::string::npos);
  REQUIRE(tern_model_infer(model, x.data(), kWidth, 1, after, kWidth, &err) == TERN_OK);
  CHECK(std::memcmp(before, after, sizeof before) == 0);

  // A buffer one byte short: the bytes needed, nothing written.
  std::vector<unsigned char> out(file.size() - 1, 0xaa);
  std::size_t written = 7;
  CHECK(tern_model_save(model, out.data(), out.size(), 1, &written, &err) == TERN_OUT_OF_MEMORY);
  CHECK(written == 0);
  CHECK(std::string(err.message) == "tern_model_save: the buffer has " +
                                        std::to_string(out.size()) + " bytes, the model file needs " +
                                        std::to_string(file.size()) + " (tern_model_file_bytes)");
  CHECK(std::all_of(out.begin(), out.end(), [](unsigned char c) { return c == 0xaa; }));
}

namespace {

constexpr std::size_t kQuarter = SIZE_MAX / 4 + 1;  // 2^62 on 64-bit: x 4 bytes wraps to 0

const tern_layer kSmallLayers[] = {
    {TERN_LAYER_DENSE, TERN_ACT_RELU, 6, 0, TERN_INIT_AUTO},
    {TERN_LAYER_DENSE, TERN_ACT_IDENTITY, 3, 0, TERN_INIT_AUTO},
};
constexpr tern_spec kSmallCSpec = {4, 2, TERN_MODE_INFERENCE, TERN_LOSS_SOFTMAX_CROSS_ENTROPY,
                                   TERN_OPTIMIZER_SGD, kSmallLayers, 2, 0, 0, 0, 0, 0};
constexpr tern::ModelSpec kSmallSpec =
    tern::mlp({4, 6, 3}, 2, tern::Mode::kInference, tern::Pointwise::kRelu,
              tern::LossKind::kSoftmaxCrossEntropy, tern::OptimizerKind::kSgd);

alignas(64) unsigned char g_small_c_arena[16 * 1024];
alignas(64) unsigned char g_small_cpp_arena[tern::arena_bytes(kSmallSpec)];

}  // namespace

TEST_CASE("C API: Inf/NaN outputs, a misaligned y and a y stride that wraps are refused") {
  // A model whose weights are all 1, made with the C++ runtime and loaded
  // through the C API (the C API sets no weights directly).
  tern::Arena arena;
  tern::Model cpp;
  REQUIRE(arena.attach(g_small_cpp_arena, sizeof g_small_cpp_arena).ok());
  REQUIRE(cpp.build(kSmallSpec, arena).ok());
  for (std::uint32_t t = 0; t < cpp.tensor_count(); t += 2) {
    for (float& v : cpp.tensor(t).value) v = 1.0f;
  }
  std::vector<unsigned char> file(tern::model_file_bytes(kSmallSpec, false));
  tern::MemorySink sink(file.data(), file.size());
  REQUIRE(tern::save_model(cpp, sink.sink(), false).ok());

  REQUIRE(tern_arena_bytes(&kSmallCSpec) <= sizeof g_small_c_arena);
  tern_model* model = nullptr;
  tern_error err;
  REQUIRE(tern_model_create(&kSmallCSpec, g_small_c_arena, sizeof g_small_c_arena, &model,
                            &err) == TERN_OK);
  REQUIRE(tern_model_load(model, file.data(), file.size(), 0, &err) == TERN_OK);

  // Inputs of 3e38: 4 x 3e38 overflows to +inf in the first layer.
  std::vector<float> x(2 * 4, 3e38f);
  std::vector<float> y(2 * 3, -7.0f);
  CHECK(tern_model_infer(model, x.data(), 4, 2, y.data(), 3, &err) == TERN_NON_FINITE);
  CHECK(err.code == TERN_NON_FINITE);
  CHECK(std::string(err.message) ==
        "infer: output row 0 column 0 is inf (the weights or inputs overflow float)");
  for (float v : y) CHECK(v == -7.0f);  // untouched
  std::uint32_t classes[2] = {5, 5};
  CHECK(tern_model_predict(model, x.data(), 4, 2, classes, &err) == TERN_NON_FINITE);
  CHECK(classes[0] == 5);
  CHECK(classes[1] == 5);

  // The same model on ordinary inputs answers.
  std::fill(x.begin(), x.end(), 0.5f);
  REQUIRE(tern_model_infer(model, x.data(), 4, 2, y.data(), 3, &err) == TERN_OK);
  CHECK(y[0] == 12.0f);  // 6 units of relu(4 x 0.5) = 2, times 1

  // y one byte off float alignment.
  alignas(64) static unsigned char raw[64];
  float* odd = reinterpret_cast<float*>(raw + 1);
  CHECK(tern_model_infer(model, x.data(), 4, 2, odd, 3, &err) == TERN_MISALIGNED);
  char expect[160];
  std::snprintf(expect, sizeof expect, "infer: y at %p is not 4-byte aligned",
                static_cast<void*>(odd));
  CHECK(std::string(err.message) == expect);
  // A y stride of 2^62: row 1 would land on row 0 (the byte offset wraps).
  CHECK(tern_model_infer(model, x.data(), 4, 2, y.data(), kQuarter, &err) ==
        TERN_INVALID_ARGUMENT);
  CHECK(std::string(err.message) == "infer: y of 2 rows with row stride " +
                                        std::to_string(kQuarter) +
                                        " does not fit in the address space");
  CHECK(tern_model_infer(model, x.data(), kQuarter, 2, y.data(), 3, &err) ==
        TERN_INVALID_ARGUMENT);
  CHECK(std::string(err.message) == "infer: input of 2 rows with row stride " +
                                        std::to_string(kQuarter) +
                                        " does not fit in the address space");
}

namespace {

// Storage in a vector, for the C++ side.
tern::Status vector_read(void* context, std::size_t offset, void* data, std::size_t bytes) {
  const auto& v = *static_cast<std::vector<unsigned char>*>(context);
  std::memcpy(data, v.data() + offset, bytes);
  return tern::Status();
}
tern::Status vector_write(void* context, std::size_t offset, const void* data, std::size_t bytes) {
  auto& v = *static_cast<std::vector<unsigned char>*>(context);
  std::memcpy(v.data() + offset, data, bytes);
  return tern::Status();
}
// ... and the same for the C side.
tern_status c_vector_read(void* context, std::size_t offset, void* data, std::size_t bytes,
                          tern_error*) {
  return vector_read(context, offset, data, bytes).ok() ? TERN_OK : TERN_IO_ERROR;
}
tern_status c_vector_write(void* context, std::size_t offset, const void* data, std::size_t bytes,
                           tern_error*) {
  return vector_write(context, offset, data, bytes).ok() ? TERN_OK : TERN_IO_ERROR;
}

}  // namespace

TEST_CASE("C API: checkpoints are the C++ checkpoints' bytes, and load either way, no heap") {
  const Data data;
  std::size_t heap = 0;
  const std::vector<unsigned char> file = train_c(data, &heap);  // the C model stays in g_c_arena
  auto* c_model = reinterpret_cast<tern_model*>(g_c_arena);
  REQUIRE(tern_model_parameter_count(c_model) > 0);
  tern::Arena arena;
  tern::Model cpp;
  REQUIRE(arena.attach(g_cpp_arena, sizeof g_cpp_arena).ok());
  REQUIRE(cpp.build(kSpec, arena).ok());
  REQUIRE(tern::load_model(cpp, tern::memory_source(file.data(), file.size()), true).ok());

  const std::size_t bytes = tern_checkpoint_storage_bytes(&kCSpec, 0);
  REQUIRE(bytes == tern::checkpoint_storage_bytes(kSpec, 0));
  std::vector<unsigned char> cpp_bytes(bytes, 0), c_bytes(bytes, 0);
  tern::Storage cpp_storage;
  cpp_storage.read = vector_read;
  cpp_storage.write = vector_write;
  cpp_storage.context = &cpp_bytes;
  cpp_storage.size = bytes;
  tern_storage c_storage{};
  c_storage.read = c_vector_read;
  c_storage.write = c_vector_write;
  c_storage.context = &c_bytes;
  c_storage.size = bytes;

  tern::Rng rng(3, 5);
  const tern::RngState r = rng.save();
  const tern_rng_state c_rng{r.state, r.increment};
  tern_error err;
  tern_checkpoint_info info{};
  for (int save = 1; save <= 2; ++save) {  // both slots
    CAPTURE(save);
    REQUIRE(tern::save_checkpoint(cpp, &rng, cpp_storage).ok());
    tern::test::HeapAllocationScope scope;
    REQUIRE(tern_checkpoint_save(c_model, &c_rng, &c_storage, &info, &err) == TERN_OK);
    CHECK(scope.count() == 0);
    CHECK(info.sequence == static_cast<std::uint64_t>(save));
    CHECK(info.steps == kSteps);
    CHECK(c_bytes == cpp_bytes);
  }

  // The C++ checkpoint through the C interface into a fresh C model, and
  // the C checkpoint through the C++ API: the same state, the same generator.
  tern_model* resumed = nullptr;
  alignas(64) static unsigned char resumed_arena[96 * 1024];
  REQUIRE(tern_model_create(&kCSpec, resumed_arena, sizeof resumed_arena, &resumed, &err) ==
          TERN_OK);
  tern_rng_state got{};
  c_storage.context = &cpp_bytes;
  {
    tern::test::HeapAllocationScope scope;
    REQUIRE(tern_checkpoint_load(resumed, &got, &c_storage, &info, &err) == TERN_OK);
    CHECK(scope.count() == 0);
  }
  CHECK(got.state == r.state);
  CHECK(got.increment == r.increment);
  CHECK(info.sequence == 2);
  std::vector<unsigned char> again(file.size());
  std::size_t written = 0;
  REQUIRE(tern_model_save(resumed, again.data(), again.size(), 1, &written, &err) == TERN_OK);
  CHECK(again == file);
  cpp.initialize(99);
  tern::Rng other(0);
  cpp_storage.context = &c_bytes;
  REQUIRE(tern::load_checkpoint(cpp, &other, cpp_storage).ok());
  CHECK(other.save().state == r.state);
  tern::MemorySink sink(again.data(), again.size());
  REQUIRE(tern::save_model(cpp, sink.sink(), true).ok());
  CHECK(again == file);
}

TEST_CASE("C API: tern_model_summary is the C++ summary_text, byte for byte, without heap") {
  tern_model* model = nullptr;
  tern_error err;
  REQUIRE(tern_model_create(&kCSpec, g_c_arena, sizeof g_c_arena, &model, &err) == TERN_OK);
  tern::Arena arena;
  tern::Model cpp;
  REQUIRE(arena.attach(g_cpp_arena, sizeof g_cpp_arena).ok());
  REQUIRE(cpp.build(kSpec, arena).ok());
  static char c_text[8192], cpp_text[8192];
  std::size_t c_needed = 0, cpp_needed = 0;
  tern::test::HeapAllocationScope heap;
  REQUIRE(tern_model_summary(model, c_text, sizeof c_text, &c_needed, &err) == TERN_OK);
  CHECK(heap.count() == 0);
  REQUIRE(tern::summary_text(cpp, cpp_text, sizeof cpp_text, &cpp_needed).ok());
  CHECK(c_needed == cpp_needed);
  CHECK(std::memcmp(c_text, cpp_text, cpp_needed) == 0);
  // A short buffer: the C++ status, code and message, through tern_error.
  const tern::Status short_cpp = tern::summary_text(cpp, cpp_text, 100, &cpp_needed);
  CHECK(tern_model_summary(model, c_text, 100, &c_needed, &err) == TERN_OUT_OF_MEMORY);
  CHECK(static_cast<int>(err.code) == static_cast<int>(short_cpp.code()));
  CHECK(std::string(err.message) == short_cpp.message());
}
