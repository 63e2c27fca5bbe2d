// SPDX-License-Identifier: Apache-2.0
// Model::evaluate(): the mean loss, accuracy and mean squared error against
// the independent double-precision model, at chunk boundaries; the same bits
// for every chunking, mode and ISA; indices as a gathered copy; no byte of
// the training state changed and no heap; every error path.
#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <vector>

#include "alloc_counter.h"
#include "reference_forward.h"
#include "runtime_test_util.h"
#include "tern/runtime/evaluation.h"
#include "tern/runtime/plan.h"
#include "test_util.h"

using namespace tern;
using tern::test::contains;
using tern::test::IsaScope;
using tern::test::ModelInArena;
using tern::test::ReadyModel;
using Data = tern::test::SyntheticData;

namespace {

constexpr std::uint32_t kRows = 8;
// Every layer kind, with a residual from the input (point 0), so that the
// gathered rows of a training model are read as the model's input too.
constexpr ModelSpec kClassifier = ModelSpec::input(6, kRows)
                                      .dense(12, Pointwise::kGelu)
                                      .layer_norm()
                                      .dense(6, Pointwise::kTanh)
                                      .residual(0)
                                      .dense(5)
                                      .training(LossKind::kSoftmaxCrossEntropy,
                                                OptimizerKind::kAdam);
constexpr ModelSpec kRegressor = mlp({3, 10, 4}, kRows, Mode::kTraining, Pointwise::kTanh,
                                     LossKind::kMse);

Data data_for(const ModelSpec& spec, std::size_t count) {
  return tern::test::synthetic_data(spec, count, 11, 5);
}

Batch all_rows(const ModelSpec& spec, const Data& d, std::size_t rows) {
  return tern::test::batch_of(spec, d, 0, rows);
}

// Copies every parameter of `from` into `to` (same layers, any rows or mode).
void copy_parameters(const Model& from, Model& to) {
  REQUIRE(from.tensor_count() == to.tensor_count());
  for (std::uint32_t t = 0; t < from.tensor_count(); ++t) {
    const Span<float> a = from.tensor(t).value, b = to.tensor(t).value;
    REQUIRE(a.size == b.size);
    std::memcpy(b.data, a.data, a.size * sizeof(float));
  }
}

Evaluation evaluated(Model& m, const Batch& data) {
  Evaluation e;
  const Status s = m.evaluate(data, &e);
  REQUIRE_MESSAGE(s.ok(), s.message());
  return e;
}

bool same_bits(const Evaluation& a, const Evaluation& b) {
  return a.rows == b.rows && a.correct == b.correct &&
         std::memcmp(&a.mean_loss, &b.mean_loss, sizeof(float)) == 0 &&
         std::memcmp(&a.accuracy, &b.accuracy, sizeof(float)) == 0 &&
         std::memcmp(&a.mean_squared_error, &b.mean_squared_error, sizeof(float)) == 0;
}

// The row counts around the chunk boundaries of a model of kRows rows.
const std::size_t kRowCounts[] = {1, kRows - 1, kRows, kRows + 1, 3 * kRows - 1, 3 * kRows,
                                  3 * kRows + 1};

}  // namespace

TEST_CASE("evaluate: softmax cross-entropy loss and accuracy match the double reference") {
  const Data d = data_for(kClassifier, 3 * kRows + 1);
  for (Isa isa : tern::test::runnable_isas()) {
    CAPTURE(isa_name(isa));
    IsaScope scope(isa);
    ReadyModel m(kClassifier, 3);
    tern::test::perturb(m.model, 4);
    const tern::test::ReferenceModel ref(m.model);
    for (std::size_t rows : kRowCounts) {
      CAPTURE(rows);
      const Evaluation e = evaluated(m.model, all_rows(kClassifier, d, rows));
      const double loss = ref.loss(d.x.data(), rows, d.labels.data(), nullptr);
      const tern::test::ReferenceTrace trace = ref.forward(d.x.data(), rows);
      const std::vector<double>& y = trace.points[kClassifier.layer_count];
      const std::size_t classes = kClassifier.output_width();
      std::size_t correct = 0;
      for (std::size_t r = 0; r < rows; ++r) {
        std::size_t best = 0;
        for (std::size_t j = 1; j < classes; ++j) {
          if (y[r * classes + j] > y[r * classes + best]) best = j;
        }
        if (best == d.labels[r]) ++correct;
      }
      CHECK(e.rows == rows);
      CHECK(std::fabs(double(e.mean_loss) - loss) <= 1e-5 * (1.0 + loss));
      CHECK(e.correct == correct);
      CHECK(e.accuracy == float(double(correct) / double(rows)));
      CHECK(e.mean_squared_error == 0.0f);
    }
  }
}

