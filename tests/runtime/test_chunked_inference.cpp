// SPDX-License-Identifier: Apache-2.0
// Model::infer() and predict() over any number of rows: the bits of
// forward() on each chunk and on each row alone, at chunk boundaries, on
// training and inference models and every ISA; y's gaps untouched; what y
// and classes hold after a non-finite output in a later chunk; every error.
#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <vector>

#include "alloc_counter.h"
#include "runtime_test_util.h"
#include "test_util.h"

using namespace tern;
using tern::test::contains;
using tern::test::GuardedMatrix;
using tern::test::IsaScope;
using tern::test::ModelInArena;
using tern::test::ReadyModel;

namespace {

constexpr std::uint32_t kRows = 4;
constexpr ModelSpec kSpec = ModelSpec::input(5, kRows)
                                .dense(7, Pointwise::kTanh)
                                .layer_norm()
                                .dense(5, Pointwise::kRelu)
                                .residual(0)
                                .dense(3);

// forward() on one row: the reference every chunking must reproduce.
std::vector<float> row_alone(Model& m, const float* x) {
  const Status s = m.forward(x, kSpec.input_width, 1);
  REQUIRE_MESSAGE(s.ok(), s.message());
  const MatrixView<const float> y = m.output();
  return std::vector<float>(y.row(0), y.row(0) + y.cols);
}

void copy_parameters(const Model& from, Model& to) {
  for (std::uint32_t t = 0; t < from.tensor_count(); ++t) {
    const Span<float> a = from.tensor(t).value, b = to.tensor(t).value;
    std::memcpy(b.data, a.data, a.size * sizeof(float));
  }
}

}  // namespace

TEST_CASE("infer and predict: any rows give the bits of forward() on each row") {
  const std::size_t most = 3 * kRows + 1;
  const tern::test::SyntheticData d = tern::test::synthetic_data(kSpec, most, 3, 1);
  const std::size_t in_w = kSpec.input_width, out_w = kSpec.output_width();
  for (Isa isa : tern::test::runnable_isas()) {
    CAPTURE(isa_name(isa));
    IsaScope scope(isa);
    // The same weights in an inference model and a training model.
    ReadyModel trainer(kSpec.training(LossKind::kSoftmaxCrossEntropy, OptimizerKind::kAdam), 5);
    tern::test::perturb(trainer.model, 6);
    ModelInArena inference(kSpec);
    REQUIRE(inference.status.ok());
    copy_parameters(trainer.model, inference.model);
    for (Model* m : {&inference.model, &trainer.model}) {
      std::vector<std::vector<float>> expected;
      for (std::size_t r = 0; r < most; ++r) expected.push_back(row_alone(*m, d.x.data() + r * in_w));
      // A whole chunk through forward() gives the same bits as each row.
      REQUIRE(m->forward(d.x.data(), in_w, kRows).ok());
      for (std::size_t r = 0; r < kRows; ++r) {
        CHECK(std::memcmp(m->output().row(r), expected[r].data(), out_w * sizeof(float)) == 0);
      }
      for (std::size_t rows : {std::size_t{1}, std::size_t{kRows - 1}, std::size_t{kRows},
                               std::size_t{kRows + 1}, std::size_t{3 * kRows - 1},
                               std::size_t{3 * kRows}, most}) {
        CAPTURE(rows);
        GuardedMatrix y(rows, out_w, out_w + 2);  // a stride with gaps
        std::vector<std::uint32_t> classes(rows + 1, 99);
        {
          tern::test::HeapAllocationScope heap;
          REQUIRE(m->infer(d.x.data(), in_w, rows, y.data(), y.stride()).ok());
          REQUIRE(m->predict(d.x.data(), in_w, rows, classes.data()).ok());
          CHECK(heap.count() == 0);
        }
        CHECK(y.guards_intact());
        for (std::size_t r = 0; r < rows; ++r) {
          CAPTURE(r);
          CHECK(std::memcmp(y.data() + r * y.stride(), expected[r].data(),
                            out_w * sizeof(float)) == 0);
          std::uint32_t best = 0;
          for (std::uint32_t j = 1; j < out_w; ++j) {
            if (expected[r][j] > expected[r][best]) best = j;
          }
          CHECK(classes[r] == best);
        }
        CHECK(classes[rows] == 99);
        // output() holds the last chunk.
        const std::size_t last = (rows - 1) % kRows + 1;
        REQUIRE(m->output().rows == last);
        CHECK(std::memcmp(m->output().row(last - 1), expected[rows - 1].data(),
                          out_w * sizeof(float)) == 0);
      }
    }
  }
}

