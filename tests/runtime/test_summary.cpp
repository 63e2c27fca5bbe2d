// SPDX-License-Identifier: Apache-2.0
// The model summary (tern/runtime/summary.h), read back as a user reads it:
// the buffer table tiles the whole block (offsets contiguous from 0, sizes
// adding up to arena_bytes(spec) and, for an MLP, to a formula derived by
// hand), every shaped buffer is the size of its shape, the layer table's
// parameter counts equal (in + 1) out and 2 out, a short buffer is refused
// with the bytes needed and not one byte written, and nothing is
// allocated.
#include <doctest/doctest.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <sstream>
#include <string>
#include <vector>

#include "alloc_counter.h"
#include "runtime_test_util.h"
#include "tern/runtime/summary.h"

using namespace tern;
using tern::test::contains;
using tern::test::ModelInArena;

namespace {

std::size_t R(std::size_t bytes) { return (bytes + 63) / 64 * 64; }

std::string text_of(const ModelSpec& spec) {
  std::size_t needed = 0;
  (void)summary_text(spec, nullptr, 0, &needed);
  std::vector<char> buffer(needed);
  const Status s = summary_text(spec, buffer.data(), buffer.size(), &needed);
  REQUIRE_MESSAGE(s.ok(), s.message());
  return std::string(buffer.data());
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

// One row of the buffer table.
struct Row {
  unsigned long long offset = 0, bytes = 0;
  std::string shape, name;
};

// The product of a shape "a x b" or "a" ("-": none).
bool shape_floats(const std::string& shape, unsigned long long* floats) {
  unsigned long long a = 0, b = 0;
  char tail = 0;
  if (std::sscanf(shape.c_str(), "%llu x %llu%c", &a, &b, &tail) == 2) {
    *floats = a * b;
    return true;
  }
  if (std::sscanf(shape.c_str(), "%llu%c", &a, &tail) == 1) {
    *floats = a;
    return true;
  }
  return false;
}

// The buffer table and the total line.
struct Table {
  std::vector<Row> rows;
  unsigned long long total = 0, count = 0;
};

Table parse_buffers(const std::string& text) {
  Table t;
  bool in_table = false;
  for (const std::string& line : lines_of(text)) {
    if (line.rfind("arena buffers, in offset order:", 0) == 0) continue;
    if (line.find("offset") != std::string::npos && line.find("buffer") != std::string::npos) {
      in_table = true;
      continue;
    }
    if (line.rfind("arena: ", 0) == 0) {
      REQUIRE(std::sscanf(line.c_str(), "arena: %llu bytes in %llu buffers", &t.total,
                          &t.count) == 2);
      in_table = false;
      continue;
    }
    if (!in_table) continue;
    // Columns: offset (14), bytes (13), two blanks, shape (20), the name.
    Row r;
    REQUIRE_MESSAGE(line.size() > 50, line);
    REQUIRE(std::sscanf(line.c_str(), "%llu %llu", &r.offset, &r.bytes) == 2);
    r.shape = line.substr(30, 20);
    r.shape.erase(r.shape.find_last_not_of(' ') + 1);
    r.name = line.substr(51);
    t.rows.push_back(r);
  }
  return t;
}

// What every summary must satisfy: the buffers tile [0, arena_bytes), a
// shaped buffer holds exactly its shape's floats rounded to 64 bytes.
void check_tiles(const ModelSpec& spec, const std::string& text) {
  const Table t = parse_buffers(text);
  REQUIRE(!t.rows.empty());
  unsigned long long at = 0, sum = 0;
  for (const Row& r : t.rows) {
    CAPTURE(r.name);
    CHECK(r.offset == at);
    CHECK(r.bytes > 0);
    CHECK(r.bytes % 64 == 0);
    at = r.offset + r.bytes;
    sum += r.bytes;
    unsigned long long floats = 0;
    if (r.shape != "-") {
      REQUIRE_MESSAGE(shape_floats(r.shape, &floats), r.shape);
      CHECK(r.bytes == R(4 * floats));
    }
  }
  CHECK(sum == arena_bytes(spec));
  CHECK(t.total == arena_bytes(spec));
  CHECK(t.count == t.rows.size());
}

// The layer table: parameters per layer against the formula, and the total.
void check_layers(const ModelSpec& spec, const std::string& text) {
  const std::vector<std::string> lines = lines_of(text);
  std::size_t at = 0;
  while (at < lines.size() && lines[at].rfind("layer  kind", 0) != 0) ++at;
  REQUIRE(at + spec.layer_count < lines.size());
  unsigned long long total = 0;
  for (std::uint32_t l = 0; l < spec.layer_count; ++l) {
    const std::string& line = lines[at + 1 + l];
    CAPTURE(line);
    const LayerSpec& ls = spec.layers[l];
    unsigned index = 0, in_rows = 0, in = 0, out_rows = 0, out = 0;
    unsigned long long params = 0;
    REQUIRE(std::sscanf(line.c_str(), "%u", &index) == 1);
    CHECK(index == l);
    // Shapes start at column 40 (6 + 1 + 20 + 1 + 11 + 1).
    REQUIRE(std::sscanf(line.c_str() + 40, "%u x %u %u x %u %llu", &in_rows, &in, &out_rows,
                        &out, &params) == 5);
    CHECK(in_rows == spec.rows);
    CHECK(out_rows == spec.rows);
    CHECK(in == ls.in);
    CHECK(out == ls.out);
    unsigned long long expected = 0;
    if (ls.kind == LayerKind::kDense) expected = 1ull * ls.in * ls.out + ls.out;
    if (ls.kind == LayerKind::kLayerNorm) expected = 2ull * ls.out;
    CHECK(params == expected);
    CHECK(line.find(layer_kind_name(ls.kind)) == 7);
    total += expected;
  }
  char line[96];
  std::snprintf(line, sizeof line, "parameters: %llu floats in ", total);
  CHECK(text.find(line) != std::string::npos);
  CHECK(total == parameter_floats(spec));
}

// The hand-derived size of an MLP trained with Adam and no options, as
// test_plan.cpp derives it: parameters, gradients and two moments; every
// point; two ping-pong delta buffers; labels; packed-panel scratch from 16
// rows (gemm: 32 x min(k, 256) floats, rank-1: 160 n floats for n <= 256).
std::size_t adam_mlp_bytes(const std::vector<std::size_t>& w, std::size_t n) {
  const std::size_t L = w.size() - 1;
  std::size_t params = 0;
  for (std::size_t l = 0; l < L; ++l) params += R(4 * w[l] * w[l + 1]) + R(4 * w[l + 1]);
  std::size_t total = params * 4;
  for (std::size_t p = 0; p <= L; ++p) total += R(4 * n * w[p]);
  std::size_t a = 0, b = 0;
  for (std::size_t p = 1; p <= L; ++p) {
    std::size_t& slot = (L - p) % 2 == 0 ? a : b;
    slot = std::max(slot, R(4 * n * w[p]));
  }
  total += a + b + R(4 * n);
  std::size_t scratch = 0;
  if (n >= 16) {
    for (std::size_t l = 0; l < L; ++l) scratch = std::max(scratch, R(4 * 32 * std::min<std::size_t>(w[l], 256)));
    if (n <= 256) scratch = std::max(scratch, R(4 * 160 * n));
  }
  return total + scratch;
}

constexpr ModelSpec kFashion = mlp({784, 256, 128, 10}, 64, Mode::kTraining);

}  // namespace

TEST_CASE("summary: the buffers of the Fashion-MNIST MLP add up to a hand-derived size") {
  const std::string text = text_of(kFashion);
  CAPTURE(text);
  check_tiles(kFashion, text);
  check_layers(kFashion, text);
  CHECK(parse_buffers(text).total == adam_mlp_bytes({784, 256, 128, 10}, 64));
  // With the divergence guard: one copy of the parameters and both moments.
  const ModelSpec guarded = kFashion.with_divergence_guard();
  const std::string g = text_of(guarded);
  check_tiles(guarded, g);
  const std::size_t params = R(4 * 784 * 256) + R(4 * 256) + R(4 * 256 * 128) + R(4 * 128) +
                             R(4 * 128 * 10) + R(4 * 10);
  CHECK(parse_buffers(g).total == adam_mlp_bytes({784, 256, 128, 10}, 64) + 3 * params);
  CHECK(g.find("divergence guard snapshot") != std::string::npos);
  CHECK(g.find("training (softmax cross-entropy, adam, divergence guard)") != std::string::npos);
}

TEST_CASE("summary: every planner option tiles the block") {
  const ModelSpec specs[] = {
      mlp({784, 256, 128, 10}, 1),
      mlp({784, 256, 128, 10}, 64),
      mlp({2, 16, 16, 2}, 8, Mode::kTraining, Pointwise::kRelu, LossKind::kSoftmaxCrossEntropy,
          OptimizerKind::kSgd),
      ffn(8, 12, 20),
      ffn_block(ffn(8, 12, 20), 16),  // two blocks: three inference slots
      ffn(8, 12, 20, Mode::kTraining).with_divergence_guard(),
      ffn(8, 12, 20, Mode::kTraining, Pointwise::kTanh).with_example_gradients(4),
      mlp({3, 5, 4}, 4, Mode::kTraining, Pointwise::kSigmoid, LossKind::kMse,
          OptimizerKind::kAdamW)
          .with_fused_update()
          .with_accumulation(12),
      mlp({20, 40, 3}, 32, Mode::kTraining).with_fused_update().with_example_gradients(),
      ModelSpec::input(6, 3).dense(6, Pointwise::kGelu).activation(Pointwise::kTanh).residual(0),
  };
  for (const ModelSpec& spec : specs) {
    const std::string text = text_of(spec);
    CAPTURE(text);
    check_tiles(spec, text);
    check_layers(spec, text);
  }
}

TEST_CASE("summary: shared buffers list every use, largest shape") {
  // Inference MLP: points ping-pong between two buffers.
  const std::string text = text_of(mlp({4, 8, 6, 3}, 2));
  CAPTURE(text);
  const Table t = parse_buffers(text);
  bool odd = false, even = false;
  for (const Row& r : t.rows) {
    if (r.name == "points 1, 3 (output)") {
      odd = true;
      CHECK(r.shape == "2 x 8");  // point 1 is the wider
    }
    if (r.name == "point 2") {
      even = true;
      CHECK(r.shape == "2 x 6");
    }
  }
  CHECK(odd);
  CHECK(even);
  // Training: deltas ping-pong, named in the backward pass's order.
  const std::string train = text_of(mlp({4, 8, 6, 3}, 2, Mode::kTraining));
  CHECK(train.find("deltas 3, 1") != std::string::npos);
  CHECK(train.find("point 0 (input)") != std::string::npos);
  CHECK(train.find("layer 0 W moment 2") != std::string::npos);
  const std::string sgd = text_of(mlp({4, 8, 3}, 2, Mode::kTraining, Pointwise::kRelu,
                                      LossKind::kSoftmaxCrossEntropy, OptimizerKind::kSgd));
  CHECK(sgd.find("layer 1 b velocity") != std::string::npos);
  CHECK(sgd.find("moment 2") == std::string::npos);
}

TEST_CASE("summary: the exact text of a small model") {
  // Pins the layout summary.h describes.
  const std::string expected =
      "model: 2 inputs, 2 layers, 1 row per step; inference\n"
      "layer  kind                 activation  input shape     output shape      parameters\n"
      "0      dense                relu        1 x 2           1 x 3                      9\n"
      "1      dense                identity    1 x 3           1 x 2                      8\n"
      "parameters: 17 floats in 4 tensors (68 bytes)\n"
      "arena buffers, in offset order:\n"
      "        offset         bytes  shape                buffer\n"
      "             0            64  2 x 3                layer 0 W\n"
      "            64            64  3                    layer 0 b\n"
      "           128            64  3 x 2                layer 1 W\n"
      "           192            64  2                    layer 1 b\n"
      "           256            64  1 x 3                point 1\n"
      "           320            64  1 x 2                point 2 (output)\n"
      "arena: 384 bytes in 6 buffers\n";
  CHECK(text_of(mlp({2, 3, 2}, 1)) == expected);
}

TEST_CASE("summary: a built model adds its kernels; the sink and the text agree") {
  const ModelSpec spec = mlp({5, 7, 3}, 4, Mode::kTraining);
  ModelInArena m(spec);
  REQUIRE(m.status.ok());
  char text[4096];
  std::size_t needed = 0;
  REQUIRE(summary_text(m.model, text, sizeof text, &needed).ok());
  CHECK(needed == std::strlen(text) + 1);
  const std::string kernels = std::string("kernels: ") + isa_name(m.model.isa()) + "\n";
  const std::string with = text;
  const std::size_t at = with.find(kernels);
  REQUIRE(at != std::string::npos);
  std::string without = with;
  without.erase(at, kernels.size());
  CHECK(without == text_of(spec));

  char through_sink[4096];
  MemorySink sink(through_sink, sizeof through_sink);
  REQUIRE(write_summary(m.model, sink.sink()).ok());
  CHECK(std::string(through_sink, sink.size()) == with);
  MemorySink spec_sink(through_sink, sizeof through_sink);
  REQUIRE(write_summary(spec, spec_sink.sink()).ok());
  CHECK(std::string(through_sink, spec_sink.size()) == without);
}

TEST_CASE("summary: a short buffer is refused with the bytes needed, and not written") {
  const std::string full = text_of(kFashion);
  const std::size_t need = full.size() + 1;
  for (const std::size_t capacity : {std::size_t{1}, std::size_t{64}, need - 1}) {
    std::vector<char> buffer(need + 16, '#');
    std::size_t needed = 0;
    const Status s = summary_text(kFashion, buffer.data(), capacity, &needed);
    CHECK(s.code() == StatusCode::kOutOfMemory);
    char figure[64];
    std::snprintf(figure, sizeof figure, "the buffer has %zu bytes, the summary needs %zu",
                  capacity, need);
    CHECK_MESSAGE(contains(s, figure), s.message());
    CHECK(needed == need);
    for (const char c : buffer) CHECK(c == '#');
  }
  // Exactly enough: the text and its NUL, nothing after.
  std::vector<char> exact(need + 1, '#');
  REQUIRE(summary_text(kFashion, exact.data(), need, nullptr).ok());
  CHECK(std::string(exact.data()) == full);
  CHECK(exact[need] == '#');
  // A size query.
  std::size_t needed = 0;
  CHECK(summary_text(kFashion, nullptr, 0, &needed).code() == StatusCode::kOutOfMemory);
  CHECK(needed == need);
}

TEST_CASE("summary: errors") {
  char buffer[64];
  std::size_t needed = 7;
  const Status null_buffer = summary_text(kFashion, nullptr, 10, &needed);
  CHECK(null_buffer.code() == StatusCode::kInvalidArgument);
  CHECK(contains(null_buffer, "capacity is 10 bytes"));
  CHECK(needed == 7);

  ModelSpec bad = mlp({4, 8, 3}, 2);
  bad.layers[1].in = 9;
  Arena none;
  Model refused;
  const Status by_build = refused.build(bad, none);
  const Status by_summary = summary_text(bad, buffer, sizeof buffer, &needed);
  CHECK(by_summary.code() == StatusCode::kShapeMismatch);
  CHECK(std::string(by_summary.message()) == by_build.message());
  CHECK(needed == 7);
  CHECK(write_summary(mlp({4, 8, 3}, 0), MemorySink(buffer, sizeof buffer).sink()).code() ==
        StatusCode::kInvalidArgument);

  const Model unbuilt;
  const Status not_built = summary_text(unbuilt, buffer, sizeof buffer, &needed);
  CHECK(not_built.code() == StatusCode::kFailedPrecondition);
  CHECK(contains(not_built, "not built"));
  CHECK(write_summary(unbuilt, MemorySink(buffer, sizeof buffer).sink()).code() ==
        StatusCode::kFailedPrecondition);

  CHECK(write_summary(kFashion, ByteSink{}).code() == StatusCode::kInvalidArgument);
  // The sink's own error comes back as it is.
  MemorySink small(buffer, sizeof buffer);
  const Status full = write_summary(kFashion, small.sink());
  CHECK(full.code() == StatusCode::kOutOfMemory);
  CHECK(contains(full, "memory sink"));
}

TEST_CASE("summary: no heap") {
  const ModelSpec spec = ffn(8, 12, 20, Mode::kTraining).with_divergence_guard();
  ModelInArena m(spec);
  REQUIRE(m.status.ok());
  static char text[16384];
  tern::test::HeapAllocationScope heap;
  std::size_t needed = 0;
  CHECK(summary_text(m.model, text, sizeof text, &needed).ok());
  CHECK(summary_text(spec, nullptr, 0, &needed).code() == StatusCode::kOutOfMemory);
  CHECK(heap.count() == 0);
}