TEST_CASE("evaluate: MSE loss and mean squared error match the double reference") {
  const Data d = data_for(kRegressor, 3 * kRows + 1);
  for (Isa isa : tern::test::runnable_isas()) {
    CAPTURE(isa_name(isa));
    IsaScope scope(isa);
    ReadyModel m(kRegressor, 5);
    const tern::test::ReferenceModel ref(m.model);
    const std::size_t outputs = kRegressor.output_width();
    for (std::size_t rows : kRowCounts) {
      CAPTURE(rows);
      const Evaluation e = evaluated(m.model, all_rows(kRegressor, d, rows));
      const double loss = ref.loss(d.x.data(), rows, nullptr, d.targets.data());
      // The mean squared error from the outputs, not from the loss.
      const tern::test::ReferenceTrace trace = ref.forward(d.x.data(), rows);
      const std::vector<double>& y = trace.points[kRegressor.layer_count];
      double squared = 0;
      for (std::size_t i = 0; i < rows * outputs; ++i) {
        const double diff = y[i] - double(d.targets[i]);
        squared += diff * diff;
      }
      const double mse = squared / double(rows * outputs);
      CHECK(std::fabs(double(e.mean_loss) - loss) <= 1e-5 * (1.0 + loss));
      CHECK(std::fabs(double(e.mean_squared_error) - mse) <= 1e-5 * (1.0 + mse));
      CHECK(e.correct == 0);
      CHECK(e.accuracy == 0.0f);
    }
  }
}

TEST_CASE("evaluate: the same bits for every chunking, mode and ISA") {
  for (const ModelSpec& spec : {kClassifier, kRegressor}) {
    const Data d = data_for(spec, 3 * kRows + 1);
    const Batch data = all_rows(spec, d, 3 * kRows + 1);
    bool have_first = false;
    Evaluation first;
    for (Isa isa : tern::test::runnable_isas()) {
      CAPTURE(isa_name(isa));
      IsaScope scope(isa);
      ReadyModel trainer(spec, 9);
      tern::test::perturb(trainer.model, 10);
      const Evaluation e = evaluated(trainer.model, data);
      if (!have_first) first = e, have_first = true;
      CHECK(same_bits(e, first));
      // Inference models of 1 row (a chunk per row) and of 5 rows (chunks
      // that do not divide the data).
      for (std::uint32_t rows : {1u, 5u}) {
        CAPTURE(rows);
        ModelInArena inference(spec.inference().with_rows(rows));
        REQUIRE_MESSAGE(inference.status.ok(), inference.status.message());
        copy_parameters(trainer.model, inference.model);
        CHECK(same_bits(evaluated(inference.model, data), first));
      }
      // A single chunk is one row's loss kernel per row: the chunk's mean
      // agrees with the training step's (which sums in float) to rounding.
      float train_loss = 0;
      const Batch batch = all_rows(spec, d, kRows);
      REQUIRE(trainer.model.compute_gradients(batch, &train_loss).ok());
      const Evaluation one = evaluated(trainer.model, batch);
      CHECK(std::fabs(one.mean_loss - train_loss) <= 1e-6f * (1.0f + train_loss));
    }
  }
}