TEST_CASE("infer and predict: a non-finite output in chunk 3 delivers the rows before it") {
  ReadyModel m(kSpec, 2);
  const std::size_t rows = 3 * kRows;
  const std::size_t bad = 2 * kRows + 1;  // the second row of chunk 3
  const std::size_t in_w = kSpec.input_width, out_w = kSpec.output_width();
  tern::test::SyntheticData d = tern::test::synthetic_data(kSpec, rows, 4, 1);
  for (std::size_t c = 0; c < in_w; ++c) d.x[bad * in_w + c] = 3e38f;
  // The last layer's weights 10: ordinary rows stay small, but the residual
  // carries the inputs of 3e38 to it, and 10 x 3e38 overflows to inf.
  for (float& w : m.model.tensor(6).value) w = 10.0f;
  std::vector<std::vector<float>> expected;
  for (std::size_t r = 0; r < bad; ++r) expected.push_back(row_alone(m.model, d.x.data() + r * in_w));

  GuardedMatrix y(rows, out_w);
  y.fill(-7.0f);
  Status s = m.model.infer(d.x.data(), in_w, rows, y.data(), y.stride());
  CHECK(s.code() == StatusCode::kNonFinite);
  CHECK_MESSAGE(contains(s, "infer: output row 9 column "), s.message());
  for (std::size_t r = 0; r < rows; ++r) {
    CAPTURE(r);
    if (r < bad) {
      CHECK(std::memcmp(y.data() + r * out_w, expected[r].data(), out_w * sizeof(float)) == 0);
    } else {
      for (std::size_t j = 0; j < out_w; ++j) CHECK(y.at(r, j) == -7.0f);
    }
  }
  CHECK(y.guards_intact());

  std::vector<std::uint32_t> classes(rows, 99);
  s = m.model.predict(d.x.data(), in_w, rows, classes.data());
  CHECK(s.code() == StatusCode::kNonFinite);
  CHECK_MESSAGE(contains(s, "predict: output row 9 column "), s.message());
  for (std::size_t r = 0; r < rows; ++r) CHECK((classes[r] == 99) == (r >= bad));

  // A non-finite input in the last chunk: refused before any row is written.
  d.x[bad * in_w] = NAN;
  y.fill(-7.0f);
  s = m.model.infer(d.x.data(), in_w, rows, y.data(), y.stride());
  CHECK(s.code() == StatusCode::kNonFinite);
  CHECK_MESSAGE(contains(s, "infer: input row 9 column 0 is not finite"), s.message());
  for (std::size_t r = 0; r < rows; ++r) {
    for (std::size_t j = 0; j < out_w; ++j) CHECK(y.at(r, j) == -7.0f);
  }
}

TEST_CASE("infer and predict: argument errors change nothing") {
  ReadyModel m(kSpec, 2);
  const std::size_t in_w = kSpec.input_width, out_w = kSpec.output_width();
  const std::size_t rows = 2 * kRows + 1;
  tern::test::SyntheticData d = tern::test::synthetic_data(kSpec, rows, 4, 1);
  std::vector<float> y(rows * out_w, -7.0f);
  std::uint32_t classes[2 * kRows + 1] = {};
  auto fails = [&](const Status& s, StatusCode code, const char* text) {
    CHECK(s.code() == code);
    CHECK_MESSAGE(contains(s, text), s.message());
    for (float v : y) CHECK(v == -7.0f);
  };
  Model unbuilt;
  fails(unbuilt.infer(d.x.data(), in_w, rows, y.data(), out_w), StatusCode::kFailedPrecondition,
        "infer: the model is not built");
  fails(m.model.infer(d.x.data(), in_w, 0, y.data(), out_w), StatusCode::kInvalidArgument,
        "infer: 0 rows");
  fails(m.model.infer(nullptr, in_w, rows, y.data(), out_w), StatusCode::kInvalidArgument,
        "infer: input is null");
  fails(m.model.infer(d.x.data(), in_w, rows, nullptr, out_w), StatusCode::kInvalidArgument,
        "infer: y is null");
  fails(m.model.infer(d.x.data(), in_w, rows, y.data(), out_w - 1), StatusCode::kInvalidArgument,
        "infer: y row stride 2 is smaller than the 3 outputs");
  fails(m.model.infer(d.x.data(), in_w, rows, y.data(), SIZE_MAX / 4),
        StatusCode::kInvalidArgument, "does not fit in the address space");
  fails(m.model.infer(d.x.data(), in_w, rows,
                      reinterpret_cast<float*>(reinterpret_cast<char*>(y.data()) + 2), out_w),
        StatusCode::kMisaligned, "infer: y at");
  // y over the input: a later chunk would read outputs as inputs.
  std::vector<float> x_copy = d.x;
  CHECK(m.model.infer(x_copy.data(), in_w, rows, x_copy.data() + in_w, out_w).code() ==
        StatusCode::kInvalidArgument);
  CHECK(x_copy == d.x);
  // y inside the model's own block.
  float* weights = m.model.tensor(0).value.data;
  const std::vector<float> w_before(weights, weights + out_w);
  const Status inside = m.model.infer(d.x.data(), in_w, 1, weights, out_w);
  CHECK(contains(inside, "infer: y overlaps the model's arena block"));
  CHECK(std::memcmp(weights, w_before.data(), out_w * sizeof(float)) == 0);

  fails(m.model.predict(d.x.data(), in_w, rows, nullptr), StatusCode::kInvalidArgument,
        "predict: classes is null");
  fails(m.model.predict(d.x.data(), in_w, 0, classes), StatusCode::kInvalidArgument,
        "predict: 0 rows");
  std::vector<float> x_and_classes = d.x;
  CHECK(contains(m.model.predict(x_and_classes.data(), in_w, rows,
                                 reinterpret_cast<std::uint32_t*>(x_and_classes.data()) + 3),
                 "predict: classes overlaps the input"));
  CHECK(x_and_classes == d.x);
}