TEST_CASE("evaluate: indices select samples exactly as a gathered copy does") {
  for (const ModelSpec& spec : {kClassifier, kRegressor}) {
    const std::size_t samples = 2 * kRows;
    const Data d = data_for(spec, samples);
    // A selection longer than one chunk, with repeats, out of order.
    std::vector<std::uint32_t> indices;
    for (std::size_t i = 0; i < 2 * kRows + 3; ++i) {
      indices.push_back(static_cast<std::uint32_t>((i * 7 + 3) % samples));
    }
    const std::size_t in_w = spec.input_width, out_w = spec.output_width();
    Data gathered;
    gathered.count = indices.size();
    for (std::uint32_t s : indices) {
      gathered.x.insert(gathered.x.end(), d.x.begin() + s * in_w, d.x.begin() + (s + 1) * in_w);
      gathered.labels.push_back(d.labels[s]);
      gathered.targets.insert(gathered.targets.end(), d.targets.begin() + s * out_w,
                              d.targets.begin() + (s + 1) * out_w);
    }
    Batch selected = all_rows(spec, d, indices.size());
    selected.indices = indices.data();
    selected.samples = samples;
    const Batch copy = all_rows(spec, gathered, indices.size());
    ReadyModel trainer(spec, 12);
    tern::test::perturb(trainer.model, 13);
    ModelInArena inference(spec.inference().with_rows(kRows));
    REQUIRE(inference.status.ok());
    copy_parameters(trainer.model, inference.model);
    const Evaluation expected = evaluated(trainer.model, copy);
    CHECK(same_bits(evaluated(trainer.model, selected), expected));
    CHECK(same_bits(evaluated(inference.model, selected), expected));
  }
}

TEST_CASE("evaluate: no byte of the training state changes, and no heap") {
  // A guarded Adam model after a few steps: parameters, gradients, moments,
  // the guard's snapshot and history all hold something.
  const ModelSpec spec = kClassifier.with_divergence_guard();
  const Data d = data_for(spec, 4 * kRows);
  ReadyModel m(spec, 21), twin(spec, 21);
  float loss = 0;
  for (std::size_t step = 0; step < 3; ++step) {
    const Batch b = tern::test::batch_of(spec, d, step * kRows, kRows);
    REQUIRE(m.model.train_step(b, &loss).ok());
    REQUIRE(twin.model.train_step(b, &loss).ok());
  }
  // The last step's gradients stay in the gradient buffers.
  REQUIRE(m.model.compute_gradients(tern::test::batch_of(spec, d, 0, kRows), &loss).ok());
  REQUIRE(twin.model.compute_gradients(tern::test::batch_of(spec, d, 0, kRows), &loss).ok());

  // Every byte of the model's block except the forward pass's working
  // buffers (activations, pre-activations, LayerNorm's row statistics, the
  // packing scratch), which a forward pass may overwrite.
  const ModelPlan plan = plan_model(spec);
  REQUIRE(plan.check.ok());
  const unsigned char* base = m.buffer.data();
  REQUIRE(reinterpret_cast<const unsigned char*>(m.model.tensor(0).value.data) ==
          base + plan.layers[0][LayerBuffer::kWeight].offset);
  std::vector<bool> working(plan.total, false);
  auto mark = [&](const Region& r) {
    for (std::uint64_t i = r.offset; i < r.end(); ++i) working[i] = true;
  };
  for (std::uint32_t p = 0; p <= spec.layer_count; ++p) mark(plan.points[p]);
  for (std::uint32_t l = 0; l < spec.layer_count; ++l) {
    for (LayerBuffer b : {LayerBuffer::kPreActivation, LayerBuffer::kMean, LayerBuffer::kRstd}) {
      mark(plan.layers[l][b]);
    }
  }
  mark(plan[ModelBuffer::kScratch]);
  auto kept_bytes = [&]() {
    std::vector<unsigned char> out;
    for (std::uint64_t i = 0; i < plan.total; ++i) {
      if (!working[i]) out.push_back(base[i]);
    }
    return out;
  };
  const std::vector<unsigned char> before = kept_bytes();
  const DivergenceReport report = m.model.divergence();
  Evaluation e;
  {
    tern::test::HeapAllocationScope heap;
    REQUIRE(m.model.evaluate(all_rows(spec, d, 4 * kRows), &e).ok());
    CHECK(heap.count() == 0);
  }
  CHECK(kept_bytes() == before);
  CHECK(m.model.steps() == 3);
  const DivergenceReport& after = m.model.divergence();
  CHECK(after.recoveries == report.recoveries);
  CHECK(after.smoothed_loss == report.smoothed_loss);
  CHECK(after.reference_loss == report.reference_loss);
  CHECK(after.learning_rate_scale == report.learning_rate_scale);
  CHECK(m.model.output().rows == 0);  // the activations hold no forward pass now
  // And training goes on exactly as if nothing had happened.
  for (std::size_t step = 0; step < 2; ++step) {
    const Batch b = tern::test::batch_of(spec, d, (step + 1) * kRows, kRows);
    REQUIRE(m.model.train_step(b, &loss).ok());
    REQUIRE(twin.model.train_step(b, &loss).ok());
  }
  CHECK(tern::test::TrainingState(m.model) == tern::test::TrainingState(twin.model));
}

TEST_CASE("evaluate: errors name the cause and the row, and leave *out untouched") {
  const Data d = data_for(kClassifier, 2 * kRows);
  ReadyModel m(kClassifier, 3);
  Evaluation untouched;
  untouched.rows = 77;
  untouched.mean_loss = 7.0f;
  auto fails = [&](Model& model, const Batch& data, StatusCode code, const char* text) {
    Evaluation e = untouched;
    const Status s = model.evaluate(data, &e);
    CHECK(s.code() == code);
    CHECK_MESSAGE(contains(s, text), s.message());
    CHECK(same_bits(e, untouched));
  };
  const Batch good = all_rows(kClassifier, d, 2 * kRows);

  Model unbuilt;
  fails(unbuilt, good, StatusCode::kFailedPrecondition, "evaluate: the model is not built");
  CHECK(m.model.evaluate(good, nullptr).code() == StatusCode::kInvalidArgument);

  Batch b = good;
  b.rows = 0;
  fails(m.model, b, StatusCode::kInvalidArgument, "evaluate: 0 rows");
  b = good;
  b.x = nullptr;
  fails(m.model, b, StatusCode::kInvalidArgument, "evaluate: input is null");
  b = good;
  b.ldx = kClassifier.input_width - 1;
  fails(m.model, b, StatusCode::kInvalidArgument, "input row stride 5 is smaller");
  b = good;
  b.x = reinterpret_cast<const float*>(reinterpret_cast<const char*>(d.x.data()) + 1);
  fails(m.model, b, StatusCode::kMisaligned, "evaluate: input at");
  b = good;
  b.labels = nullptr;
  fails(m.model, b, StatusCode::kInvalidArgument, "data.labels is null");
  b = good;
  b.ldx = SIZE_MAX / 8;
  fails(m.model, b, StatusCode::kInvalidArgument, "does not fit in the address space");

  std::vector<std::uint32_t> indices = {1, 2, 3};
  b = good;
  b.rows = indices.size();
  b.indices = indices.data();
  fails(m.model, b, StatusCode::kInvalidArgument, "data.indices given but data.samples is 0");
  b.samples = 3;
  fails(m.model, b, StatusCode::kInvalidArgument, "evaluate: row 2 selects sample 3 of 3");

  // Bad values in the second chunk: the message names the row and sample.
  Data bad = d;
  bad.labels[kRows + 2] = kClassifier.output_width();
  fails(m.model, all_rows(kClassifier, bad, 2 * kRows), StatusCode::kInvalidArgument,
        "evaluate: label 5 of row 10 (sample 10) is out of range for 5 classes");
  bad = d;
  bad.x[(kRows + 1) * kClassifier.input_width + 4] = NAN;
  fails(m.model, all_rows(kClassifier, bad, 2 * kRows), StatusCode::kNonFinite,
        "evaluate: input of row 9 (sample 9) column 4 is not finite");
  b = all_rows(kClassifier, bad, 2);
  indices = {0, 9};
  b.indices = indices.data();
  b.samples = 2 * kRows;
  fails(m.model, b, StatusCode::kNonFinite, "input of row 1 (sample 9) column 4");

  // Outputs that overflow float.
  ReadyModel blown(kClassifier, 3);
  const Tensor last = blown.model.tensor(blown.model.tensor_count() - 2);
  for (float& w : last.value) w = 3e38f;
  fails(blown.model, good, StatusCode::kNonFinite, "evaluate: output of row 0 (sample 0) column");

  // MSE: targets missing or not finite.
  const Data r = data_for(kRegressor, kRows + 2);
  ReadyModel regressor(kRegressor, 3);
  b = all_rows(kRegressor, r, kRows + 2);
  b.targets = nullptr;
  fails(regressor.model, b, StatusCode::kInvalidArgument, "MSE needs targets");
  b = all_rows(kRegressor, r, kRows + 2);
  b.ldt = kRegressor.output_width() - 1;
  fails(regressor.model, b, StatusCode::kInvalidArgument, "MSE needs targets with a row stride");
  Data bad_targets = r;
  bad_targets.targets[(kRows + 1) * kRegressor.output_width() + 3] = INFINITY;
  fails(regressor.model, all_rows(kRegressor, bad_targets, kRows + 2), StatusCode::kNonFinite,
        "evaluate: target of row 9 (sample 9) column 3 is not finite");
  // The loss itself overflows: finite outputs far from finite targets.
  Data far = r;
  for (float& t : far.targets) t = 3e38f;
  for (std::size_t i = 0; i < far.targets.size(); i += 2) far.targets[i] = -3e38f;
  ModelInArena linear(mlp({3, 4}, kRows, Mode::kTraining, Pointwise::kIdentity, LossKind::kMse));
  REQUIRE(linear.status.ok());
  for (float& w : linear.model.tensor(1).value) w = 3e38f;  // the bias
  fails(linear.model, all_rows(kRegressor, far, 1), StatusCode::kNonFinite,
        "evaluate: the loss of row 0 (sample 0) is inf");
}

TEST_CASE("row_losses: each row's loss, against the double reference, the same bits everywhere") {
  for (const ModelSpec& spec : {kClassifier, kRegressor}) {
    const bool ce = spec.loss == LossKind::kSoftmaxCrossEntropy;
    const std::size_t rows = 3 * kRows + 1, in = spec.input_width, out = spec.output_width();
    const Data d = data_for(spec, rows);
    const Batch data = all_rows(spec, d, rows);
    std::vector<float> first;
    for (Isa isa : tern::test::runnable_isas()) {
      CAPTURE(isa_name(isa));
      IsaScope scope(isa);
      ReadyModel m(spec, 5);
      tern::test::perturb(m.model, 6);
      const tern::test::ReferenceModel ref(m.model);
      std::vector<float> losses(rows + 1, -1.0f);  // one guard element past the end
      REQUIRE(m.model.row_losses(data, losses.data()).ok());
      CHECK(losses[rows] == -1.0f);
      double sum = 0.0;
      for (std::size_t r = 0; r < rows; ++r) {
        CAPTURE(r);
        // The row alone, in double precision.
        const double want = ref.loss(d.x.data() + r * in, 1, ce ? d.labels.data() + r : nullptr,
                                     ce ? nullptr : d.targets.data() + r * out);
        CHECK(std::fabs(double(losses[r]) - want) <= 1e-5 * (1.0 + want));
        sum += double(losses[r]);
      }
      // Their mean, summed in row order, is evaluate()'s, bit for bit.
      const Evaluation e = evaluated(m.model, data);
      CHECK(static_cast<float>(sum / double(rows)) == e.mean_loss);
      losses.resize(rows);
      if (first.empty()) first = losses;
      CHECK(std::memcmp(losses.data(), first.data(), rows * sizeof(float)) == 0);
    }
  }
  ReadyModel m(kRegressor, 5);
  const Data d = data_for(kRegressor, 4);
  CHECK(m.model.row_losses(all_rows(kRegressor, d, 4), nullptr).code() ==
        StatusCode::kInvalidArgument);
  float spare[5] = {};
  CHECK(m.model.row_losses(all_rows(kRegressor, d, 4),
                           reinterpret_cast<float*>(reinterpret_cast<char*>(spare) + 1))
            .code() == StatusCode::kMisaligned);
  Model unbuilt;
  float losses[4];
  const Status s = unbuilt.row_losses(all_rows(kRegressor, d, 4), losses);
  CHECK(s.code() == StatusCode::kFailedPrecondition);
  CHECK(std::string(s.message()) == "row_losses: the model is not built");
}
